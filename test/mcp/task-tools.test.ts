/** The MCP task tools, driven by the official SDK's client over Streamable HTTP against a real hub and its SQLite file. */
import { describe, expect, it } from 'vitest';
import type { Task } from '../../src/shared/task-protocol';
import { startHub } from '../hub/harness';
import { call, connect, text } from './mcp-client';

const TASK_TOOLS = ['create_task', 'next_task', 'report_progress', 'complete_task', 'fail_task', 'cancel_task', 'list_tasks', 'get_task'];
const taskOf = (result: { structuredContent?: unknown }) => (result.structuredContent as { task: Task }).task;

describe('MCP task tools', () => {
  it('one agent creates, another claims, reports progress and completes; the creator reads the result', async () => {
    const hub = await startHub();
    const lead = await hub.register('lead', { tier: 'strategic' });
    const dev = await hub.register('dev', { capabilities: ['typescript'] });
    const { client: l } = await connect(hub, lead.token);
    const { client: d } = await connect(hub, dev.token);

    const tools = (await d.listTools()).tools.filter((tool) => TASK_TOOLS.includes(tool.name));
    expect(tools.map((tool) => tool.name).sort()).toEqual([...TASK_TOOLS].sort());
    for (const tool of tools) expect(tool.outputSchema?.type).toBe('object');

    expect((await call(d, 'next_task')).structuredContent).toEqual({ task: null, reason: 'no task is ready in any project' });

    const created = await call(l, 'create_task', { title: 'add a login form', instructions: 'in src/login.ts', input: { fields: ['user', 'password'] }, capabilities: ['typescript'] });
    expect(created.isError).toBeFalsy();
    const made = taskOf(created);
    expect(made).toMatchObject({ title: 'add a login form', project: 'test', state: 'ready', createdBy: lead.agent.id, input: { fields: ['user', 'password'] } });

    // The lead lacks the capability: nothing for it, and it is told why.
    const none = await call(l, 'next_task');
    expect(none.structuredContent).toMatchObject({ task: null });
    expect((none.structuredContent as { reason: string }).reason).toContain('none of the 1 ready tasks fits lead');

    const claimed = taskOf(await call(d, 'next_task'));
    expect(claimed).toMatchObject({ id: made.id, state: 'running', holderId: dev.agent.id, attempt: 1, instructions: 'in src/login.ts', input: { fields: ['user', 'password'] } });

    const progressed = taskOf(await call(d, 'report_progress', { taskId: made.id, percent: 40, note: 'form drawn' }));
    expect(progressed).toMatchObject({ state: 'running', progress: { percent: 40, note: 'form drawn' } });
    // The creator sees it in its project's list; the holder in its own.
    expect((await call(l, 'list_tasks', { state: 'running' })).structuredContent).toMatchObject({ tasks: [{ id: made.id, progress: { percent: 40 } }] });
    expect((await call(d, 'list_tasks', { scope: 'mine' })).structuredContent).toMatchObject({ tasks: [{ id: made.id }] });
    expect((await call(l, 'list_tasks', { scope: 'mine' })).structuredContent).toEqual({ tasks: [] });

    // Only the holder reports on it: the lead's result is refused, plainly.
    const notHolder = await call(l, 'complete_task', { taskId: made.id, text: 'done by me' });
    expect(notHolder.isError).toBe(true);
    expect(text(notHolder)).toMatch(/^REFUSED: your result was not taken .* you never held it.*\(not_holder\)$/);

    const done = taskOf(await call(d, 'complete_task', { taskId: made.id, json: { file: 'src/login.ts' }, refs: [{ kind: 'file', ref: 'src/login.ts' }] }));
    expect(done).toMatchObject({ id: made.id, state: 'succeeded' });

    const read = taskOf(await call(l, 'get_task', { taskId: made.id }));
    expect(read).toMatchObject({ state: 'succeeded', holderId: dev.agent.id, result: { json: { file: 'src/login.ts' }, refs: [{ kind: 'file', ref: 'src/login.ts' }] } });
    // The same answer the HTTP API gives: one service behind both.
    const overHttp = await hub.api(`/tasks/${made.id}`, { token: lead.token });
    expect(overHttp.body).toMatchObject({ state: 'succeeded', result: read.result });

    // Completing again is refused: it already ended.
    const again = await call(d, 'complete_task', { taskId: made.id, text: 'twice' });
    expect(text(again)).toMatch(/^REFUSED: your result was not taken .* already succeeded: you completed it.*\(task_finished\)$/);
    await l.close();
    await d.close();
  });

  it('a late result after cancel is refused with the reason; a failed attempt is retried or ends', async () => {
    const hub = await startHub();
    const lead = await hub.register('lead');
    const dev = await hub.register('dev');
    const { client: l } = await connect(hub, lead.token);
    const { client: d } = await connect(hub, dev.token);

    const made = taskOf(await call(l, 'create_task', { title: 'refactor the cart' }));
    taskOf(await call(d, 'next_task'));
    // Cancelling is the creator's: not the holder's.
    const notCreator = await call(d, 'cancel_task', { taskId: made.id });
    expect(text(notCreator)).toContain('only the agent that created task');
    const cancelled = taskOf(await call(l, 'cancel_task', { taskId: made.id, reason: 'plan changed' }));
    expect(cancelled).toMatchObject({ state: 'cancelled', error: { code: 'cancelled', message: 'cancelled by lead: plan changed' } });

    const late = await call(d, 'complete_task', { taskId: made.id, text: 'cart refactored' });
    expect(late.isError).toBe(true);
    const why = text(late);
    expect(why).toContain('REFUSED: your result was not taken and nothing of it was stored');
    expect(why).toContain('cancelled by lead: plan changed');
    expect(why).toContain('(lease_lost)');
    expect(why).toContain('call next_task for other work');
    expect(text(await call(d, 'report_progress', { taskId: made.id, percent: 90 }))).toContain('REFUSED: your progress report was not taken');
    // Nothing of the late result was stored.
    expect(taskOf(await call(l, 'get_task', { taskId: made.id }))).toMatchObject({ state: 'cancelled', result: null });

    // fail_task: retried while attempts remain, ended at once with retry false.
    const flaky = taskOf(await call(l, 'create_task', { title: 'flaky', maxAttempts: 2, backoff: { initialSeconds: 0 } }));
    taskOf(await call(d, 'next_task'));
    expect(taskOf(await call(d, 'fail_task', { taskId: flaky.id, message: 'network down' }))).toMatchObject({ state: 'ready', error: { code: 'failed', message: 'network down' } });
    expect(taskOf(await call(d, 'next_task'))).toMatchObject({ id: flaky.id, attempt: 2 });
    expect(taskOf(await call(d, 'fail_task', { taskId: flaky.id, message: 'cannot be done', code: 'impossible', retry: false }))).toMatchObject({
      state: 'failed',
      error: { code: 'impossible' },
    });
    await l.close();
    await d.close();
  });

  it('next_task with timeoutMs waits for work to appear and takes it; without work it answers null when the time is up', async () => {
    const hub = await startHub();
    const lead = await hub.register('lead');
    const dev = await hub.register('dev', { capabilities: ['review'] });
    const { client: l } = await connect(hub, lead.token);
    const { client: d } = await connect(hub, dev.token);

    // Nothing ready: a short wait ends empty, with the reason.
    expect((await call(d, 'next_task', { timeoutMs: 200 })).structuredContent).toEqual({ task: null, reason: 'no task is ready in any project' });

    let answered = false;
    const waiting = call(d, 'next_task', { timeoutMs: 120_000 }).then((result) => {
      answered = true;
      return result;
    });
    // A task the waiter cannot take does not end its wait.
    await call(l, 'create_task', { title: 'needs a designer', capabilities: ['design'] });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(answered).toBe(false);
    const made = taskOf(await call(l, 'create_task', { title: 'review the cart', capabilities: ['review'] }));
    // Resolved by the task's arrival, long before the 120 s timeout (the test itself fails after 30 s).
    const claimed = taskOf(await waiting);
    expect(claimed).toMatchObject({ id: made.id, state: 'running', holderId: dev.agent.id });
    expect(taskOf(await call(l, 'get_task', { taskId: made.id }))).toMatchObject({ state: 'running', holderId: dev.agent.id });
    await l.close();
    await d.close();
  });

  it('malformed arguments are a tool error, and nothing is stored', async () => {
    const hub = await startHub();
    const agent = await hub.register('agent');
    const other = await hub.register('other', { project: 'elsewhere' });
    const { client } = await connect(hub, agent.token);
    const bad: Array<[string, Record<string, unknown>]> = [
      ['create_task', {}],
      ['create_task', { title: '   ' }],
      ['create_task', { title: 'x', priority: 101 }],
      ['create_task', { title: 'x', unknownField: 1 }],
      ['create_task', { title: 'x', dependsOn: ['not-an-id'] }],
      ['create_task', { title: 'x', dependsOn: [agent.agent.id] }],
      ['create_task', { title: 'x', assignee: other.agent.id }],
      ['create_task', { title: 'x', project: 'elsewhere' }],
      ['report_progress', { taskId: 'nope', percent: 5 }],
      ['complete_task', { taskId: agent.agent.id }],
      ['fail_task', { taskId: agent.agent.id }],
      ['list_tasks', { scope: 'everyone' }],
      ['next_task', { timeoutMs: -1 }],
    ];
    for (const [tool, args] of bad) {
      const result = await call(client, tool, args);
      expect(result.isError, `${tool} ${JSON.stringify(args)}`).toBe(true);
    }
    expect(text(await call(client, 'create_task', { title: 'x', assignee: other.agent.id }))).toContain(`assignee: there is no agent ${other.agent.id} in project test`);
    expect(text(await call(client, 'create_task', { title: 'x', project: 'elsewhere' }))).toContain('an agent creates tasks in its own project only');
    // A task of the caller's project that it does not hold: a result without json, text or refs is refused too.
    const made = taskOf(await call(client, 'create_task', { title: 'real' }));
    taskOf(await call(client, 'next_task'));
    expect(text(await call(client, 'complete_task', { taskId: made.id }))).toContain('give json, text or refs');

    const listed = (await hub.api('/tasks', { token: hub.app.cockpitToken })).body as { tasks: Task[] };
    expect(listed.tasks.map((task) => task.title)).toEqual(['real']);
    expect((await hub.api(`/tasks/${made.id}`, { token: hub.app.cockpitToken })).body).toMatchObject({ state: 'running', result: null });
    await client.close();
  });
});
