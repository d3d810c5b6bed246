/**
 * What the task service's parts share, and how their changes are committed. Group commit: the changes asked for in
 * one turn of the event loop (creates, completions; then the dispatch pass they make possible) run in one SQLite
 * transaction, each in its own savepoint so one refused change does not undo the others; only after the COMMIT are
 * the callers answered, the transition listeners told and the offers sent. A change asked for synchronously (claim,
 * progress, fail, cancel, the sweep) commits at once, together with whatever was queued before it, in call order.
 *
 * The mirror of open tasks follows the rows without reading them back: each conditional UPDATE's columns are applied
 * to the task's row in memory once its savepoint succeeded. If a COMMIT itself fails, nothing of its batch is
 * answered as done and the mirror is read again from the rows.
 */
import type { ServerFrame } from '../../shared/agent-protocol';
import { isFinalTaskState, type TaskAffinity, type TaskState, type TaskSubtasks } from '../../shared/task-protocol';
import type { AgentRecord, AgentRegistry } from '../agents/registry';
import type { SqliteDatabase } from '../db/database';
import { agentFits, emptyStats, type AgentRecordStats } from './dispatcher';
import { isHeldState, OpenTasks, type OpenTask } from './open-tasks';
import { TaskStore, type NewTaskRow, type TaskFields, type TaskRow } from './store';
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

/** Changes committed in one transaction at most (the rest follow on the next turn). */
const MAX_GROUP = 500;

interface Queued {
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** What one change (its savepoint) does to memory once it succeeded, and after the COMMIT. */
interface Journal {
  applies: Array<() => void>;
  effects: Array<() => void>;
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
  /** The dispatch pass, run inside a group commit (set by the service). Returns whether it wants another. */
  dispatchPass: () => boolean = () => false;
  /** Told after each group commit: pulls waiting for work try their claim then. */
  afterPass: () => void = () => undefined;
  /** Told when the tasks an agent holds, or its record, changed (the dispatcher re-ranks it). */
  agentChanged: (agentId: string) => void = () => undefined;
  /** Whether a held task keeps its lease however long its holder is silent: it waits for its subtasks (subtasks.ts). */
  leaseKept: (taskId: string, now: number) => boolean = () => false;
  /**
   * Told inside the change (its savepoint) when a task ends, after its row was updated: a split whose last subtask
   * this is stores its aggregate in the same transaction (subtasks.ts).
   */
  taskEnding: (task: OpenTask, now: number) => void = () => undefined;
  /** Whether this hub may give the task out now: in a cluster, only while it holds the task's claim (cluster/tasks.ts). */
  mayAssign: (task: OpenTask) => boolean = () => true;
  /** In a cluster, why this hub's ready copy of a task waits when another hub gives it out (null: it does not). */
  heldElsewhere: (taskId: string) => string | null = () => null;
  /**
   * In a cluster, the agent a copy of another hub's task prefers, as that hub resolved its affinity (undefined: resolved
   * here, from this hub's rows).
   */
  sharedPreference: (taskId: string) => string | null | undefined = () => undefined;
  /** In a cluster, the agent of another hub holding a task this hub's copy of which waits (null: none known). */
  holderElsewhere: (taskId: string) => string | null = () => null;
  /** Whether this hub lost its claim on a task it gives out in a cluster: its holder's lease then ends (leases.ts). */
  claimLost: (taskId: string, now: number) => boolean = () => false;
  /** A task's last split into subtasks, for its full view (subtasks.ts). */
  subtasksOf: (taskId: string) => TaskSubtasks | null = () => null;
  closed = false;
  /** Commits so far; what was worked out from the state after one holds until the next. */
  commits = 0;
  /** Why ready tasks of each needs wait, as of a commit (task-view.ts). */
  readonly waitingReasons = new Map<string, { commit: number; reason: string }>();

  /** Runs its argument in a transaction (a savepoint inside one): made once, as wrapping costs more than a change. */
  private readonly inTransaction: (run: () => unknown) => unknown;
  private queue: Queued[] = [];
  private scheduled = false;
  private dispatchWanted = false;
  /** The change being run, while one is. */
  private journal: Journal | null = null;
  /** Transitions and effects of the batch being committed, in order. */
  private told: TaskTransition[] = [];
  private effects: Array<() => void> = [];
  /** While a commit's listeners are told and its frames sent: the frames of commits they made meanwhile. */
  private following: Array<() => void> | null = null;

  constructor(
    readonly db: SqliteDatabase,
    readonly registry: AgentRegistry,
    readonly options: TaskServiceOptions,
  ) {
    this.inTransaction = db.transaction((run: () => unknown) => run());
    this.store = new TaskStore(db, options.dataDir);
    this.open = new OpenTasks(
      (affinity: TaskAffinity, task) => {
        // A copy of another hub's task prefers whom that hub resolved; a task named here may be held on another hub.
        let agentId = this.sharedPreference(task.id);
        if (agentId === undefined) {
          agentId = 'taskId' in affinity ? (this.holderElsewhere(affinity.taskId) ?? this.store.holderOf(affinity.taskId)) : this.store.lastHolderInThread(affinity.threadId);
        }
        // An agent that lacks the task's tier or capabilities is no one to wait for: the task goes to the best other.
        const agent = agentId === null ? undefined : this.registry.find(agentId);
        return agent && agentFits(agent, task) ? agentId : null;
      },
      (agentId) => this.agentChanged(agentId),
    );
    this.load();
  }

  // --- Committing ---------------------------------------------------------------------------------------------------

  /**
   * Runs `change` in the next group commit; resolves with its answer once committed, or rejects with its refusal.
   * `committed` is called with the answer right after the COMMIT, before the commit's offers are sent: an answer
   * written to an agent's socket there leaves in the same write as the offers to it.
   */
  later<T>(change: () => T, committed?: (value: T) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.closed) throw new Error('the task service is closed');
      const done = (value: unknown) => {
        try {
          committed?.(value as T);
        } finally {
          resolve(value as T);
        }
      };
      this.queue.push({ run: change, resolve: done, reject });
      this.schedule();
    });
  }

  /** Runs what is queued and then `change`, in one transaction, now; returns its answer once committed. */
  now<T>(change: () => T): T {
    let outcome: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
    this.commit(
      [{ run: change, resolve: (value) => (outcome = { ok: true, value: value as T }), reject: (error) => (outcome = { ok: false, error }) }],
      false,
    );
    if (!outcome!.ok) throw outcome!.error;
    return outcome!.value;
  }

  /** Asks for a dispatch pass in the next group commit. */
  wantDispatch(): void {
    this.dispatchWanted = true;
    this.schedule();
  }

  /** Commits what is queued (at close). */
  drain(): void {
    if (this.queue.length > 0 && this.db.open) this.commit([], false);
    for (const queued of this.queue.splice(0)) queued.reject(new Error('the task service is closed'));
  }

  private schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.closed || !this.db.open) return;
      this.commit([], true);
      this.afterPass();
    });
  }

  private commit(extra: Queued[], withDispatch: boolean): void {
    // A long queue is committed in slices, so no one turn holds the event loop long.
    const batch = this.queue.length === 0 ? extra : [...this.queue.splice(0, MAX_GROUP), ...extra];
    const dispatch = withDispatch && this.dispatchWanted;
    if (dispatch) this.dispatchWanted = false;
    if (batch.length === 0 && !dispatch) return;
    const outcomes: Array<{ ok: boolean; value: unknown }> = [];
    this.told = [];
    this.effects = [];
    let again = false;
    try {
      this.inTransaction(() => {
        for (const queued of batch) outcomes.push(this.attempt(queued.run));
        if (dispatch) {
          const pass = this.attempt(() => this.dispatchPass());
          again = pass.ok && pass.value === true;
        }
      });
    } catch (error) {
      // The COMMIT itself failed: none of it is stored, so none of it is answered as done.
      this.load();
      for (const queued of batch) queued.reject(error);
      return;
    }
    this.commits++;
    const told = this.told;
    const effects = this.effects;
    batch.forEach((queued, i) => (outcomes[i]!.ok ? queued.resolve(outcomes[i]!.value) : queued.reject(outcomes[i]!.value)));
    this.follow(told, effects);
    if (again) this.dispatchWanted = true;
    if (this.dispatchWanted || this.queue.length > 0) this.schedule();
  }

  /**
   * After a COMMIT: tells the listeners, then sends the frames. A listener that commits a change of its own (cancels a
   * task just offered) has its frames sent after these, so an agent never hears of a cancel before the offer.
   */
  private follow(told: TaskTransition[], effects: Array<() => void>): void {
    if (this.following) {
      this.following.push(...effects);
      this.transitions.tell(told);
      return;
    }
    const following: Array<() => void> = [];
    this.following = following;
    try {
      this.transitions.tell(told);
      for (const effect of effects) effect();
      for (let next = following.shift(); next; next = following.shift()) next();
    } finally {
      this.following = null;
    }
  }

  /** One change in its savepoint: applied to memory if it succeeded, forgotten (rolled back) if it threw. */
  private attempt(run: () => unknown): { ok: boolean; value: unknown } {
    const journal: Journal = { applies: [], effects: [] };
    this.journal = journal;
    try {
      // Inside the commit's transaction, better-sqlite3 makes this a savepoint.
      const value = this.inTransaction(run);
      this.journal = null;
      for (const apply of journal.applies) apply();
      this.effects.push(...journal.effects);
      return { ok: true, value };
    } catch (error) {
      this.journal = null;
      return { ok: false, value: error };
    }
  }

  private record(): Journal {
    if (!this.journal) throw new Error('a task change ran outside a commit');
    return this.journal;
  }

  // --- Changes (inside a commit) ------------------------------------------------------------------------------------

  /** Inserts a new task; the mirror takes it once its change succeeded. Returns its row. */
  insert(task: NewTaskRow, dependsOn: string[]): TaskRow {
    const journal = this.record();
    const row = this.store.insert(task, dependsOn);
    journal.applies.push(() => {
      this.open.mirror(row);
      if (row.state === 'ready') this.dispatchWanted = true;
      if (this.transitions.wanted) this.told.push(transitionOf('created', null, row, Date.now()));
    });
    return row;
  }

  /**
   * One conditional state change (store.update): the row only in state `from` (and, held, the same holder and
   * attempt). `strict` throws lease_lost when it was not; otherwise returns false. `progress` tells listeners of a
   * progress report even if the state stays. `endedElsewhere`: a copy of a task that another hub of the cluster gave
   * out ends as it ended there, from whatever open state it has here.
   */
  change(task: OpenTask, from: TaskState, to: TaskState, fields: TaskFields, now: number, strict = true, progress = false, endedElsewhere = false): boolean {
    const journal = this.record();
    if (!this.store.update(task, from, to, fields, now, strict, endedElsewhere)) return false;
    if (isFinalTaskState(to)) this.taskEnding(task, now);
    const row = task.row;
    journal.applies.push(() => {
      const before = row.state;
      this.open.apply(row, to, fields, now);
      if (to === 'ready' || (isHeldState(before) && !isHeldState(to))) this.dispatchWanted = true;
      if (this.transitions.wanted && (before !== to || progress)) this.told.push(transitionOf(before === to ? 'progress' : 'state', before, row, now));
    });
    return true;
  }

  /** Records an attempt's start (inside a commit); its holder was last given work now. */
  startAttempt(task: OpenTask, agentId: string, now: number): void {
    const journal = this.record();
    this.store.insertAttempt(task.id, task.attempt + 1, agentId, now);
    journal.applies.push(() => {
      this.statsOf(agentId).lastAssignedAt = now;
    });
  }

  /** Records the end of a held attempt (inside a commit) and counts it in its holder's record. */
  endAttempt(task: OpenTask, outcome: string, reason: string, now: number): void {
    const journal = this.record();
    const holderId = task.holderId;
    if (holderId === null || task.attempt === 0) return;
    const durationMs = task.heldSince === null ? null : now - task.heldSince;
    this.store.endAttempt(task.id, task.attempt, outcome, reason, durationMs, now);
    journal.applies.push(() => {
      const stats = this.statsOf(holderId);
      stats.ended++;
      if (outcome === 'succeeded') {
        stats.succeeded++;
        stats.succeededMs += durationMs ?? 0;
      }
    });
  }

  /**
   * Takes tasks another part of the hub inserted in its own transaction (the workflow engine), once that committed:
   * mirrored from their rows, told to the listeners as created, and looked at by the next dispatch pass.
   */
  adopt(ids: string[]): void {
    const told: TaskTransition[] = [];
    for (const id of ids) {
      const row = this.store.row(id);
      if (!row || this.open.get(id)) continue;
      this.open.mirror(row);
      if (this.transitions.wanted) told.push(transitionOf('created', null, row, Date.now()));
    }
    this.transitions.tell(told);
    this.wantDispatch();
  }

  /** Runs `apply` on memory once the change asking for it succeeded (before the COMMIT's listeners are told). */
  whenApplied(apply: () => void): void {
    this.record().applies.push(apply);
  }

  /** Runs `effect` after the COMMIT, if the change asking for it succeeded (frames to agents). */
  afterCommit(effect: () => void): void {
    this.record().effects.push(effect);
  }

  // --- Shared reads -------------------------------------------------------------------------------------------------

  statsOf(agentId: string): AgentRecordStats {
    let stats = this.stats.get(agentId);
    if (!stats) this.stats.set(agentId, (stats = emptyStats()));
    return stats;
  }

  /** How long the agent has not been heard from, ms: 0 with an open socket; revoked or unknown, forever. */
  silenceOf(agentId: string, now: number): number {
    const agent = this.registry.find(agentId);
    if (!agent || agent.revokedAt) return Number.POSITIVE_INFINITY;
    if (agent.connections > 0) return 0;
    // After a restart, holders get a lease's span to come back.
    return now - Math.max(agent.lastSeen ?? 0, this.startedAt);
  }

  /** Reads the open tasks and the agents' records from the rows (at start, and after a failed COMMIT). */
  private load(): void {
    this.open.clear();
    const lastAssigned = new Map([...this.stats].map(([id, stats]) => [id, stats.lastAssignedAt]));
    this.stats.clear();
    for (const record of this.store.records()) {
      this.stats.set(record.agentId, { ended: record.ended, succeeded: record.succeeded, succeededMs: record.succeededMs, lastAssignedAt: lastAssigned.get(record.agentId) ?? 0 });
    }
    // Oldest ready first, so each priority's queue is built in the order it is served.
    const rows = this.store.openRows().sort((a, b) => (a.ready_since ?? a.created_at).localeCompare(b.ready_since ?? b.created_at));
    for (const row of rows) this.open.mirror(row);
    this.dispatchWanted = true;
  }
}
