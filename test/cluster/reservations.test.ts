/**
 * File reservations across hubs joined through a real redis-server: one owner cluster-wide. A lease held by an agent
 * on hub A refuses an overlapping reserve on hub B until it is released or expires; many agents on both hubs racing
 * for one path leave exactly one holder; every hub lists every hub's leases; without Redis a hub refuses rather than
 * grant alone.
 */
import { describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import { type TestHub } from '../hub/harness';
import { redisUnavailable } from '../support/redis-server';
import { clusterHub, joined, redis, until } from './support';

const unavailable = redisUnavailable();

/** Registers on `hub` and waits until every hub of `all` knows the agent (identities travel through Redis). */
async function agentOn(hub: TestHub, all: TestHub[], name: string): Promise<{ id: string; token: string }> {
  const made = await hub.register(name, { project: 'shop' });
  for (const other of all) {
    await until(`${name} known on every hub`, async () => (await other.api(`/agents/${made.agent.id}/status`, { token: made.token })).status === 200);
  }
  return { id: made.agent.id, token: made.token };
}

const reserve = (hub: TestHub, token: string, paths: string[], ttlSeconds = 600) =>
  hub.api('/reservations', { token, body: { paths, mode: 'exclusive', reason: 'editing', ttlSeconds } });

const listed = async (hub: TestHub) => (await hub.api('/reservations', { token: hub.app.cockpitToken })).body.reservations as Array<{ id: string; holderName: string; paths: string[] }>;

describe.skipIf(unavailable !== null)(`reservations across hubs${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  it('refuses on hub B what an agent on hub A holds, until it is released or expires, and every hub lists every lease', async () => {
    const server = await redis();
    const a = await clusterHub(server, 'a');
    const b = await clusterHub(server, 'b');
    await joined([a, b]);
    const alice = await agentOn(a, [a, b], 'alice');
    const bob = await agentOn(b, [a, b], 'bob');

    const held = await reserve(a, alice.token, ['src/auth/**']);
    expect(held.status).toBe(201);
    const leaseId = held.body.reservations[0].id as string;
    const refused = await reserve(b, bob.token, ['src/auth/login.ts']);
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('reservation_conflict');
    expect(refused.body.conflicts).toMatchObject([{ reservationId: leaseId, holderId: alice.id, holderName: 'alice', heldPaths: ['src/auth/**'], requestedPaths: ['src/auth/login.ts'] }]);
    // Paths nobody holds are granted on B at the same time.
    const other = await reserve(b, bob.token, ['docs/readme.md']);
    expect(other.status).toBe(201);
    // Both cockpits list both hubs' leases; the git guard's check on B sees A's lease.
    for (const hub of [a, b]) {
      await until('both leases listed', async () => {
        const leases = await listed(hub);
        return leases.length === 2 && leases.map((lease) => lease.holderName).sort().join() === 'alice,bob';
      });
    }
    const check = await b.api('/reservations/check', { token: bob.token, body: { files: ['src/auth/session.ts'] } });
    expect(check.body.conflicts.map((c: { reservationId: string }) => c.reservationId)).toEqual([leaseId]);
    // Only its holder renews it, from any hub: bob may not, alice may (through hub B, where her token works too).
    expect((await b.api(`/reservations/${leaseId}/renew`, { token: bob.token, body: {} })).status).toBe(403);
    expect((await b.api(`/reservations/${leaseId}/renew`, { token: alice.token, body: { ttlSeconds: 900 } })).status).toBe(200);

    // Released on A: free for B at once (the decision is taken in Redis, not in B's copy).
    expect((await a.api(`/reservations/${leaseId}`, { method: 'DELETE', token: alice.token })).status).toBe(200);
    const granted = await reserve(b, bob.token, ['src/auth/login.ts']);
    expect(granted.status).toBe(201);
    expect((await reserve(a, alice.token, ['src/auth/**'])).status).toBe(409);
    await until('A lists the release and B\'s new lease', async () => {
      const leases = await listed(a);
      return !leases.some((lease) => lease.id === leaseId) && leases.some((lease) => lease.paths.includes('src/auth/login.ts'));
    });

    // Bob's lease, renewed for one second, expires: alice on A gets the files then, and both hubs drop it from their
    // lists. (Renewed short only now, so that a loaded machine cannot let it expire before A has listed it.)
    const bobLease = granted.body.reservations[0].id as string;
    expect((await b.api(`/reservations/${bobLease}/renew`, { token: bob.token, body: { ttlSeconds: 1 } })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await reserve(a, alice.token, ['src/auth/**'])).status).toBe(201);
    for (const hub of [a, b]) {
      await until('the expired lease gone from the list', async () => {
        const leases = await listed(hub);
        return !leases.some((lease) => lease.paths.includes('src/auth/login.ts')) && leases.some((lease) => lease.paths.includes('src/auth/**'));
      });
    }
    // The cockpit of B releases a lease held on A; the holder's hub copies it.
    const aliceLease = (await listed(b)).find((lease) => lease.holderName === 'alice')!;
    expect((await b.api(`/reservations/${aliceLease.id}`, { method: 'DELETE', token: b.app.cockpitToken })).status).toBe(200);
    await until('the cockpit release seen on A', async () => !(await listed(a)).some((lease) => lease.id === aliceLease.id));
  });

  it('leaves exactly one holder when agents on three hubs race for the same path, round after round', async () => {
    const server = await redis();
    const hubs = [await clusterHub(server, 'a'), await clusterHub(server, 'b'), await clusterHub(server, 'c')];
    await joined(hubs);
    const agents: Array<{ hub: TestHub; token: string; id: string }> = [];
    for (const [h, hub] of hubs.entries()) {
      for (let i = 0; i < 4; i++) agents.push({ hub, ...(await agentOn(hub, hubs, `racer-${h}-${i}`)) });
    }
    for (let round = 0; round < 5; round++) {
      // Overlapping, not equal: a folder, a glob and files inside both.
      const paths = [['lib/core'], ['lib/core/**/*.ts'], ['lib/core/index.ts'], ['lib/**']];
      const answers = await Promise.all(agents.map((agent, i) => reserve(agent.hub, agent.token, paths[i % paths.length]!)));
      const granted = answers.flatMap((answer, i) => (answer.status === 201 ? [i] : []));
      expect(granted).toHaveLength(1);
      expect(answers.filter((answer) => answer.status === 409)).toHaveLength(agents.length - 1);
      const winner = agents[granted[0]!]!;
      // Redis holds that one lease, and every hub lists only it.
      const client = createClient({ url: server.url });
      await client.connect();
      const inRedis = Object.values(await client.hGetAll('devenviro:reservations:shop')).map((text) => JSON.parse(text) as { holderId: string });
      await client.close();
      expect(inRedis.map((lease) => lease.holderId)).toEqual([winner.id]);
      for (const hub of hubs) await until('one lease listed', async () => {
        const leases = await listed(hub);
        return leases.length === 1 && leases[0]!.id === answers[granted[0]!]!.body.reservations[0].id;
      });
      const released = await winner.hub.api('/reservations/release', { token: winner.token, body: { ids: [answers[granted[0]!]!.body.reservations[0].id] } });
      expect(released.status).toBe(200);
    }
  });

  it('refuses to reserve while Redis is away (503), and grants again once it is back', async () => {
    const server = await redis();
    const a = await clusterHub(server, 'a');
    await joined([a]);
    const alice = await agentOn(a, [a], 'alice');
    expect((await reserve(a, alice.token, ['src/a.ts'])).status).toBe(201);
    await server.kill9();
    await until('hub A notices', async () => !(await a.api('/cluster', { token: a.app.cockpitToken })).body.connected);
    const refused = await reserve(a, alice.token, ['src/b.ts']);
    expect(refused.status).toBe(503);
    expect(refused.body.code).toBe('cluster_unavailable');
    // What the hub already knew is still listed.
    expect((await listed(a)).map((lease) => lease.paths)).toEqual([['src/a.ts']]);
    await server.restart();
    await until('granted again', async () => (await reserve(a, alice.token, ['src/b.ts'])).status === 201);
    // The lease taken before the outage survived in Redis (append-only file): still refused to others.
    const bob = await agentOn(a, [a], 'bob');
    expect((await reserve(a, bob.token, ['src/a.ts'])).status).toBe(409);
  });
});
