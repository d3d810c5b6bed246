/**
 * The rows of running workflows in hub.sqlite (migration 10): runs, their steps, the task-backed items of each step
 * and the link from every task a run created to its item. Prepared statements only; the engine decides, inside its
 * transactions, what to write. Reads of the task table are limited to joins by task id (the timeline, recovery).
 */
import type Database from 'better-sqlite3';
import type { StepRunState, WorkflowState } from '../../shared/workflow-run-protocol';
import type { StepKind } from '../../shared/workflow-protocol';
import type { SqliteDatabase } from '../db/database';

export type RunRow = {
  seq: number;
  id: string;
  name: string;
  project: string;
  state: WorkflowState;
  created_by: string;
  definition: string;
  plan: string;
  idempotency_key: string | null;
  error: string | null;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
};

export type StepRow = {
  run_id: string;
  step_id: string;
  kind: StepKind;
  state: StepRunState;
  items_total: number;
  items_started: number;
  items_succeeded: number;
  items_failed: number;
  items_cancelled: number;
  output: string | null;
  outcomes: string | null;
  approval: string | null;
  error: string | null;
  started_at: string | null;
  finished_at: string | null;
};

export type ItemState = 'queued' | 'active' | 'succeeded' | 'failed' | 'cancelled';
export type ItemRow = { run_id: string; step_id: string; idx: number; item: string | null; state: ItemState; task_id: string | null };

/** One task of a run as the timeline shows it (a join of workflow_tasks and tasks). */
export type TimelineRow = {
  task_id: string;
  step_id: string;
  idx: number;
  state: string;
  attempt: number;
  holder_id: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
};

const OPEN_TASK_STATES = "('pending', 'ready', 'assigned', 'running')";
const FINAL_TASK_STATES = "('succeeded', 'failed', 'cancelled', 'timed_out')";

export class RunStore {
  private readonly s;
  private readonly dynamic = new Map<string, Database.Statement<unknown[]>>();

  constructor(private readonly db: SqliteDatabase) {
    this.s = {
      insertRun: db.prepare(
        `INSERT INTO workflow_runs (id, name, project, state, created_by, definition, plan, idempotency_key, created_at, updated_at)
         VALUES (@id, @name, @project, 'running', @createdBy, @definition, @plan, @idempotencyKey, @now, @now)`,
      ),
      run: db.prepare('SELECT * FROM workflow_runs WHERE id = ?'),
      runByKey: db.prepare('SELECT * FROM workflow_runs WHERE created_by = ? AND idempotency_key = ?'),
      setRunState: db.prepare('UPDATE workflow_runs SET state = @state, error = @error, updated_at = @now, finished_at = @finishedAt WHERE id = @id'),
      touchRun: db.prepare('UPDATE workflow_runs SET updated_at = ? WHERE id = ?'),
      insertStep: db.prepare("INSERT INTO workflow_steps (run_id, step_id, kind, state) VALUES (?, ?, ?, 'waiting')"),
      steps: db.prepare('SELECT * FROM workflow_steps WHERE run_id = ?'),
      step: db.prepare('SELECT * FROM workflow_steps WHERE run_id = ? AND step_id = ?'),
      stepStates: db.prepare('SELECT state, count(*) AS n FROM workflow_steps WHERE run_id = ? GROUP BY state'),
      outputs: db.prepare("SELECT step_id, output FROM workflow_steps WHERE run_id = ? AND state = 'succeeded'"),
      openApprovals: db.prepare(
        "SELECT s.run_id, s.step_id, s.approval FROM workflow_runs r JOIN workflow_steps s ON s.run_id = r.id WHERE r.state = 'running' AND s.state = 'awaiting_approval'",
      ),
      insertItem: db.prepare('INSERT INTO workflow_items (run_id, step_id, idx, item, state, task_id) VALUES (?, ?, ?, ?, ?, ?)'),
      item: db.prepare('SELECT * FROM workflow_items WHERE run_id = ? AND step_id = ? AND idx = ?'),
      items: db.prepare('SELECT * FROM workflow_items WHERE run_id = ? AND step_id = ? ORDER BY idx'),
      // INDEXED BY: without statistics SQLite would walk the step's items in key order, O(items) per call.
      queued: db.prepare("SELECT * FROM workflow_items INDEXED BY workflow_items_queued WHERE run_id = ? AND step_id = ? AND state = 'queued' ORDER BY idx LIMIT ?"),
      activeItemsOfStep: db.prepare("SELECT * FROM workflow_items INDEXED BY workflow_items_queued WHERE run_id = ? AND step_id = ? AND state = 'active'"),
      firstActiveItem: db.prepare("SELECT * FROM workflow_items INDEXED BY workflow_items_queued WHERE run_id = ? AND step_id = ? AND state = 'active' ORDER BY idx LIMIT 1"),
      startItem: db.prepare("UPDATE workflow_items SET state = 'active', task_id = ? WHERE run_id = ? AND step_id = ? AND idx = ?"),
      endItem: db.prepare("UPDATE workflow_items SET state = ? WHERE run_id = ? AND step_id = ? AND idx = ? AND state = 'active' AND task_id = ?"),
      cancelStepItems: db.prepare("UPDATE workflow_items INDEXED BY workflow_items_queued SET state = 'cancelled' WHERE run_id = ? AND step_id = ? AND state IN ('active', 'queued')"),
      requeueItems: db.prepare("UPDATE workflow_items INDEXED BY workflow_items_queued SET state = 'queued' WHERE run_id = ? AND step_id = ? AND state IN ('failed', 'cancelled')"),
      link: db.prepare('INSERT INTO workflow_tasks (task_id, run_id, step_id, idx) VALUES (?, ?, ?, ?)'),
      linkOf: db.prepare('SELECT * FROM workflow_tasks WHERE task_id = ?'),
      timeline: db.prepare(
        `SELECT w.task_id, w.step_id, w.idx, t.state, t.attempt, t.holder_id, t.created_at, t.started_at, t.finished_at
         FROM workflow_tasks w JOIN tasks t ON t.id = w.task_id WHERE w.run_id = ? ORDER BY t.seq`,
      ),
      holders: db.prepare(
        `SELECT w.step_id, a.agent_id FROM workflow_tasks w JOIN task_attempts a ON a.task_id = w.task_id
         WHERE w.run_id = ? ORDER BY a.assigned_at, a.task_id, a.attempt`,
      ),
      /** Active items whose task has ended: a crash came between the task's commit and the engine's. */
      unsettled: db.prepare(
        `SELECT i.* FROM workflow_items i JOIN tasks t ON t.id = i.task_id WHERE i.state = 'active' AND t.state IN ${FINAL_TASK_STATES}`,
      ),
      /** Open tasks no active item holds any more (the run or step ended, the item was cancelled): to cancel. */
      orphans: db.prepare(
        `SELECT t.id FROM tasks t JOIN workflow_tasks w ON w.task_id = t.id
         LEFT JOIN workflow_items i ON i.run_id = w.run_id AND i.step_id = w.step_id AND i.idx = w.idx
         WHERE t.state IN ${OPEN_TASK_STATES} AND (i.state IS NOT 'active' OR i.task_id IS NOT t.id)`,
      ).pluck(),
    };
  }

  insertRun(row: { id: string; name: string; project: string; createdBy: string; definition: string; plan: string; idempotencyKey: string | null; now: string }): void {
    this.s.insertRun.run(row);
  }
  run(id: string): RunRow | undefined {
    return this.s.run.get(id) as RunRow | undefined;
  }
  runByKey(createdBy: string, key: string): RunRow | undefined {
    return this.s.runByKey.get(createdBy, key) as RunRow | undefined;
  }
  setRunState(id: string, state: WorkflowState, error: string | null, now: string): void {
    this.s.setRunState.run({ id, state, error, now, finishedAt: state === 'running' ? null : now });
  }
  touchRun(id: string, now: string): void {
    this.s.touchRun.run(now, id);
  }
  listRuns(query: { project?: string; state?: WorkflowState; limit: number }): RunRow[] {
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
    const sql = `SELECT * FROM workflow_runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`;
    return this.prepared(sql).all(...params, query.limit) as RunRow[];
  }

  insertStep(runId: string, stepId: string, kind: StepKind): void {
    this.s.insertStep.run(runId, stepId, kind);
  }
  steps(runId: string): StepRow[] {
    return this.s.steps.all(runId) as StepRow[];
  }
  step(runId: string, stepId: string): StepRow | undefined {
    return this.s.step.get(runId, stepId) as StepRow | undefined;
  }
  stepStates(runId: string): Map<StepRunState, number> {
    return new Map((this.s.stepStates.all(runId) as { state: StepRunState; n: number }[]).map((r) => [r.state, r.n]));
  }
  outputs(runId: string): { step_id: string; output: string }[] {
    return this.s.outputs.all(runId) as { step_id: string; output: string }[];
  }
  openApprovals(): { run_id: string; step_id: string; approval: string }[] {
    return this.s.openApprovals.all() as { run_id: string; step_id: string; approval: string }[];
  }
  /** Sets a step's columns (undefined ones are left alone); `from` makes it conditional on the state it leaves. */
  updateStep(runId: string, stepId: string, fields: Partial<Omit<StepRow, 'run_id' | 'step_id' | 'kind'>>, from?: readonly StepRunState[]): boolean {
    const set = Object.entries(fields).filter(([, v]) => v !== undefined);
    if (set.length === 0) return true;
    const sql = `UPDATE workflow_steps SET ${set.map(([c]) => `${c} = ?`).join(', ')} WHERE run_id = ? AND step_id = ?${from ? ` AND state IN (${from.map(() => '?').join(', ')})` : ''}`;
    return this.prepared(sql).run(...set.map(([, v]) => v), runId, stepId, ...(from ?? [])).changes === 1;
  }
  /** Adds to a step's item counters. */
  countItems(runId: string, stepId: string, counts: { started?: number; succeeded?: number; failed?: number; cancelled?: number }): void {
    const sql = `UPDATE workflow_steps SET items_started = items_started + ?, items_succeeded = items_succeeded + ?, items_failed = items_failed + ?,
      items_cancelled = items_cancelled + ? WHERE run_id = ? AND step_id = ?`;
    this.prepared(sql).run(counts.started ?? 0, counts.succeeded ?? 0, counts.failed ?? 0, counts.cancelled ?? 0, runId, stepId);
  }

  insertItem(runId: string, stepId: string, idx: number, item: string | null, state: ItemState, taskId: string | null): void {
    this.s.insertItem.run(runId, stepId, idx, item, state, taskId);
  }
  item(runId: string, stepId: string, idx: number): ItemRow | undefined {
    return this.s.item.get(runId, stepId, idx) as ItemRow | undefined;
  }
  items(runId: string, stepId: string): ItemRow[] {
    return this.s.items.all(runId, stepId) as ItemRow[];
  }
  queued(runId: string, stepId: string, limit: number): ItemRow[] {
    return this.s.queued.all(runId, stepId, limit) as ItemRow[];
  }
  activeItems(runId: string, stepId: string): ItemRow[] {
    return this.s.activeItemsOfStep.all(runId, stepId) as ItemRow[];
  }
  firstActiveItem(runId: string, stepId: string): ItemRow | undefined {
    return this.s.firstActiveItem.get(runId, stepId) as ItemRow | undefined;
  }
  startItem(runId: string, stepId: string, idx: number, taskId: string): void {
    this.s.startItem.run(taskId, runId, stepId, idx);
    this.s.link.run(taskId, runId, stepId, idx);
  }
  /** Ends an item's current task; false when the item is no longer active with that task (someone got there first). */
  endItem(item: ItemRow, state: Exclude<ItemState, 'queued' | 'active'>): boolean {
    return this.s.endItem.run(state, item.run_id, item.step_id, item.idx, item.task_id).changes === 1;
  }
  cancelItems(runId: string, stepId: string): void {
    this.s.cancelStepItems.run(runId, stepId);
  }
  requeueItems(runId: string, stepId: string): number {
    return this.s.requeueItems.run(runId, stepId).changes;
  }
  linkOf(taskId: string): { task_id: string; run_id: string; step_id: string; idx: number } | undefined {
    return this.s.linkOf.get(taskId) as { task_id: string; run_id: string; step_id: string; idx: number } | undefined;
  }
  timeline(runId: string): TimelineRow[] {
    return this.s.timeline.all(runId) as TimelineRow[];
  }
  /** Who held the run's tasks, every attempt, in the order they were assigned. */
  holders(runId: string): { step_id: string; agent_id: string }[] {
    return this.s.holders.all(runId) as { step_id: string; agent_id: string }[];
  }
  unsettled(): ItemRow[] {
    return this.s.unsettled.all() as ItemRow[];
  }
  orphans(): string[] {
    return this.s.orphans.all() as string[];
  }

  private prepared(sql: string): Database.Statement<unknown[]> {
    let statement = this.dynamic.get(sql);
    if (!statement) {
      statement = this.db.prepare<unknown[]>(sql);
      this.dynamic.set(sql, statement);
    }
    return statement;
  }
}
