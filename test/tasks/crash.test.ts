/**
 * kill -9 of the hub while agents create, claim and complete tasks: after a restart no acknowledged task or result is
 * lost, no task has two holders, and the agents finish the rest with every task succeeding exactly once. The hub runs
 * as a real child process (from source, through tsx) so the kill is a real one. Creates come several at once and
 * pushed agents complete several tasks at once, so the kill lands among changes committed in groups (one transaction
 * for the changes of one turn): each answer must have waited for its group's COMMIT.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/main/db/database';
import type { RegisterResponse } from '../../src/shared/agent-protocol';
import type { Task } from '../../src/shared/task-protocol';
import { tempDir } from '../helpers';
import { openSocket, until, type Socket } from '../hub/harness';
import { hubCall, startHubProcess, type HubProcess } from '../support/hub-process';

type Hub = HubProcess;

const call = (hub: Hub, route: string, token: string, body?: unknown) => hubCall(hub, route, token, body);

async function register(hub: Hub, name: string): Promise<RegisterResponse> {
  const response = await fetch(`${hub.url}/api/v1/agents/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, project: 'crash' }) });
  return (await response.json()) as RegisterResponse;
}

describe('tasks through a crash', () => {
  it('loses no acknowledged task or result and never gives a task two holders', async () => {
    const dataDir = tempDir();
    const first = await startHubProcess(dataDir);
    const created = new Set<string>();
    const completed = new Set<string>();
    /** Completions the hub answered on a socket (`result` to a task.complete frame). */
    const bySocket = new Set<string>();
    let stop = false;
    try {
      const lead = await register(first, 'lead');
      const workers = await Promise.all(['w1', 'w2', 'w3'].map((name) => register(first, name)));
      const pushed = await Promise.all(['p1', 'p2'].map((name) => register(first, name)));
      // The lead keeps creating, five at once; each worker claims, reports and completes, as fast as it can.
      const creating = (async () => {
        for (let i = 0; i < 300 && !stop; i += 5) {
          await Promise.all(
            [0, 1, 2, 3, 4].map(async (j) => {
              const answer = await call(first, '/tasks', lead.token, { title: `job ${i + j}`, input: { i: i + j }, leaseSeconds: 10, backoff: { initialSeconds: 0 } }).catch(() => null);
              if (answer?.status === 201) created.add(answer.body.id);
            }),
          );
        }
      })();
      // Two agents take pushed tasks, four at once each, and complete every offer at once: p1 over HTTP, p2 with a
      // task.complete frame on its socket, counted done when the hub's `result` answer for it arrives.
      const sockets: Socket[] = [];
      const completing: Promise<void>[] = [];
      for (const agent of pushed) {
        const socket = await openSocket(first.url, agent.agent.id, agent.token);
        const overSocket = agent === pushed[1];
        socket.ws.on('error', () => undefined);
        socket.ws.on('message', (data) => {
          const frame = JSON.parse(data.toString()) as { type: string; task?: Task; ref?: string; result?: Task };
          if (frame.type === 'result' && frame.result?.state === 'succeeded' && frame.ref === frame.result.id) {
            completed.add(frame.ref);
            bySocket.add(frame.ref);
          }
          if (frame.type !== 'task.offered' || stop) return;
          const id = frame.task!.id;
          if (overSocket) {
            socket.send({ type: 'task.complete', ref: id, taskId: id, result: { json: { by: agent.agent.name } } });
            return;
          }
          completing.push(
            call(first, `/tasks/${id}/complete`, agent.token, { json: { by: agent.agent.name } })
              .then((done) => {
                if (done.status === 200) completed.add(id);
              })
              .catch(() => undefined),
          );
        });
        socket.send({ type: 'tasks.ready', slots: 4 });
        sockets.push(socket);
      }
      const working = workers.map(async (worker) => {
        while (!stop) {
          const claim = await call(first, `/agents/${worker.agent.id}/tasks/next`, worker.token, {}).catch(() => null);
          const task = claim?.body.task as Task | null | undefined;
          if (!task) {
            await new Promise((resolve) => setTimeout(resolve, 5));
            continue;
          }
          await call(first, `/tasks/${task.id}/progress`, worker.token, { percent: 50 }).catch(() => null);
          const done = await call(first, `/tasks/${task.id}/complete`, worker.token, { json: { by: worker.agent.name } }).catch(() => null);
          if (done?.status === 200) completed.add(task.id);
        }
      });
      await until(() => completed.size >= 60 && bySocket.size >= 10, 30_000, '60 completed tasks, 10 of them over a socket');
      await first.kill9();
      stop = true;
      await Promise.all([creating, ...working, ...completing]);
      for (const socket of sockets) socket.ws.terminate();
      expect(created.size).toBeLessThan(300);

      const second = await startHubProcess(dataDir);
      try {
        const all = (await call(second, '/tasks?limit=1000', lead.token)).body.tasks as Task[];
        const byId = new Map(all.map((task) => [task.id, task]));
        expect([...created].filter((id) => !byId.has(id))).toEqual([]);
        expect([...completed].filter((id) => byId.get(id)?.state !== 'succeeded')).toEqual([]);

        // The agents come back: each finishes what it still holds (offered or started), then claims until nothing is left.
        await Promise.all(
          [...workers, ...pushed].map(async (worker) => {
            const held = (await call(second, `/agents/${worker.agent.id}/tasks?limit=1000`, worker.token)).body.tasks as Task[];
            for (const task of held.filter((t) => t.state === 'assigned' || t.state === 'running')) {
              expect((await call(second, `/tasks/${task.id}/complete`, worker.token, { text: 'after restart' })).status).toBe(200);
            }
            for (;;) {
              const task = (await call(second, `/agents/${worker.agent.id}/tasks/next`, worker.token, {})).body.task as Task | null;
              if (!task) break;
              expect((await call(second, `/tasks/${task.id}/complete`, worker.token, { text: 'after restart' })).status).toBe(200);
            }
          }),
        );
        const after = (await call(second, '/tasks?limit=1000', lead.token)).body.tasks as Task[];
        expect(after.length).toBe(all.length);
        expect(after.filter((task) => task.state !== 'succeeded')).toEqual([]);
      } finally {
        await second.stop();
      }

      // In the file itself: every task succeeded by exactly one attempt, and no task was ever held twice at once.
      const db = openDatabase(path.join(dataDir, 'hub.sqlite'), { readonly: true });
      try {
        const wins = db.prepare("SELECT task_id, count(*) AS n FROM task_attempts WHERE outcome = 'succeeded' GROUP BY task_id").all() as { task_id: string; n: number }[];
        const tasks = db.prepare('SELECT count(*) FROM tasks').pluck().get() as number;
        expect(wins.length).toBe(tasks);
        expect(wins.filter((row) => row.n !== 1)).toEqual([]);
        const open = db.prepare('SELECT count(*) FROM task_attempts WHERE ended_at IS NULL').pluck().get();
        expect(open).toBe(0);
        // Attempts of one task never overlap: each began after the one before it ended.
        const overlapping = db
          .prepare('SELECT count(*) FROM task_attempts a JOIN task_attempts b ON a.task_id = b.task_id AND b.attempt = a.attempt + 1 WHERE b.assigned_at < a.ended_at')
          .pluck()
          .get();
        expect(overlapping).toBe(0);
      } finally {
        db.close();
      }
    } finally {
      stop = true;
      await first.kill9();
    }
  }, 120_000);
});
