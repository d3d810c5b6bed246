/**
 * Tasks: units of work the hub hands to agents under a lease. The task, its states, the requests (create, claim-next,
 * progress, complete, fail, cancel), the answers, the realtime frames (offered, cancelled), the HTTP paths and the
 * task-specific error codes, declared once.
 */
import { z } from 'zod';

/** Under the API's prefix (API_PREFIX in agent-protocol.ts, which imports this file for its socket frames). */
const PREFIX = '/api/v1';
/** Task and agent ids are ULIDs, as message ids are. */
export const TaskId = z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, 'not a task or agent id');

/**
 * pending: waits for its dependencies, or for its retry backoff to pass. ready: may be given to an agent.
 * assigned: offered to (pushed) an agent, which has not started it yet. running: its holder works on it.
 * The last four are final.
 */
export const TASK_STATES = ['pending', 'ready', 'assigned', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out'] as const;
export type TaskState = (typeof TASK_STATES)[number];
export const FINAL_TASK_STATES = ['succeeded', 'failed', 'cancelled', 'timed_out'] as const satisfies readonly TaskState[];
export const HELD_TASK_STATES = ['assigned', 'running'] as const satisfies readonly TaskState[];

/** The legal transitions: every change of a task's state is one of these (the hub refuses any other). */
export const TASK_TRANSITIONS: Record<TaskState, readonly TaskState[]> = {
  pending: ['ready', 'cancelled', 'failed'],
  ready: ['assigned', 'running', 'cancelled'],
  assigned: ['running', 'succeeded', 'failed', 'pending', 'ready', 'cancelled', 'timed_out'],
  running: ['succeeded', 'failed', 'pending', 'ready', 'cancelled', 'timed_out'],
  succeeded: [],
  failed: [],
  cancelled: [],
  timed_out: [],
};

export const isFinalTaskState = (state: TaskState): boolean => (FINAL_TASK_STATES as readonly TaskState[]).includes(state);

export const TASK_TIERS = ['strategic', 'development', 'memory'] as const;

export const DEFAULT_TASK_PRIORITY = 50;
export const MAX_TASK_PRIORITY = 100;
/** Waiting work gains one priority point per this many seconds, so low-priority work is never starved. */
export const TASK_AGEING_SECONDS = 30;
export const DEFAULT_TASK_TIMEOUT_SECONDS = 60 * 60;
export const MAX_TASK_TIMEOUT_SECONDS = 7 * 24 * 60 * 60;
/**
 * A holder keeps its lease while it is heard from: an open realtime socket, or any request within this many seconds.
 * Silence longer than this ends the lease and the task is offered again.
 */
export const DEFAULT_LEASE_SECONDS = 60;
export const MAX_LEASE_SECONDS = 60 * 60;
export const DEFAULT_MAX_ATTEMPTS = 3;
export const MAX_ATTEMPTS_LIMIT = 20;
export const MAX_TASK_DEPENDENCIES = 100;
export const MAX_TASK_CAPABILITIES = 32;
export const MAX_TITLE_CHARS = 200;
export const MAX_INSTRUCTIONS_CHARS = 100_000;
/** A pushed agent takes at most this many tasks at once (it says how many it takes: `tasks.ready`). */
export const MAX_TASK_SLOTS = 32;

const Capability = z.string().min(1).max(64);
const Project = z.string().trim().min(1).max(128);

/** After a failed attempt the task waits initialSeconds · factor^(attempt-1), at most maxSeconds, before its next. */
export const TaskBackoff = z
  .object({
    initialSeconds: z.number().min(0).max(3600).default(5),
    factor: z.number().min(1).max(10).default(2),
    maxSeconds: z.number().min(0).max(24 * 3600).default(300),
  })
  .strict();
export type TaskBackoff = z.output<typeof TaskBackoff>;

/** Seconds to wait before attempt `attempt + 1`, after attempt `attempt` (1-based) failed. */
export function taskBackoffSeconds(backoff: TaskBackoff, attempt: number): number {
  return Math.min(backoff.maxSeconds, backoff.initialSeconds * backoff.factor ** Math.max(0, attempt - 1));
}

/** A task's input or a result's JSON: text, or a JSON object or array (as a message body). */
export const TaskBody = z.union([z.string(), z.record(z.string(), z.unknown()), z.array(z.unknown())]);

/** Prefer the agent that ran a given task, or the last one that ran a task of the same thread. */
export const TaskAffinity = z.union([z.object({ taskId: TaskId }).strict(), z.object({ threadId: z.string().min(1).max(128) }).strict()]);
export type TaskAffinity = z.infer<typeof TaskAffinity>;

/** POST TASKS_PATH. An agent creates tasks in its own project; the cockpit names the project. */
export const CreateTaskRequest = z
  .object({
    title: z.string().trim().min(1).max(MAX_TITLE_CHARS),
    instructions: z.string().max(MAX_INSTRUCTIONS_CHARS).default(''),
    input: TaskBody.optional(),
    project: Project.optional(),
    /** Every one of these must be among the agent's capabilities. */
    capabilities: z.array(Capability).max(MAX_TASK_CAPABILITIES).default([]),
    /** Only agents of this tier take it; any tier when left out. */
    tier: z.enum(TASK_TIERS).optional(),
    /** 0-100, higher first; waiting work ages upwards (TASK_AGEING_SECONDS). */
    priority: z.number().int().min(0).max(MAX_TASK_PRIORITY).default(DEFAULT_TASK_PRIORITY),
    /** Per attempt, from its assignment: an attempt running longer ends `timed_out` (and is retried if it may). */
    timeoutSeconds: z.number().int().min(1).max(MAX_TASK_TIMEOUT_SECONDS).default(DEFAULT_TASK_TIMEOUT_SECONDS),
    leaseSeconds: z.number().int().min(1).max(MAX_LEASE_SECONDS).default(DEFAULT_LEASE_SECONDS),
    maxAttempts: z.number().int().min(1).max(MAX_ATTEMPTS_LIMIT).default(DEFAULT_MAX_ATTEMPTS),
    backoff: TaskBackoff.default({ initialSeconds: 5, factor: 2, maxSeconds: 300 }),
    /** Tasks of the same project that must succeed first. */
    dependsOn: z.array(TaskId).max(MAX_TASK_DEPENDENCIES).default([]),
    /** Only this agent may take it. */
    assignee: TaskId.optional(),
    affinity: TaskAffinity.optional(),
    threadId: z.string().min(1).max(128).optional(),
    parentTaskId: TaskId.optional(),
    workflowId: z.string().min(1).max(128).optional(),
    stepId: z.string().min(1).max(128).optional(),
  })
  .strict();
export type CreateTaskRequest = z.input<typeof CreateTaskRequest>;

/** POST taskProgressPath(id): how far the holder is. The first progress of an offered task starts it (assigned -> running). */
export const TaskProgressRequest = z
  .object({
    percent: z.number().min(0).max(100).optional(),
    note: z.string().max(1000).optional(),
  })
  .strict();
export type TaskProgressRequest = z.input<typeof TaskProgressRequest>;

export const TaskResultRef = z
  .object({
    kind: z.enum(['file', 'memory', 'message', 'url']),
    ref: z.string().min(1).max(2000),
    note: z.string().max(500).optional(),
  })
  .strict();
export type TaskResultRef = z.infer<typeof TaskResultRef>;

/** POST taskCompletePath(id): the result, as JSON, text and/or references to files and memories. */
export const CompleteTaskRequest = z
  .object({
    json: z.union([z.record(z.string(), z.unknown()), z.array(z.unknown()), z.number(), z.boolean()]).optional(),
    text: z.string().optional(),
    refs: z.array(TaskResultRef).max(100).optional(),
  })
  .strict();
export type CompleteTaskRequest = z.input<typeof CompleteTaskRequest>;
export type TaskResult = z.output<typeof CompleteTaskRequest>;

/** POST taskFailPath(id): the attempt failed. retry false ends the task failed even when attempts remain. */
export const FailTaskRequest = z
  .object({
    message: z.string().min(1).max(4000),
    code: z.string().min(1).max(64).optional(),
    retry: z.boolean().default(true),
  })
  .strict();
export type FailTaskRequest = z.input<typeof FailTaskRequest>;

/** POST taskCancelPath(id): the creator or the cockpit ends it; its holder is told (`task.cancelled`). */
export const CancelTaskRequest = z.object({ reason: z.string().max(1000).optional() }).strict();
export type CancelTaskRequest = z.input<typeof CancelTaskRequest>;

/** POST agentNextTaskPath(agentId): the agent takes the best ready task it may, which starts running at once. */
export const ClaimNextRequest = z
  .object({
    /** Only tasks needing at most these of the agent's capabilities. */
    capabilities: z.array(Capability).max(MAX_TASK_CAPABILITIES).optional(),
  })
  .strict();
export type ClaimNextRequest = z.input<typeof ClaimNextRequest>;

/** GET TASKS_PATH query. An agent sees its own project's tasks. */
export const TaskQuery = z
  .object({
    state: z.enum(TASK_STATES).optional(),
    project: Project.optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();
export type TaskQuery = z.input<typeof TaskQuery>;

export const AgentTaskQuery = z.object({ state: z.enum(TASK_STATES).optional(), limit: z.coerce.number().int().min(1).max(1000).default(100) }).strict();

export interface TaskError {
  /** A code of the agent's own, or the hub's: lease_lost, timed_out, dependency_failed, cancelled. */
  code: string;
  message: string;
}

export interface TaskProgress {
  percent: number | null;
  note: string | null;
  at: string;
}

/** A task as the hub answers it. `input` and `result` are left out of lists (GET one task for them). */
export interface Task {
  id: string;
  title: string;
  instructions: string;
  input?: unknown;
  /** Size of the input's JSON, bytes (0: none). */
  inputBytes: number;
  project: string;
  capabilities: string[];
  tier: (typeof TASK_TIERS)[number] | null;
  priority: number;
  timeoutSeconds: number;
  leaseSeconds: number;
  maxAttempts: number;
  backoff: TaskBackoff;
  dependsOn: string[];
  assignee: string | null;
  affinity: TaskAffinity | null;
  threadId: string | null;
  parentTaskId: string | null;
  workflowId: string | null;
  stepId: string | null;
  /** The agent whose token created it, or `cockpit`. */
  createdBy: string;
  state: TaskState;
  /** Attempts so far (each assignment is one). */
  attempt: number;
  /** The agent holding it (assigned, running), or the last one that did. */
  holderId: string | null;
  /** When the lease ends unless its holder is heard from (held tasks only). */
  leaseExpiresAt: string | null;
  /** A pending task retried after a failure waits until then. */
  notBefore: string | null;
  progress: TaskProgress | null;
  result?: TaskResult | null;
  /**
   * The subtasks its holder split it into (the last split), with their states and, once they have all ended, the
   * aggregate. One task's GET, claims and offers carry it; lists leave it out.
   */
  subtasks?: TaskSubtasks | null;
  error: TaskError | null;
  /** Why it waits, for pending and ready tasks: "no online agent with capability `review`". */
  waiting: string | null;
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

/** A split's subtask, by the key its holder gave it. */
export interface TaskSubtaskItem {
  key: string;
  taskId: string;
  title: string;
  state: TaskState;
}

/**
 * A running task's split into subtasks (subtask-protocol.ts): running while any subtask has not ended; then succeeded
 * with the aggregate of their results in `result`, or failed with `error` (the aggregator's reason: a subtask that
 * failed, a merge conflict); abandoned when the task itself ended first (its open subtasks were cancelled).
 */
export interface TaskSubtasks {
  state: 'running' | 'succeeded' | 'failed' | 'abandoned';
  /** The aggregator (workflow-protocol.ts Aggregate): `{use: "collect"}`, `{use: "merge", onConflict}`... */
  aggregate: { use: string } & Record<string, unknown>;
  items: TaskSubtaskItem[];
  result: unknown;
  error: string | null;
  createdAt: string;
  finishedAt: string | null;
}

export interface TaskList {
  tasks: Task[];
}

/** The answer to a claim-next: the task now running for the caller, or null with the reason nothing was given. */
export interface ClaimNextResponse {
  task: Task | null;
  reason: string | null;
}

/** Task error codes beyond the hub's common ones (ERROR_CODES in agent-protocol.ts): code -> HTTP status and meaning. */
export const TASK_ERROR_CODES = {
  lease_lost: { status: 409, meaning: 'your lease on the task ended (you went silent, it timed out, or it was cancelled) and it may be someone else\'s now: your result was not taken; `error` says why and when' },
  not_holder: { status: 409, meaning: 'the task is not held by you and never was: only its holder reports progress, completes or fails it' },
  task_finished: { status: 409, meaning: 'the task has already ended (its state is final)' },
} as const satisfies Record<string, { status: number; meaning: string }>;
export type TaskErrorCode = keyof typeof TASK_ERROR_CODES;

// --- Realtime socket ----------------------------------------------------------------------------------------------

/**
 * Client frames. `tasks.ready`: the agent takes pushed tasks, up to `slots` at once (0 stops offers); offers go only
 * to agents that sent it on their current socket. `task.progress`, `task.complete` and `task.fail`: the holder's
 * reports, as their HTTP routes, without a request each; each is answered by `result` with the same ref and the task
 * (as the route answers) once its change is committed, or by `error` with the ref (lease_lost, task_finished...).
 */
export const TaskFrames = [
  z.object({ type: z.literal('tasks.ready'), slots: z.number().int().min(0).max(MAX_TASK_SLOTS) }).strict(),
  z.object({ type: z.literal('task.progress'), ref: z.string().max(100), taskId: TaskId, progress: TaskProgressRequest }).strict(),
  z.object({ type: z.literal('task.complete'), ref: z.string().max(100), taskId: TaskId, result: CompleteTaskRequest }).strict(),
  z.object({ type: z.literal('task.fail'), ref: z.string().max(100), taskId: TaskId, failure: FailTaskRequest }).strict(),
] as const;

/**
 * Server frames: a task offered (already assigned to the agent, which starts it by reporting progress or finishes it
 * by completing or failing it), and a task the agent holds that ended without it (cancelled, timed out).
 */
export type TaskServerFrame =
  | { type: 'task.offered'; task: Task }
  | { type: 'task.cancelled'; taskId: string; state: TaskState; reason: string }
  /** The subtasks of a task you hold have all ended: their aggregate (or why it failed) is in `subtasks`. */
  | { type: 'task.subtasks'; taskId: string; subtasks: TaskSubtasks };

// --- HTTP paths ----------------------------------------------------------------------------------------------------

/** POST: create (CreateTaskRequest); GET: list (TaskQuery). */
export const TASKS_PATH = `${PREFIX}/tasks`;
export const taskPath = (id: string): string => `${TASKS_PATH}/${id}`;
export const taskProgressPath = (id: string): string => `${TASKS_PATH}/${id}/progress`;
export const taskCompletePath = (id: string): string => `${TASKS_PATH}/${id}/complete`;
export const taskFailPath = (id: string): string => `${TASKS_PATH}/${id}/fail`;
export const taskCancelPath = (id: string): string => `${TASKS_PATH}/${id}/cancel`;
/** POST: the holder splits its task into subtasks (SplitTaskRequest, subtask-protocol.ts). */
export const taskSubtasksPath = (id: string): string => `${TASKS_PATH}/${id}/subtasks`;
/** GET: the tasks an agent holds or held (AgentTaskQuery). */
export const agentTasksPath = (agentId: string): string => `${PREFIX}/agents/${agentId}/tasks`;
/** POST: claim the next task (ClaimNextRequest). */
export const agentNextTaskPath = (agentId: string): string => `${PREFIX}/agents/${agentId}/tasks/next`;
