/**
 * Decomposition at run time against a real hub, SQLite file and agent sockets: a strategic agent holding a task splits
 * it into subtasks with dependencies by key, development agents run them, and the holder is given their aggregate
 * (a socket frame, and GET of the task); its lease holds while it waits; failures, abandonment, bad splits, restart.
 */
import { describe, expect, it } from 'vitest';
import type { RegisterResponse, ServerFrame } from '../../src/shared/agent-protocol';
import type { Task } from '../../src/shared/task-protocol';
import { openSocket, startHub, until, type TestHub } from '../hub/harness';

type SubtasksFrame = Extract<ServerFrame, { type: 'task.subtasks' }>;

async function createTask(hub: TestHub, body: Record<string, unknown>): Promise<Task> {
  const { status, body: task } = await hub.api('/tasks', { token: hub.app.cockpitToken, body: { project: 'test', ...body } });
  if (status !== 201) throw new Error(`create: ${status} ${JSON.stringify(task)}`);
  return task as Task;
}

async function getTask(hub: TestHub, id: string): Promise<Task> {
  return (await hub.api(`/tasks/${id}`, { token: hub.app.cockpitToken })).body as Task;
}

/** A development agent on its socket that completes each pushed task with `{by, title, input}` (or fails the named ones). */
async function developer(hub: TestHub, agent: RegisterResponse, options: { fail?: string[]; workMs?: number } = {}) {
  const socket = await openSocket(hub.url, agent.agent.id, agent.token);
  const order: string[] = [];
  socket.ws.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as ServerFrame;
    if (frame.type !== 'task.offered') return;
    const { id, title, input } = frame.task;
    void (async () => {
      await hub.api(`/tasks/${id}/progress`, { token: agent.token, body: { note: 'on it' } });
      await new Promise((resolve) => setTimeout(resolve, options.workMs ?? 10));
      order.push(title);
      if (options.fail?.includes(title)) await hub.api(`/tasks/${id}/fail`, { token: agent.token, body: { message: `${title} broke`, retry: false } });
      else await hub.api(`/tasks/${id}/complete`, { token: agent.token, body: { json: { by: agent.agent.name, title, input: input ?? null } } });
    })();
  });
  socket.send({ type: 'tasks.ready', slots: 2 });
  return { socket, order };
}

async function leadWithTask(hub: TestHub, extra: Record<string, unknown> = {}) {
  const lead = await hub.register('lead', { tier: 'strategic' });
  const parent = await createTask(hub, { title: 'add a cart', tier: 'strategic', ...extra });
  const claimed = await hub.api(`/agents/${lead.agent.id}/tasks/next`, { token: lead.token, body: {} });
  expect(claimed.body.task.id).toBe(parent.id);
  return { lead, parent };
}

describe('subtasks', () => {
  it('a strategic agent splits its task, development agents run the parts, and it gets the aggregate back', async () => {
    const hub = await startHub();
    const { lead, parent } = await leadWithTask(hub);
    const leadSocket = await openSocket(hub.url, lead.agent.id, lead.token);
    const devs = await Promise.all(['dev-1', 'dev-2'].map(async (name) => developer(hub, await hub.register(name, { capabilities: ['code'] }))));

    const split = await hub.api(`/tasks/${parent.id}/subtasks`, {
      token: lead.token,
      body: {
        subtasks: [
          { key: 'model', title: 'cart model', capabilities: ['code'], input: { file: 'src/cart.ts' } },
          { key: 'api', title: 'cart api', capabilities: ['code'], input: { file: 'src/api.ts' } },
          { key: 'tests', title: 'cart tests', capabilities: ['code'], dependsOn: ['model', 'api'] },
        ],
      },
    });
    expect(split.status).toBe(201);
    const waiting = split.body as Task;
    // The task stays running and held by the lead, and says what it waits for.
    expect(waiting).toMatchObject({ id: parent.id, state: 'running', holderId: lead.agent.id, progress: { note: 'waiting for 3 subtasks' } });
    expect(waiting.subtasks).toMatchObject({ state: 'running', aggregate: { use: 'collect' } });
    expect(waiting.subtasks!.items.map((item) => item.key)).toEqual(['model', 'api', 'tests']);
    const ids = Object.fromEntries(waiting.subtasks!.items.map((item) => [item.key, item.taskId]));
    const tests = await getTask(hub, ids.tests!);
    expect(tests).toMatchObject({ parentTaskId: parent.id, createdBy: lead.agent.id, dependsOn: expect.arrayContaining([ids.model, ids.api]) });

    const frame = (await leadSocket.next((f) => f.type === 'task.subtasks', 20_000)) as SubtasksFrame;
    expect(frame.taskId).toBe(parent.id);
    expect(frame.subtasks.state).toBe('succeeded');
    // collect: the results in the order the subtasks were given, whoever ran them.
    expect((frame.subtasks.result as Array<{ title: string }>).map((r) => r.title)).toEqual(['cart model', 'cart api', 'cart tests']);
    expect(frame.subtasks.result).toEqual([
      expect.objectContaining({ input: { file: 'src/cart.ts' } }),
      expect.objectContaining({ input: { file: 'src/api.ts' } }),
      expect.objectContaining({ input: null }),
    ]);
    // The tests ran after both parts they depend on.
    expect(devs.flatMap((dev) => dev.order).sort()).toEqual(['cart api', 'cart model', 'cart tests']);
    const testsStarted = Date.parse((await getTask(hub, ids.tests!)).startedAt!);
    for (const key of ['model', 'api']) expect(testsStarted).toBeGreaterThanOrEqual(Date.parse((await getTask(hub, ids[key]!)).finishedAt!));

    // GET shows the same; the lead finishes its own task with the aggregate.
    const seen = await getTask(hub, parent.id);
    expect(seen.state).toBe('running');
    expect(seen.subtasks).toMatchObject({ state: 'succeeded', result: frame.subtasks.result, error: null });
    expect(seen.subtasks!.items.every((item) => item.state === 'succeeded')).toBe(true);
    const done = await hub.api(`/tasks/${parent.id}/complete`, { token: lead.token, body: { json: { parts: frame.subtasks.result } } });
    expect(done.status).toBe(200);
    expect(done.body.state).toBe('succeeded');
  });

  it('keeps the waiting holder\'s lease while the subtasks run, merges their results, and survives a restart', async () => {
    const hub = await startHub();
    // A 1 s lease, and the lead says nothing (no socket, no calls) while its subtasks take longer than that.
    const { lead, parent } = await leadWithTask(hub, { leaseSeconds: 1 });
    const split = await hub.api(`/tasks/${parent.id}/subtasks`, {
      token: lead.token,
      body: {
        aggregate: { use: 'merge' },
        subtasks: [
          { key: 'a', title: 'part a', capabilities: ['code'] },
          { key: 'b', title: 'part b', capabilities: ['code'] },
        ],
      },
    });
    expect(split.status).toBe(201);
    // The hub restarts while the parts wait for an agent: the split and the kept lease come back from SQLite.
    await hub.restart();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await getTask(hub, parent.id)).toMatchObject({ state: 'running', attempt: 1, holderId: lead.agent.id });
    await developer(hub, await hub.register('dev', { capabilities: ['code'] }), { workMs: 600 });
    await until(() => hub.app.hub().tasks.get({ kind: 'cockpit' }, parent.id).subtasks?.state !== 'running', 20_000, 'the split to end');
    const seen = await getTask(hub, parent.id);
    expect(seen).toMatchObject({ state: 'running', attempt: 1, holderId: lead.agent.id });
    // merge of {by, title, input} twice: `title` differs, so the merge fails naming the key and both sources.
    expect(seen.subtasks).toMatchObject({ state: 'failed', result: null });
    expect(seen.subtasks!.error).toContain('title');
    // The lead, back after its silence, still holds its task.
    const done = await hub.api(`/tasks/${parent.id}/fail`, { token: lead.token, body: { message: 'parts disagree', retry: false } });
    expect(done.status).toBe(200);
  });

  it('a failed subtask fails the collect (and its dependents); cancelling the parent abandons the split and cancels the rest', async () => {
    const hub = await startHub();
    const { lead, parent } = await leadWithTask(hub);
    await developer(hub, await hub.register('dev', { capabilities: ['code'] }), { fail: ['first'] });
    const split = await hub.api(`/tasks/${parent.id}/subtasks`, {
      token: lead.token,
      body: {
        subtasks: [
          { key: 'one', title: 'first', capabilities: ['code'] },
          { key: 'two', title: 'second', capabilities: ['code'], dependsOn: ['one'] },
        ],
      },
    });
    expect(split.status).toBe(201);
    await until(() => hub.app.hub().tasks.get({ kind: 'cockpit' }, parent.id).subtasks?.state !== 'running', 20_000, 'the split to end');
    const failed = (await getTask(hub, parent.id)).subtasks!;
    expect(failed.state).toBe('failed');
    expect(failed.error).toContain('`one` failed');
    expect(failed.items.map((item) => item.state)).toEqual(['failed', 'failed']);
    expect((await getTask(hub, failed.items[1]!.taskId)).error).toMatchObject({ code: 'dependency_failed' });

    // A second split after the first ended; then the parent is cancelled while its subtasks wait for a capability nobody has.
    const again = await hub.api(`/tasks/${parent.id}/subtasks`, {
      token: lead.token,
      body: { subtasks: [{ key: 'x', title: 'needs design', capabilities: ['design'] }, { key: 'y', title: 'needs design too', capabilities: ['design'] }] },
    });
    expect(again.status).toBe(201);
    const cancel = await hub.api(`/tasks/${parent.id}/cancel`, { token: hub.app.cockpitToken, body: { reason: 'scrapped' } });
    expect(cancel.status).toBe(200);
    const abandoned = (await getTask(hub, parent.id)).subtasks!;
    expect(abandoned.state).toBe('abandoned');
    expect(abandoned.error).toContain('ended cancelled');
    for (const item of abandoned.items) {
      const task = await getTask(hub, item.taskId);
      expect(task.state).toBe('cancelled');
      expect(task.error!.message).toContain('cancelled by the hub');
    }
  });

  it('refuses bad splits with what is wrong, and creates nothing', async () => {
    const hub = await startHub();
    const { lead, parent } = await leadWithTask(hub);
    const other = await hub.register('other');
    const before = hub.app.hub().tasks.list({ limit: 1000 }).length;
    const splitAs = (token: string, body: unknown) => hub.api(`/tasks/${parent.id}/subtasks`, { token, body });

    const circle = await splitAs(lead.token, {
      subtasks: [
        { key: 'a', title: 'a', dependsOn: ['c'] },
        { key: 'b', title: 'b', dependsOn: ['a'] },
        { key: 'c', title: 'c', dependsOn: ['b'] },
      ],
    });
    expect(circle).toMatchObject({ status: 400, body: { code: 'invalid_request' } });
    expect(circle.body.error).toContain('a -> c -> b -> a');
    expect((await splitAs(lead.token, { subtasks: [{ key: 'a', title: 'a' }, { key: 'a', title: 'again' }] })).body.error).toContain('two subtasks have the key a');
    expect((await splitAs(lead.token, { subtasks: [{ key: 'a', title: 'a', dependsOn: ['nope'] }] })).body.error).toContain('subtask a: dependsOn.0');
    expect((await splitAs(lead.token, { subtasks: [] })).status).toBe(400);
    expect((await splitAs(lead.token, { subtasks: [{ key: 'a', title: 'a' }], aggregate: { use: 'task', task: { title: 't' } } })).body.error).toContain('use collect');
    expect((await splitAs(lead.token, { subtasks: [{ key: 'a', title: 'a' }], aggregate: 'average' })).status).toBe(400);
    expect(await splitAs(other.token, { subtasks: [{ key: 'a', title: 'a' }] })).toMatchObject({ status: 409, body: { code: 'not_holder' } });
    expect((await splitAs(hub.app.cockpitToken, { subtasks: [{ key: 'a', title: 'a' }] })).status).toBe(403);
    expect(hub.app.hub().tasks.list({ limit: 1000 })).toHaveLength(before);

    expect((await splitAs(lead.token, { subtasks: [{ key: 'a', title: 'a', capabilities: ['nobody'] }] })).status).toBe(201);
    const twice = await splitAs(lead.token, { subtasks: [{ key: 'b', title: 'b' }] });
    expect(twice).toMatchObject({ status: 409, body: { code: 'conflict' } });
    expect(twice.body.error).toContain('already waits');
  });
});
