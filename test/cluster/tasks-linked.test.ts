/**
 * Tasks that hang together, shared by hubs joined through a real redis-server: a task with dependencies is shared once
 * they are met (never before), the steps of a workflow and the subtasks of a split run on any hub's agents while the
 * hub that made them keeps the run and the aggregate, an affinity sends a task to the agent it names on another hub
 * only, and a step held on a hub killed with kill -9 goes to an agent on another hub, never to two at once.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import type { ServerFrame } from '../../src/shared/agent-protocol';
import type { WorkflowRun } from '../../src/shared/workflow-run-protocol';
import { openSocket, type Socket, type TestHub } from '../hub/harness';
import { tempDir } from '../helpers';
import { cockpitToken, hubCall, startClusterHub } from '../support/hub-process';
import { redisUnavailable } from '../support/redis-server';
import { stepOf, worker as autoWorker } from '../workflows/engine-harness';
import { clusterHub, joined, redis, until } from './support';

const unavailable = redisUnavailable();

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Offer = Extract<ServerFrame, { type: 'task.offered' }>;

/** An agent on `hub` of project shop, taking up to one pushed task on its socket, which only records them. */
async function agentOn(hub: TestHub, name: string, capabilities: string[]): Promise<{ id: string; token: string; socket: Socket }> {
  const made = await hub.register(name, { project: 'shop', capabilities });
  const socket = await openSocket(hub.url, made.agent.id, made.token);
  onTestFinished(() => socket.ws.close());
  socket.send({ type: 'tasks.ready', slots: 1 });
  return { id: made.agent.id, token: made.token, socket };
}

const offers = (socket: Socket) => socket.frames.filter((frame): frame is Offer => frame.type === 'task.offered').map((frame) => frame.task.id);

const create = async (hub: TestHub, body: Record<string, unknown>) => {
  const answer = await hub.api('/tasks', { token: hub.app.cockpitToken, body: { project: 'shop', leaseSeconds: 30, ...body } });
  expect(answer.status).toBe(201);
  return answer.body.id as string;
};

const taskOn = async (hub: TestHub, id: string) => (await hub.api(`/tasks/${id}`, { token: hub.app.cockpitToken })).body;

const complete = async (hub: TestHub, token: string, id: string, json: unknown) => {
  expect((await hub.api(`/tasks/${id}/complete`, { token, body: { json } })).status).toBe(200);
};

/** Waits until `hub` sees the agent present (identities and presence travel through Redis). */
const seesPresent = (hub: TestHub, agentId: string) =>
  until(`the agent ${agentId} present on the other hub`, async () => {
    const status = (await hub.api(`/agents/${agentId}/status`, { token: hub.app.cockpitToken })).body?.status;
    return status === 'online' || status === 'idle';
  });

/** Starts a run on `hub`, once its check sees the agents of the other hub that fit its steps. */
const startRun = (hub: { url: string }, token: string, definition: unknown) =>
  until('the run started', async () => {
    const answer = await hubCall(hub, '/workflows', token, definition);
    return answer.status === 201 ? (answer.body as WorkflowRun) : undefined;
  });

const runOn = async (hub: { url: string }, token: string, id: string) => (await hubCall(hub, `/workflows/${id}`, token)).body as WorkflowRun;

describe.skipIf(unavailable !== null)(`tasks with dependencies, workflows, subtasks and affinity across hubs${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  it('shares a task with a dependency only once the dependency succeeded, and ends or fails the tasks waiting on one that ended on another hub', async () => {
    const server = await redis();
    const a = await clusterHub(server, 'a');
    const b = await clusterHub(server, 'b');
    await joined([a, b]);
    const builder = await agentOn(a, 'builder-a', ['build']);
    const tester = await agentOn(b, 'tester-b', ['test']);

    // Made on A: the build (for A's agent), the test waiting on it (only B's agent fits), and a release waiting on the test.
    const build = await create(a, { title: 'build', capabilities: ['build'] });
    const test = await create(a, { title: 'test', capabilities: ['test'], dependsOn: [build] });
    const release = await create(a, { title: 'release', capabilities: ['build'], dependsOn: [test] });
    await until('the build offered on A', async () => offers(builder.socket).includes(build));
    expect((await taskOn(a, test)).state).toBe('pending');
    // While the build runs, hub B does not have the test, and its agent is offered nothing.
    await pause(1_500);
    expect((await b.api(`/tasks/${test}`, { token: b.app.cockpitToken })).status).toBe(404);
    expect(offers(tester.socket)).toEqual([]);

    await complete(a, builder.token, build, { artifact: 'shop-1.0.tgz' });
    const offered = (await tester.socket.next((frame) => frame.type === 'task.offered', 15_000)) as Offer;
    expect(offered.task).toMatchObject({ id: test, dependsOn: [build] });
    expect((await taskOn(a, release)).state).toBe('pending');
    await complete(b, tester.token, test, { passed: 12 });

    // B's end reaches A, which applies it as its own: the test succeeded there with B's result, by B's agent, and the
    // release waiting on it is ready and goes to A's agent.
    await until('the test ended on A', async () => (await taskOn(a, test)).state === 'succeeded');
    expect(await taskOn(a, test)).toMatchObject({ result: { json: { passed: 12 } }, holderId: tester.id });
    await until('the release offered on A', async () => offers(builder.socket).includes(release));
    await complete(a, builder.token, release, { tag: 'v1.0' });

    // A dependency that fails on B fails the task waiting on it on A.
    const flaky = await create(a, { title: 'flaky test', capabilities: ['test'], maxAttempts: 1 });
    const after = await create(a, { title: 'after the flaky test', capabilities: ['build'], dependsOn: [flaky] });
    await until('the flaky test offered on B', async () => offers(tester.socket).includes(flaky));
    expect((await b.api(`/tasks/${flaky}/fail`, { token: tester.token, body: { message: 'red', retry: false } })).status).toBe(200);
    await until('the waiting task failed on A', async () => (await taskOn(a, after)).state === 'failed');
    expect((await taskOn(a, after)).error).toEqual({ code: 'dependency_failed', message: `its dependency ${flaky} ended failed` });
    expect(offers(builder.socket)).toEqual([build, release]);
    expect(offers(tester.socket)).toEqual([test, flaky]);
  });

  it('runs a workflow started on A on the agents of B, and finishes the run on A with their results; a cancel on A reaches the holder on B', async () => {
    const server = await redis();
    const a = await clusterHub(server, 'a');
    const b = await clusterHub(server, 'b');
    await joined([a, b]);
    const builderB = await b.register('builder-b', { project: 'shop', capabilities: ['build'] });
    const checkerB = await b.register('checker-b', { project: 'shop', capabilities: ['check'] });
    await autoWorker(b, builderB, { answer: (task) => ({ built: (task.input as { version: number }).version }) });
    await autoWorker(b, checkerB, { answer: (task) => ({ checked: (task.input as { built: { built: number } }).built.built }) });
    const run = await startRun(a, a.app.cockpitToken, {
      name: 'ship',
      project: 'shop',
      input: { version: 7 },
      steps: {
        build: { kind: 'task', title: 'build it', capabilities: ['build'], input: { version: { $ref: 'input.version' } } },
        check: { kind: 'task', dependsOn: ['build'], title: 'check it', capabilities: ['check'], input: { built: { $ref: 'steps.build.result' } } },
      },
    });
    const done = await until('the run finished on A', async () => {
      const now = await runOn(a, a.app.cockpitToken, run.id);
      return now.state !== 'running' && now;
    }, 20_000);
    expect(done.state).toBe('succeeded');
    expect(stepOf(done, 'build').result).toEqual({ built: 7 });
    expect(stepOf(done, 'check').result).toEqual({ checked: 7 });
    // Each step's task ran once, by B's agents.
    expect(done.timeline.map((t) => [t.stepId, t.state, t.agentId])).toEqual([
      ['build', 'succeeded', builderB.agent.id],
      ['check', 'succeeded', checkerB.agent.id],
    ]);

    // A second run's step held by an agent of B that does not finish: cancelling the run on A tells that agent.
    const slow = await agentOn(b, 'slow-b', ['slow']);
    const second = await startRun(a, a.app.cockpitToken, { name: 'stall', project: 'shop', steps: { wait: { kind: 'task', title: 'wait', capabilities: ['slow'] } } });
    const offer = (await slow.socket.next((frame) => frame.type === 'task.offered', 15_000)) as Offer;
    expect(offer.task.workflowId).toBe(second.id);
    expect((await a.api(`/workflows/${second.id}/cancel`, { token: a.app.cockpitToken, body: { reason: 'not needed' } })).status).toBe(200);
    const cancelled = (await slow.socket.next((frame) => frame.type === 'task.cancelled', 10_000)) as Extract<ServerFrame, { type: 'task.cancelled' }>;
    expect(cancelled.taskId).toBe(offer.task.id);
    expect(cancelled.reason).toMatch(/was cancelled by the cockpit: not needed/);
    await until('the copy on B cancelled', async () => (await taskOn(b, offer.task.id)).state === 'cancelled');
  });

  it("runs a split's subtasks on both hubs' agents, and gives their aggregate to the parent's holder on A; cancelling the parent on A reaches a subtask's holder on B", async () => {
    const server = await redis();
    const a = await clusterHub(server, 'a');
    const b = await clusterHub(server, 'b');
    await joined([a, b]);
    const lead = await agentOn(a, 'lead-a', ['lead']);
    const devA = await agentOn(a, 'dev-a', ['code']);
    const devB = await agentOn(b, 'dev-b', ['code']);
    const writerB = await agentOn(b, 'writer-b', ['docs']);
    const parent = await create(a, { title: 'add a cart', capabilities: ['lead'] });
    await lead.socket.next((frame) => frame.type === 'task.offered' && frame.task.id === parent, 10_000);
    const split = await a.api(`/tasks/${parent}/subtasks`, {
      token: lead.token,
      body: { subtasks: [{ key: 'model', title: 'cart model', capabilities: ['code'] }, { key: 'api', title: 'cart api', capabilities: ['code'] }], aggregate: 'merge' },
    });
    expect(split.status).toBe(201);

    // One subtask each: each agent takes one at a time, and neither finishes before both have theirs.
    await until('a subtask offered on each hub', async () => offers(devA.socket).length === 1 && offers(devB.socket).length === 1);
    const [onA] = offers(devA.socket);
    const [onB] = offers(devB.socket);
    const parts = [...lead.socket.frames, ...devA.socket.frames, ...devB.socket.frames].filter((frame): frame is Offer => frame.type === 'task.offered');
    const title = (id: string) => parts.find((frame) => frame.task.id === id)!.task.title;
    const part = (id: string) => (title(id) === 'cart model' ? { model: 'Cart' } : { api: '/cart' });
    await complete(a, devA.token, onA!, part(onA!));
    await complete(b, devB.token, onB!, part(onB!));

    // The split's aggregate is made on A, where its parent is held, with B's result in it.
    const told = (await lead.socket.next((frame) => frame.type === 'task.subtasks', 15_000)) as Extract<ServerFrame, { type: 'task.subtasks' }>;
    expect(told.subtasks).toMatchObject({ state: 'succeeded', result: { model: 'Cart', api: '/cart' } });
    expect((await taskOn(a, onB!)).result).toEqual({ json: part(onB!) });

    // A second split, whose subtask only B's writer can take; the cockpit cancels the parent on A meanwhile: the split
    // is abandoned there, and the cancellation of its subtask reaches the writer on B.
    const again = await a.api(`/tasks/${parent}/subtasks`, { token: lead.token, body: { subtasks: [{ key: 'docs', title: 'cart docs', capabilities: ['docs'] }], aggregate: 'collect' } });
    expect(again.status).toBe(201);
    const docs = (await writerB.socket.next((frame) => frame.type === 'task.offered', 15_000)) as Offer;
    expect(docs.task).toMatchObject({ title: 'cart docs', parentTaskId: parent });
    expect((await a.api(`/tasks/${parent}/cancel`, { token: a.app.cockpitToken, body: { reason: 'cart dropped' } })).status).toBe(200);
    const cancelled = (await writerB.socket.next((frame) => frame.type === 'task.cancelled', 10_000)) as Extract<ServerFrame, { type: 'task.cancelled' }>;
    expect(cancelled.taskId).toBe(docs.task.id);
    expect(cancelled.reason).toMatch(new RegExp(`its parent task ${parent} ended cancelled`));
    await until("the parent's end seen on B", async () => (await taskOn(b, parent)).state === 'cancelled');
    expect(offers(devA.socket)).toHaveLength(1);
    expect(offers(devB.socket)).toHaveLength(1);
  });

  it('gives a task with an affinity only to the agent it names, on the other hub, while an agent of its own hub is free', async () => {
    const server = await redis();
    const a = await clusterHub(server, 'a');
    const b = await clusterHub(server, 'b');
    await joined([a, b]);
    const devA = await agentOn(a, 'dev-a', ['build']);
    const devB = await agentOn(b, 'dev-b', ['build']);
    await seesPresent(a, devB.id);
    const first = await create(a, { title: 'build the cart', capabilities: ['build'], assignee: devB.id });
    await until('the first task offered to dev-b', async () => offers(devB.socket).includes(first));
    await until('hub A knows dev-b holds it', async () => /to dev-b \(attempt 1\)/.test((await taskOn(a, first)).waiting ?? ''));

    // Prefers the agent running the first task: dev-b, on hub B, busy with it (one slot), though dev-a on hub A is free
    // and fits. The task waits for dev-b, and goes to it once it is done with the first.
    const second = await create(a, { title: 'fix the cart', capabilities: ['build'], affinity: { taskId: first } });
    await pause(1_500);
    expect(offers(devA.socket)).toEqual([]);
    expect(offers(devB.socket)).toEqual([first]);
    await complete(b, devB.token, first, { built: 'cart' });
    await until('the second task offered to dev-b', async () => offers(devB.socket).includes(second));
    await complete(b, devB.token, second, { fixed: 'cart' });

    // Once the first ended, hub A knows from its end who ran it: a third task with the same affinity goes to dev-b too.
    await until('the first task ended on A', async () => (await taskOn(a, first)).holderId === devB.id);
    const third = await create(a, { title: 'polish the cart', capabilities: ['build'], affinity: { taskId: first } });
    await until('the third task offered to dev-b', async () => offers(devB.socket).includes(third));
    await complete(b, devB.token, third, { polished: 'cart' });
    for (const id of [second, third]) {
      await until('its end seen on A', async () => (await taskOn(a, id)).state === 'succeeded');
      expect((await taskOn(a, id)).holderId).toBe(devB.id);
    }
    await pause(500);
    expect(offers(devA.socket)).toEqual([]);
  });

  it('gives the step held on a hub killed with kill -9 to an agent on another hub once the claim expires, and finishes the run where it started', async () => {
    const server = await redis();
    const origin = await clusterHub(server, 'origin');
    const doomed = await startClusterHub(tempDir(), { redisUrl: server.url, hubName: 'doomed' });
    onTestFinished(() => doomed.stop());
    const victim = await hubCall(doomed, '/agents/register', undefined, { name: 'builder-doomed', project: 'shop', capabilities: ['build'] });
    expect(victim.status).toBe(201);
    const doomedSocket = await openSocket(doomed.url, victim.body.agent.id, victim.body.token);
    doomedSocket.closed.catch(() => undefined);
    doomedSocket.send({ type: 'tasks.ready', slots: 1 });

    // A run on the origin hub, whose only fitting agent is on the doomed hub: it holds the step's task.
    const run = await startRun(origin, origin.app.cockpitToken, { name: 'survive', project: 'shop', steps: { build: { kind: 'task', title: 'build', capabilities: ['build'], leaseSeconds: 60 } } });
    const held = (await doomedSocket.next((frame) => frame.type === 'task.offered', 15_000)) as Offer;
    expect(held.task.workflowId).toBe(run.id);

    // An agent on the origin waits: the task is held on the doomed hub.
    const rescuer = await agentOn(origin, 'builder-origin', ['build']);
    await pause(3_000);
    expect(offers(rescuer.socket)).toEqual([]);

    await doomed.kill9();
    const offer = (await rescuer.socket.next((frame) => frame.type === 'task.offered', 15_000)) as Offer;
    expect(offer.task).toMatchObject({ id: held.task.id, attempt: 2 });
    await complete(origin, rescuer.token, offer.task.id, { rescued: true });
    const done = await until('the run finished on the origin', async () => {
      const now = await runOn(origin, origin.app.cockpitToken, run.id);
      return now.state !== 'running' && now;
    });
    expect(done.state).toBe('succeeded');
    expect(stepOf(done, 'build').result).toEqual({ rescued: true });
    await pause(1_000);
    expect(offers(rescuer.socket)).toEqual([held.task.id]);
  });

  it('readies a task whose dependency ended on another hub while the hub that made it was killed, once that hub is back, and shares it then', async () => {
    const server = await redis();
    const originDir = tempDir();
    const origin = await startClusterHub(originDir, { redisUrl: server.url, hubName: 'origin' });
    onTestFinished(() => origin.stop());
    const b = await clusterHub(server, 'b');
    const builder = await agentOn(b, 'builder-b', ['build']);
    const tester = await agentOn(b, 'tester-b', ['test']);
    const token = cockpitToken(origin);
    const make = async (body: Record<string, unknown>) => {
      const answer = await hubCall(origin, '/tasks', token, { project: 'shop', leaseSeconds: 30, ...body });
      expect(answer.status).toBe(201);
      return answer.body.id as string;
    };
    const build = await make({ title: 'build', capabilities: ['build'] });
    const test = await make({ title: 'test', capabilities: ['test'], dependsOn: [build] });
    await until('the build offered on B', async () => offers(builder.socket).includes(build));

    // The hub that made both dies; the build ends on B meanwhile.
    await origin.kill9();
    await complete(b, builder.token, build, { artifact: 'shop.tgz' });
    await pause(1_000);
    expect(offers(tester.socket)).toEqual([]);

    // Back, it reads the build's end from Redis, readies the test and shares it: B's tester runs it, and its end
    // reaches the hub that made it.
    const back = await startClusterHub(originDir, { redisUrl: server.url, hubName: 'origin' });
    onTestFinished(() => back.stop());
    const offer = (await tester.socket.next((frame) => frame.type === 'task.offered', 20_000)) as Offer;
    expect(offer.task.id).toBe(test);
    await complete(b, tester.token, test, { passed: 3 });
    await until('the test ended where it was made', async () => {
      const task = (await hubCall(back, `/tasks/${test}`, cockpitToken(back))).body;
      return task.state === 'succeeded' && task.result?.json?.passed === 3;
    });
    expect(offers(tester.socket)).toEqual([test]);
  });
});
