/**
 * Tasks against a real hub on loopback, a real SQLite file and real agent sockets: fair push dispatch, capability and
 * tier matching, dependencies, leases lost by a killed agent, cancellation, pull, large inputs and bad input.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RegisterResponse, ServerFrame } from '../../src/shared/agent-protocol';
import type { Task } from '../../src/shared/task-protocol';
import { openSocket, startHub, until, type Socket, type TestHub } from '../hub/harness';

type Offered = Extract<ServerFrame, { type: 'task.offered' }>;

async function createTask(hub: TestHub, body: Record<string, unknown>, token = hub.app.cockpitToken): Promise<Task> {
  const { status, body: task } = await hub.api('/tasks', { token, body: { project: 'test', ...body } });
  if (status !== 201) throw new Error(`create: ${status} ${JSON.stringify(task)}`);
  return task as Task;
}

async function getTask(hub: TestHub, id: string): Promise<Task> {
  return (await hub.api(`/tasks/${id}`, { token: hub.app.cockpitToken })).body as Task;
}

/** An agent that takes pushed tasks over its socket and completes each after `workMs` (and once `gate` opens). */
async function worker(
  hub: TestHub,
  agent: RegisterResponse,
  options: { slots?: number; workMs?: number; gate?: Promise<void> } = {},
): Promise<{ socket: Socket; done: string[]; offered: string[] }> {
  const socket = await openSocket(hub.url, agent.agent.id, agent.token);
  const done: string[] = [];
  const offered: string[] = [];
  socket.ws.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as ServerFrame;
    if (frame.type !== 'task.offered') return;
    const id = frame.task.id;
    offered.push(id);
    void (async () => {
      await hub.api(`/tasks/${id}/progress`, { token: agent.token, body: { percent: 10, note: 'started' } });
      await new Promise((resolve) => setTimeout(resolve, options.workMs ?? 20));
      await options.gate;
      const { status } = await hub.api(`/tasks/${id}/complete`, { token: agent.token, body: { json: { by: agent.agent.name, task: frame.task.title } } });
      if (status === 200) done.push(id);
    })();
  });
  socket.send({ type: 'tasks.ready', slots: options.slots ?? 1 });
  return { socket, done, offered };
}

describe('tasks', () => {
  it('spreads 20 tasks fairly over 5 equal agents, each task run once', async () => {
    const hub = await startHub();
    const agents = await Promise.all([1, 2, 3, 4, 5].map((i) => hub.register(`worker-${i}`, { capabilities: ['build'] })));
    // Each takes up to 4 at once and finishes only once all 20 are handed out, so the spread is the dispatcher's
    // choice alone (fewest held, then whoever was given work longest ago), not which agent happened to be quicker.
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const workers = await Promise.all(agents.map((agent) => worker(hub, agent, { slots: 4, gate })));
    const tasks = [];
    for (let i = 0; i < 20; i++) tasks.push(await createTask(hub, { title: `build part ${i}`, capabilities: ['build'], input: { part: i } }));
    await until(() => workers.reduce((n, w) => n + w.offered.length, 0) === 20, 15_000, '20 offers');
    expect(workers.map((w) => w.offered.length)).toEqual([4, 4, 4, 4, 4]);
    open();
    await until(() => workers.reduce((n, w) => n + w.done.length, 0) === 20, 15_000, '20 completions');

    const counts = workers.map((w) => w.done.length);
    expect(counts).toEqual([4, 4, 4, 4, 4]);
    expect(new Set(workers.flatMap((w) => w.done)).size).toBe(20);
    const finished = await Promise.all(tasks.map((task) => getTask(hub, task.id)));
    for (const task of finished) {
      expect(task).toMatchObject({ state: 'succeeded', attempt: 1, error: null });
      const holder = agents.find((a) => a.agent.id === task.holderId)!;
      expect(task.result).toEqual({ json: { by: holder.agent.name, task: task.title } });
    }
    // The holder's own listing names what it ran.
    const first = agents[0]!;
    const own = await hub.api(`/agents/${first.agent.id}/tasks`, { token: first.token });
    expect(own.body.tasks.map((t: Task) => t.id).sort()).toEqual([...workers[0]!.done].sort());
  });

  it('matches capabilities and tier, and says why work no agent can take waits', async () => {
    const hub = await startHub();
    const reviewer = await hub.register('reviewer', { capabilities: ['review'] });
    const planner = await hub.register('planner', { tier: 'strategic', capabilities: ['plan'] });
    const plain = await hub.register('plain');
    const workers = [await worker(hub, reviewer), await worker(hub, planner), await worker(hub, plain)];
    const review = await createTask(hub, { title: 'review the diff', capabilities: ['review'] });
    const plan = await createTask(hub, { title: 'plan the release', tier: 'strategic' });
    const deploy = await createTask(hub, { title: 'deploy', capabilities: ['deploy'] });
    await until(() => workers[0]!.done.length === 1 && workers[1]!.done.length === 1, 5000, 'review and plan done');
    expect((await getTask(hub, review.id)).holderId).toBe(reviewer.agent.id);
    expect((await getTask(hub, plan.id)).holderId).toBe(planner.agent.id);
    expect(workers[2]!.done).toEqual([]);

    const waiting = await getTask(hub, deploy.id);
    expect(waiting).toMatchObject({ state: 'ready', waiting: 'no agent with capability `deploy` in project test' });
    const strategicOnly = await createTask(hub, { title: 'memory work', tier: 'memory' });
    expect((await getTask(hub, strategicOnly.id)).waiting).toBe('no agent of tier memory in project test');

    // An agent able to audit that has not been heard from for longer than presence allows is offline.
    const sleeper = await hub.register('sleeper', { capabilities: ['audit'] });
    hub.app.hub().registry.get(sleeper.agent.id).lastSeen = Date.now() - 100_000;
    const audit = await createTask(hub, { title: 'audit', capabilities: ['audit'] });
    expect((await getTask(hub, audit.id)).waiting).toBe('no online agent with capability `audit` (1 known, all offline)');

    // An agent that can deploy but takes no pushed work pulls it; the reason said so meanwhile.
    const deployer = await hub.register('deployer', { capabilities: ['deploy'] });
    expect((await getTask(hub, deploy.id)).waiting).toBe('waiting for one of deployer to claim it (none takes pushed tasks)');
    const claimed = await hub.api(`/agents/${deployer.agent.id}/tasks/next`, { token: deployer.token, body: {} });
    expect(claimed.status).toBe(200);
    expect(claimed.body.task).toMatchObject({ id: deploy.id, state: 'running', holderId: deployer.agent.id, attempt: 1 });
    const nothing = await hub.api(`/agents/${deployer.agent.id}/tasks/next`, { token: deployer.token, body: {} });
    expect(nothing.body.task).toBeNull();
    expect(nothing.body.reason).toContain('fits deployer');
    // An agent claims for itself only.
    expect((await hub.api(`/agents/${plain.agent.id}/tasks/next`, { token: deployer.token, body: {} })).status).toBe(403);
  });

  it('runs a task once its dependencies succeeded, and fails the dependents of a failed one', async () => {
    const hub = await startHub();
    const agent = await hub.register('solo');
    const claim = async () => (await hub.api(`/agents/${agent.agent.id}/tasks/next`, { token: agent.token, body: {} })).body.task as Task | null;
    const a = await createTask(hub, { title: 'a', priority: 90 });
    const b = await createTask(hub, { title: 'b', priority: 10 });
    const c = await createTask(hub, { title: 'c', dependsOn: [a.id, b.id], priority: 100 });
    expect(c.state).toBe('pending');
    expect((await getTask(hub, c.id)).waiting).toContain(`${a.id} (a: ready)`);

    // Highest priority first; c is not ready, so a, then b.
    expect((await claim())?.id).toBe(a.id);
    expect((await hub.api(`/tasks/${a.id}/complete`, { token: agent.token, body: { text: 'a done' } })).status).toBe(200);
    expect((await getTask(hub, c.id)).state).toBe('pending');
    expect((await claim())?.id).toBe(b.id);
    await hub.api(`/tasks/${b.id}/complete`, { token: agent.token, body: { refs: [{ kind: 'file', ref: 'src/b.ts' }] } });
    expect((await getTask(hub, c.id)).state).toBe('ready');
    expect((await claim())?.id).toBe(c.id);

    const e = await createTask(hub, { title: 'e' });
    const d = await createTask(hub, { title: 'd', dependsOn: [e.id] });
    const f = await createTask(hub, { title: 'f', dependsOn: [d.id] });
    expect((await claim())?.id).toBe(e.id);
    const failed = await hub.api(`/tasks/${e.id}/fail`, { token: agent.token, body: { message: 'cannot build', retry: false } });
    expect(failed.body).toMatchObject({ state: 'failed', error: { code: 'failed', message: 'cannot build' } });
    expect(await getTask(hub, d.id)).toMatchObject({ state: 'failed', error: { code: 'dependency_failed', message: `its dependency ${e.id} ended failed` } });
    expect(await getTask(hub, f.id)).toMatchObject({ state: 'failed', error: { code: 'dependency_failed' } });
    // A task cannot depend on one that already failed.
    const refused = await hub.api('/tasks', { token: hub.app.cockpitToken, body: { title: 'g', project: 'test', dependsOn: [e.id] } });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toContain('dependsOn.0');
  });

  it('offers a killed agent\'s task again once its lease lapses, and refuses its late result', async () => {
    const hub = await startHub();
    const first = await hub.register('first');
    const second = await hub.register('second');
    const socket = await openSocket(hub.url, first.agent.id, first.token);
    socket.send({ type: 'tasks.ready', slots: 1 });
    const task = await createTask(hub, { title: 'long job', leaseSeconds: 1, backoff: { initialSeconds: 0 } });
    const offer = (await socket.next((f) => f.type === 'task.offered')) as Offered;
    expect(offer.task).toMatchObject({ id: task.id, state: 'assigned', attempt: 1, holderId: first.agent.id });
    expect((await hub.api(`/tasks/${task.id}/progress`, { token: first.token, body: { percent: 50 } })).body.state).toBe('running');

    // The second agent only now takes work, so the task can only reach it after the first one's lease ends.
    const other = await openSocket(hub.url, second.agent.id, second.token);
    other.send({ type: 'tasks.ready', slots: 1 });
    socket.ws.terminate();
    const reoffer = (await other.next((f) => f.type === 'task.offered', 5000)) as Offered;
    expect(reoffer.task).toMatchObject({ id: task.id, attempt: 2, holderId: second.agent.id, error: { code: 'lease_lost' } });

    const late = await hub.api(`/tasks/${task.id}/complete`, { token: first.token, body: { text: 'too late' } });
    expect(late.status).toBe(409);
    expect(late.body.code).toBe('lease_lost');
    expect(late.body.error).toMatch(/your lease on task \w+ \(attempt 1\) ended at .*: lease_lost: its holder first was not heard from/);
    expect(late.body.error).toContain('held by second (attempt 2)');
    expect((await hub.api(`/tasks/${task.id}/progress`, { token: first.token, body: {} })).body.code).toBe('lease_lost');

    expect((await hub.api(`/tasks/${task.id}/complete`, { token: second.token, body: { text: 'done' } })).status).toBe(200);
    expect(await getTask(hub, task.id)).toMatchObject({ state: 'succeeded', holderId: second.agent.id, result: { text: 'done' } });
    // Completing twice is refused too.
    expect((await hub.api(`/tasks/${task.id}/complete`, { token: second.token, body: { text: 'again' } })).body.code).toBe('task_finished');
  });

  it('ends a task out of attempts, and times out an attempt that runs too long', async () => {
    const hub = await startHub();
    const agent = await hub.register('slow');
    const socket = await openSocket(hub.url, agent.agent.id, agent.token);
    socket.send({ type: 'tasks.ready', slots: 1 });
    const task = await createTask(hub, { title: 'never ends', timeoutSeconds: 1, maxAttempts: 2, backoff: { initialSeconds: 0 } });
    await socket.next((f) => f.type === 'task.offered' && f.task.attempt === 1);
    expect(await socket.next((f) => f.type === 'task.cancelled', 4000)).toMatchObject({ taskId: task.id, state: 'ready' });
    await socket.next((f) => f.type === 'task.offered' && f.task.attempt === 2, 4000);
    expect(await socket.next((f) => f.type === 'task.cancelled', 4000)).toMatchObject({ taskId: task.id, state: 'timed_out' });
    expect(await getTask(hub, task.id)).toMatchObject({ state: 'timed_out', attempt: 2, error: { code: 'timed_out' } });
  });

  it('tells the holder when its task is cancelled, and only the creator or the cockpit may cancel', async () => {
    const hub = await startHub();
    const lead = await hub.register('lead');
    const dev = await hub.register('dev');
    const socket = await openSocket(hub.url, dev.agent.id, dev.token);
    socket.send({ type: 'tasks.ready', slots: 1 });
    const task = await createTask(hub, { title: 'refactor' }, lead.token);
    expect(task.createdBy).toBe(lead.agent.id);
    await socket.next((f) => f.type === 'task.offered');
    expect((await hub.api(`/tasks/${task.id}/cancel`, { token: dev.token, body: {} })).status).toBe(403);
    // Another agent's report is refused as not its holder.
    expect((await hub.api(`/tasks/${task.id}/complete`, { token: lead.token, body: { text: 'mine' } })).body.code).toBe('not_holder');

    const cancelled = await hub.api(`/tasks/${task.id}/cancel`, { token: lead.token, body: { reason: 'plan changed' } });
    expect(cancelled.body).toMatchObject({ state: 'cancelled', error: { code: 'cancelled', message: 'cancelled by lead: plan changed' } });
    expect(await socket.next((f) => f.type === 'task.cancelled')).toMatchObject({ taskId: task.id, state: 'cancelled', reason: 'cancelled by lead: plan changed' });
    const late = await hub.api(`/tasks/${task.id}/complete`, { token: dev.token, body: { text: 'done anyway' } });
    expect(late).toMatchObject({ status: 409, body: { code: 'lease_lost' } });
    expect((await hub.api(`/tasks/${task.id}/cancel`, { token: hub.app.cockpitToken, body: {} })).body.code).toBe('task_finished');
  });

  it('refuses bad input with a 400 naming the field, and stores nothing', async () => {
    const hub = await startHub();
    const agent = await hub.register('agent');
    const cases: Array<[unknown, string[]]> = [
      [{ title: '', priority: 500 }, ['title', 'priority']],
      [{ title: 't', capabilities: 'review' }, ['capabilities']],
      [{ title: 't', dependsOn: ['not-an-id'] }, ['dependsOn.0']],
      [{ title: 't', dependsOn: ['01ARZ3NDEKTSV4RRFFQ69G5FAV'] }, ['dependsOn.0: there is no task']],
      [{ title: 't', assignee: '01ARZ3NDEKTSV4RRFFQ69G5FAV' }, ['assignee']],
      [{ title: 't', timeoutSeconds: 0, unknown: 1 }, ['timeoutSeconds', 'unknown']],
      [{ title: 't', project: 'other' }, []],
    ];
    for (const [body, fields] of cases) {
      const answer = await hub.api('/tasks', { token: agent.token, body });
      expect(answer.status, JSON.stringify(body)).toBe(fields.length === 0 ? 403 : 400);
      for (const field of fields) expect(answer.body.error).toContain(field);
    }
    expect((await hub.api('/tasks', { token: hub.app.cockpitToken })).body.tasks).toEqual([]);
    const count = hub.app.hub().db.prepare('SELECT count(*) FROM tasks').pluck().get();
    expect(count).toBe(0);
    expect((await hub.api('/tasks', { body: { title: 't' } })).status).toBe(401);
  });

  it('keeps a large input in a file and hands it over whole; agents see their own project only', async () => {
    const hub = await startHub({ configure: (config) => (config.messages.bodyFileBytes = 4096) });
    const agent = await hub.register('reader');
    const stranger = await hub.register('stranger', { project: 'elsewhere' });
    const input = { files: Array.from({ length: 500 }, (_, i) => `src/module-${i}.ts`), note: 'é 😀 "quoted"' };
    const task = await createTask(hub, { title: 'map over files', input });
    expect(task.inputBytes).toBeGreaterThan(4096);
    expect(readdirSync(path.join(hub.dataDir, 'task-inputs'))).toEqual([`${task.id}.json`]);
    const claimed = await hub.api(`/agents/${agent.agent.id}/tasks/next`, { token: agent.token, body: {} });
    expect(claimed.body.task.input).toEqual(input);
    const big = { json: { summary: 'x'.repeat(10_000) } };
    expect((await hub.api(`/tasks/${task.id}/complete`, { token: agent.token, body: big })).status).toBe(200);
    expect((await getTask(hub, task.id)).result).toEqual(big);
    expect(existsSync(path.join(hub.dataDir, 'task-results', `${task.id}.json`))).toBe(true);

    expect((await hub.api(`/tasks/${task.id}`, { token: stranger.token })).status).toBe(404);
    expect((await hub.api('/tasks', { token: stranger.token })).body.tasks).toEqual([]);
    expect((await hub.api('/tasks?project=test', { token: stranger.token })).status).toBe(403);
    expect((await hub.api('/tasks?project=test&state=succeeded', { token: hub.app.cockpitToken })).body.tasks).toHaveLength(1);
  });

  it('prefers the agent an affinity names, and ages waiting work past newer high-priority work', async () => {
    const hub = await startHub();
    const one = await hub.register('one');
    const two = await hub.register('two');
    const claim = async (agent: RegisterResponse) => (await hub.api(`/agents/${agent.agent.id}/tasks/next`, { token: agent.token, body: {} })).body.task as Task | null;
    const first = await createTask(hub, { title: 'first', threadId: 'feature-x' });
    expect((await claim(two))?.id).toBe(first.id);
    await hub.api(`/tasks/${first.id}/complete`, { token: two.token, body: { text: 'ok' } });
    const followUp = await createTask(hub, { title: 'follow-up', affinity: { taskId: first.id } });
    const sameThread = await createTask(hub, { title: 'same thread', affinity: { threadId: 'feature-x' } });
    // Kept for `two` while it is present: `one` finds nothing.
    expect(await claim(one)).toBeNull();
    expect((await claim(two))?.id).toBe(followUp.id);
    expect((await claim(two))?.id).toBe(sameThread.id);

    // An affinity's agent that lacks what the task needs is not waited for: the task goes to one that has it, at once.
    const reviewer = await hub.register('reviewer', { capabilities: ['review'] });
    const review = await createTask(hub, { title: 'review it', capabilities: ['review'], affinity: { taskId: first.id } });
    expect((await claim(reviewer))?.id).toBe(review.id);

    // Ageing: a task that has waited long enough outranks a newer one of higher priority.
    const old = await createTask(hub, { title: 'old, low', priority: 10 });
    hub.app.hub().db.prepare("UPDATE tasks SET ready_since = '2000-01-01T00:00:00.000Z' WHERE id = ?").run(old.id);
    await hub.restart();
    const fresh = await createTask(hub, { title: 'new, high', priority: 100 });
    expect((await claim(one))?.id).toBe(old.id);
    expect((await claim(one))?.id).toBe(fresh.id);
  });
});
