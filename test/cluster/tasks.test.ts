/**
 * Tasks shared by hubs joined through a real redis-server: a task created on one hub is offered to agents on every
 * hub but held by one at a time; its end is seen on every hub; a hub killed with kill -9 (or cut off from Redis)
 * loses the task, which then goes to an agent on another hub, never to two holders at once.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import type { ServerFrame } from '../../src/shared/agent-protocol';
import { openSocket, type Socket, type TestHub } from '../hub/harness';
import { tempDir } from '../helpers';
import { hubCall, registerOn, startClusterHub } from '../support/hub-process';
import { redisUnavailable } from '../support/redis-server';
import { clusterHub, joined, redis, until } from './support';

const unavailable = redisUnavailable();

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An agent on `hub` taking one pushed task at a time on its socket. */
async function worker(hub: TestHub, name: string, capabilities = ['build']): Promise<{ id: string; token: string; socket: Socket }> {
  const made = await hub.register(name, { project: 'shop', capabilities });
  const socket = await openSocket(hub.url, made.agent.id, made.token);
  onTestFinished(() => socket.ws.close());
  socket.send({ type: 'tasks.ready', slots: 1 });
  return { id: made.agent.id, token: made.token, socket };
}

const offers = (socket: Socket) => socket.frames.filter((frame): frame is Extract<ServerFrame, { type: 'task.offered' }> => frame.type === 'task.offered').map((frame) => frame.task.id);

const create = async (hub: TestHub, title: string) => {
  const answer = await hub.api('/tasks', { token: hub.app.cockpitToken, body: { title, project: 'shop', capabilities: ['build'], leaseSeconds: 30, maxAttempts: 3 } });
  expect(answer.status).toBe(201);
  return answer.body.id as string;
};

const taskOn = async (hub: TestHub, id: string) => (await hub.api(`/tasks/${id}`, { token: hub.app.cockpitToken })).body;

describe.skipIf(unavailable !== null)(`tasks across hubs${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  it('offers a task to agents on both hubs, held by one, and a task to the hub with room; each task done once, its end seen on every hub', async () => {
    const server = await redis();
    const a = await clusterHub(server, 'a');
    const b = await clusterHub(server, 'b');
    await joined([a, b]);
    const onA = await worker(a, 'builder-a');
    const onB = await worker(b, 'builder-b');

    // One task, both agents free: one holds it, and keeps it (its hub renews the claim) while the other waits.
    const first = await create(a, 'build the shop');
    await until('the task offered', async () => offers(onA.socket).length + offers(onB.socket).length > 0);
    await pause(3_000); // longer than a claim's time to live (2 s) and an unused claim's release (2 s)
    expect([...offers(onA.socket), ...offers(onB.socket)]).toEqual([first]);
    const [holder, other] = offers(onA.socket).length === 1 ? [onA, onB] : [onB, onA];
    const holderHub = holder === onA ? a : b;
    const otherHub = holder === onA ? b : a;
    expect((await taskOn(holderHub, first)).state).toBe('assigned');
    // The other hub's copy stays ready, and says where the task is.
    const holderName = holder === onA ? 'builder-a' : 'builder-b';
    await until('the other hub says where the task is', async () => {
      const copy = await taskOn(otherHub, first);
      return copy.state === 'ready' && copy.waiting === `given out by hub ${holderHub === a ? 'a' : 'b'} of the cluster, to ${holderName} (attempt 1); this hub's copy stays ready until it ends`;
    });
    // Load balancing sees both hubs' agents: the holder's hub has no room left, so a task made there goes to the agent
    // on the other hub (and only to it).
    const second = await create(holderHub, 'build the shop again');
    await until('the second task offered', async () => offers(other.socket).includes(second));
    expect(offers(holder.socket)).toEqual([first]);
    expect((await otherHub.api(`/tasks/${second}/complete`, { token: other.token, body: { text: 'built too' } })).status).toBe(200);
    await until('the second task\'s end seen on the holder\'s hub', async () => (await taskOn(holderHub, second)).state === 'succeeded');
    // The other hub's copy is not given to its agent, and its report is refused there.
    expect((await otherHub.api(`/tasks/${first}/complete`, { token: other.token, body: { text: 'me too' } })).status).toBeGreaterThanOrEqual(400);
    expect((await holderHub.api(`/tasks/${first}/complete`, { token: holder.token, body: { text: 'built' } })).status).toBe(200);
    for (const hub of [a, b]) {
      await until('the end seen on both hubs', async () => {
        const task = await taskOn(hub, first);
        return task.state === 'succeeded' && task.result?.text === 'built';
      });
    }

    // Many tasks, created on both hubs, taken by both agents as they finish: each offered once, all done everywhere.
    const done = new Set<string>([first, second]);
    const complete = (agent: typeof onA, hub: TestHub) => {
      agent.socket.ws.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as ServerFrame;
        if (frame.type !== 'task.offered') return;
        done.add(frame.task.id);
        agent.socket.send({ type: 'task.complete', ref: frame.task.id, taskId: frame.task.id, result: { text: `by ${hub === a ? 'a' : 'b'}` } });
      });
    };
    complete(onA, a);
    complete(onB, b);
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(await create(i % 2 === 0 ? a : b, `task ${i}`));
    for (const id of ids) {
      for (const hub of [a, b]) await until(`task ${id} succeeded on both hubs`, async () => (await taskOn(hub, id)).state === 'succeeded', 20_000);
    }
    const offered = [...offers(onA.socket), ...offers(onB.socket)];
    expect(offered.sort()).toEqual([first, second, ...ids].sort());
    // Each task ran once: one attempt, on one hub.
    for (const id of ids) {
      const [onHubA, onHubB] = [await taskOn(a, id), await taskOn(b, id)];
      expect(onHubA.result).toEqual(onHubB.result);
      expect(onHubA.attempt + onHubB.attempt).toBe(1);
    }
  });

  it('gives tasks made at once on three hubs to six free agents, one each, each task held once', async () => {
    const server = await redis();
    const hubs = [await clusterHub(server, 'a'), await clusterHub(server, 'b'), await clusterHub(server, 'c')];
    await joined(hubs);
    const agents: Array<Awaited<ReturnType<typeof worker>>> = [];
    for (const [i, hub] of hubs.entries()) agents.push(await worker(hub, `builder-${i}-1`), await worker(hub, `builder-${i}-2`));
    // Six tasks made at the same moment, two on each hub: every hub races for every claim.
    const ids = await Promise.all(hubs.flatMap((hub, i) => [create(hub, `race ${i}.1`), create(hub, `race ${i}.2`)]));
    await until('every task offered', async () => agents.reduce((sum, agent) => sum + offers(agent.socket).length, 0) >= ids.length, 20_000);
    await pause(3_000); // past a claim's time to live and an unused claim's release: no second offer may follow
    const offered = agents.flatMap((agent) => offers(agent.socket));
    expect(offered.sort()).toEqual([...ids].sort());
    for (const agent of agents) expect(offers(agent.socket)).toHaveLength(1);
  });

  it('gives tasks made on a hub without a fitting agent to agents on another hub, the most urgent first, and to an agent pulling work', async () => {
    const server = await redis();
    const a = await clusterHub(server, 'a');
    const b = await clusterHub(server, 'b');
    await joined([a, b]);
    // Hub B claims the most urgent first: of two tasks made on A, the later but higher one reaches its agent first.
    const make = async (title: string, priority: number) => (await a.api('/tasks', { token: a.app.cockpitToken, body: { title, project: 'shop', capabilities: ['design'], priority } })).body.id as string;
    const low = await make('tidy the styles', 1);
    const high = await make('fix the checkout page', 9);
    await until('hub B has both copies', async () => (await taskOn(b, low))?.state === 'ready' && (await taskOn(b, high))?.state === 'ready');
    const designer = await worker(b, 'designer-b', ['design']);
    const first = (await designer.socket.next((frame) => frame.type === 'task.offered', 10_000)) as Extract<ServerFrame, { type: 'task.offered' }>;
    expect(first.task.id).toBe(high);

    const answer = await a.api('/tasks', { token: a.app.cockpitToken, body: { title: 'review', project: 'shop', capabilities: ['review'] } });
    expect(answer.status).toBe(201);
    const id = answer.body.id as string;
    const reviewer = await b.register('reviewer-b', { project: 'shop', capabilities: ['review'] });
    // Its first pull finds the copy not yet claimed by its hub; the pull makes the hub try, and a later pull has it.
    const pulled = await until('the pull takes the task', async () => {
      const next = await b.api(`/agents/${reviewer.agent.id}/tasks/next`, { token: reviewer.token, body: {} });
      expect(next.status).toBe(200);
      return next.body.task ?? undefined;
    });
    expect(pulled).toMatchObject({ id, state: 'running' });
    expect((await b.api(`/tasks/${id}/complete`, { token: reviewer.token, body: { text: 'looks right' } })).status).toBe(200);
    await until('the end seen on the hub that made it', async () => (await taskOn(a, id)).result?.text === 'looks right');

  });

  it('gives the task of a hub killed with kill -9 to an agent on another hub once the claim expires, never to two at once', async () => {
    const server = await redis();
    const doomedDir = tempDir();
    const doomed = await startClusterHub(doomedDir, { redisUrl: server.url, hubName: 'doomed' });
    onTestFinished(() => doomed.stop());
    const survivor = await clusterHub(server, 'survivor');
    const victim = await registerOn(doomed, 'builder-doomed');
    const doomedSocket = await openSocket(doomed.url, victim.id, victim.token);
    doomedSocket.closed.catch(() => undefined);
    doomedSocket.send({ type: 'tasks.ready', slots: 1 });
    await until('the survivor knows the doomed hub', async () => (await survivor.api('/cluster', { token: survivor.app.cockpitToken })).body.hubs.length === 2);

    // Created by the doomed hub's agent in its project, and offered to it (it is the only agent yet).
    const created = await hubCall(doomed, '/tasks', victim.token, { title: 'survive', capabilities: [], leaseSeconds: 60 });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect((await doomedSocket.next((frame) => frame.type === 'task.offered', 10_000)) as Extract<ServerFrame, { type: 'task.offered' }>).toMatchObject({ task: { id } });
    await until('the survivor has the copy', async () => (await taskOn(survivor, id))?.state === 'ready');

    // An agent on the survivor waits: the task is held on the doomed hub, so it is not offered.
    const made = await survivor.register('builder-survivor', { project: 'shop' });
    const rescuer = await openSocket(survivor.url, made.agent.id, made.token);
    onTestFinished(() => rescuer.ws.close());
    rescuer.send({ type: 'tasks.ready', slots: 1 });
    await pause(3_000);
    expect(offers(rescuer)).toEqual([]);

    const killedAt = Date.now();
    await doomed.kill9();
    const offer = (await rescuer.next((frame) => frame.type === 'task.offered', 15_000)) as Extract<ServerFrame, { type: 'task.offered' }>;
    expect(offer.task.id).toBe(id);
    // Not before the claim's time to live (2 s) ran out since the doomed hub's last renewal.
    expect(Date.now() - killedAt).toBeGreaterThan(500);
    expect((await survivor.api(`/tasks/${id}/complete`, { token: made.token, body: { text: 'rescued' } })).status).toBe(200);
    expect(await taskOn(survivor, id)).toMatchObject({ state: 'succeeded', result: { text: 'rescued' } });

    // The doomed hub comes back with the task still held by its agent in its store: its copy ends as it ended on the
    // survivor, and its agent, back and taking work, is not given the task again.
    const back = await startClusterHub(doomedDir, { redisUrl: server.url, hubName: 'doomed' });
    onTestFinished(() => back.stop());
    const again = await openSocket(back.url, victim.id, victim.token);
    onTestFinished(() => again.ws.close());
    again.send({ type: 'tasks.ready', slots: 1 });
    await until('the returned hub ends its copy as the survivor did', async () => {
      const task = (await hubCall(back, `/tasks/${id}`, victim.token)).body;
      return task.state === 'succeeded' && task.result?.text === 'rescued';
    });
    await pause(1_000);
    expect(offers(again)).toEqual([]);
  });

  it('hands the task of a hub stopped normally to an agent on another hub', async () => {
    const server = await redis();
    const a = await clusterHub(server, 'a');
    const b = await clusterHub(server, 'b');
    await joined([a, b]);
    const onA = await worker(a, 'builder-a');
    const id = await create(a, 'finish what a left');
    await onA.socket.next((frame) => frame.type === 'task.offered');
    const onB = await worker(b, 'builder-b');
    await a.app.stop();
    const offer = (await onB.socket.next((frame) => frame.type === 'task.offered', 10_000)) as Extract<ServerFrame, { type: 'task.offered' }>;
    expect(offer.task).toMatchObject({ id, attempt: 2 });
    expect((await b.api(`/tasks/${id}/complete`, { token: onB.token, body: { text: 'finished' } })).status).toBe(200);
    expect(await taskOn(b, id)).toMatchObject({ state: 'succeeded', result: { text: 'finished' } });
  });

  it('ends the lease of a holder whose hub lost Redis before the claim expires, and gives the task out again once Redis is back, its attempts counted across hubs', async () => {
    const server = await redis();
    const a = await clusterHub(server, 'a');
    const b = await clusterHub(server, 'b');
    await joined([a, b]);
    const onA = await worker(a, 'builder-a');
    const id = await create(a, 'outlast the outage');
    await onA.socket.next((frame) => frame.type === 'task.offered');
    // Hub B heard that it was given out (and so Redis has the attempt).
    await until('hub B knows where the task is', async () => /to builder-a \(attempt 1\)/.test((await taskOn(b, id)).waiting ?? ''));

    await server.kill9();
    // Cut off, hub A cannot renew its claim: the holder's lease ends before the claim could have expired in Redis.
    const cancelled = await onA.socket.next((frame) => frame.type === 'task.cancelled', 10_000);
    expect(cancelled).toMatchObject({ taskId: id });
    expect((cancelled as Extract<ServerFrame, { type: 'task.cancelled' }>).reason).toMatch(/lease_lost: this hub could not renew its claim/);
    // Its report now is refused: it no longer holds the task.
    expect((await a.api(`/tasks/${id}/complete`, { token: onA.token, body: { text: 'too late' } })).body.code).toBe('lease_lost');

    // Its agent leaves, one on hub B takes work, and Redis is back: the task goes to hub B, as its second attempt.
    onA.socket.ws.close();
    const onB = await worker(b, 'builder-b');
    await server.restart();
    const offer = (await onB.socket.next((frame) => frame.type === 'task.offered', 15_000)) as Extract<ServerFrame, { type: 'task.offered' }>;
    expect(offer.task).toMatchObject({ id, attempt: 2 });
    await pause(2_500);
    expect([...offers(onA.socket), ...offers(onB.socket)].filter((offered) => offered === id)).toHaveLength(2);
  });

  it('shares a task made while Redis was away, and not given out meanwhile, once Redis is back', async () => {
    const server = await redis();
    const a = await clusterHub(server, 'a');
    const b = await clusterHub(server, 'b');
    await joined([a, b]);
    const onB = await worker(b, 'reviewer-b', ['review']);
    await server.kill9();
    await until('hub A sees Redis gone', async () => !(await a.api('/cluster', { token: a.app.cockpitToken })).body.connected);
    // Made on A, whose agents cannot take it: it waits there, A's own while Redis is away.
    const answer = await a.api('/tasks', { token: a.app.cockpitToken, body: { title: 'review while away', project: 'shop', capabilities: ['review'] } });
    expect(answer.status).toBe(201);
    const id = answer.body.id as string;
    await server.restart();
    const offer = (await onB.socket.next((frame) => frame.type === 'task.offered', 20_000)) as Extract<ServerFrame, { type: 'task.offered' }>;
    expect(offer.task).toMatchObject({ id, attempt: 1 });
    expect((await b.api(`/tasks/${id}/complete`, { token: onB.token, body: { text: 'reviewed' } })).status).toBe(200);
    await until('its end seen on A', async () => (await taskOn(a, id)).result?.text === 'reviewed');
  });
});
