/**
 * The cockpit's task calls and the 'tasks.changed' event against a real hub: counts by state, work waiting for an
 * agent with the reason (and counted stuck while no present agent can take it), lists by agent, cancel.
 */
import { describe, expect, it } from 'vitest';
import { dispatchCall } from '../../src/main/cockpit/dispatch';
import type { TaskCounts } from '../../src/shared/task-cockpit';
import type { Task } from '../../src/shared/task-protocol';
import type { WaitingTask } from '../../src/shared/workflow-run-protocol';
import { openSocket, startHub, until, type TestHub } from '../hub/harness';

async function createTask(hub: TestHub, body: Record<string, unknown>): Promise<Task> {
  const { status, body: task } = await hub.api('/tasks', { token: hub.app.cockpitToken, body: { project: 'test', ...body } });
  if (status !== 201) throw new Error(`create: ${status} ${JSON.stringify(task)}`);
  return task as Task;
}

async function call<T>(hub: TestHub, name: string, params?: unknown): Promise<T> {
  const reply = await dispatchCall(hub.app.handlers, name, params);
  if (!reply.ok) throw new Error(`${name}: ${reply.error.message}`);
  return reply.result as T;
}

describe('tasks in the cockpit', () => {
  it('counts open tasks, lists waiting work with its reason, and counts it stuck until an agent able to take it is present', async () => {
    const hub = await startHub();
    const changes: TaskCounts[] = [];
    hub.app.events.on('tasks.changed', (counts) => changes.push(counts));
    await hub.register('lead', { tier: 'strategic' });

    const review = await createTask(hub, { title: 'review the cart', capabilities: ['review'] });
    const build = await createTask(hub, { title: 'build the cart', capabilities: ['build'] });
    const after = await createTask(hub, { title: 'ship it', dependsOn: [build.id] });

    const counts = await call<TaskCounts>(hub, 'tasks.counts', {});
    expect(counts.open).toEqual({ pending: 1, ready: 2, assigned: 0, running: 0 });
    expect(counts.stuck).toBe(2);
    await until(() => changes.some((c) => c.open.ready === 2 && c.open.pending === 1), 5000, 'a tasks.changed event with the counts');
    expect(changes.at(-1)!.stuck).toBe(2);

    const waiting = await call<WaitingTask[]>(hub, 'tasks.waiting');
    expect(waiting.map((t) => t.id)).toEqual([review.id, build.id]);
    expect(waiting[0]).toMatchObject({ title: 'review the cart', state: 'ready', capabilities: ['review'], waiting: 'no agent with capability `review` in project test' });
    expect(Object.keys(waiting[0]!).sort()).toEqual(['capabilities', 'createdAt', 'id', 'priority', 'project', 'state', 'stepId', 'tier', 'title', 'waiting', 'workflowId']);
    expect(await call<WaitingTask[]>(hub, 'tasks.waiting', { project: 'elsewhere' })).toEqual([]);

    // A builder registers (and is present from then): the build task is no longer stuck, it waits for the builder
    // to take work, while the review task still is.
    const builder = await hub.register('builder', { capabilities: ['build'] });
    expect((await call<WaitingTask[]>(hub, 'tasks.waiting')).find((t) => t.id === build.id)!.waiting).toBe('waiting for one of builder to claim it (none takes pushed tasks)');
    await until(() => changes.at(-1)?.stuck === 1, 5000, 'the stuck count to drop to 1');
    expect((await call<TaskCounts>(hub, 'tasks.counts')).stuck).toBe(1);
    const socket = await openSocket(hub.url, builder.agent.id, builder.token);

    // The builder takes pushed work: the build task is assigned to it, listed under it, and the dependent stays pending.
    socket.send({ type: 'tasks.ready', slots: 1 });
    await until(() => changes.at(-1)?.open.assigned === 1, 5000, 'the build task to be assigned');
    const held = await call<Task[]>(hub, 'tasks.list', { agent: builder.agent.id });
    expect(held.map((t) => [t.id, t.state])).toEqual([[build.id, 'assigned']]);
    expect(await call<Task[]>(hub, 'tasks.list', { agent: builder.agent.id, project: 'other' })).toEqual([]);
    expect((await call<Task[]>(hub, 'tasks.list', { state: 'pending' })).map((t) => t.id)).toEqual([after.id]);
    expect((await call<Task[]>(hub, 'tasks.list')).map((t) => t.id)).toEqual([after.id, build.id, review.id]);

    // Cancelling from the cockpit tells the holder, and fails the task waiting on it.
    const cancelled = await call<Task>(hub, 'tasks.cancel', { id: build.id, reason: 'not needed' });
    expect(cancelled).toMatchObject({ state: 'cancelled', error: { code: 'cancelled', message: 'cancelled by the cockpit: not needed' } });
    expect(await socket.next((f) => f.type === 'task.cancelled')).toMatchObject({ taskId: build.id, reason: 'cancelled by the cockpit: not needed' });
    expect((await call<Task[]>(hub, 'tasks.list', { state: 'failed' })).map((t) => [t.id, t.error?.code])).toEqual([[after.id, 'dependency_failed']]);
    await until(() => changes.at(-1)?.open.assigned === 0 && changes.at(-1)?.open.pending === 0, 5000, 'the counts after the cancel');
    expect(changes.at(-1)).toMatchObject({ open: { pending: 0, ready: 1, assigned: 0, running: 0 }, stuck: 1 });

    // Bad input is refused with a clear error; a second cancel says the task already ended.
    expect(await dispatchCall(hub.app.handlers, 'tasks.cancel', { id: 'nope' })).toMatchObject({ ok: false, error: { code: 'invalid_params' } });
    expect(await dispatchCall(hub.app.handlers, 'tasks.cancel', { id: build.id })).toMatchObject({ ok: false, error: { code: 'failed', message: expect.stringContaining('already ended cancelled') } });
    expect(await dispatchCall(hub.app.handlers, 'tasks.list', { state: 'lost' })).toMatchObject({ ok: false, error: { code: 'invalid_params' } });
    socket.ws.close();
  });
});
