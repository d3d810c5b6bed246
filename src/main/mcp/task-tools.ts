/** MCP tools of tasks: create, claim the next, report progress, complete, fail, split into subtasks, cancel, list and read (tasks/service.ts). */
import type { z } from 'zod';
import {
  CancelTaskInput,
  CompleteTaskInput,
  CreateTaskInput,
  FailTaskInput,
  GetTaskInput,
  ListTasksInput,
  ListTasksOutput,
  NextTaskInput,
  NextTaskOutput,
  ReportProgressInput,
  SplitTaskInput,
  TaskOutput,
} from '../../shared/mcp-protocol';
import { SplitTaskRequest } from '../../shared/subtask-protocol';
import type { ClaimNextRequest, ClaimNextResponse, TaskErrorCode } from '../../shared/task-protocol';
import { HubError } from '../errors';
import { taskError } from '../tasks/service';
import type { AgentRecord } from '../agents/registry';
import type { TaskService } from '../tasks/service';
import { parseInput } from '../validation';
import { run, type ToolGroup } from './tool-kit';

/** The holder's refusals (the task is no longer, or never was, the caller's), told as what they mean for its work. */
const REFUSALS = new Set<string>(['lease_lost', 'task_finished', 'not_holder'] satisfies TaskErrorCode[]);

/** Runs a holder's report; a refusal says plainly that the report (or result) was not taken, why, and what to do. */
async function asHolder<T>(what: string, report: () => T | Promise<T>): Promise<T> {
  try {
    return await report();
  } catch (error) {
    if (!(error instanceof HubError) || !REFUSALS.has(error.code)) throw error;
    throw taskError(
      error.code as TaskErrorCode,
      `REFUSED: your ${what} was not taken and nothing of it was stored. ${error.message}. ` +
        'Stop working on this task; call next_task for other work',
    );
  }
}

export const registerTaskTools: ToolGroup = (server, { tasks, me, session }) => {
  const agent = () => ({ kind: 'agent' as const, agent: me() });

  server.registerTool(
    'create_task',
    {
      description:
        'Create a task in your project for another agent to do: title, instructions, input (text or JSON), and who may take it ' +
        '(capabilities every taker must have, tier, or one assignee by agent id); priority 0-100, dependsOn (task ids that must succeed first), ' +
        'timeoutSeconds, maxAttempts. The hub gives it to the best fitting agent. Keep its id: get_task shows its state and, once it succeeded, its result; ' +
        'cancel_task ends it.',
      inputSchema: CreateTaskInput,
      outputSchema: TaskOutput,
    },
    (input) => run(async () => ({ task: await tasks.create(agent(), input) })),
  );

  server.registerTool(
    'next_task',
    {
      description:
        'Take the best ready task you may do (your project, tier and capabilities; optionally only tasks needing at most `capabilities`). ' +
        'It is yours and running at once: follow its instructions and input, call report_progress now and then (any call of yours keeps the lease; ' +
        'silence past its leaseSeconds loses it and the task goes to another agent), then complete_task with the result or fail_task. ' +
        'When nothing fits, it waits up to timeoutMs (default 0: answers at once) for a task to become ready; task null means none came, and reason says why.',
      inputSchema: NextTaskInput,
      outputSchema: NextTaskOutput,
    },
    ({ timeoutMs, ...request }, extra) => run(() => claimWaiting(tasks, me, request, timeoutMs, [extra.signal, session.closed])),
  );

  server.registerTool(
    'report_progress',
    {
      description:
        'Tell how far you are with a task you hold (percent 0-100, a short note); it keeps your lease. ' +
        'An error REFUSED (lease_lost) means the task was taken from you (cancelled, timed out, or given to another agent): stop working on it.',
      inputSchema: ReportProgressInput,
      outputSchema: TaskOutput,
    },
    ({ taskId, ...progress }) => run(async () => ({ task: await asHolder('progress report', () => tasks.progress(me(), taskId, progress)) })),
  );

  server.registerTool(
    'complete_task',
    {
      description:
        'Finish a task you hold with its result: json, text and/or refs (files, memories, messages, urls you produced); at least one. ' +
        'The task succeeds and its creator reads the result. An error REFUSED means your result was not stored and why (your lease ended, it was cancelled).',
      inputSchema: CompleteTaskInput,
      outputSchema: TaskOutput,
    },
    ({ taskId, ...result }) => run(async () => ({ task: await asHolder('result', () => tasks.complete(me(), taskId, result)) })),
  );

  server.registerTool(
    'fail_task',
    {
      description:
        'Give up a task you hold, saying why (message, optional code). It is retried after a backoff while attempts remain; retry: false ends it failed now ' +
        '(when retrying cannot help). Then call next_task for other work.',
      inputSchema: FailTaskInput,
      outputSchema: TaskOutput,
    },
    ({ taskId, ...failure }) => run(async () => ({ task: await asHolder('failure report', () => tasks.fail(me(), taskId, failure)) })),
  );

  server.registerTool(
    'split_task',
    {
      description:
        'Split a task you hold into subtasks for other agents (a plan: parts with their own instructions, capabilities or tier, and dependsOn by key), ' +
        'and get their results back combined (aggregate: collect by default). The task stays yours and running while they run, and your lease holds ' +
        'even if you stay silent. When they have all ended, get_task on your task shows `subtasks.result` (or `subtasks.error`); ' +
        'then complete_task (or fail_task) your task yourself.',
      inputSchema: SplitTaskInput,
      outputSchema: TaskOutput,
    },
    ({ taskId, ...split }) => run(async () => ({ task: await asHolder('split', () => tasks.split(me(), taskId, parseInput(SplitTaskRequest, split, 'split'))) })),
  );

  server.registerTool(
    'cancel_task',
    {
      description: 'End a task you created that has not ended (with a reason); its holder is told, and a result it sends later is refused.',
      inputSchema: CancelTaskInput,
      outputSchema: TaskOutput,
    },
    ({ taskId, reason }) => run(() => ({ task: tasks.cancel(agent(), taskId, reason) })),
  );

  server.registerTool(
    'list_tasks',
    {
      description:
        "Tasks newest first, without inputs and results (get_task for those): your project's (scope project, the default) or the ones you hold or last held (scope mine); " +
        'optionally in one state. A ready task that waits says why in `waiting` (e.g. no online agent with a capability).',
      inputSchema: ListTasksInput,
      outputSchema: ListTasksOutput,
    },
    ({ scope, state, limit }) =>
      run(() => {
        const self = me();
        return { tasks: scope === 'mine' ? tasks.ofAgent(self.id, state, limit) : tasks.list({ project: self.project, state, limit }) };
      }),
  );

  server.registerTool(
    'get_task',
    {
      description: "One task of your project with its input and, once it succeeded, its result (json, text, refs); error says why a failed one failed.",
      inputSchema: GetTaskInput,
      outputSchema: TaskOutput,
    },
    ({ taskId }) => run(() => ({ task: tasks.get(agent(), taskId) })),
  );
};

/**
 * Claim-next, and when nothing fits, again after each of the service's dispatch passes (run when something changed,
 * so nothing polls) until a claim succeeds, the timeout passes or the call or session ends.
 */
function claimWaiting(
  tasks: TaskService,
  me: () => AgentRecord,
  request: z.output<typeof ClaimNextRequest>,
  timeoutMs: number,
  signals: AbortSignal[],
): Promise<ClaimNextResponse> {
  let last = tasks.claimNext(me(), request);
  if (last.task || timeoutMs === 0) return Promise.resolve(last);
  return new Promise((resolve, reject) => {
    const off = tasks.onDispatchPass(() => {
      if (signals.some((signal) => signal.aborted)) return finish();
      try {
        last = tasks.claimNext(me(), request);
      } catch (error) {
        // The caller was revoked meanwhile: refused as any other call of its would be.
        off();
        cleanup();
        return reject(error as Error);
      }
      if (last.task) finish();
    });
    const timer = setTimeout(finish, timeoutMs);
    for (const signal of signals) signal.addEventListener('abort', finish, { once: true });
    function cleanup() {
      clearTimeout(timer);
      for (const signal of signals) signal.removeEventListener('abort', finish);
    }
    function finish() {
      off();
      cleanup();
      resolve(last);
    }
  });
}
