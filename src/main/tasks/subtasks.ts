/**
 * Decomposition at run time: the holder of a task splits it into subtasks (dependencies among them by key), all
 * created in one transaction with the split's row. The task stays running and held; its lease does not lapse while
 * the subtasks run (the holder may wait in silence; the timeout still counts), and for one lease span after they
 * end. When the last subtask ends, the aggregator (the fan-in's: collect, merge, concat, majority, first-success)
 * combines their outcomes and the split's row stores the aggregate, in the transaction that ends that subtask (so a
 * crash cannot fall between the two); after its COMMIT the holder is sent `task.subtasks`; GET of the task shows it. If the task itself ends first (completed, failed, cancelled, its lease lost), the split is abandoned
 * and its open subtasks are cancelled.
 */
import type { z } from 'zod';
import type { SplitTaskRequest } from '../../shared/subtask-protocol';
import { isFinalTaskState, type CreateTaskRequest, type Task, type TaskError, type TaskResult, type TaskSubtasks, type TaskState } from '../../shared/task-protocol';
import type { Aggregate, Outcome } from '../../shared/workflow-protocol';
import type { AgentRecord } from '../agents/registry';
import { badRequest, conflict } from '../errors';
import { ulidGenerator } from '../ids';
import { aggregate } from '../workflows/aggregate';
import type { TaskCore } from './core';
import type { TaskLifecycle } from './lifecycle';
import { isHeldState } from './open-tasks';
import { iso, newTaskRow, type TaskRow } from './store';
import { taskView } from './task-view';
import type { TaskTransition } from './transitions';

interface SplitRow {
  seq: number;
  parent_id: string;
  attempt: number;
  holder_id: string;
  aggregate: string;
  items: string;
  state: TaskSubtasks['state'];
  result: string | null;
  error: string | null;
  created_at: string;
  finished_at: string | null;
}

interface OpenSplit {
  seq: number;
  parentId: string;
  holderId: string;
  aggregate: Aggregate;
  items: Array<{ key: string; taskId: string }>;
}

export class TaskSplits {
  private readonly newId = ulidGenerator();
  /** Splits whose subtasks have not all ended, by parent task. */
  private readonly running = new Map<string, OpenSplit>();
  /** Subtask -> its parent, for the running splits. */
  private readonly parentOf = new Map<string, string>();
  /** Tasks ever split (their full view reads the last split); loaded at start. */
  private readonly split = new Set<string>();
  /** Parents whose split ended: the holder has a lease span from then before silence counts. */
  private readonly graceUntil = new Map<string, number>();
  private offTransitions: (() => void) | undefined;
  private readonly statements;

  constructor(
    private readonly core: TaskCore,
    private readonly lifecycle: TaskLifecycle,
  ) {
    const { db } = core;
    this.statements = {
      insert: db.prepare(
        `INSERT INTO task_splits (parent_id, attempt, holder_id, aggregate, items, state, created_at)
         VALUES (?, ?, ?, ?, ?, 'running', ?)`,
      ),
      finish: db.prepare("UPDATE task_splits SET state = ?, result = ?, error = ?, finished_at = ? WHERE seq = ? AND state = 'running'"),
      last: db.prepare('SELECT * FROM task_splits WHERE parent_id = ? ORDER BY seq DESC LIMIT 1'),
      running: db.prepare("SELECT * FROM task_splits WHERE state = 'running' ORDER BY seq"),
      parents: db.prepare('SELECT DISTINCT parent_id FROM task_splits').pluck(),
    };
    for (const id of this.statements.parents.all() as string[]) this.split.add(id);
    for (const row of this.statements.running.all() as SplitRow[]) this.track(this.openOf(row));
    core.leaseKept = (taskId, now) => this.running.has(taskId) || this.inGrace(taskId, now);
    core.taskEnding = (task, now) => {
      const parentId = this.parentOf.get(task.id);
      const open = parentId === undefined ? undefined : this.running.get(parentId);
      if (open) this.settleInCommit(open, now);
    };
    core.subtasksOf = (taskId) => (this.split.has(taskId) ? this.view(taskId) : null);
    // Ended while the hub was down (a crash between the last subtask's end and the split's): settled now.
    for (const open of [...this.running.values()]) this.settle(open);
  }

  /** The holder splits its task: the subtasks are created, and the task waits for them. Answers the task. */
  async splitTask(agent: AgentRecord, parentId: string, request: z.output<typeof SplitTaskRequest>): Promise<Task> {
    const { core } = this;
    this.lifecycle.holding(agent, parentId);
    const open = this.running.get(parentId);
    if (open) throw conflict(`task ${parentId} already waits for its ${open.items.length} subtasks; split again once they have ended`);
    if (request.aggregate.use === 'task') {
      throw badRequest('invalid split: aggregate `task` is for workflows; a split gives its results back to you: use collect, merge, concat, majority or first-success');
    }
    const ordered = orderByDependencies(request.subtasks);
    const ids = new Map(ordered.map((spec) => [spec.key, this.newId()]));
    const creates = ordered.map((spec) => {
      const { key, dependsOn, ...fields } = spec;
      const task: z.output<typeof CreateTaskRequest> = {
        ...fields,
        dependsOn: dependsOn.map((dep) => ids.get(dep) ?? dep),
        parentTaskId: parentId,
      };
      const external: z.output<typeof CreateTaskRequest> = { ...task, dependsOn: dependsOn.filter((dep) => !ids.has(dep)) };
      return { key, id: ids.get(key)!, task, external };
    });
    const project = agent.project;
    const check = () => {
      const problems: string[] = [];
      for (const { key, external } of creates) {
        try {
          this.lifecycle.checkReferences(project, external);
        } catch (error) {
          problems.push(`subtask ${key}: ${(error as Error).message.replace(/^invalid task: /, '')}`);
        }
      }
      if (problems.length > 0) throw badRequest(`invalid split: ${problems.join('; ')}`);
    };
    check();

    const inputs = creates.map(({ id, task }) => {
      const json = task.input === undefined ? null : JSON.stringify(task.input);
      return { id, json, external: json !== null && Buffer.byteLength(json) > core.options.bodyFileBytes };
    });
    const written: Array<{ id: string; bytes: number }> = [];
    const items = creates.map(({ key, id }) => ({ key, taskId: id }));
    let parentRow: TaskRow;
    try {
      for (const input of inputs) {
        if (!input.external) continue;
        const bytes = Buffer.from(input.json!);
        await core.store.inputs.write(input.id, bytes);
        written.push({ id: input.id, bytes: bytes.length });
      }
      const committed = await core.later(() => {
        // Checked again when it commits: the lease, or a dependency, may have changed meanwhile.
        const parent = this.lifecycle.holding(agent, parentId);
        if (this.running.has(parentId)) throw conflict(`task ${parentId} already waits for its subtasks`);
        check();
        const now = Date.now();
        creates.forEach(({ id, task }, i) => {
          const unmet = task.dependsOn.filter((dep) => core.open.get(dep) !== undefined || core.store.row(dep)?.state !== 'succeeded');
          const state: TaskState = unmet.length === 0 ? 'ready' : 'pending';
          core.insert(
            newTaskRow({ id, project, request: task, createdBy: agent.id, state, inputJson: inputs[i]!.json, inputExternal: inputs[i]!.external, now }),
            [...new Set(task.dependsOn)],
          );
        });
        const note = `waiting for ${creates.length} subtask${creates.length === 1 ? '' : 's'}`;
        core.change(parent, parent.state, 'running', {
          progress: JSON.stringify({ percent: null, note, at: iso(now) }),
          started_at: parent.state === 'assigned' ? iso(now) : undefined,
        }, now, true, true);
        const seq = Number(this.statements.insert.run(parentId, parent.attempt, agent.id, JSON.stringify(request.aggregate), JSON.stringify(items), iso(now)).lastInsertRowid);
        return { row: parent.row, seq };
      });
      parentRow = committed.row;
      this.split.add(parentId);
      this.graceUntil.delete(parentId);
      this.track({ seq: committed.seq, parentId, holderId: agent.id, aggregate: request.aggregate, items });
    } catch (error) {
      for (const { id, bytes } of written) core.store.inputs.discard(id, bytes);
      throw error;
    }
    return taskView(core, parentRow, true);
  }

  /** Within a lease span after its split ended; forgotten once past. */
  private inGrace(taskId: string, now: number): boolean {
    const until = this.graceUntil.get(taskId);
    if (until === undefined) return false;
    if (until > now) return true;
    this.graceUntil.delete(taskId);
    return false;
  }

  /** The last split of a task, as its view shows it. */
  view(parentId: string): TaskSubtasks | null {
    const row = this.statements.last.get(parentId) as SplitRow | undefined;
    if (!row) return null;
    const items = JSON.parse(row.items) as Array<{ key: string; taskId: string }>;
    return {
      state: row.state,
      aggregate: JSON.parse(row.aggregate) as TaskSubtasks['aggregate'],
      items: items.map(({ key, taskId }) => {
        const task = this.core.store.row(taskId);
        return { key, taskId, title: task?.title ?? '', state: task?.state ?? 'cancelled' };
      }),
      result: row.result === null ? null : JSON.parse(row.result),
      error: row.error,
      createdAt: row.created_at,
      finishedAt: row.finished_at,
    };
  }

  private openOf(row: SplitRow): OpenSplit {
    return {
      seq: row.seq,
      parentId: row.parent_id,
      holderId: row.holder_id,
      aggregate: JSON.parse(row.aggregate) as Aggregate,
      items: JSON.parse(row.items) as Array<{ key: string; taskId: string }>,
    };
  }

  private track(open: OpenSplit): void {
    this.running.set(open.parentId, open);
    for (const { taskId } of open.items) this.parentOf.set(taskId, open.parentId);
    // Listening only while a split runs: transitions cost nothing when nobody listens.
    this.offTransitions ??= this.core.transitions.listen((transition) => this.onTransition(transition));
  }

  private untrack(open: OpenSplit): void {
    this.running.delete(open.parentId);
    for (const { taskId } of open.items) this.parentOf.delete(taskId);
    if (this.running.size === 0 && this.offTransitions) {
      this.offTransitions();
      this.offTransitions = undefined;
    }
  }

  private onTransition(transition: TaskTransition): void {
    if (transition.kind !== 'state') return;
    const parentOfIt = this.parentOf.get(transition.taskId);
    if (parentOfIt !== undefined && isFinalTaskState(transition.to)) {
      const open = this.running.get(parentOfIt);
      if (open) this.settle(open);
    }
    const asParent = this.running.get(transition.taskId);
    if (asParent && !isHeldState(transition.to)) this.abandon(asParent, transition.to, transition.error);
  }

  /**
   * Inside the change that ended one of the split's subtasks: if that was the last, the aggregate is stored in the
   * same transaction, the split is forgotten once the change succeeded, and the holder is told after the COMMIT. A
   * parent no longer held is left to onTransition, which abandons the split once that commit is told.
   */
  private settleInCommit(open: OpenSplit, now: number): void {
    const { core } = this;
    const parent = core.store.row(open.parentId);
    if (!parent || !isHeldState(parent.state) || parent.holder_id !== open.holderId) return;
    // The rows as this transaction sees them: the subtask that just ended, and any ended before it in this commit.
    const rows = open.items.map(({ taskId }) => core.store.row(taskId));
    if (rows.some((row) => !row || !isFinalTaskState(row.state))) return;
    const combined = aggregate(open.aggregate, open.items.map(({ key }, i) => outcomeOf(core, key, rows[i]!)));
    const state: TaskSubtasks['state'] = combined.ok ? 'succeeded' : 'failed';
    const stored = this.statements.finish.run(state, combined.ok ? JSON.stringify(combined.value ?? null) : null, combined.ok ? null : combined.error, iso(now), open.seq);
    if (stored.changes !== 1) return;
    core.whenApplied(() => {
      this.untrack(open);
      this.graceUntil.set(open.parentId, now + parent.lease_seconds * 1000);
    });
    core.afterCommit(() => {
      const subtasks = this.view(open.parentId);
      if (subtasks) core.send(open.holderId, { type: 'task.subtasks', taskId: open.parentId, subtasks });
    });
  }

  /**
   * Every subtask ended, as read after their commits (at start: a split a crash left running under an older hub,
   * which stored the aggregate after that commit): the aggregate is stored and the holder told. A parent no longer
   * held abandons instead.
   */
  private settle(open: OpenSplit): void {
    const { core } = this;
    const parent = core.store.row(open.parentId);
    if (!parent || !isHeldState(parent.state) || parent.holder_id !== open.holderId) {
      this.abandon(open, parent?.state ?? 'cancelled', null);
      return;
    }
    const rows = open.items.map(({ taskId }) => core.store.row(taskId));
    if (rows.some((row) => !row || !isFinalTaskState(row.state))) return;
    const outcomes: Outcome[] = open.items.map(({ key }, i) => outcomeOf(core, key, rows[i]!));
    const combined = aggregate(open.aggregate, outcomes);
    const now = Date.now();
    const state: TaskSubtasks['state'] = combined.ok ? 'succeeded' : 'failed';
    this.statements.finish.run(state, combined.ok ? JSON.stringify(combined.value ?? null) : null, combined.ok ? null : combined.error, iso(now), open.seq);
    this.untrack(open);
    this.graceUntil.set(open.parentId, now + parent.lease_seconds * 1000);
    const subtasks = this.view(open.parentId)!;
    core.send(open.holderId, { type: 'task.subtasks', taskId: open.parentId, subtasks });
  }

  /** The task ended (or left its holder) before its subtasks: the split is abandoned and its open subtasks cancelled. */
  private abandon(open: OpenSplit, parentState: TaskState, error: TaskError | null): void {
    const why = `its parent task ${open.parentId} ended ${parentState}${error ? ` (${error.code}: ${error.message})` : ''} before its subtasks`;
    this.statements.finish.run('abandoned', null, why, iso(Date.now()), open.seq);
    this.untrack(open);
    for (const { taskId } of open.items) {
      if (!this.core.open.get(taskId)) continue;
      this.lifecycle.cancel({ kind: 'cockpit' }, taskId, why, 'the hub');
    }
  }
}

/** A subtask's outcome for the aggregator: its result (JSON, else text, else null) or its error. */
function outcomeOf(core: TaskCore, key: string, row: TaskRow): Outcome {
  const finishedAt = row.finished_at === null ? undefined : Date.parse(row.finished_at);
  if (row.state !== 'succeeded') {
    const error = row.error === null ? null : (JSON.parse(row.error) as TaskError);
    return { source: key, ok: false, error: error ? `${row.state}: ${error.message}` : row.state, finishedAt };
  }
  const result = taskView(core, row, true).result as TaskResult | null;
  return { source: key, ok: true, value: result?.json ?? result?.text ?? null, finishedAt };
}

/**
 * The subtasks in an order where each comes after those it depends on (by key); a key named twice, a dependency on
 * itself or a circle among them is a 400 naming the keys. Other `dependsOn` entries are task ids (checked as for a
 * task's create).
 */
function orderByDependencies<T extends { key: string; dependsOn: string[] }>(specs: T[]): T[] {
  const byKey = new Map<string, T>();
  for (const spec of specs) {
    if (byKey.has(spec.key)) throw badRequest(`invalid split: two subtasks have the key ${spec.key}`);
    byKey.set(spec.key, spec);
  }
  for (const spec of specs) if (spec.dependsOn.includes(spec.key)) throw badRequest(`invalid split: subtask ${spec.key} depends on itself`);
  const ordered: T[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (spec: T, path: string[]): void => {
    const seen = state.get(spec.key);
    if (seen === 'done') return;
    if (seen === 'visiting') {
      const circle = [...path.slice(path.indexOf(spec.key)), spec.key];
      throw badRequest(`invalid split: subtasks depend on each other in a circle: ${circle.join(' -> ')}`);
    }
    state.set(spec.key, 'visiting');
    for (const dep of spec.dependsOn) {
      const next = byKey.get(dep);
      if (next) visit(next, [...path, spec.key]);
    }
    state.set(spec.key, 'done');
    ordered.push(spec);
  };
  for (const spec of specs) visit(spec, []);
  return ordered;
}

