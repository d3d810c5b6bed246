/**
 * What each hub announces about itself through a real redis-server, for every cockpit to show the whole cluster:
 * its health (event-loop delay, memory, messages per second, sends waiting for Redis, the round trip to Redis), the
 * messages it sent to and took from each other hub, and every agent with the hub it is on. A hub of an earlier
 * version, announcing no health, is listed without it. A hub gone, and Redis lost, are items of the attention list
 * pointing at the Cluster view.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createClient } from 'redis';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { AttentionList } from '../../src/shared/attention-protocol';
import type { ClusterHub, ClusterState } from '../../src/shared/cluster-protocol';
import { clusterKeys } from '../../src/main/cluster/keys';
import { defaultConfig } from '../../src/main/config/config';
import { openSocket, type TestHub } from '../hub/harness';
import { tempDir } from '../helpers';
import { startHubProcess } from '../support/hub-process';
import { redisUnavailable } from '../support/redis-server';
import { clusterHub, redis, until } from './support';

const unavailable = redisUnavailable();

const cluster = async (hub: TestHub): Promise<ClusterState> => (await hub.api('/cluster', { token: hub.app.cockpitToken })).body;
const hubNamed = (state: ClusterState, name: string): ClusterHub | undefined => state.hubs.find((hub) => hub.name === name);

describe.skipIf(unavailable !== null)(`each hub's health and agents, seen from every hub${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  it("announces its loop delay, memory, message rates and Redis round trip, and lists every agent under its hub", async () => {
    const server = await redis();
    const a = await clusterHub(server, 'laptop');
    const b = await clusterHub(server, 'build-1');

    // Hub B's own agents talk to each other; hub A sees B's message rate rise in B's announcement.
    const sender = await b.register('sender', { project: 'shop' });
    const receiver = await b.register('receiver', { project: 'shop' });
    const socket = await openSocket(b.url, receiver.agent.id, receiver.token);
    onTestFinished(() => socket.ws.close());
    const local = await a.register('planner', { project: 'shop' });
    let sending = true;
    const sends = (async () => {
      while (sending) {
        const sent = await b.api('/messages', { token: sender.token, body: { to: { type: 'agent', id: receiver.agent.id }, body: 'tick' } });
        expect(sent.status).toBe(201);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const busy = await until("B's messages per second seen on A", async () => {
      const state = await cluster(a);
      const build = hubNamed(state, 'build-1');
      return build?.alive && (build.health?.messagesSentPerSecond ?? 0) > 0 && state;
    });
    sending = false;
    await sends;

    const build = hubNamed(busy, 'build-1')!;
    const health = build.health!;
    expect(health.messagesDeliveredPerSecond).toBeGreaterThan(0);
    expect(health.loopDelayP99Ms).toBeGreaterThanOrEqual(0);
    expect(health.rssBytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(health.redisRttMs).toBeGreaterThan(0);
    // No cluster sends wait.
    expect(health.queuedSends).toBe(0);
    // This hub is listed as it is now, with its own figures.
    const laptop = hubNamed(busy, 'laptop')!;
    expect(laptop.id).toBe(busy.hubId);
    expect(laptop.alive).toBe(true);
    expect(laptop.health!.rssBytes).toBeGreaterThan(10 * 1024 * 1024);

    // Every agent with the hub it is on: B's two under B (the receiver connected there), A's planner under A.
    const agents = await until('the receiver connected on B, seen on A', async () => {
      const state = await cluster(a);
      const seen = state.agents?.find((agent) => agent.id === receiver.agent.id);
      return seen?.connected && seen.hubId === build.id && state.agents;
    });
    expect(agents.find((agent) => agent.id === local.agent.id)).toMatchObject({ name: 'planner', project: 'shop', hubId: busy.hubId });
    expect(agents.find((agent) => agent.id === receiver.agent.id)).toMatchObject({ name: 'receiver', status: 'online', connected: true });
    // The cockpit's own identity is each hub's: not listed as an agent of the cluster.
    expect(agents.some((agent) => agent.project === 'cockpit')).toBe(false);
    // Hub B sees the same: its receiver under itself, A's planner under A.
    const fromB = await until("A's planner known on B", async () => {
      const state = await cluster(b);
      return state.agents?.some((agent) => agent.id === local.agent.id) && state;
    });
    expect(fromB.agents!.find((agent) => agent.id === receiver.agent.id)!.hubId).toBe(build.id);
  });

  it('announces the messages each hub sent to and took from the others, and the sends waiting for Redis', { timeout: 60_000 }, async () => {
    const server = await redis();
    const a = await clusterHub(server, 'laptop');
    const b = await clusterHub(server, 'build-1');
    // Before any message crosses: each hub reports its traffic, empty.
    const quiet = await until('both hubs listed with their traffic', async () => {
      const state = await cluster(a);
      return state.hubs.length === 2 && state.hubs.every((hub) => hub.traffic !== undefined) && state;
    });
    expect(quiet.hubs.map((hub) => hub.traffic)).toEqual([[], []]);

    const planner = await a.register('planner', { project: 'shop' });
    const builder = await b.register('builder', { project: 'shop' });
    const socket = await openSocket(b.url, builder.agent.id, builder.token);
    onTestFinished(() => socket.ws.close());
    await until('the builder known on the laptop', async () => (await a.api(`/agents/${builder.agent.id}/status`, { token: a.app.cockpitToken })).status === 200);
    const send = (body: string) => a.api('/messages', { token: planner.token, body: { to: { type: 'agent', id: builder.agent.id }, body } });
    for (let i = 0; i < 4; i++) expect((await send(`cross-hub ${i}`)).status).toBe(201);

    // On the laptop's cockpit, both sides of the pair: what the laptop sent, and what build-1 announces it took.
    const laptopId = quiet.hubId;
    const buildId = hubNamed(quiet, 'build-1')!.id;
    // Each hub announces its own counts in its own round, so one side may be a round behind the other for a moment.
    const seen = await until("both hubs' counts of the four, on the laptop", async () => {
      const state = await cluster(a);
      const took = hubNamed(state, 'build-1')!.traffic?.find((row) => row.from === laptopId);
      const sent = hubNamed(state, 'laptop')!.traffic?.find((row) => row.to === buildId);
      return took?.messages === 4 && sent?.messages === 4 && state;
    });
    const took = hubNamed(seen, 'build-1')!.traffic!;
    expect(took).toEqual([{ from: laptopId, to: buildId, messages: 4, bytes: expect.any(Number) }]);
    expect(took[0]!.bytes).toBeGreaterThanOrEqual('cross-hub 0'.length * 4);
    expect(hubNamed(seen, 'laptop')!.traffic).toEqual([{ from: laptopId, to: buildId, messages: 4, bytes: expect.any(Number) }]);
    expect(hubNamed(seen, 'laptop')!.health!.queuedSends).toBe(0);

    // Redis away: sends are acknowledged and wait; the laptop's own entry counts them.
    await server.kill9();
    await until('Redis lost', async () => !(await cluster(a)).connected);
    for (let i = 0; i < 3; i++) expect((await send(`while away ${i}`)).status).toBe(201);
    const away = await cluster(a);
    expect(hubNamed(away, 'laptop')!.health!.queuedSends).toBe(3);

    // Redis back: they are forwarded, and the count falls to zero while the pair's count grows by 3.
    await server.restart();
    const caughtUp = await until('the queued sends forwarded', async () => {
      const state = await cluster(a);
      const self = hubNamed(state, 'laptop')!;
      return state.connected && self.health!.queuedSends === 0 && self.traffic?.[0]?.messages === 7 && state;
    }, 30_000);
    expect(hubNamed(caughtUp, 'laptop')!.traffic).toEqual([{ from: laptopId, to: buildId, messages: 7, bytes: expect.any(Number) }]);
  });

  it('lists a hub of an earlier version, announcing no health, without health figures', async () => {
    const server = await redis();
    const a = await clusterHub(server, 'laptop');
    const keys = clusterKeys('devenviro');
    const raw = createClient({ url: server.url });
    await raw.connect();
    onTestFinished(() => raw.close());
    const older = { id: 'OLDHUB0000000000000000000', name: 'older', apiUrl: 'http://127.0.0.1:4477', startedAt: new Date().toISOString(), connectedAgents: 2, alive: true };
    await raw
      .multi()
      .set(keys.hub(older.id), JSON.stringify({ ...older, seenAt: new Date().toISOString() }), { expiration: { type: 'PX', value: 5_000 } })
      .sAdd(keys.hubs, older.id)
      .exec();
    const listed = await until('the older hub listed', async () => hubNamed(await cluster(a), 'older'));
    expect(listed).toMatchObject({ alive: true, connectedAgents: 2 });
    expect(listed.health).toBeUndefined();
    expect(listed.traffic).toBeUndefined();
    expect(hubNamed(await cluster(a), 'laptop')!.health).toBeDefined();
  });

  it('keeps its own figures current while Redis is down, with no round trip to show', async () => {
    const server = await redis();
    const a = await clusterHub(server, 'laptop');
    await until('a round trip measured', async () => (hubNamed(await cluster(a), 'laptop')?.health?.redisRttMs ?? 0) > 0);
    await server.kill9();
    const down = await until('Redis lost, the round trip gone', async () => {
      const state = await cluster(a);
      return !state.connected && hubNamed(state, 'laptop')?.health?.redisRttMs === null && state;
    });
    const self = hubNamed(down, 'laptop')!;
    expect(self.alive).toBe(true);
    expect(self.health!.rssBytes).toBeGreaterThan(0);
  });

  it('lists a hub killed with its agent on it, and Redis lost, as items needing attention', { timeout: 60_000 }, async () => {
    const server = await redis();
    const dataDir = tempDir();
    mkdirSync(dataDir, { recursive: true });
    const config = defaultConfig();
    config.cluster = { ...config.cluster, redis: server.url, hubName: 'doomed', heartbeatMs: 200, hubTtlMs: 1_000 };
    writeFileSync(path.join(dataDir, 'config.json'), JSON.stringify(config, null, 2));
    const doomed = await startHubProcess(dataDir);
    onTestFinished(() => doomed.stop());
    const survivor = await clusterHub(server, 'survivor');
    const attention = async (): Promise<AttentionList> => (await survivor.api('/attention', { token: survivor.app.cockpitToken })).body;

    const register = await fetch(`${doomed.url}/api/v1/agents/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'worker', project: 'shop' }),
    });
    const worker = (await register.json()) as { agent: { id: string }; token: string };
    const socket = await openSocket(doomed.url, worker.agent.id, worker.token);
    socket.closed.catch(() => undefined);
    const doomedId = await until('the worker on the doomed hub, seen on the survivor', async () => {
      const state = await cluster(survivor);
      const seen = state.agents?.find((agent) => agent.id === worker.agent.id);
      return seen?.connected && seen.hubId;
    });
    expect(hubNamed(await cluster(survivor), 'doomed')?.id).toBe(doomedId);
    expect((await attention()).items.filter((item) => item.kind === 'hub-gone')).toEqual([]);

    await doomed.kill9();
    const gone = await until('the gone hub listed', async () => (await attention()).items.find((item) => item.kind === 'hub-gone'));
    expect(gone).toMatchObject({
      id: `hub-gone:${doomedId}`,
      severity: 'warning',
      project: null,
      link: { view: 'cluster' },
      evidence: expect.arrayContaining([{ label: 'agents on it', value: 1, unit: 'count' }]),
    });
    expect(gone.title).toMatch(/^Hub doomed is gone: last seen \d+ s ago$/);
    expect(gone.detail).toContain('Its 1 agent is shown offline');

    await server.kill9();
    const lost = await until('Redis lost listed', async () => (await attention()).items.find((item) => item.id === 'service:cluster'));
    expect(lost).toMatchObject({ kind: 'service-degraded', severity: 'warning', link: { view: 'cluster' } });
    expect(lost.detail).toMatch(/Redis at redis:\/\/127\.0\.0\.1:\d+/);
  });
});
