/**
 * The workflow engine's step rules against a real hub: a fan-out's onItemFailure (fail cancels the other items,
 * continue keeps going with null for the failed item), a fan-in that tolerates failures, an approval gate that times
 * out, and the catch-up at start of a task end the engine never heard (a crash between the two commits).
 */
import { describe, expect, it } from 'vitest';
import { WorkflowEngine } from '../../src/main/workflows';
import { startHub } from '../hub/harness';
import { startRun, stepOf, until, waitForRun, worker } from './engine-harness';

describe('workflow engine steps', () => {
  it('onItemFailure fail: a failed item cancels the others and fails the step', async () => {
    const hub = await startHub();
    const dev = await hub.register('dev', { capabilities: ['code'] });
    // The others are held until the bad item has failed the step: nothing else can end first.
    const w = await worker(hub, dev, {
      slots: 3,
      hold: (task) => task.input !== 'bad',
      answer: (task) => {
        if (task.input === 'bad') throw new Error('cannot do bad');
        return { ok: task.input };
      },
    });
    const run = await startRun(hub, {
      name: 'strict',
      project: 'test',
      steps: {
        items: { kind: 'fan-out', items: ['bad', 'slow-1', 'slow-2', 'queued-1', 'queued-2'], concurrency: 3, task: { title: 'item', capabilities: ['code'], maxAttempts: 1 } },
        after: { kind: 'fan-in', dependsOn: ['items'], aggregate: 'collect' },
      },
    });
    const done = await waitForRun(hub, run.id, (r) => r.state !== 'running');
    expect(done.state).toBe('failed');
    const items = stepOf(done, 'items');
    expect(items.state).toBe('failed');
    expect(items.error).toMatch(/^item 0 \(task \w+\) ended failed: cannot do bad$/);
    // Never started: the two queued items.
    expect(items.taskIds).toHaveLength(3);
    expect(items.items.total).toBe(5);
    expect(items.items).toEqual({ total: 5, queued: 0, active: 0, succeeded: 0, failed: 1, cancelled: 4 });
    await until(() => w.cancelled.length === 2, 5000, 'the two running items cancelled');
    expect(stepOf(done, 'after').state).toBe('skipped');
    expect(w.offered.map((t) => t.input)).not.toContain('queued-1');
  });

  it('onItemFailure continue: the step succeeds with null for the failed item; a tolerant fan-in leaves it out', async () => {
    const hub = await startHub();
    const dev = await hub.register('dev', { capabilities: ['code'] });
    await worker(hub, dev, {
      slots: 2,
      // A number is not a task body: the item arrives as {value}.
      answer: (task) => {
        const n = (task.input as { value: number }).value;
        if (n === 2) throw new Error('two is unlucky');
        return { n: n * 10 };
      },
    });
    const run = await startRun(hub, {
      name: 'lenient',
      project: 'test',
      steps: {
        items: { kind: 'fan-out', items: [1, 2, 3], concurrency: 2, onItemFailure: 'continue', task: { title: 'item', capabilities: ['code'], maxAttempts: 1 } },
        strict: { kind: 'fan-in', dependsOn: ['items'], aggregate: 'collect' },
        tolerant: { kind: 'fan-in', dependsOn: ['items'], aggregate: { use: 'collect', allowFailures: true } },
        first: { kind: 'fan-in', dependsOn: ['items'], aggregate: 'first-success' },
      },
    });
    const done = await waitForRun(hub, run.id, (r) => r.state !== 'running');
    expect(stepOf(done, 'items')).toMatchObject({ state: 'succeeded', result: [{ n: 10 }, null, { n: 30 }], items: { total: 3, succeeded: 2, failed: 1 } });
    expect(stepOf(done, 'strict')).toMatchObject({ state: 'failed' });
    expect(stepOf(done, 'strict').error).toContain('`items[1]` failed: two is unlucky');
    expect(stepOf(done, 'tolerant')).toMatchObject({ state: 'succeeded', result: [{ n: 10 }, { n: 30 }] });
    expect(stepOf(done, 'first').state).toBe('succeeded');
    expect([{ n: 10 }, { n: 30 }]).toContainEqual(stepOf(done, 'first').result);
    expect(done.state).toBe('failed');
  });

  it('a first-success fan-in finishes at its first successful input and cancels the rest (their agents told)', async () => {
    const hub = await startHub();
    const quick = await hub.register('quick', { capabilities: ['quick'] });
    const slow = await hub.register('slow', { capabilities: ['slow'] });
    let release = false;
    await worker(hub, quick, { answer: () => ({ winner: 'quick' }) });
    // The slow agent never finishes on its own, except the shared step once the test releases it.
    const s = await worker(hub, slow, { slots: 8, hold: (task) => !(release && task.title === 'shared') });
    const run = await startRun(hub, {
      name: 'race',
      project: 'test',
      steps: {
        gate: { kind: 'approval', prompt: 'let the tortoise go?' },
        tortoise: { kind: 'task', title: 'tortoise', capabilities: ['slow'] },
        herd: { kind: 'fan-out', items: [1, 2, 3, 4], concurrency: 2, task: { title: 'herd', capabilities: ['slow'] } },
        hare: { kind: 'task', dependsOn: ['gate'], title: 'hare', capabilities: ['quick'] },
        late: { kind: 'task', dependsOn: ['gate'], title: 'late', capabilities: ['slow'] },
        shared: { kind: 'task', title: 'shared', capabilities: ['slow'] },
        first: { kind: 'fan-in', dependsOn: ['tortoise', 'herd', 'hare', 'late', 'shared'], aggregate: 'first-success' },
        report: { kind: 'task', dependsOn: ['shared'], title: 'report', capabilities: ['quick'] },
        after: { kind: 'task', dependsOn: ['first'], title: 'after', capabilities: ['quick'], input: { $ref: 'steps.first.result' } },
      },
    });
    // Four tasks held by the slow agent (tortoise, two herd items, shared), then the gate lets the hare and late go.
    await until(() => s.offered.length === 4, 10_000, 'the slow agent holding four tasks');
    expect((await hub.api(`/workflows/${run.id}/steps/gate/approve`, { token: hub.app.cockpitToken, body: { decision: 'approve' } })).status).toBe(200);
    const decided = await waitForRun(hub, run.id, (r) => stepOf(r, 'after').state === 'succeeded', 20_000, 'the step after the fan-in');
    expect(stepOf(decided, 'first')).toMatchObject({ state: 'succeeded', result: { winner: 'quick' } });
    expect(stepOf(decided, 'after').state).toBe('succeeded');
    const why = 'not needed: fan-in first took the first success, from hare';
    for (const id of ['tortoise', 'herd', 'late']) expect(stepOf(decided, id)).toMatchObject({ state: 'cancelled', error: why });
    // Queued herd items never started; the running ones were cancelled.
    expect(stepOf(decided, 'herd').items).toMatchObject({ total: 4, active: 0, queued: 0, cancelled: 4 });
    // Its other dependent wants `shared`: it keeps running.
    expect(stepOf(decided, 'shared').state).toBe('running');
    const cancelledTasks = [...stepOf(decided, 'tortoise').taskIds, ...stepOf(decided, 'herd').taskIds, ...stepOf(decided, 'late').taskIds];
    expect(cancelledTasks).toHaveLength(4);
    await until(() => cancelledTasks.every((id) => s.cancelled.includes(id)), 5000, 'the slow agent told of each cancelled task');
    release = true;
    const done = await waitForRun(hub, run.id, (r) => r.state !== 'running');
    expect(done.state).toBe('succeeded');
    expect(stepOf(done, 'report').state).toBe('succeeded');
  });

  it('an approval gate undecided past its timeout ends timed out, and what follows is skipped', async () => {
    const hub = await startHub();
    const dev = await hub.register('dev', { capabilities: ['code'] });
    await worker(hub, dev);
    const run = await startRun(hub, {
      name: 'impatient',
      project: 'test',
      steps: {
        gate: { kind: 'approval', prompt: 'quick?', timeoutSeconds: 1 },
        next: { kind: 'task', dependsOn: ['gate'], title: 'next', capabilities: ['code'] },
      },
    });
    expect(stepOf(run, 'gate').approval!.expiresAt).not.toBeNull();
    const done = await waitForRun(hub, run.id, (r) => r.state !== 'running', 10_000);
    expect(done.state).toBe('failed');
    expect(stepOf(done, 'gate')).toMatchObject({ state: 'timed_out', error: 'no decision within 1 s' });
    expect(stepOf(done, 'next').state).toBe('skipped');
  });

  it('at start, finishes a task end the engine never took (a crash between the two commits)', async () => {
    const hub = await startHub();
    const dev = await hub.register('dev', { capabilities: ['code'] });
    const w = await worker(hub, dev, { hold: () => true });
    const run = await startRun(hub, {
      name: 'catch-up',
      project: 'test',
      steps: {
        first: { kind: 'task', title: 'first', capabilities: ['code'] },
        second: { kind: 'task', dependsOn: ['first'], title: 'second', capabilities: ['code'] },
      },
    });
    await until(() => w.offered.length === 1, 10_000, 'the first offer');
    const { db, registry, tasks, workflows } = hub.app.hub();
    // The engine stops listening; the task's end commits without it, as if the hub died right after that commit.
    workflows.close();
    const completed = await hub.api(`/tasks/${w.offered[0]!.id}/complete`, { token: dev.token, body: { json: { done: 1 } } });
    expect(completed.status).toBe(200);
    expect(stepOf(await workflows.get({ kind: 'cockpit' }, run.id), 'first').state).toBe('running');
    const restarted = new WorkflowEngine(db, registry, tasks);
    try {
      await until(() => stepOf(restarted.get({ kind: 'cockpit' }, run.id), 'second').state === 'running', 5000, 'the second step to start');
      const caught = restarted.get({ kind: 'cockpit' }, run.id);
      expect(stepOf(caught, 'first')).toMatchObject({ state: 'succeeded', result: { done: 1 } });
      expect(stepOf(caught, 'second').taskIds).toHaveLength(1);
    } finally {
      restarted.close();
    }
  });
});
