/**
 * The task service's transition events (onTransition), against a real hub, SQLite file and agent socket: every change
 * of state and every progress report is told once, in commit order, with its workflow and step, after it committed.
 */
import { describe, expect, it } from 'vitest';
import type { ServerFrame } from '../../src/shared/agent-protocol';
import type { Task } from '../../src/shared/task-protocol';
import type { TaskTransition } from '../../src/main/tasks/service';
import { openSocket, startHub, until } from '../hub/harness';

describe('task transitions', () => {
  it('tells each transition after its commit, in order, with workflow and step', async () => {
    const hub = await startHub();
    const tasks = hub.app.hub().tasks;
    const heard: TaskTransition[] = [];
    const seenAs: string[] = [];
    const off = tasks.onTransition((transition) => {
      heard.push(transition);
      // Told after the commit: the task as anyone reads it is already in its new state.
      seenAs.push(tasks.get({ kind: 'cockpit' }, transition.taskId).state);
    });
    const agent = await hub.register('dev');
    const create = async (body: Record<string, unknown>) => {
      const { status, body: task } = await hub.api('/tasks', { token: hub.app.cockpitToken, body: { project: 'test', ...body } });
      expect(status).toBe(201);
      return task as Task;
    };

    const a = await create({ title: 'plan', workflowId: 'wf-1', stepId: 'plan' });
    const b = await create({ title: 'build', workflowId: 'wf-1', stepId: 'build', dependsOn: [a.id] });
    const claimed = await hub.api(`/agents/${agent.agent.id}/tasks/next`, { token: agent.token, body: {} });
    expect(claimed.body.task.id).toBe(a.id);
    await hub.api(`/tasks/${a.id}/progress`, { token: agent.token, body: { percent: 50 } });
    await hub.api(`/tasks/${a.id}/complete`, { token: agent.token, body: { text: 'planned' } });

    // Pushed work: offered (assigned), started by its first report, then failed for good.
    const socket = await openSocket(hub.url, agent.agent.id, agent.token);
    socket.send({ type: 'tasks.ready', slots: 1 });
    await socket.next((frame: ServerFrame) => frame.type === 'task.offered' && frame.task.id === b.id);
    await hub.api(`/tasks/${b.id}/progress`, { token: agent.token, body: { note: 'compiling' } });
    await hub.api(`/tasks/${b.id}/fail`, { token: agent.token, body: { message: 'broken', retry: false } });

    socket.send({ type: 'tasks.ready', slots: 0 });
    const c = await create({ title: 'later' });
    await hub.api(`/tasks/${c.id}/cancel`, { token: hub.app.cockpitToken, body: { reason: 'not needed' } });
    await until(() => heard.some((t) => t.taskId === c.id && t.to === 'cancelled'), 5000, 'the cancel told');
    off();

    const short = heard.map((t) => [t.taskId === a.id ? 'a' : t.taskId === b.id ? 'b' : 'c', t.kind, t.from, t.to]);
    expect(short).toEqual([
      ['a', 'created', null, 'ready'],
      ['b', 'created', null, 'pending'],
      ['a', 'state', 'ready', 'running'],
      ['a', 'progress', 'running', 'running'],
      ['a', 'state', 'running', 'succeeded'],
      ['b', 'state', 'pending', 'ready'],
      ['b', 'state', 'ready', 'assigned'],
      ['b', 'state', 'assigned', 'running'],
      ['b', 'state', 'running', 'failed'],
      ['c', 'created', null, 'ready'],
      ['c', 'state', 'ready', 'cancelled'],
    ]);
    expect(seenAs).toEqual(heard.map((t) => t.to));
    expect(heard.filter((t) => t.taskId === a.id).every((t) => t.workflowId === 'wf-1' && t.stepId === 'plan')).toBe(true);
    expect(heard.find((t) => t.taskId === b.id && t.to === 'assigned')).toMatchObject({ attempt: 1, holderId: agent.agent.id, workflowId: 'wf-1', stepId: 'build' });
    expect(heard.find((t) => t.taskId === b.id && t.to === 'failed')?.error).toEqual({ code: 'failed', message: 'broken' });
    expect(heard.find((t) => t.taskId === c.id && t.to === 'cancelled')?.error).toMatchObject({ code: 'cancelled' });
  });

  it('sends an offer before the cancel a listener makes on hearing of the assignment', async () => {
    const hub = await startHub();
    const tasks = hub.app.hub().tasks;
    tasks.onTransition((t) => {
      if (t.to === 'assigned') tasks.cancel({ kind: 'cockpit' }, t.taskId, 'changed my mind');
    });
    const agent = await hub.register('dev');
    const socket = await openSocket(hub.url, agent.agent.id, agent.token);
    socket.send({ type: 'tasks.ready', slots: 1 });
    const { body: task } = await hub.api('/tasks', { token: hub.app.cockpitToken, body: { project: 'test', title: 'short-lived' } });
    await socket.next((frame: ServerFrame) => frame.type === 'task.cancelled' && frame.taskId === task.id);
    const kinds = socket.frames.filter((f) => (f.type === 'task.offered' && f.task.id === task.id) || (f.type === 'task.cancelled' && f.taskId === task.id)).map((f) => f.type);
    expect(kinds).toEqual(['task.offered', 'task.cancelled']);
    expect(tasks.get({ kind: 'cockpit' }, task.id).state).toBe('cancelled');
  });

  it('lets a listener change tasks itself; its changes are told after the one at hand', async () => {
    const hub = await startHub();
    const tasks = hub.app.hub().tasks;
    const order: string[] = [];
    let follower = '';
    tasks.onTransition((t) => {
      order.push(`${t.taskId === follower ? 'follower' : 'leader'}:${t.to}`);
      // When the leader is cancelled, its listener cancels the follower at once.
      if (t.taskId !== follower && t.to === 'cancelled') tasks.cancel({ kind: 'cockpit' }, follower, 'leader gone');
    });
    tasks.onTransition((t) => order.push(`second listener:${t.to}`));
    const base = { instructions: '', capabilities: [], priority: 50, timeoutSeconds: 60, leaseSeconds: 60, maxAttempts: 1, backoff: { initialSeconds: 0, factor: 1, maxSeconds: 0 }, dependsOn: [], project: 'test' };
    const leader = await tasks.create({ kind: 'cockpit' }, { ...base, title: 'leader' });
    follower = (await tasks.create({ kind: 'cockpit' }, { ...base, title: 'follower' })).id;
    order.length = 0;
    tasks.cancel({ kind: 'cockpit' }, leader.id);
    expect(order).toEqual(['leader:cancelled', 'second listener:cancelled', 'follower:cancelled', 'second listener:cancelled']);
  });
});
