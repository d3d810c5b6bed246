/**
 * The open tasks (pending, ready, assigned, running) mirrored in memory from their rows: the ready index by needs that
 * the dispatcher reads, and the tasks each agent holds, which the sweep and the load balancing count.
 */
import { HELD_TASK_STATES, isFinalTaskState, type TaskAffinity, type TaskBackoff, type TaskState } from '../../shared/task-protocol';
import type { ReadyTask } from './dispatcher';
import { ms, type TaskRow } from './store';

/** An open task as the dispatcher and the sweep see it. */
export interface OpenTask extends ReadyTask {
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
}

export const isHeldState = (state: TaskState): boolean => (HELD_TASK_STATES as readonly TaskState[]).includes(state);

/** Group key of the ready index: tasks with the same needs are matched against agents once per dispatch pass. */
export function needsKey(task: Pick<ReadyTask, 'project' | 'tier' | 'capabilities' | 'assignee'>): string {
  return `${task.project}\u0000${task.tier ?? ''}\u0000${[...task.capabilities].sort().join(',')}\u0000${task.assignee ?? ''}`;
}

export class OpenTasks {
  private readonly open = new Map<string, OpenTask>();
  /** Ready tasks by needs (needsKey): the dispatcher's index. */
  readonly readyGroups = new Map<string, Map<string, OpenTask>>();
  private readonly heldBy = new Map<string, Set<string>>();

  /** `preferredAgent` resolves a task's affinity to an agent when the task becomes ready. */
  constructor(private readonly preferredAgent: (affinity: TaskAffinity) => string | null) {}

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

  /** Follows a row read after a commit: a final task leaves the mirror, an open one is (re)indexed. */
  mirror(row: TaskRow): void {
    const previous = this.open.get(row.id);
    if (previous) {
      if (previous.state === 'ready') this.unindexReady(previous);
      if (previous.holderId !== null) this.heldBy.get(previous.holderId)?.delete(previous.id);
    }
    if (isFinalTaskState(row.state)) {
      this.open.delete(row.id);
      return;
    }
    const affinity = row.affinity === null ? null : (JSON.parse(row.affinity) as TaskAffinity);
    const task: OpenTask = {
      id: row.id,
      project: row.project,
      capabilities: JSON.parse(row.capabilities) as string[],
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
      backoff: JSON.parse(row.backoff) as TaskBackoff,
      notBefore: ms(row.not_before),
      createdBy: row.created_by,
    };
    this.open.set(task.id, task);
    if (task.state === 'ready') {
      // The affinity's agent, looked up when the task becomes ready (the task it names may have run since creation).
      if (affinity) task.preferredAgent = this.preferredAgent(affinity);
      const key = needsKey(task);
      let group = this.readyGroups.get(key);
      if (!group) this.readyGroups.set(key, (group = new Map()));
      group.set(task.id, task);
    }
    if (task.holderId !== null && isHeldState(task.state)) {
      let held = this.heldBy.get(task.holderId);
      if (!held) this.heldBy.set(task.holderId, (held = new Set()));
      held.add(task.id);
    }
  }

  private unindexReady(task: OpenTask): void {
    const key = needsKey(task);
    const group = this.readyGroups.get(key);
    group?.delete(task.id);
    if (group?.size === 0) this.readyGroups.delete(key);
  }
}
