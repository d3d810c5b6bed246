/**
 * A2A tasks in hub.sqlite (table a2a_tasks): the SDK's TaskStore, scoped to the agent whose token created each
 * task, plus what the door needs beside it (the open tasks by id, so a reply finds its task without a query).
 */
import { Task, TaskState } from '@a2a-js/sdk';
import type { ListTasksRequest, ListTasksResponse, Part } from '@a2a-js/sdk';
import type { ServerCallContext, TaskStore } from '@a2a-js/sdk/server';
import { A2A_PART_METADATA, A2A_TASK_METADATA } from '../../shared/a2a-protocol';
import type { A2aTaskInfo, A2aTaskStateName } from '../../shared/contract';
import type { SqliteDatabase } from '../db/database';
import { ownerOf } from './caller';
import { FILE_STUB_PREFIX } from './request-decoder';

/** States after which a task never changes again. */
const TERMINAL = new Set<TaskState>([TaskState.TASK_STATE_COMPLETED, TaskState.TASK_STATE_FAILED, TaskState.TASK_STATE_CANCELED, TaskState.TASK_STATE_REJECTED]);

export function isTerminal(state: TaskState | undefined): boolean {
  return state !== undefined && TERMINAL.has(state);
}

/** An open task, as the reply watcher needs it. */
export interface OpenTask {
  id: string;
  owner: string;
  /** The hub agent it is addressed to. */
  agentId: string;
}

type TaskRow = { id: string; owner: string; agent_id: string | null; state: number; updated_at: string; task: string };

const DEFAULT_PAGE_SIZE = 50;

/** The cockpit's list: this many open tasks, then this many finished ones. */
const COCKPIT_OPEN = 100;
const COCKPIT_FINISHED = 50;

const STATE_NAMES: Partial<Record<TaskState, A2aTaskStateName>> = {
  [TaskState.TASK_STATE_SUBMITTED]: 'submitted',
  [TaskState.TASK_STATE_WORKING]: 'working',
  [TaskState.TASK_STATE_INPUT_REQUIRED]: 'input-required',
  [TaskState.TASK_STATE_AUTH_REQUIRED]: 'auth-required',
  [TaskState.TASK_STATE_COMPLETED]: 'completed',
  [TaskState.TASK_STATE_FAILED]: 'failed',
  [TaskState.TASK_STATE_CANCELED]: 'canceled',
  [TaskState.TASK_STATE_REJECTED]: 'rejected',
};

/** File parts up to this size stay in the stored task's history; larger ones become a reference (see put). */
export const INLINE_FILE_BYTES = 64 * 1024;

/**
 * The task with the bytes of each large file part in its history replaced by a URL part naming where they are (the
 * hub message that carried them). A task is read and written several times per call: megabytes in its row would
 * hold up every other request each time. A file the request decoder already took out (a placeholder URL, its size
 * in the metadata: decode-request.ts) gets the same URL.
 */
function withoutFileBytes(task: Task, reference: string): Task {
  const large = (part: Part) =>
    (part.content?.$case === 'raw' && part.content.value.length > INLINE_FILE_BYTES) || (part.content?.$case === 'url' && part.content.value.startsWith(FILE_STUB_PREFIX));
  if (!task.history.some((message) => message.parts.some(large))) return task;
  const history = task.history.map((message) => {
    if (!message.parts.some(large)) return message;
    const parts = message.parts.map((part): Part => {
      if (!large(part)) return part;
      if (part.content?.$case !== 'raw') return { ...part, content: { $case: 'url', value: reference } };
      return { ...part, content: { $case: 'url', value: reference }, metadata: { ...part.metadata, [A2A_PART_METADATA.fileBytes]: part.content.value.length } };
    });
    return { ...message, parts };
  });
  return { ...task, history };
}

export class A2aTaskStore implements TaskStore {
  private readonly open = new Map<string, OpenTask>();
  private readonly listeners = new Set<() => void>();
  private readonly s;

  /**
   * fileReference: where the bytes of a large file part can be read instead (the hub thread of the task, whose
   * message carries them): the stored task keeps that URL, not a second copy of the bytes.
   */
  constructor(
    db: SqliteDatabase,
    private readonly fileReference: (taskId: string) => string,
  ) {
    this.s = {
      get: db.prepare('SELECT * FROM a2a_tasks WHERE id = ?'),
      stateOf: db.prepare('SELECT owner, state FROM a2a_tasks WHERE id = ?'),
      upsert: db.prepare(
        `INSERT INTO a2a_tasks (id, owner, agent_id, context_id, state, updated_at, task)
         VALUES (@id, @owner, @agentId, @contextId, @state, @updatedAt, @task)
         ON CONFLICT (id) DO UPDATE SET agent_id = excluded.agent_id, context_id = excluded.context_id,
           state = excluded.state, updated_at = excluded.updated_at, task = excluded.task
         WHERE a2a_tasks.owner = excluded.owner`,
      ),
      openTasks: db.prepare('SELECT id, owner, agent_id FROM a2a_tasks WHERE state IN (1, 2, 6, 8)'),
      // Both from partial indexes (a2a_tasks_open, a2a_tasks_finished): no scan of the whole table.
      cockpitOpen: db.prepare('SELECT id, owner, agent_id, state, updated_at FROM a2a_tasks WHERE state IN (1, 2, 6, 8) ORDER BY updated_at DESC LIMIT ?'),
      cockpitFinished: db.prepare('SELECT id, owner, agent_id, state, updated_at FROM a2a_tasks WHERE state IN (3, 4, 5, 7) ORDER BY updated_at DESC LIMIT ?'),
      // Oldest first from the a2a_tasks_finished index (the states are TERMINAL's).
      deleteFinished: db.prepare(
        `DELETE FROM a2a_tasks WHERE id IN (
           SELECT id FROM a2a_tasks WHERE state IN (3, 4, 5, 7) AND updated_at < @before ORDER BY updated_at LIMIT @limit)`,
      ),
      page: db.prepare(
        `SELECT * FROM a2a_tasks WHERE owner = @owner AND (@contextId = '' OR context_id = @contextId)
           AND (@state = 0 OR state = @state) AND (@after = '' OR updated_at > @after)
         ORDER BY updated_at DESC, id DESC LIMIT @limit OFFSET @offset`,
      ),
      count: db
        .prepare(
          `SELECT COUNT(*) FROM a2a_tasks WHERE owner = @owner AND (@contextId = '' OR context_id = @contextId)
             AND (@state = 0 OR state = @state) AND (@after = '' OR updated_at > @after)`,
        )
        .pluck(),
    };
    for (const row of this.s.openTasks.all() as Array<Pick<TaskRow, 'id' | 'owner' | 'agent_id'>>) {
      if (row.agent_id) this.open.set(row.id, { id: row.id, owner: row.owner, agentId: row.agent_id });
    }
  }

  async save(task: Task, context: ServerCallContext): Promise<void> {
    this.put(task, ownerOf(context));
  }

  async load(taskId: string, context: ServerCallContext): Promise<Task | undefined> {
    return this.get(taskId, ownerOf(context));
  }

  async list(params: ListTasksRequest, context: ServerCallContext): Promise<ListTasksResponse> {
    const pageSize = params.pageSize ?? DEFAULT_PAGE_SIZE;
    const offset = params.pageToken ? Number.parseInt(params.pageToken, 10) || 0 : 0;
    const filter = {
      owner: ownerOf(context),
      contextId: params.contextId ?? '',
      state: params.status ?? 0,
      after: params.statusTimestampAfter ?? '',
    };
    const rows = this.s.page.all({ ...filter, limit: pageSize, offset }) as TaskRow[];
    const totalSize = Number(this.s.count.get(filter));
    const tasks = rows.map((row) => {
      const task = Task.fromJSON(JSON.parse(row.task));
      if (!params.includeArtifacts) task.artifacts = [];
      return task;
    });
    const nextOffset = offset + rows.length;
    return { tasks, nextPageToken: nextOffset < totalSize ? String(nextOffset) : '', pageSize, totalSize };
  }

  /**
   * Stores a task for its owner, synchronously (the row is committed when this returns). A task in a final state
   * never changes again: a late write (the SDK saving "working" after the agent already replied, a second reply,
   * a reply after a cancel) is ignored. A task id of another owner is never overwritten.
   */
  put(task: Task, owner: string): void {
    const stored = this.s.stateOf.get(task.id) as Pick<TaskRow, 'owner' | 'state'> | undefined;
    if (stored && (stored.owner !== owner || isTerminal(stored.state))) return;
    const state = task.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED;
    const agentId = typeof task.metadata?.[A2A_TASK_METADATA.agentId] === 'string' ? (task.metadata[A2A_TASK_METADATA.agentId] as string) : null;
    this.s.upsert.run({
      id: task.id,
      owner,
      agentId,
      contextId: task.contextId,
      state,
      updatedAt: task.status?.timestamp ?? new Date().toISOString(),
      task: JSON.stringify(Task.toJSON(withoutFileBytes(task, this.fileReference(task.id)))),
    });
    if (isTerminal(state) || !agentId) this.open.delete(task.id);
    else this.open.set(task.id, { id: task.id, owner, agentId });
    for (const listener of this.listeners) listener();
  }

  /** Called after each task write or sweep that deleted tasks (the cockpit's live list). Returns the unsubscribe. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The cockpit's list: the open tasks, then the latest finished ones, each newest first. */
  cockpitList(): A2aTaskInfo[] {
    const rows = [...this.s.cockpitOpen.all(COCKPIT_OPEN), ...this.s.cockpitFinished.all(COCKPIT_FINISHED)] as Array<Omit<TaskRow, 'task'>>;
    return rows.map((row) => ({ id: row.id, callerId: row.owner, agentId: row.agent_id, state: STATE_NAMES[row.state as TaskState] ?? 'unknown', updatedAt: row.updated_at }));
  }

  /** The owner's task, or undefined (another agent's task is as unknown as a missing one). */
  get(taskId: string, owner: string): Task | undefined {
    const row = this.s.get.get(taskId) as TaskRow | undefined;
    if (!row || row.owner !== owner) return undefined;
    return Task.fromJSON(JSON.parse(row.task));
  }

  /**
   * Deletes up to `limit` finished tasks that ended before `before` (an ISO time), oldest first; how many it
   * deleted. Open tasks are never deleted, however old.
   */
  deleteFinishedBefore(before: string, limit: number): number {
    const deleted = this.s.deleteFinished.run({ before, limit }).changes;
    if (deleted > 0) for (const listener of this.listeners) listener();
    return deleted;
  }

  /** The open task with this id (the thread of a hub message), if any. */
  openTask(taskId: string): OpenTask | undefined {
    return this.open.get(taskId);
  }

  openTasks(): OpenTask[] {
    return [...this.open.values()];
  }
}
