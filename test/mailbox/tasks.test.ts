/** Tasks through the file mailbox: pushed task files in the inbox, task requests in requests/, refusals as answers. */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MailboxAnswer, MailboxTaskFile } from '../../src/shared/mailbox-protocol';
import type { Task } from '../../src/shared/task-protocol';
import { agentDir, drop, listing, registerByFile, startMailboxHub, until, type MailboxHub } from './harness';

let counter = 0;
/** A request dropped the moment its folder is made can slip past the watcher; the rescan finds it. */
const QUICK_RESCAN = { mailbox: { rescanIntervalMs: 1000 } };

/** Drops a request under a new name and waits for its answer. */
async function ask(dir: string, request: unknown): Promise<MailboxAnswer> {
  const name = `r-${++counter}.json`;
  drop(path.join(dir, 'requests'), name, request);
  const file = path.join(dir, 'answers', name);
  await until(() => existsSync(file), 10_000, `answers/${name}`);
  return JSON.parse(readFileSync(file, 'utf8')) as MailboxAnswer;
}

function taskFiles(dir: string): string[] {
  return listing(path.join(dir, 'inbox')).filter((name) => name.startsWith('task-') && name.endsWith('.json'));
}

function readTaskFile(dir: string, name: string): MailboxTaskFile {
  return JSON.parse(readFileSync(path.join(dir, 'inbox', name), 'utf8')) as MailboxTaskFile;
}

async function lead(hub: MailboxHub): Promise<{ token: string; create: (body: Record<string, unknown>) => Promise<Task>; get: (id: string) => Promise<Task> }> {
  const registered = await hub.register('lead');
  const token = registered.token;
  return {
    token,
    async create(body) {
      const { status, body: task } = await hub.api('/tasks', { token, body });
      if (status !== 201) throw new Error(`create: ${status} ${JSON.stringify(task)}`);
      return task as Task;
    },
    async get(id) {
      return (await hub.api(`/tasks/${id}`, { token })).body as Task;
    },
  };
}

describe('tasks through the file mailbox', () => {
  it('pushes a task file to an agent that takes tasks, one slot at a time, and takes its reports', async () => {
    const hub = await startMailboxHub(QUICK_RESCAN);
    const boss = await lead(hub);
    const dev = await registerByFile(hub.root, 'dev', 'test', { capabilities: ['code'] });
    const dir = agentDir(hub.root, 'test', 'dev');

    expect(await ask(dir, { op: 'task.take', slots: 1 })).toMatchObject({ op: 'task.take', ok: true, slots: 1 });
    const first = await boss.create({ title: 'add the cart', capabilities: ['code'], input: { sku: 42 } });
    const second = await boss.create({ title: 'add the till', capabilities: ['code'] });
    // Nobody else can take code work: the first lands in dev's inbox, running and held by dev; the second waits.
    await until(() => taskFiles(dir).length === 1, 10_000, 'a task file');
    expect(taskFiles(dir)).toEqual([`task-${first.id}.json`]);
    const offered = readTaskFile(dir, `task-${first.id}.json`);
    expect(offered).toMatchObject({ type: 'task.offered', task: { id: first.id, title: 'add the cart', input: { sku: 42 }, state: 'running', holderId: dev.id } });
    expect((await boss.get(second.id)).state).toBe('ready');

    const progressed = await ask(dir, { op: 'task.progress', id: first.id, percent: 50, note: 'half way' });
    expect(progressed).toMatchObject({ op: 'task.progress', ok: true, task: { state: 'running', progress: { percent: 50, note: 'half way' } } });
    const completed = await ask(dir, { op: 'task.complete', id: first.id, json: { files: ['src/cart.ts'] }, refs: [{ kind: 'file', ref: 'src/cart.ts' }] });
    expect(completed).toMatchObject({ op: 'task.complete', ok: true, task: { id: first.id, state: 'succeeded' } });
    expect((await boss.get(first.id)).result).toEqual({ json: { files: ['src/cart.ts'] }, refs: [{ kind: 'file', ref: 'src/cart.ts' }] });

    // Its slot is free: the second comes.
    await until(() => taskFiles(dir).includes(`task-${second.id}.json`), 10_000, 'the second task file');
    expect((await boss.get(second.id))).toMatchObject({ state: 'running', holderId: dev.id });
    const failed = await ask(dir, { op: 'task.fail', id: second.id, message: 'no till model', retry: false });
    expect(failed).toMatchObject({ ok: true, task: { state: 'failed', error: { code: 'failed', message: 'no till model' } } });

    // task.take 0 stops: a new task stays ready.
    expect(await ask(dir, { op: 'task.take', slots: 0 })).toMatchObject({ ok: true, slots: 0 });
    const third = await boss.create({ title: 'later', capabilities: ['code'] });
    const claimedByHand = await ask(dir, { op: 'task.get', id: third.id });
    expect(claimedByHand).toMatchObject({ op: 'task.get', ok: true, task: { id: third.id, state: 'ready' } });
    expect(taskFiles(dir)).not.toContain(`task-${third.id}.json`);
  });

  it('claims by request, refuses reports from a non-holder and a late one after the lease, and says so in the inbox', async () => {
    const hub = await startMailboxHub(QUICK_RESCAN);
    const boss = await lead(hub);
    await registerByFile(hub.root, 'ann');
    await registerByFile(hub.root, 'bob');
    const annDir = agentDir(hub.root, 'test', 'ann');
    const bobDir = agentDir(hub.root, 'test', 'bob');

    const nothing = await ask(annDir, { op: 'task.next' });
    expect(nothing).toMatchObject({ op: 'task.next', ok: true, task: null });
    const task = await boss.create({ title: 'quick one', leaseSeconds: 1, maxAttempts: 2, backoff: { initialSeconds: 0 } });
    const claimed = await ask(annDir, { op: 'task.next' });
    expect(claimed).toMatchObject({ op: 'task.next', ok: true, task: { id: task.id, state: 'running', attempt: 1 } });

    const notHers = await ask(bobDir, { op: 'task.complete', id: task.id, text: 'mine now' });
    expect(notHers).toMatchObject({ op: 'task.complete', ok: false, status: 409, code: 'not_holder' });

    // Ann says nothing for longer than the lease: the attempt ends, she is told by a file, the task is ready again.
    await until(() => existsSync(path.join(annDir, 'inbox', `task-${task.id}-cancelled.json`)), 10_000, 'the cancelled file');
    const told = readTaskFile(annDir, `task-${task.id}-cancelled.json`);
    expect(told).toMatchObject({ type: 'task.cancelled', taskId: task.id });
    if (told.type !== 'task.cancelled') throw new Error('not a cancellation');
    expect(told.reason).toContain('ann');
    const again = await ask(bobDir, { op: 'task.next' });
    expect(again).toMatchObject({ ok: true, task: { id: task.id, attempt: 2 } });

    const late = await ask(annDir, { op: 'task.complete', id: task.id, text: 'done late' });
    expect(late).toMatchObject({ op: 'task.complete', ok: false, status: 409, code: 'lease_lost' });
    if (late.ok) throw new Error('not refused');
    expect(late.error).toContain('not taken');
    expect(await ask(bobDir, { op: 'task.complete', id: task.id, text: 'done' })).toMatchObject({ ok: true, task: { state: 'succeeded' } });
    expect((await boss.get(task.id)).result).toEqual({ text: 'done' });
  });

  it('creates and cancels tasks by request, and answers bad ones with what is wrong', async () => {
    const hub = await startMailboxHub(QUICK_RESCAN);
    await registerByFile(hub.root, 'planner');
    const dir = agentDir(hub.root, 'test', 'planner');
    const created = await ask(dir, { op: 'task.create', title: 'write the tests', capabilities: ['tests'] });
    expect(created).toMatchObject({ op: 'task.create', ok: true, task: { title: 'write the tests', project: 'test', state: 'ready' } });
    if (!created.ok || created.op !== 'task.create') throw new Error('not created');
    expect(created.task.waiting).toContain('capability `tests`');
    const cancelled = await ask(dir, { op: 'task.cancel', id: created.task.id, reason: 'not needed' });
    expect(cancelled).toMatchObject({ ok: true, task: { state: 'cancelled' } });

    expect(await ask(dir, { op: 'task.complete', text: 'no id' })).toMatchObject({ ok: false, status: 400, code: 'invalid_request' });
    expect(await ask(dir, { op: 'task.take', slots: 99 })).toMatchObject({ ok: false, status: 400, code: 'invalid_request' });
    expect(await ask(dir, { op: 'task.create', title: '' })).toMatchObject({ ok: false, status: 400, code: 'invalid_request' });
    expect(await ask(dir, { op: 'task.progress', id: '01ARZ3NDEKTSV4RRFFQ69G5FAV' })).toMatchObject({ ok: false, status: 404, code: 'not_found' });
    const unknown = await ask(dir, { op: 'task.explode' });
    expect(unknown).toMatchObject({ ok: false, status: 400 });
    if (unknown.ok) throw new Error('not refused');
    expect(unknown.error).toContain('task.next');
    expect(hub.hub.tasks.list({ limit: 100 })).toHaveLength(1);
  });

  it('keeps taking after a restart of the mailbox, and writes a missing task file of a held task again', async () => {
    const hub = await startMailboxHub(QUICK_RESCAN);
    const boss = await lead(hub);
    await registerByFile(hub.root, 'dev');
    const dir = agentDir(hub.root, 'test', 'dev');
    await ask(dir, { op: 'task.take', slots: 2 });
    const first = await boss.create({ title: 'one' });
    await until(() => taskFiles(dir).length === 1, 10_000, 'a task file');

    // The file lost (as if the hub died between claim and write): written again at the next start.
    rmSync(path.join(dir, 'inbox', `task-${first.id}.json`));
    await hub.restartMailbox();
    await until(() => taskFiles(dir).includes(`task-${first.id}.json`), 10_000, 'the task file again');
    expect(readTaskFile(dir, `task-${first.id}.json`)).toMatchObject({ type: 'task.offered', task: { id: first.id, state: 'running' } });

    // The take survived the restart: a new task comes too (two slots).
    const second = await boss.create({ title: 'two' });
    await until(() => taskFiles(dir).includes(`task-${second.id}.json`), 10_000, 'the second task file');
    const third = await boss.create({ title: 'three' });
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(taskFiles(dir)).not.toContain(`task-${third.id}.json`);
    expect((await boss.get(third.id)).state).toBe('ready');
  });

  it('a file agent splits a task it holds and finds the aggregate in its inbox', async () => {
    const hub = await startMailboxHub(QUICK_RESCAN);
    const boss = await lead(hub);
    await registerByFile(hub.root, 'planner', 'test', { tier: 'strategic' });
    await registerByFile(hub.root, 'coder', 'test', { capabilities: ['code'] });
    const plannerDir = agentDir(hub.root, 'test', 'planner');
    const coderDir = agentDir(hub.root, 'test', 'coder');
    const parent = await boss.create({ title: 'plan the cart', tier: 'strategic' });
    expect(await ask(plannerDir, { op: 'task.next' })).toMatchObject({ ok: true, task: { id: parent.id } });

    const split = await ask(plannerDir, { op: 'task.split', id: parent.id, aggregate: 'concat', subtasks: [
      { key: 'a', title: 'part a', capabilities: ['code'] },
      { key: 'b', title: 'part b', capabilities: ['code'], dependsOn: ['a'] },
    ] });
    expect(split).toMatchObject({ op: 'task.split', ok: true, task: { id: parent.id, state: 'running', subtasks: { state: 'running' } } });
    // The coder does the parts by request, in order (b waits for a).
    for (const text of ['first part', 'second part']) {
      const claimed = await ask(coderDir, { op: 'task.next' });
      if (!claimed.ok || claimed.op !== 'task.next' || !claimed.task) throw new Error(`nothing to claim: ${JSON.stringify(claimed)}`);
      expect(await ask(coderDir, { op: 'task.complete', id: claimed.task.id, text })).toMatchObject({ ok: true });
    }
    const file = path.join(plannerDir, 'inbox', `task-${parent.id}-subtasks.json`);
    await until(() => existsSync(file), 10_000, 'the subtasks file');
    const told = JSON.parse(readFileSync(file, 'utf8')) as MailboxTaskFile;
    expect(told).toMatchObject({ type: 'task.subtasks', taskId: parent.id, subtasks: { state: 'succeeded', result: 'first part\nsecond part' } });
  });
});
