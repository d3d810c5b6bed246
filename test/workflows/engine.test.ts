/**
 * The workflow engine against a real hub on loopback with real agent sockets: a fan-out over agents with fan-ins,
 * approval gates inside a parallel branch (approve with an edit, reject), cancel, retry, invalid definitions and
 * project isolation.
 */
import { describe, expect, it } from 'vitest';
import type { Task } from '../../src/shared/task-protocol';
import { startHub } from '../hub/harness';
import { getRun, startRun, stepOf, until, waitForRun, worker } from './engine-harness';

describe('workflow engine', () => {
  it('runs a fan-out of 20 items over 5 agents, at most `concurrency` at once, then fans in', async () => {
    const hub = await startHub();
    const agents = await Promise.all([1, 2, 3, 4, 5].map((i) => hub.register(`dev-${i}`, { capabilities: ['code'] })));
    const reducer = await hub.register('lead', { tier: 'strategic' });
    let active = 0;
    let maxActive = 0;
    const answer = (task: Task) => {
      if (task.stepId === 'total') return { sum: (task.input as { squares: { square: number }[] }).squares.reduce((n, r) => n + r.square, 0) };
      active--;
      const input = task.input as { n: number; i: number };
      return { square: input.n * input.n, i: input.i };
    };
    const workers = await Promise.all(agents.map((agent) => worker(hub, agent, { slots: 3, workMs: 15, answer })));
    for (const w of workers) w.socket.ws.on('message', (data) => (JSON.parse(data.toString()).type === 'task.offered' ? (maxActive = Math.max(maxActive, ++active)) : undefined));
    await worker(hub, reducer, { answer });
    const numbers = Array.from({ length: 20 }, (_, i) => i + 1);
    const run = await startRun(hub, {
      name: 'squares',
      project: 'test',
      input: { numbers },
      steps: {
        squares: {
          kind: 'fan-out',
          items: { $ref: 'input.numbers' },
          concurrency: 5,
          task: { title: 'square a number', capabilities: ['code'], input: { n: { $ref: 'item' }, i: { $ref: 'index' } } },
        },
        all: { kind: 'fan-in', dependsOn: ['squares'], aggregate: 'collect' },
        total: { kind: 'fan-in', dependsOn: ['squares'], aggregate: { use: 'task', task: { title: 'add them up', tier: 'strategic', input: { squares: { $ref: 'results' } } } } },
      },
    });
    expect(run).toMatchObject({ state: 'running', name: 'squares', project: 'test', createdBy: 'cockpit' });
    const done = await waitForRun(hub, run.id, (r) => r.state !== 'running');
    expect(done.state).toBe('succeeded');
    const squares = stepOf(done, 'squares');
    expect(squares.result).toEqual(numbers.map((n, i) => ({ square: n * n, i })));
    expect(squares.items).toEqual({ total: 20, queued: 0, active: 0, succeeded: 20, failed: 0, cancelled: 0 });
    expect(stepOf(done, 'all').result).toEqual(squares.result);
    expect(done.result).toEqual({ all: squares.result, total: { sum: numbers.reduce((n, x) => n + x * x, 0) } });
    // Each item ran once, as one task, spread over the five agents, never more than five at once.
    const items = done.timeline.filter((t) => t.stepId === 'squares');
    expect(items.map((t) => t.itemIndex).sort((a, b) => a! - b!)).toEqual(numbers.map((_, i) => i));
    expect(items.every((t) => t.state === 'succeeded' && t.attempt === 1)).toBe(true);
    expect(new Set(squares.taskIds).size).toBe(20);
    expect(new Set(items.map((t) => t.agentId))).toEqual(new Set(agents.map((a) => a.agent.id)));
    expect(maxActive).toBeLessThanOrEqual(5);
    expect(workers.reduce((n, w) => n + w.done.length, 0)).toBe(20);
    // Lists carry the summary; an agent of the project sees the run.
    const list = await hub.api('/workflows', { token: agents[0]!.token });
    expect(list.body.workflows.map((w: { id: string }) => w.id)).toEqual([run.id]);
    expect(list.body.workflows[0]).toMatchObject({ state: 'succeeded', steps: { succeeded: 3 } });
  });

  it('waits at an approval inside a parallel branch while the other branch runs; an edit feeds the next step', async () => {
    const hub = await startHub();
    const lead = await hub.register('lead', { tier: 'strategic' });
    const dev = await hub.register('dev', { capabilities: ['code'] });
    const leadSocket = await worker(hub, lead, { answer: () => ({ ok: true }) });
    await worker(hub, dev, { slots: 2, answer: (task) => ({ step: task.stepId, input: task.input ?? null }) });
    const run = await startRun(
      hub,
      {
        name: 'gated',
        steps: {
          draft: { kind: 'task', title: 'draft', capabilities: ['code'], input: { text: 'v1' } },
          review: { kind: 'approval', dependsOn: ['draft'], prompt: 'ship this draft?', subject: { $ref: 'steps.draft.result.input' }, approvers: 'either' },
          ship: { kind: 'task', dependsOn: ['review'], title: 'ship', capabilities: ['code'], input: { notes: { $ref: 'steps.review.result' } } },
          other: { kind: 'task', title: 'other branch', capabilities: ['code'], input: { n: 1 } },
          after: { kind: 'task', dependsOn: ['other'], title: 'after the other', capabilities: ['code'], input: { n: 2 } },
        },
      },
      lead.token,
    );
    // The other branch finishes while the gate waits.
    const waiting = await waitForRun(hub, run.id, (r) => stepOf(r, 'after').state === 'succeeded' && stepOf(r, 'review').state === 'awaiting_approval');
    expect(waiting.state).toBe('running');
    expect(waiting.awaitingApproval).toEqual(['review']);
    expect(stepOf(waiting, 'ship').state).toBe('waiting');
    expect(stepOf(waiting, 'review').approval).toMatchObject({ prompt: 'ship this draft?', subject: { text: 'v1' }, decision: null });
    // The project's strategic agent was told, by a message naming the gate.
    await until(() => leadSocket.socket.messages().some((m) => m.subject === 'approval needed: gated / review'), 5000, 'the approver notice');
    // A development agent may not decide.
    const refused = await hub.api(`/workflows/${run.id}/steps/review/approve`, { token: dev.token, body: { decision: 'approve' } });
    expect(refused).toMatchObject({ status: 403, body: { code: 'not_an_approver' } });
    const decided = await hub.api(`/workflows/${run.id}/steps/review/approve`, { token: lead.token, body: { decision: 'edit', value: { text: 'v2' }, note: 'tightened' } });
    expect(decided.status).toBe(200);
    expect(stepOf(decided.body, 'review')).toMatchObject({ state: 'succeeded', result: { text: 'v2' }, approval: { decision: { decision: 'edit', by: lead.agent.id, note: 'tightened' } } });
    const again = await hub.api(`/workflows/${run.id}/steps/review/approve`, { token: lead.token, body: { decision: 'approve' } });
    expect(again).toMatchObject({ status: 409, body: { code: 'step_not_awaiting_approval' } });
    const done = await waitForRun(hub, run.id, (r) => r.state !== 'running');
    expect(done.state).toBe('succeeded');
    expect(stepOf(done, 'ship').result).toEqual({ step: 'ship', input: { notes: { text: 'v2' } } });
  });

  it('a rejection fails the gate and skips what follows it, not the other branch', async () => {
    const hub = await startHub();
    const dev = await hub.register('dev', { capabilities: ['code'] });
    await worker(hub, dev, { slots: 2 });
    const run = await startRun(hub, {
      name: 'rejected',
      project: 'test',
      steps: {
        gate: { kind: 'approval', prompt: 'go?', approvers: 'cockpit', subject: 'plan A' },
        build: { kind: 'task', dependsOn: ['gate'], title: 'build', capabilities: ['code'] },
        side: { kind: 'task', title: 'side', capabilities: ['code'] },
      },
    });
    await waitForRun(hub, run.id, (r) => stepOf(r, 'side').state === 'succeeded');
    const rejected = await hub.api(`/workflows/${run.id}/steps/gate/approve`, { token: hub.app.cockpitToken, body: { decision: 'reject', note: 'not now' } });
    expect(rejected.status).toBe(200);
    expect(rejected.body).toMatchObject({ state: 'failed', error: 'step gate failed: rejected by the cockpit: not now' });
    expect(stepOf(rejected.body, 'gate')).toMatchObject({ state: 'failed', approval: { decision: { decision: 'reject', by: 'cockpit' } } });
    expect(stepOf(rejected.body, 'build')).toMatchObject({ state: 'skipped', taskIds: [] });
    expect(stepOf(rejected.body, 'side').state).toBe('succeeded');
  });

  it('cancels a run: its active tasks end and their agents are told; only allowed callers may', async () => {
    const hub = await startHub();
    const creator = await hub.register('creator', { capabilities: ['code'] });
    const other = await hub.register('bystander', { capabilities: ['code'] });
    const stranger = await hub.register('stranger', { project: 'elsewhere', tier: 'strategic' });
    let holding = true;
    const workers = await Promise.all([creator, other].map((a) => worker(hub, a, { slots: 2, hold: () => holding })));
    const run = await startRun(
      hub,
      {
        name: 'long',
        steps: {
          work: { kind: 'fan-out', items: [1, 2, 3, 4, 5, 6], concurrency: 3, task: { title: 'work', capabilities: ['code'] } },
          after: { kind: 'task', dependsOn: ['work'], title: 'after', capabilities: ['code'] },
        },
      },
      creator.token,
    );
    await waitForRun(hub, run.id, (r) => stepOf(r, 'work').items.active === 3 && r.timeline.every((t) => t.state === 'running'));
    // Another project's agent sees nothing; a development agent that did not start it may not cancel it.
    expect((await hub.api(`/workflows/${run.id}`, { token: stranger.token })).status).toBe(404);
    expect((await hub.api(`/workflows/${run.id}/cancel`, { token: stranger.token, body: {} })).status).toBe(404);
    expect((await hub.api('/workflows', { token: stranger.token })).body.workflows).toEqual([]);
    expect((await hub.api(`/workflows/${run.id}/cancel`, { token: other.token, body: {} })).status).toBe(403);

    const cancelled = await hub.api(`/workflows/${run.id}/cancel`, { token: creator.token, body: { reason: 'changed my mind' } });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ state: 'cancelled', error: `workflow long (${run.id}) was cancelled by creator: changed my mind` });
    expect(stepOf(cancelled.body, 'work')).toMatchObject({ state: 'cancelled', items: { total: 6, queued: 0, active: 0, cancelled: 6 } });
    expect(stepOf(cancelled.body, 'after').state).toBe('skipped');
    await until(() => workers.reduce((n, w) => n + w.cancelled.length, 0) === 3, 5000, 'three task.cancelled frames');
    const final = await getRun(hub, run.id);
    expect(final.timeline.map((t) => t.state)).toEqual(['cancelled', 'cancelled', 'cancelled']);
    holding = false;
    expect((await hub.api(`/workflows/${run.id}/cancel`, { token: creator.token, body: {} })).body.code).toBe('workflow_finished');
  });

  it('retries a failed step and the steps it skipped', async () => {
    const hub = await startHub();
    const dev = await hub.register('dev', { capabilities: ['code'] });
    let fail = true;
    await worker(hub, dev, {
      answer: (task) => {
        if (task.stepId === 'flaky' && fail) throw new Error('the build broke');
        return { ok: task.stepId };
      },
    });
    const run = await startRun(hub, {
      name: 'retry',
      project: 'test',
      steps: {
        flaky: { kind: 'task', title: 'flaky', capabilities: ['code'], maxAttempts: 1 },
        next: { kind: 'task', dependsOn: ['flaky'], title: 'next', capabilities: ['code'] },
      },
    });
    const failed = await waitForRun(hub, run.id, (r) => r.state !== 'running');
    expect(failed.state).toBe('failed');
    expect(stepOf(failed, 'flaky').error).toContain('the build broke');
    expect(stepOf(failed, 'next').state).toBe('skipped');
    expect((await hub.api(`/workflows/${run.id}/steps/next/retry`, { token: hub.app.cockpitToken, body: {} })).body.code).toBe('step_not_retryable');
    fail = false;
    const retried = await hub.api(`/workflows/${run.id}/steps/flaky/retry`, { token: hub.app.cockpitToken, body: {} });
    expect(retried.status).toBe(200);
    expect(retried.body.state).toBe('running');
    const done = await waitForRun(hub, run.id, (r) => r.state !== 'running');
    expect(done.state).toBe('succeeded');
    expect(stepOf(done, 'flaky').taskIds).toHaveLength(2);
    expect(done.result).toEqual({ ok: 'next' });
  });

  it('an agent killed mid-task: its item is offered again, its late result refused, and the run completes', async () => {
    const hub = await startHub();
    const doomed = await hub.register('doomed', { capabilities: ['code'] });
    const steady = await hub.register('steady', { capabilities: ['code'] });
    // The doomed agent takes one item and never finishes it; the steady one joins once it holds it.
    const lost = await worker(hub, doomed, { hold: () => true });
    const run = await startRun(hub, {
      name: 'survives',
      project: 'test',
      steps: {
        parts: { kind: 'fan-out', items: ['a', 'b', 'c', 'd'], concurrency: 2, task: { title: 'part', capabilities: ['code'], leaseSeconds: 1, backoff: { initialSeconds: 0 } } },
        all: { kind: 'fan-in', dependsOn: ['parts'], aggregate: 'collect' },
      },
    });
    await until(() => lost.offered.length === 1, 10_000, 'an offer to the doomed agent');
    const held = lost.offered[0]!;
    await waitForRun(hub, run.id, (r) => r.timeline.some((t) => t.taskId === held.id && t.state === 'running'));
    lost.socket.ws.terminate();
    const survivor = await worker(hub, steady, { slots: 2 });
    const done = await waitForRun(hub, run.id, (r) => r.state !== 'running');
    expect(done.state).toBe('succeeded');
    expect(stepOf(done, 'all').result).toEqual(['a', 'b', 'c', 'd'].map((input) => ({ input, by: 'steady' })));
    // The lost item's task was retried by the steady agent (attempt 2); it was not run as a second task.
    const entry = done.timeline.find((t) => t.taskId === held.id)!;
    expect(entry).toMatchObject({ state: 'succeeded', attempt: 2, agentId: steady.agent.id });
    expect(stepOf(done, 'parts').taskIds).toHaveLength(4);
    expect(stepOf(done, 'parts').agents).toEqual([doomed.agent.id, steady.agent.id]);
    expect(survivor.done.map((t) => t.id)).toContain(held.id);
    const late = await hub.api(`/tasks/${held.id}/complete`, { token: doomed.token, body: { json: { input: 'a', by: 'doomed' } } });
    expect(late).toMatchObject({ status: 409, body: { code: 'lease_lost' } });
    expect(stepOf(await getRun(hub, run.id), 'all').result).toEqual(stepOf(done, 'all').result);
  });

  it('a start retried with the same Idempotency-Key answers the first run', async () => {
    const hub = await startHub();
    const lead = await hub.register('lead', { tier: 'strategic' });
    const start = async (key: string) => {
      const response = await fetch(`${hub.url}/api/v1/workflows`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${lead.token}`, 'idempotency-key': key },
        body: JSON.stringify({ name: 'once', steps: { gate: { kind: 'approval', prompt: 'ok?' } } }),
      });
      return { status: response.status, body: (await response.json()) as { id: string } };
    };
    const first = await start('k-1');
    const again = await start('k-1');
    const other = await start('k-2');
    expect([first.status, again.status, other.status]).toEqual([201, 201, 201]);
    expect(again.body.id).toBe(first.body.id);
    expect(other.body.id).not.toBe(first.body.id);
    expect((await hub.api('/workflows', { token: lead.token })).body.workflows).toHaveLength(2);
  });

  it('answers an invalid definition with 400 naming each step, and stores nothing', async () => {
    const hub = await startHub();
    await hub.register('dev', { capabilities: ['code'] });
    const { status, body } = await hub.api('/workflows', {
      token: hub.app.cockpitToken,
      body: {
        name: 'bad',
        project: 'test',
        steps: {
          a: { kind: 'task', title: 'a', dependsOn: ['b'], capabilities: ['code'] },
          b: { kind: 'task', title: 'b', dependsOn: ['a'], capabilities: ['code'] },
          c: { kind: 'task', title: 'c', capabilities: ['deploy'] },
        },
      },
    });
    expect(status).toBe(400);
    expect(body.code).toBe('invalid_request');
    const problems = body.problems as { code: string; step: string }[];
    expect(problems.map((p) => [p.step, p.code])).toEqual(expect.arrayContaining([['a', 'cycle'], ['c', 'no_capable_agent']]));
    expect((await hub.api('/workflows', { token: hub.app.cockpitToken })).body.workflows).toEqual([]);
  });
});
