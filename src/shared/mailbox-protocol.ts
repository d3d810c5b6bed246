/**
 * The file mailbox's files, as agents read and write them (docs/file-mailbox.md): outbox files are SendRequests
 * (agent-protocol.ts), inbox files are Messages, a registration drop file is a RegisterRequest, and the hub answers a
 * registration with the agent's `agent.json`, declared here; so are the request files agents drop into `requests/`
 * (file reservations) and the answers the hub writes into `answers/`.
 */
import { z } from 'zod';
import type { ReleaseResponse, Reservation, ReservationConflict, ReservationList, ReserveResponse } from './reservation-protocol';
import { MAX_TASK_SLOTS, type ClaimNextResponse, type Task, type TaskServerFrame } from './task-protocol';

/** What `agent.json` holds for an agent registered through the mailbox. */
export interface AgentFile {
  id: string;
  name: string;
  project: string;
  /** The agent's secret for the HTTP API (`Authorization: Bearer <token>`), should it ever be able to use it. */
  token: string;
  /** Where the running hub writes its URL. */
  hubFile: string;
  registeredAt: string;
}

/**
 * A request file in an agent's `requests/` folder: `op` says what, and the other fields are the body the HTTP API
 * takes for the same request (reservation-protocol.ts): reserve → ReserveRequest, renew → `id` and RenewRequest,
 * release → ReleaseRequest, list → ReservationQuery without `project` (an agent lists its own).
 * Tasks (task-protocol.ts): task.take → `slots` (tasks pushed into the inbox at once, 0 stops), task.next →
 * ClaimNextRequest, task.progress / task.complete / task.fail / task.cancel → `id` and the request of that name,
 * task.split → `id` and SplitTaskRequest (subtask-protocol.ts),
 * task.create → CreateTaskRequest, task.get → `id`.
 */
export const MAILBOX_TASK_OPS = ['task.take', 'task.next', 'task.progress', 'task.complete', 'task.fail', 'task.split', 'task.create', 'task.cancel', 'task.get'] as const;
export const MAILBOX_REQUEST_OPS = ['reserve', 'renew', 'release', 'list', ...MAILBOX_TASK_OPS] as const;
export type MailboxRequestOp = (typeof MAILBOX_REQUEST_OPS)[number];

/** Only `op` is read here; the rest is checked by the schema of that request. */
export const MailboxRequestHead = z.looseObject({ op: z.enum(MAILBOX_REQUEST_OPS) });

/** task.take: how many tasks the hub pushes into the agent's inbox at once (0: none, and it stops). */
export const MailboxTakeRequest = z.object({ slots: z.number().int().min(0).max(MAX_TASK_SLOTS) }).strict();

/**
 * Where a pushed task lands: `inbox/task-<task id>.json` holds `{type: "task.offered", task}` (the task, with its
 * input, already running and held by the agent); when a task the agent holds ends without it (cancelled, lease lost,
 * timed out), `inbox/task-<task id>-cancelled.json` holds `{type: "task.cancelled", taskId, state, reason}`; when the
 * subtasks of a task it split have all ended, `inbox/task-<task id>-subtasks.json` holds `{type: "task.subtasks",
 * taskId, subtasks}` (their aggregate).
 */
export type MailboxTaskFile = TaskServerFrame;
export const taskFileName = (taskId: string): string => `task-${taskId}.json`;
export const taskCancelledFileName = (taskId: string): string => `task-${taskId}-cancelled.json`;
export const taskSubtasksFileName = (taskId: string): string => `task-${taskId}-subtasks.json`;

/** The largest request file read (a reserve of the most paths, each of the longest, fits many times over). */
export const MAX_MAILBOX_REQUEST_BYTES = 256 * 1024;

/** Every answer says which request file it answers, what it asked for, and when. */
interface AnswerHead {
  /** The request file's name (the answer has the same name in `answers/`). */
  request: string;
  answeredAt: string;
}

/**
 * The hub's answer, written to `answers/<request file name>`: `ok: true` with what the HTTP API answers to the same
 * request, or `ok: false` with the HTTP API's error (status, code, error; a reservation conflict adds `conflicts`,
 * who holds what until when). Nothing was done when `ok` is false.
 */
export type MailboxAnswer = AnswerHead &
  (
    | ({ op: 'reserve'; ok: true } & ReserveResponse)
    | { op: 'renew'; ok: true; reservation: Reservation }
    | ({ op: 'release'; ok: true } & ReleaseResponse)
    | ({ op: 'list'; ok: true } & ReservationList)
    | { op: 'task.take'; ok: true; slots: number }
    | ({ op: 'task.next'; ok: true } & ClaimNextResponse)
    | { op: 'task.progress' | 'task.complete' | 'task.fail' | 'task.split' | 'task.create' | 'task.cancel' | 'task.get'; ok: true; task: Task }
    | { op: MailboxRequestOp | null; ok: false; status: number; code: string; error: string; conflicts?: ReservationConflict[] }
  );
