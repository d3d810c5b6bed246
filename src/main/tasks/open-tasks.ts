/**
 * The open tasks (pending, ready, assigned, running) mirrored in memory: each with its row as committed (kept equal
 * to SQLite's by applying the same changes the UPDATEs made, once their transaction succeeded), the ready index by
 * needs that the dispatcher reads, the tasks each agent holds, and the pending tasks waiting on each task.
 */
import { HELD_TASK_STATES, isFinalTaskState, type TaskAffinity, type TaskBackoff, type TaskState } from '../../shared/task-protocol';
import type { ReadyTask } from './dispatcher';
import { ReadyGroup } from './ready-queue';
import { iso, ms, type TaskFields, type TaskRow } from './store';

/** An open task as the dispatcher and the sweep see it. */
export interface OpenTask extends ReadyTask {
  /** Its row as committed; the same object until the task ends. */
  row: TaskRow;
  state: TaskState;
  attempt: number;
  maxAttempts: number;
  holderId: string | null;
  heldSince: number | null;
  timeoutSeconds: number;
  leaseSeconds: number;
  backoff: TaskBackoff;
  notBefore: number | null;
  createdBy: string;
  dependsOn: string[];
  /** Its needsKey, the group it is ready in. */
  needs: string;
}

export const isHeldState = (state: TaskState): boolean => (HELD_TASK_STATES as readonly TaskState[]).includes(state);

/** Group key of the ready index: tasks with the same needs are matched against agents together. */
export function needsKey(task: Pick<ReadyTask, 'project' | 'tier' | 'capabilities' | 'assignee'>): string {
  return `${task.project}\u0000${task.tier ?? ''}\u0000${[...task.capabilities].sort().join(',')}\u0000${task.assignee ?? ''}`;
}

export class OpenTasks {
  private readonly open = new Map<string, OpenTask>();
  /** Ready tasks by needs (needsKey): the dispatcher's index. */
  readonly readyGroups = new Map<string, ReadyGroup<OpenTask>>();
  private readonly heldBy = new Map<string, Set<string>>();
  /** Pending tasks by each task they depend on: who may become ready (or fail) when it ends. */
  private readonly waiters = new Map<string, Set<string>>();

  /**
   * `preferredAgent` resolves a task's affinity to an agent when the task becomes ready (null when that agent could not
   * take it anyway); `heldChanged` hears when the number of tasks an agent holds changed.
   */
  constructor(
    private readonly preferredAgent: (affinity: TaskAffinity, task: OpenTask) => string | null,
    private readonly heldChanged: (agentId: string) => void,
  ) {}

  get(id: string): OpenTask | undefined {
    return this.open.get(id);
  }

  values(): IterableIterator<OpenTask> {
    return this.open.values();
  }

  /** How many tasks the agent holds (assigned or running). */
  heldCount(agentId: string): number {
    return this.heldBy.get(agentId)?.size ?? 0;
  }

  readyCount(): number {
    let count = 0;
    for (const group of this.readyGroups.values()) count += group.size;
    return count;
  }

  /** Whether pending tasks wait on this one. */
  hasWaiters(id: string): boolean {
    return (this.waiters.get(id)?.size ?? 0) > 0;
  }

  /** Forgets everything (before reading the open rows again). */
  clear(): void {
    this.open.clear();
    this.readyGroups.clear();
    this.heldBy.clear();
    this.waiters.clear();
  }

  /** Applies a committed change to the task's row, then re-indexes it (a final task leaves the mirror). */
  apply(row: TaskRow, to: TaskState, fields: TaskFields, now: number): void {
    const target = row as Record<string, unknown>;
    for (const key in fields) {
      const value = fields[key as keyof TaskRow];
      if (value !== undefined) target[key] = value;
    }
    row.state = to;
    row.updated_at = iso(now);
    this.mirror(row);
  }

  /** Takes a row as committed (a new task, or one read at start): indexes it, or drops it once final. */
  mirror(row: TaskRow): void {
    const previous = this.open.get(row.id);
    if (previous) {
      if (previous.state === 'ready') this.unindexReady(previous);
      if (previous.holderId !== null && isHeldState(previous.state)) this.release(previous.holderId, previous.id);
      if (previous.state === 'pending') for (const dep of previous.dependsOn) this.unwait(dep, previous.id);
    }
    if (isFinalTaskState(row.state)) {
      this.open.delete(row.id);
      return;
    }
    const task: OpenTask = {
      row,
      id: row.id,
      project: row.project,
      // Fixed at creation: parsed once.
      capabilities: previous?.capabilities ?? (JSON.parse(row.capabilities) as string[]),
      backoff: previous?.backoff ?? (JSON.parse(row.backoff) as TaskBackoff),
      dependsOn: previous?.dependsOn ?? (JSON.parse(row.depends_on) as string[]),
      needs: '',
      tier: row.tier,
      priority: row.priority,
      assignee: row.assignee,
      preferredAgent: previous?.preferredAgent ?? null,
      readySince: ms(row.ready_since) ?? ms(row.created_at)!,
      state: row.state,
      attempt: row.attempt,
      maxAttempts: row.max_attempts,
      holderId: row.holder_id,
      heldSince: ms(row.held_since),
      timeoutSeconds: row.timeout_seconds,
      leaseSeconds: row.lease_seconds,
      notBefore: ms(row.not_before),
      createdBy: row.created_by,
    };
    task.needs = previous?.needs ?? needsKey(task);
    this.open.set(task.id, task);
    if (task.state === 'ready') {
      // The affinity's agent, looked up when the task becomes ready (the task it names may have run since creation).
      if (row.affinity !== null && previous?.state !== 'ready') task.preferredAgent = this.preferredAgent(JSON.parse(row.affinity) as TaskAffinity, task);
      let group = this.readyGroups.get(task.needs);
      if (!group) this.readyGroups.set(task.needs, (group = new ReadyGroup<OpenTask>()));
      group.add(task);
    }
    if (task.holderId !== null && isHeldState(task.state)) {
      let held = this.heldBy.get(task.holderId);
      if (!held) this.heldBy.set(task.holderId, (held = new Set()));
      held.add(task.id);
      this.heldChanged(task.holderId);
    }
    if (task.state === 'pending') {
      for (const dep of task.dependsOn) {
        let waiting = this.waiters.get(dep);
        if (!waiting) this.waiters.set(dep, (waiting = new Set()));
        waiting.add(task.id);
      }
    }
  }

  private release(agentId: string, taskId: string): void {
    const held = this.heldBy.get(agentId);
    if (!held?.delete(taskId)) return;
    if (held.size === 0) this.heldBy.delete(agentId);
    this.heldChanged(agentId);
  }

  private unwait(dep: string, taskId: string): void {
    const waiting = this.waiters.get(dep);
    waiting?.delete(taskId);
    if (waiting?.size === 0) this.waiters.delete(dep);
  }

  private unindexReady(task: OpenTask): void {
    const group = this.readyGroups.get(task.needs);
    group?.delete(task);
    if (group?.size === 0) this.readyGroups.delete(task.needs);
  }
}
