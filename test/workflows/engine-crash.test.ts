/**
 * kill -9 of a real hub process in the middle of a workflow (a fan-out of 60 items, 8 at once, then a fan-in and a
 * task): after a restart the run goes on from where it was and succeeds, every item ran as exactly one task that
 * succeeded once, no task had two holders at once, and the fan-in has every item's result in order.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/main/db/database';
import type { RegisterResponse } from '../../src/shared/agent-protocol';
import type { Task } from '../../src/shared/task-protocol';
import type { WorkflowRun } from '../../src/shared/workflow-run-protocol';
import { tempDir } from '../helpers';
import { until } from '../hub/harness';
import { hubCall, startHubProcess, type HubProcess as Hub } from '../support/hub-process';

async function register(hub: Hub, name: string, extra: Record<string, unknown> = {}): Promise<RegisterResponse> {
  const response = await fetch(`${hub.url}/api/v1/agents/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, project: 'crash', ...extra }),
  });
  return (await response.json()) as RegisterResponse;
}

const answer = (task: Task) => (task.stepId === 'report' ? { count: (task.input as unknown[]).length } : { i: (task.input as { i: number }).i });

describe('a workflow through a crash', () => {
  it('goes on after kill -9 and a restart: no item run twice, none forgotten', async () => {
    const dataDir = tempDir();
    let hub = await startHubProcess(dataDir);
    const completed = new Set<string>();
    let stop = false;
    try {
      const lead = await register(hub, 'lead', { tier: 'strategic' });
      const workers = await Promise.all(['w1', 'w2', 'w3', 'w4'].map((name) => register(hub, name, { capabilities: ['map'] })));
      const started = await hubCall(hub, '/workflows', lead.token, {
        name: 'crash-map',
        input: { items: Array.from({ length: 60 }, (_, i) => i) },
        steps: {
          map: { kind: 'fan-out', items: { $ref: 'input.items' }, concurrency: 8, task: { title: 'map', capabilities: ['map'], leaseSeconds: 30, input: { i: { $ref: 'item' } } } },
          gather: { kind: 'fan-in', dependsOn: ['map'], aggregate: 'collect' },
          report: { kind: 'fan-in', dependsOn: ['map'], aggregate: { use: 'task', task: { title: 'report', capabilities: ['map'] } } },
        },
      });
      expect(started.status).toBe(201);
      const runId = (started.body as WorkflowRun).id;
      // Each worker claims, starts and completes, as fast as it can (pull).
      const work = (target: Hub) =>
        workers.map(async (worker) => {
          while (!stop) {
            const claim = await hubCall(target, `/agents/${worker.agent.id}/tasks/next`, worker.token, {}).catch(() => null);
            const task = claim?.body.task as Task | null | undefined;
            if (!task) {
              await new Promise((resolve) => setTimeout(resolve, 5));
              continue;
            }
            await hubCall(target, `/tasks/${task.id}/progress`, worker.token, { percent: 50 }).catch(() => null);
            const done = await hubCall(target, `/tasks/${task.id}/complete`, worker.token, { json: answer(task) }).catch(() => null);
            if (done?.status === 200) completed.add(task.id);
          }
        });
      let working = work(hub);
      await until(() => completed.size >= 20, 60_000, '20 completed items');
      await hub.kill9();
      stop = true;
      await Promise.all(working);
      expect(completed.size).toBeLessThan(60);

      hub = await startHubProcess(dataDir);
      const after = (await hubCall(hub, `/workflows/${runId}`, lead.token)).body as WorkflowRun;
      expect(after.state).toBe('running');
      // Every completion the hub acknowledged is still there.
      const map = after.stepRuns.find((s) => s.id === 'map')!;
      expect(map.items.succeeded).toBeGreaterThanOrEqual(completed.size);
      // The workers come back: each finishes what it still holds, then claims until the run has ended.
      await Promise.all(
        workers.map(async (worker) => {
          const held = (await hubCall(hub, `/agents/${worker.agent.id}/tasks?state=running`, worker.token)).body.tasks as Task[];
          for (const task of held) {
            const full = (await hubCall(hub, `/tasks/${task.id}`, worker.token)).body as Task;
            expect((await hubCall(hub, `/tasks/${task.id}/complete`, worker.token, { json: answer(full) })).status).toBe(200);
          }
        }),
      );
      stop = false;
      working = work(hub);
      let run = after;
      for (let i = 0; i < 600 && run.state === 'running'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        run = (await hubCall(hub, `/workflows/${runId}`, lead.token)).body as WorkflowRun;
      }
      stop = true;
      await Promise.all(working);
      expect(run.state).toBe('succeeded');
      expect(run.stepRuns.find((s) => s.id === 'gather')!.result).toEqual(Array.from({ length: 60 }, (_, i) => ({ i })));
      expect(run.stepRuns.find((s) => s.id === 'report')!.result).toEqual({ count: 60 });
      await hub.stop();

      // In the file itself: one task per item, each succeeded by exactly one attempt, no two attempts overlapping.
      const db = openDatabase(path.join(dataDir, 'hub.sqlite'), { readonly: true });
      try {
        const perItem = db.prepare("SELECT idx, count(*) AS n FROM workflow_tasks WHERE run_id = ? AND step_id = 'map' GROUP BY idx").all(runId) as { idx: number; n: number }[];
        expect(perItem.length).toBe(60);
        expect(perItem.filter((row) => row.n !== 1)).toEqual([]);
        const wins = db
          .prepare("SELECT a.task_id, count(*) AS n FROM task_attempts a JOIN workflow_tasks w ON w.task_id = a.task_id WHERE w.run_id = ? AND a.outcome = 'succeeded' GROUP BY a.task_id")
          .all(runId) as { task_id: string; n: number }[];
        expect(wins.length).toBe(61);
        expect(wins.filter((row) => row.n !== 1)).toEqual([]);
        const overlapping = db
          .prepare('SELECT count(*) FROM task_attempts a JOIN task_attempts b ON a.task_id = b.task_id AND b.attempt = a.attempt + 1 WHERE b.assigned_at < a.ended_at')
          .pluck()
          .get();
        expect(overlapping).toBe(0);
        expect(db.prepare("SELECT count(*) FROM workflow_items WHERE run_id = ? AND state != 'succeeded'").pluck().get(runId)).toBe(0);
      } finally {
        db.close();
      }
    } finally {
      stop = true;
      await hub.kill9();
    }
  }, 180_000);
});
