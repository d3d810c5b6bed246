/** Helpers for the workflow engine tests: agents that take pushed tasks over real sockets, starting and polling runs. */
import { onTestFinished } from 'vitest';
import type { RegisterResponse, ServerFrame } from '../../src/shared/agent-protocol';
import type { Task } from '../../src/shared/task-protocol';
import type { WorkflowRun } from '../../src/shared/workflow-run-protocol';
import { openSocket, until, type Socket, type TestHub } from '../hub/harness';

export interface Worker {
  agent: RegisterResponse;
  socket: Socket;
  /** Tasks this agent completed (the hub answered 200). */
  done: Task[];
  offered: Task[];
  cancelled: string[];
  /** Set when the test ends: held tasks are dropped, nothing more is sent. */
  stopped: boolean;
}

/**
 * An agent that takes up to `slots` pushed tasks, starts each, and completes it with `answer(task)` (default: its
 * input and its name) after `workMs`, or fails it when `answer` throws. `hold` keeps a task unanswered while it says so.
 */
export async function worker(
  hub: TestHub,
  agent: RegisterResponse,
  options: { slots?: number; workMs?: number; answer?: (task: Task) => unknown; hold?: (task: Task) => boolean } = {},
): Promise<Worker> {
  const socket = await openSocket(hub.url, agent.agent.id, agent.token);
  const w: Worker = { agent, socket, done: [], offered: [], cancelled: [], stopped: false };
  onTestFinished(() => {
    w.stopped = true;
  });
  socket.ws.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as ServerFrame;
    if (frame.type === 'task.cancelled') w.cancelled.push(frame.taskId);
    if (frame.type !== 'task.offered') return;
    const task = frame.task;
    w.offered.push(task);
    void (async () => {
      await hub.api(`/tasks/${task.id}/progress`, { token: agent.token, body: { percent: 0 } });
      await new Promise((resolve) => setTimeout(resolve, options.workMs ?? 5));
      while (options.hold?.(task) && !w.stopped) await new Promise((resolve) => setTimeout(resolve, 10));
      if (w.stopped) return;
      let json: unknown;
      try {
        json = options.answer ? options.answer(task) : { input: task.input ?? null, by: agent.agent.name };
      } catch (error) {
        await hub.api(`/tasks/${task.id}/fail`, { token: agent.token, body: { message: (error as Error).message, retry: false } });
        return;
      }
      const { status } = await hub.api(`/tasks/${task.id}/complete`, { token: agent.token, body: { json } });
      if (status === 200) w.done.push(task);
    })().catch((error: Error) => {
      // The hub stopping under a test that has ended is not a failure of that test.
      if (!w.stopped) throw error;
    });
  });
  socket.send({ type: 'tasks.ready', slots: options.slots ?? 1 });
  return w;
}

export async function startRun(hub: TestHub, definition: unknown, token = hub.app.cockpitToken): Promise<WorkflowRun> {
  const { status, body } = await hub.api('/workflows', { token, body: definition });
  if (status !== 201) throw new Error(`start: ${status} ${JSON.stringify(body)}`);
  return body as WorkflowRun;
}

export async function getRun(hub: TestHub, id: string, token = hub.app.cockpitToken): Promise<WorkflowRun> {
  const { status, body } = await hub.api(`/workflows/${id}`, { token });
  if (status !== 200) throw new Error(`get: ${status} ${JSON.stringify(body)}`);
  return body as WorkflowRun;
}

/** Polls the run until `condition` holds; returns it. */
export async function waitForRun(hub: TestHub, id: string, condition: (run: WorkflowRun) => boolean, timeoutMs = 20_000, what = 'the run'): Promise<WorkflowRun> {
  let run = await getRun(hub, id);
  const started = Date.now();
  while (!condition(run)) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(run.stepRuns.map((s) => [s.id, s.state, s.error]))}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
    run = await getRun(hub, id);
  }
  return run;
}

export const stepOf = (run: WorkflowRun, id: string) => run.stepRuns.find((s) => s.id === id)!;

export { until };
