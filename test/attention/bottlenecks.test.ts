/**
 * The advisor's bottlenecks in the attention list: a WAL grown past its threshold on a real hub is listed on its own
 * (the advisor's first look after start), with the checkpoint as its action; taking it shrinks the WAL and the item
 * goes. Agents do not see the hub's own bottlenecks.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AttentionActResult, AttentionItem, AttentionList } from '../../src/shared/attention-protocol';
import { startHub, until } from '../hub/harness';

describe('bottlenecks in the attention list', () => {
  it('lists a grown WAL with its checkpoint as the action, which clears it', async () => {
    const hub = await startHub({
      configure: (config) => {
        // Only the WAL rule can fire here.
        Object.assign(config.advisor, { walBytes: 64 * 1024, diskFreeBytes: 0, heapShare: 1, gcShare: 1, stallMs: 60_000 });
      },
    });
    const a = await hub.register('a');
    const b = await hub.register('b');
    for (let i = 0; i < 60; i++) {
      expect((await hub.api(`/agents/${b.agent.id}/messages`, { token: a.token, body: { body: `${i} ${'x'.repeat(2000)}` } })).status).toBe(201);
    }
    const wal = path.join(hub.dataDir, 'hub.sqlite-wal');
    await until(() => statSync(wal).size > 64 * 1024, 5000, 'the WAL to grow');

    // Nobody asks the advisor here: its own look (soon after start, then every evaluateSeconds) finds the WAL.
    let item: AttentionItem | undefined;
    const deadline = Date.now() + 40_000;
    while (!item) {
      const list = (await hub.api('/attention', { token: hub.app.cockpitToken })).body as AttentionList;
      item = list.items.find((candidate) => candidate.id === 'bottleneck:sqlite-wal.hub');
      if (!item && Date.now() > deadline) throw new Error(`no WAL item; items: ${list.items.map((x) => x.id).join(', ')}`);
      if (!item) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(item).toMatchObject({
      kind: 'bottleneck',
      project: null,
      link: { view: 'performance' },
      action: { kind: 'apply-fix', target: { adviceId: 'sqlite-wal.hub' }, calls: { cockpit: 'advice.fix', http: { method: 'POST', path: '/api/v1/performance/advice/sqlite-wal.hub/fix' } } },
    });
    expect(item.title).toMatch(/WAL is \d/);
    expect(item.evidence[0]).toMatchObject({ label: 'hub.sqlite-wal', unit: 'bytes' });
    // The hub's own bottlenecks are the cockpit's, not an agent's.
    expect(((await hub.api('/attention', { token: a.token })).body as AttentionList).items.some((x) => x.kind === 'bottleneck')).toBe(false);

    const acted = await hub.api(`/attention/${encodeURIComponent(item.id)}/act`, { token: hub.app.cockpitToken, body: {} });
    expect(acted.status).toBe(200);
    const result = acted.body as AttentionActResult;
    expect(result.message).toMatch(/done in \d+ ms/);
    expect(result.list.items.some((x) => x.id === item!.id)).toBe(false);
    expect(statSync(wal).size).toBeLessThan(64 * 1024);
  });
});
