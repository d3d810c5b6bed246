/** The cockpit's live feed: agents, batched messages and metrics pushed as events. */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Message } from '../../src/shared/agent-protocol';
import { EventBus } from '../../src/main/cockpit/event-bus';
import { startLiveFeed } from '../../src/main/cockpit/live-feed';
import { Metrics } from '../../src/main/monitor/metrics';
import { startHub, until } from '../hub/harness';

describe('the cockpit live feed', () => {
  it('batches new messages, keeping the newest 200 of a burst, as public messages', async () => {
    const hub = await startHub();
    const [a, b] = await Promise.all(['a', 'b'].map((name) => hub.register(name)));
    const events = new EventBus();
    const feed = startLiveFeed({ events, hub: hub.app.hub(), metrics: new Metrics(), dataDir: hub.dataDir });
    onTestFinished(() => feed.stop());
    const batches: Message[][] = [];
    events.on('messages.new', (batch) => batches.push(batch));

    // Sent in one tick, so they share a commit and reach the feed together.
    const { messaging, registry } = hub.app.hub();
    const sent = await Promise.all(
      Array.from({ length: 450 }, (_, i) =>
        messaging.send(registry.get(a!.agent.id), { to: { type: 'agent', id: b!.agent.id }, body: `burst ${i}`, importance: 'normal', ackRequired: false }),
      ),
    );
    const newest = sent.map((result) => result.id).sort().at(-1)!;
    await until(() => batches.some((batch) => batch.some((m) => m.id === newest)), 5000, 'the newest message in a batch');
    const received = batches.flat();
    expect(batches.every((batch) => batch.length >= 1 && batch.length <= 200)).toBe(true);
    expect(received).toHaveLength(200); // the burst outran the stream: the older ones are left to the charts
    expect(received.every((m) => !('seq' in m) && m.from === a!.agent.id && /^burst \d+$/.test(m.body as string))).toBe(true);
    // Within and across batches, messages come oldest first, each at most once.
    const ids = received.map((m) => m.id);
    expect(ids).toEqual([...new Set(ids)].sort());

    await hub.api(`/agents/${b!.agent.id}/messages`, { token: a!.token, body: { body: 'after the burst' } });
    await until(() => batches.at(-1)!.some((m) => m.body === 'after the burst'), 5000, 'a later message in its own batch');
    expect(batches.at(-1)).toHaveLength(1);
  });

  it("counts message bodies kept in files in the storage figures, from the body store's running total", async () => {
    const hub = await startHub({ bodyFileBytes: 4096 });
    const [a, b] = await Promise.all(['a', 'b'].map((name) => hub.register(name)));
    for (const size of [10_000, 20_000]) {
      const sent = await hub.api(`/agents/${b!.agent.id}/messages`, { token: a!.token, body: { body: 'x'.repeat(size) } });
      expect(sent.status).toBe(201);
    }
    const dir = path.join(hub.dataDir, 'message-bodies');
    const onDisk = readdirSync(dir).reduce((total, name) => total + statSync(path.join(dir, name)).size, 0);
    expect(onDisk).toBe(10_002 + 20_002); // each body as its JSON string literal
    expect(hub.app.hub().messaging.store.bodies.bytes).toBe(onDisk);

    const events = new EventBus();
    const feed = startLiveFeed({ events, hub: hub.app.hub(), metrics: new Metrics(), dataDir: hub.dataDir });
    onTestFinished(() => feed.stop());
    await until(() => feed.latest() !== null, 5000, 'a metrics tick');
    expect(feed.latest()!.storage.messages).toBeGreaterThan(onDisk + statSync(path.join(hub.dataDir, 'hub.sqlite')).size - 1);

    // After a restart the total is counted again from the stored messages.
    await hub.restart();
    expect(hub.app.hub().messaging.store.bodies.bytes).toBe(onDisk);
  });
});
