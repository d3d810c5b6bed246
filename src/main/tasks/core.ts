/**
 * What the task service's parts share: the database and rows, the in-memory mirror of open tasks, the agents taking
 * pushed work and their records, the socket sender, and the one way the mirror follows a commit (reread), which also
 * tells the transition listeners and asks for a dispatch pass.
 */
import type { ServerFrame } from '../../shared/agent-protocol';
import type { TaskAffinity, TaskState } from '../../shared/task-protocol';
import type { AgentRecord, AgentRegistry } from '../agents/registry';
import type { SqliteDatabase } from '../db/database';
import { emptyStats, type AgentRecordStats } from './dispatcher';
import { OpenTasks, type OpenTask } from './open-tasks';
import { TaskStore, type TaskRow } from './store';
import { transitionOf, TransitionFeed, type TaskTransition } from './transitions';

/** Who acts: an agent (its token), or the person at the cockpit. */
export type TaskCaller = { kind: 'agent'; agent: AgentRecord } | { kind: 'cockpit' };

export interface TaskServiceOptions {
  dataDir: string;
  /** Inputs and results whose JSON is larger go to files, as message bodies do. */
  bodyFileBytes: number;
  sweepMs?: number;
  /** Told how long each dispatch pass took, ms, and how many tasks it assigned. */
  observeDispatch?: (ms: number, assigned: number) => void;
}

export class TaskCore {
  readonly store: TaskStore;
  readonly open: OpenTasks;
  /** Agents taking pushed tasks, and how many at once (`tasks.ready` on their socket). */
  readonly slots = new Map<string, number>();
  private readonly stats = new Map<string, AgentRecordStats>();
  readonly transitions = new TransitionFeed((error) => console.error('task transition listener failed:', error));
  readonly startedAt = Date.now();
  send: (agentId: string, frame: ServerFrame) => boolean = () => false;
  /** Asks for a dispatch pass on the next turn (set by the service once the dispatcher exists). */
  kick: () => void = () => undefined;
  closed = false;

  constructor(
    readonly db: SqliteDatabase,
    readonly registry: AgentRegistry,
    readonly options: TaskServiceOptions,
  ) {
    this.store = new TaskStore(db, options.dataDir);
    this.open = new OpenTasks((affinity: TaskAffinity) =>
      'taskId' in affinity ? this.store.holderOf(affinity.taskId) : this.store.lastHolderInThread(affinity.threadId),
    );
    for (const record of this.store.records()) {
      this.stats.set(record.agentId, { ended: record.ended, succeeded: record.succeeded, succeededMs: record.succeededMs, lastAssignedAt: 0 });
    }
    for (const row of this.store.openRows()) this.open.mirror(row);
  }

  /**
   * Re-reads tasks after a commit, so the mirror follows the rows; tells the transition listeners of each change of
   * state (`progress` names a task whose report is told even if its state stayed); then lets the dispatcher look.
   * Returns the rows.
   */
  reread(ids: string[], kick = true, progress?: string): Map<string, TaskRow> {
    const rows = new Map<string, TaskRow>();
    const told: TaskTransition[] = [];
    const now = Date.now();
    for (const id of ids) {
      const row = this.store.row(id);
      if (!row) continue;
      const before = this.open.get(id);
      const from: TaskState | null = before ? before.state : null;
      this.open.mirror(row);
      rows.set(id, row);
      if (!this.transitions.wanted) continue;
      if (id === progress) told.push(transitionOf(from === row.state ? 'progress' : 'state', from, row, now));
      else if (from === null) told.push(transitionOf('created', null, row, now));
      else if (from !== row.state) told.push(transitionOf('state', from, row, now));
    }
    this.transitions.tell(told);
    if (kick && ids.length > 0) this.kick();
    return rows;
  }

  statsOf(agentId: string): AgentRecordStats {
    let stats = this.stats.get(agentId);
    if (!stats) this.stats.set(agentId, (stats = emptyStats()));
    return stats;
  }

  /** Records the end of a held attempt (inside a transaction) and counts it in its holder's record. */
  endAttempt(task: OpenTask, outcome: string, reason: string, now: number): void {
    if (task.holderId === null || task.attempt === 0) return;
    const durationMs = task.heldSince === null ? null : now - task.heldSince;
    this.store.endAttempt(task.id, task.attempt, outcome, reason, durationMs, now);
    const stats = this.statsOf(task.holderId);
    stats.ended++;
    if (outcome === 'succeeded') {
      stats.succeeded++;
      stats.succeededMs += durationMs ?? 0;
    }
  }

  /** How long the agent has not been heard from, ms: 0 with an open socket; revoked or unknown, forever. */
  silenceOf(agentId: string, now: number): number {
    const agent = this.registry.find(agentId);
    if (!agent || agent.revokedAt) return Number.POSITIVE_INFINITY;
    if (agent.connections > 0) return 0;
    // After a restart, holders get a lease's span to come back.
    return now - Math.max(agent.lastSeen ?? 0, this.startedAt);
  }
}
