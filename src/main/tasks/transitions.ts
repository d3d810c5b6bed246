/**
 * Task transitions as other parts of the hub observe them (the workflow engine, the cockpit): one event per change of
 * a task's state, and one per progress report, delivered in commit order after the transaction that made it committed.
 */
import type { TaskError, TaskState } from '../../shared/task-protocol';
import type { TaskRow } from './store';

export interface TaskTransition {
  /** created: a new task (from null, to pending or ready); state: its state changed; progress: its holder reported. */
  kind: 'created' | 'state' | 'progress';
  taskId: string;
  project: string;
  workflowId: string | null;
  stepId: string | null;
  parentTaskId: string | null;
  /** The state before; null for a created task. For progress, the state it was in (assigned or running). */
  from: TaskState | null;
  to: TaskState;
  /** The attempt (0 before the first assignment) and the holder (the last holder once it ended). */
  attempt: number;
  holderId: string | null;
  /** Why it failed, was cancelled or timed out, or why its last attempt ended before a retry. */
  error: TaskError | null;
  /** When it committed, ms since the epoch. */
  at: number;
}

export type TransitionListener = (transition: TaskTransition) => void;

export function transitionOf(kind: TaskTransition['kind'], from: TaskState | null, row: TaskRow, at: number): TaskTransition {
  return {
    kind,
    taskId: row.id,
    project: row.project,
    workflowId: row.workflow_id,
    stepId: row.step_id,
    parentTaskId: row.parent_task_id,
    from,
    to: row.state,
    attempt: row.attempt,
    holderId: row.holder_id,
    error: row.error === null ? null : (JSON.parse(row.error) as TaskError),
    at,
  };
}

/**
 * Listeners and the queue they are told from. A listener that changes tasks itself (cancels one, say) queues its
 * events behind the ones being told, so every listener sees every task's transitions in commit order.
 */
export class TransitionFeed {
  private readonly listeners = new Set<TransitionListener>();
  private readonly queue: TaskTransition[] = [];
  private telling = false;

  constructor(private readonly onListenerError: (error: unknown) => void) {}

  listen(listener: TransitionListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get wanted(): boolean {
    return this.listeners.size > 0;
  }

  tell(transitions: TaskTransition[]): void {
    if (this.listeners.size === 0 || transitions.length === 0) return;
    this.queue.push(...transitions);
    if (this.telling) return;
    this.telling = true;
    try {
      for (let next = this.queue.shift(); next; next = this.queue.shift()) {
        for (const listener of this.listeners) {
          try {
            listener(next);
          } catch (error) {
            // A listener's failure is its own: the transition is committed and the others still hear of it.
            this.onListenerError(error);
          }
        }
      }
    } finally {
      this.telling = false;
    }
  }
}
