/**
 * Hubs joined through a real redis-server: agents registered on one hub are known to the others (same id, token
 * valid everywhere), presence is seen across hubs, a hub that dies has its agents shown offline, and a hub that
 * loses Redis keeps serving its own agents and catches up when Redis returns.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { ClusterState } from '../../src/shared/cluster-protocol';
import { defaultConfig } from '../../src/main/config/config';
import { openSocket, startHub, type TestHub } from '../hub/harness';
import { tempDir } from '../helpers';
import { startHubProcess } from '../support/hub-process';
import { redisUnavailable, startRedis } from '../support/redis-server';
import { clusterHub, redis, until } from './support';

const unavailable = redisUnavailable();

const cluster = async (hub: TestHub): Promise<ClusterState> => (await hub.api('/cluster', { token: hub.app.cockpitToken })).body;

describe.skipIf(unavailable !== null)(`hubs joined through Redis${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  it('share agents: one identity and token on every hub, one owner per name, presence and revocation seen everywhere', async () => {
    const server = await redis();
    const a = await clusterHub(server, 'laptop');
    const b = await clusterHub(server, 'build-1');
    const hubs = await until('both hubs listed', async () => {
      const state = await cluster(a);
      return state.hubs.filter((hub) => hub.alive).length === 2 && state;
    });
    expect(hubs.connected).toBe(true);
    expect(hubs.hubs.map((hub) => hub.name).sort()).toEqual(['build-1', 'laptop']);

    const builder = await a.register('builder', { project: 'shop', capabilities: ['build'] });
    // The token given on hub A opens hub B, for the same agent.
    const seenOnB = await until('the agent on hub B', async () => {
      const answer = await b.api(`/agents/${builder.agent.id}/status`, { token: builder.token });
      return answer.status === 200 && answer.body;
    });
    expect(seenOnB).toMatchObject({ id: builder.agent.id, name: 'builder', project: 'shop', capabilities: ['build'] });
    // The name is taken cluster-wide: hub B asks for its token, and with it answers the same identity.
    expect((await b.api('/agents/register', { body: { name: 'builder', project: 'shop' } })).status).toBe(409);
    const again = await b.api('/agents/register', { token: builder.token, body: { name: 'builder', project: 'shop' } });
    expect(again.status).toBe(200);
    expect(again.body.agent.id).toBe(builder.agent.id);
    // A name first registered on B is known on A too.
    const tester = await b.register('tester', { project: 'shop' });
    await until('the tester on hub A', async () => (await a.api(`/agents/${tester.agent.id}/status`, { token: tester.token })).status === 200);

    // Presence: a socket to hub A shows on hub B as connected, and its leaving too.
    const status = async (hub: TestHub, id: string) => (await hub.api(`/agents/${id}/status`, { token: hub.app.cockpitToken })).body;
    await until('builder offline on B before it connects', async () => (await status(b, builder.agent.id)).connected === false);
    const socket = await openSocket(a.url, builder.agent.id, builder.token);
    await until('builder connected, seen on B', async () => {
      const info = await status(b, builder.agent.id);
      return info.connected === true && info.status === 'online';
    });
    await a.api(`/agents/${builder.agent.id}/status`, { method: 'PUT', token: builder.token, body: { status: 'busy', activity: 'compiling' } });
    await until('builder busy, seen on B', async () => {
      const info = await status(b, builder.agent.id);
      return info.status === 'busy' && info.activity === 'compiling';
    });
    // A hub that joins now sees at once who is connected where, without waiting for the agent to change.
    const c = await clusterHub(server, 'build-2');
    await until('builder connected and busy, seen on C that joined later', async () => {
      const info = await status(c, builder.agent.id);
      return info.connected === true && info.status === 'busy' && info.activity === 'compiling';
    });
    socket.ws.close();
    await until('builder disconnected, seen on B', async () => (await status(b, builder.agent.id)).connected === false);
    await until('builder disconnected, seen on C', async () => (await status(c, builder.agent.id)).connected === false);

    // Revoked on hub A (its cockpit): refused on hub B too.
    expect((await a.api(`/agents/${builder.agent.id}/revoke`, { token: a.app.cockpitToken, body: {} })).status).toBe(200);
    await until('revocation seen on B', async () => (await b.api('/agents', { token: builder.token })).status === 410);
    // The cockpit's own identity stays each hub's.
    expect((await cluster(a)).conflicts).toEqual([]);
  });

  it('shows the agents of a hub killed with kill -9 offline once its announcement expires', async () => {
    const server = await redis();
    const dataDir = tempDir();
    mkdirSync(dataDir, { recursive: true });
    const config = defaultConfig();
    config.cluster = { ...config.cluster, redis: server.url, hubName: 'doomed', heartbeatMs: 200, hubTtlMs: 1_000 };
    writeFileSync(path.join(dataDir, 'config.json'), JSON.stringify(config, null, 2));
    const doomed = await startHubProcess(dataDir);
    onTestFinished(() => doomed.stop());
    const survivor = await clusterHub(server, 'survivor');

    const register = await fetch(`${doomed.url}/api/v1/agents/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'worker', project: 'shop' }),
    });
    const worker = (await register.json()) as { agent: { id: string }; token: string };
    const socket = await openSocket(doomed.url, worker.agent.id, worker.token);
    socket.closed.catch(() => undefined);
    const status = async () => (await survivor.api(`/agents/${worker.agent.id}/status`, { token: survivor.app.cockpitToken })).body;
    await until('the worker connected, seen on the survivor', async () => (await status())?.connected === true);

    await doomed.kill9();
    const gone = await until('the dead hub marked gone', async () => {
      const state = await cluster(survivor);
      return state.hubs.find((hub) => hub.name === 'doomed' && !hub.alive);
    });
    expect(gone.connectedAgents).toBe(0);
    const after = await status();
    expect(after.connected).toBe(false);
    expect(after.status).toBe('offline');
  });

  it('keeps serving its own agents while Redis is down, says so, and shares what changed once Redis is back', async () => {
    const server = await redis();
    const a = await clusterHub(server, 'a');
    const b = await clusterHub(server, 'b');
    await until('both hubs joined', async () => (await cluster(a)).hubs.filter((hub) => hub.alive).length === 2);

    await server.kill9();
    const down = await until('hub A notices', async () => {
      const state = await cluster(a);
      return !state.connected && state;
    });
    expect(down.detail).toMatch(/Redis at redis:\/\/127\.0\.0\.1/);
    const service = a.app.services.get('cluster');
    expect(service?.state).toBe('degraded');
    // Its own agents are served meanwhile: a registration and a message between two of them.
    const one = await a.register('one', { project: 'shop' });
    const two = await a.register('two', { project: 'shop' });
    const sent = await a.api('/messages', { token: one.token, body: { to: { type: 'agent', id: two.agent.id }, body: 'redis is down, we are not' } });
    expect(sent.status).toBe(201);
    expect((await a.api(`/agents/${two.agent.id}/messages`, { token: two.token })).body.messages.map((m: { body: unknown }) => m.body)).toEqual([
      'redis is down, we are not',
    ]);

    await server.restart();
    await until('hub A reconnected', async () => (await cluster(a)).connected);
    // Up again once the send made meanwhile has gone through Redis too.
    await until('the cluster service up again', async () => a.app.services.get('cluster')?.state === 'up');
    // What was registered while Redis was away reaches hub B.
    await until('agent registered during the outage known on B', async () => (await b.api(`/agents/${one.agent.id}/status`, { token: one.token })).status === 200);
  });

  it('never shows the password of the Redis URL, in the cluster state, the service status or the logs', async () => {
    const password = 'pw-Zq81-never-shown';
    const server = await startRedis(tempDir('devenviro-redis-'), { password });
    onTestFinished(() => server.stop());
    const logged: string[] = [];
    for (const method of ['log', 'warn', 'error'] as const) {
      const original = console[method];
      console[method] = (...args: unknown[]) => {
        logged.push(args.map(String).join(' '));
        original(...args);
      };
      onTestFinished(() => {
        console[method] = original;
      });
    }
    const wrong = await startHub({
      configure: (config) => {
        config.cluster.redis = `redis://:${password}-wrong@127.0.0.1:${server.port}`;
      },
    });
    const refused = await until('the refusal reported', async () => {
      const state = await cluster(wrong);
      return !state.connected && /WRONGPASS|NOAUTH|invalid/i.test(state.detail) && state;
    });
    const right = await startHub({
      configure: (config) => {
        config.cluster.redis = `redis://:${password}@127.0.0.1:${server.port}`;
      },
    });
    const joined = await until('joined with the password', async () => {
      const state = await cluster(right);
      return state.connected && state;
    });
    const shown = [JSON.stringify(refused), JSON.stringify(joined), JSON.stringify(wrong.app.services.list()), JSON.stringify(right.app.services.list()), ...logged];
    expect(shown.join('\n')).not.toContain(password);
    expect(joined.detail).toContain('redis://:***@127.0.0.1');
  });

  it('leaves a hub without cluster.redis on its own', async () => {
    const hub = await startHub();
    expect(hub.app.hub().cluster).toBeNull();
    expect(await cluster(hub)).toMatchObject({ enabled: false, hubs: [] });
    expect(defaultConfig().cluster.redis).toBeNull();
  });
});
