/**
 * The task rows in SQLite: the prepared statements the service uses, the conditional state UPDATE every transition is,
 * the attempts' records, the listings, and the files that hold large inputs and results.
 */
import path from 'node:path';
import type Database from 'better-sqlite3';
import type { z } from 'zod';
import { HELD_TASK_STATES, TASK_ERROR_CODES, TASK_TRANSITIONS, isFinalTaskState, type CreateTaskRequest, type Task, type TaskErrorCode, type TaskQuery, type TaskState } from '../../shared/task-protocol';
import type { SqliteDatabase } from '../db/database';
import { HubError } from '../errors';
import { BodyStore } from '../messaging/body-store';
import type { AgentRecordStats } from './dispatcher';

export const TASK_INPUT_DIR = 'task-inputs';
export const TASK_RESULT_DIR = 'task-results';

export type TaskRow = {
  seq: number;
  id: string;
  project: string;
  title: string;
  instructions: string;
  input: string | null;
  input_bytes: number;
  input_external: number;
  capabilities: string;
  tier: Task['tier'];
  priority: number;
  timeout_seconds: number;
  lease_seconds: number;
  max_attempts: number;
  backoff: string;
  depends_on: string;
  assignee: string | null;
  affinity: string | null;
  thread_id: string | null;
  parent_task_id: string | null;
  workflow_id: string | null;
  step_id: string | null;
  created_by: string;
  state: TaskState;
  attempt: number;
  holder_id: string | null;
  held_since: string | null;
  lease_expires_at: string | null;
  not_before: string | null;
  ready_since: string | null;
  progress: string | null;
  result: string | null;
  result_bytes: number;
  result_external: number;
  error: string | null;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  finished_at: string | null;
};

export type AttemptRow = { task_id: string; attempt: number; agent_id: string; assigned_at: string; ended_at: string | null; outcome: string | null; reason: string | null };

/** The columns of a new task (named parameters of the INSERT). */
export interface NewTaskRow {
  id: string;
  project: string;
  title: string;
  instructions: string;
  input: string | null;
  inputBytes: number;
  inputExternal: 0 | 1;
  capabilities: string;
  tier: string | null;
  priority: number;
  timeoutSeconds: number;
  leaseSeconds: number;
  maxAttempts: number;
  backoff: string;
  dependsOn: string;
  assignee: string | null;
  affinity: string | null;
  threadId: string | null;
  parentTaskId: string | null;
  workflowId: string | null;
  stepId: string | null;
  createdBy: string;
  state: TaskState;
  readySince: string | null;
  now: string;
}

/** The row of a new task: the request's fields as the store keeps them (created by an agent, a split or a workflow). */
export function newTaskRow(task: {
  id: string;
  project: string;
  request: z.output<typeof CreateTaskRequest>;
  createdBy: string;
  state: TaskState;
  inputJson: string | null;
  inputExternal: boolean;
  now: number;
}): NewTaskRow {
  const { request, now } = task;
  return {
    id: task.id,
    project: task.project,
    title: request.title,
    instructions: request.instructions,
    input: task.inputExternal ? null : task.inputJson,
    inputBytes: task.inputJson === null ? 0 : Buffer.byteLength(task.inputJson),
    inputExternal: task.inputExternal ? 1 : 0,
    capabilities: JSON.stringify([...new Set(request.capabilities)]),
    tier: request.tier ?? null,
    priority: request.priority,
    timeoutSeconds: request.timeoutSeconds,
    leaseSeconds: request.leaseSeconds,
    maxAttempts: request.maxAttempts,
    backoff: JSON.stringify(request.backoff),
    dependsOn: JSON.stringify([...new Set(request.dependsOn)]),
    assignee: request.assignee ?? null,
    affinity: request.affinity ? JSON.stringify(request.affinity) : null,
    threadId: request.threadId ?? null,
    parentTaskId: request.parentTaskId ?? null,
    workflowId: request.workflowId ?? null,
    stepId: request.stepId ?? null,
    createdBy: task.createdBy,
    state: task.state,
    readySince: task.state === 'ready' ? iso(now) : null,
    now: iso(now),
  };
}

/** Columns a change sets (undefined: left alone). */
export type TaskFields = Partial<Record<keyof TaskRow, string | number | null | undefined>>;

/** Which row a conditional UPDATE may take: the task (found by its rowid), and for a held task its holder and attempt. */
export interface TaskRef {
  id: string;
  row: Pick<TaskRow, 'seq'>;
  holderId: string | null;
  attempt: number;
}

export const iso = (ms: number): string => new Date(ms).toISOString();
export const ms = (text: string | null): number | null => (text === null ? null : Date.parse(text));

export function taskError(code: TaskErrorCode, message: string): HubError {
  return new HubError(code, message, TASK_ERROR_CODES[code].status);
}

export class TaskStore {
  readonly inputs: BodyStore;
  readonly results: BodyStore;
  private readonly statements;
  private readonly cache = new Map<string, Database.Statement<unknown[]>>();
  /** The state UPDATEs, by the columns they set. */
  private readonly updates = new Map<string, Database.Statement<unknown[]>>();

  constructor(
    readonly db: SqliteDatabase,
    dataDir: string,
  ) {
    this.statements = {
      insert: db.prepare(
        `INSERT INTO tasks (id, project, title, instructions, input, input_bytes, input_external, capabilities, tier, priority,
           timeout_seconds, lease_seconds, max_attempts, backoff, depends_on, assignee, affinity, thread_id, parent_task_id,
           workflow_id, step_id, created_by, state, ready_since, created_at, updated_at)
         VALUES (@id, @project, @title, @instructions, @input, @inputBytes, @inputExternal, @capabilities, @tier, @priority,
           @timeoutSeconds, @leaseSeconds, @maxAttempts, @backoff, @dependsOn, @assignee, @affinity, @threadId, @parentTaskId,
           @workflowId, @stepId, @createdBy, @state, @readySince, @now, @now)`,
      ),
      insertDependency: db.prepare('INSERT OR IGNORE INTO task_dependencies (task_id, depends_on) VALUES (?, ?)'),
      get: db.prepare('SELECT * FROM tasks WHERE id = ?'),
      openRows: db.prepare("SELECT * FROM tasks WHERE state IN ('pending', 'ready', 'assigned', 'running')"),
      dependents: db.prepare('SELECT task_id FROM task_dependencies WHERE depends_on = ?').pluck(),
      unmetDependencies: db.prepare(
        "SELECT count(*) FROM task_dependencies d JOIN tasks t ON t.id = d.depends_on WHERE d.task_id = ? AND t.state != 'succeeded'",
      ).pluck(),
      insertAttempt: db.prepare('INSERT INTO task_attempts (task_id, attempt, agent_id, assigned_at) VALUES (?, ?, ?, ?)'),
      endAttempt: db.prepare(
        'UPDATE task_attempts SET ended_at = @endedAt, outcome = @outcome, reason = @reason, duration_ms = @durationMs WHERE task_id = @taskId AND attempt = @attempt AND ended_at IS NULL',
      ),
      lastAttemptOf: db.prepare('SELECT * FROM task_attempts WHERE task_id = ? AND agent_id = ? ORDER BY attempt DESC LIMIT 1'),
      lastHolderInThread: db.prepare('SELECT holder_id FROM tasks WHERE thread_id = ? AND holder_id IS NOT NULL ORDER BY seq DESC LIMIT 1').pluck(),
      holderOf: db.prepare('SELECT holder_id FROM tasks WHERE id = ?').pluck(),
      records: db.prepare(
        `SELECT agent_id AS agentId, count(*) AS ended, sum(outcome = 'succeeded') AS succeeded,
           coalesce(sum(CASE WHEN outcome = 'succeeded' THEN duration_ms END), 0) AS succeededMs
         FROM task_attempts WHERE ended_at IS NOT NULL GROUP BY agent_id`,
      ),
      externalInputs: db.prepare('SELECT id, input_bytes FROM tasks WHERE input_external = 1'),
      externalResults: db.prepare('SELECT id, result_bytes FROM tasks WHERE result_external = 1'),
    };
    this.inputs = new BodyStore(path.join(dataDir, TASK_INPUT_DIR));
    this.results = new BodyStore(path.join(dataDir, TASK_RESULT_DIR));
    // Files written for a create or complete that a crash cut off before its commit are removed.
    const inputBytes = new Map((this.statements.externalInputs.all() as { id: string; input_bytes: number }[]).map((r) => [r.id, r.input_bytes]));
    this.inputs.sweep((id) => inputBytes.get(id));
    const resultBytes = new Map((this.statements.externalResults.all() as { id: string; result_bytes: number }[]).map((r) => [r.id, r.result_bytes]));
    this.results.sweep((id) => resultBytes.get(id));
  }

  row(id: string): TaskRow | undefined {
    return this.statements.get.get(id) as TaskRow | undefined;
  }

  openRows(): TaskRow[] {
    return this.statements.openRows.all() as TaskRow[];
  }

  /** Each agent's record over its ended attempts. */
  records(): ({ agentId: string } & Omit<AgentRecordStats, 'lastAssignedAt'>)[] {
    return this.statements.records.all() as ({ agentId: string } & Omit<AgentRecordStats, 'lastAssignedAt'>)[];
  }

  /** Inserts a new task and its dependencies; returns its row as stored. */
  insert(task: NewTaskRow, dependsOn: string[]): TaskRow {
    const seq = Number(this.statements.insert.run(task).lastInsertRowid);
    for (const dep of dependsOn) this.statements.insertDependency.run(task.id, dep);
    return {
      seq,
      id: task.id,
      project: task.project,
      title: task.title,
      instructions: task.instructions,
      input: task.input,
      input_bytes: task.inputBytes,
      input_external: task.inputExternal,
      capabilities: task.capabilities,
      tier: task.tier as TaskRow['tier'],
      priority: task.priority,
      timeout_seconds: task.timeoutSeconds,
      lease_seconds: task.leaseSeconds,
      max_attempts: task.maxAttempts,
      backoff: task.backoff,
      depends_on: task.dependsOn,
      assignee: task.assignee,
      affinity: task.affinity,
      thread_id: task.threadId,
      parent_task_id: task.parentTaskId,
      workflow_id: task.workflowId,
      step_id: task.stepId,
      created_by: task.createdBy,
      state: task.state,
      attempt: 0,
      holder_id: null,
      held_since: null,
      lease_expires_at: null,
      not_before: null,
      ready_since: task.readySince,
      progress: null,
      result: null,
      result_bytes: 0,
      result_external: 0,
      error: null,
      created_at: task.now,
      updated_at: task.now,
      started_at: null,
      finished_at: null,
    };
  }

  dependents(id: string): string[] {
    return this.statements.dependents.all(id) as string[];
  }

  /** How many of the task's dependencies have not succeeded. */
  unmetDependencies(id: string): number {
    return this.statements.unmetDependencies.get(id) as number;
  }

  insertAttempt(taskId: string, attempt: number, agentId: string, now: number): void {
    this.statements.insertAttempt.run(taskId, attempt, agentId, iso(now));
  }

  endAttempt(taskId: string, attempt: number, outcome: string, reason: string, durationMs: number | null, now: number): void {
    this.statements.endAttempt.run({ taskId, attempt, endedAt: iso(now), outcome, reason, durationMs });
  }

  lastAttemptOf(taskId: string, agentId: string): AttemptRow | undefined {
    return this.statements.lastAttemptOf.get(taskId, agentId) as AttemptRow | undefined;
  }

  /** The agent an affinity names: the holder of a task, or the last holder of a task in a thread. */
  holderOf(taskId: string): string | null {
    return (this.statements.holderOf.get(taskId) as string | null | undefined) ?? null;
  }

  lastHolderInThread(threadId: string): string | null {
    return (this.statements.lastHolderInThread.get(threadId) as string | null | undefined) ?? null;
  }

  /**
   * One conditional UPDATE of a task's state (and fields; undefined ones are left alone). It takes the row only in
   * state `from` (and, for a held task, with the same holder and attempt); `strict` throws when it does not.
   */
  update(task: TaskRef, from: TaskState, to: TaskState, fields: TaskFields, now: number, strict = true, endedElsewhere = false): boolean {
    // A copy of a task another hub gave out and ended (cluster/tasks.ts) ends from ready or pending here.
    if (!TASK_TRANSITIONS[from].includes(to) && from !== to && !(endedElsewhere && isFinalTaskState(to))) throw new Error(`illegal task transition ${from} -> ${to}`);
    const columns: string[] = [];
    const params: unknown[] = [to, iso(now)];
    for (const column in fields) {
      const value = fields[column as keyof TaskRow];
      if (value === undefined) continue;
      columns.push(column);
      params.push(value);
    }
    const held = (HELD_TASK_STATES as readonly TaskState[]).includes(from);
    // By rowid (seq): no lookup in the index of ids first.
    params.push(task.row.seq, from);
    if (held) params.push(task.holderId, task.attempt);
    const key = `${held ? 'held' : 'open'}:${columns.join(',')}`;
    let statement = this.updates.get(key);
    if (!statement) {
      const sql = `UPDATE tasks SET state = ?, updated_at = ?${columns.map((column) => `, ${column} = ?`).join('')}
        WHERE seq = ? AND state = ?${held ? ' AND holder_id = ? AND attempt = ?' : ''}`;
      this.updates.set(key, (statement = this.db.prepare<unknown[]>(sql)));
    }
    const changed = statement.run(...params).changes === 1;
    if (!changed && strict) throw taskError('lease_lost', `task ${task.id} changed meanwhile (it is no longer ${from} for this holder and attempt)`);
    return changed;
  }

  /** Tasks, newest first (the listing's filters). */
  list(query: z.output<typeof TaskQuery>): TaskRow[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.project !== undefined) {
      where.push('project = ?');
      params.push(query.project);
    }
    if (query.state !== undefined) {
      where.push('state = ?');
      params.push(query.state);
    }
    const sql = `SELECT * FROM tasks ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`;
    return this.prepared(sql).all(...params, query.limit) as TaskRow[];
  }

  /** The tasks an agent holds, or was the last to hold, newest first. */
  ofAgent(agentId: string, state: TaskState | undefined, limit: number): TaskRow[] {
    const sql = `SELECT * FROM tasks WHERE holder_id = ? ${state ? 'AND state = ?' : ''} ORDER BY seq DESC LIMIT ?`;
    return this.prepared(sql).all(...(state ? [agentId, state] : [agentId]), limit) as TaskRow[];
  }

  private prepared(sql: string): Database.Statement<unknown[]> {
    let statement = this.cache.get(sql);
    if (!statement) {
      statement = this.db.prepare<unknown[]>(sql);
      this.cache.set(sql, statement);
    }
    return statement;
  }
}
