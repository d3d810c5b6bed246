/**
 * Tasks handed to agents under a lease: the service the routes, the realtime gateway and the MCP tools call. It puts
 * together the parts, one file per area:
 *   store.ts       the rows, the conditional state UPDATE, attempts, listings, large input and result files
 *   open-tasks.ts  the open tasks mirrored in memory: the ready index by needs, the tasks each agent holds
 *   ready-queue.ts the ready tasks of one set of needs in order of urgency (a queue per priority)
 *   core.ts        what the parts share, and the group commit: changes, their savepoints, what follows a COMMIT
 *   lifecycle.ts   create, progress, complete, fail, cancel, the end of an attempt, dependencies
 *   assignment.ts  the dispatch pass (push) and claim-next (pull)
 *   leases.ts      the sweep of lapsed leases, timeouts and finished backoffs
 *   subtasks.ts    a holder's split of its task into subtasks, and their aggregate given back to it
 *   task-view.ts   the task as callers see it, and why it waits
 *   transitions.ts the transition events other parts of the hub listen to
 *   dispatcher.ts  the load-balancing choices
 *
 * SQLite is the truth: every change of state is one UPDATE conditional on the state (and, for a holder's report, the
 * holder and attempt) it leaves, committed in one transaction with its effects (the attempt's record, dependents made
 * ready or failed). The changes of one turn of the event loop share one transaction (group commit, core.ts); callers
 * are answered, offers sent and listeners told only after its COMMIT. Open tasks are mirrored in memory, their rows
 * kept equal to SQLite's by applying each committed UPDATE's columns.
 *
 * Dependencies: a task is pending until every task it depends on has succeeded, then ready. When one of them ends
 * failed, cancelled or timed out, the pending tasks that depend on it (and theirs, transitively) end failed with
 * error code dependency_failed, in the same transaction.
 *
 * Leases: a holder keeps a task while it is heard from: an open realtime socket, or any authenticated request within
 * the task's leaseSeconds (after a hub restart, counted from the restart). When the lease lapses, or the attempt runs
 * past timeoutSeconds, the attempt ends (lease_lost / timed_out), the holder is told if it can hear, and the task is
 * retried after its backoff while attempts remain; otherwise it ends failed (lease lost) or timed_out. A report from
 * a former holder is refused with lease_lost and the reason.
 */
import type { z } from 'zod';
import type { ServerFrame } from '../../shared/agent-protocol';
import type {
  ClaimNextRequest,
  ClaimNextResponse,
  CompleteTaskRequest,
  CreateTaskRequest,
  FailTaskRequest,
  Task,
  TaskError,
  TaskProgressRequest,
  TaskAffinity,
  TaskQuery,
  TaskState,
} from '../../shared/task-protocol';
import { isFinalTaskState } from '../../shared/task-protocol';
import type { SplitTaskRequest } from '../../shared/subtask-protocol';
import type { AgentRecord, AgentRegistry } from '../agents/registry';
import type { SqliteDatabase } from '../db/database';
import { TaskAssignment } from './assignment';
import { TaskCore, type TaskCaller, type TaskServiceOptions } from './core';
import { LeaseSweep } from './leases';
import { TaskLifecycle } from './lifecycle';
import { AFFINITY_WAIT_MS, agentFits, isPresent, takesPushedWork } from './dispatcher';
import { isHeldState, type OpenTask } from './open-tasks';
import { iso, newTaskRow } from './store';
import { TaskSplits } from './subtasks';
import { taskView } from './task-view';
import type { TransitionListener } from './transitions';

export { TASK_INPUT_DIR, TASK_RESULT_DIR, taskError } from './store';
export type { TaskCaller, TaskServiceOptions } from './core';
export type { TaskTransition, TransitionListener } from './transitions';

/** A task as hubs of a cluster pass it to each other (cluster/tasks.ts). */
export interface SharedTaskForm {
  id: string;
  project: string;
  createdBy: string;
  request: z.output<typeof CreateTaskRequest>;
  /** The agent its affinity prefers, as the hub that shares it resolved it (absent: none, or an older hub). */
  preferredAgent?: string | null;
}

/** An agent that pulled work this recently counts, in a cluster, as one with room for a shared task. */
const PULL_RECENT_MS = 5_000;

export class TaskService {
  private readonly core: TaskCore;
  private readonly lifecycle: TaskLifecycle;
  private readonly assignment: TaskAssignment;
  private readonly sweep: LeaseSweep;
  private readonly splits: TaskSplits;
  private readonly offAgents: () => void;

  /** When each agent last asked for its next task (a pull): in a cluster, its hub tries for work for it a while. */
  private readonly pulledAt = new Map<string, number>();

  /** Told of each task created through create(), once committed; awaited before the creator is answered. */
  private created: ((task: Task, request: z.output<typeof CreateTaskRequest>) => Promise<void>) | null = null;

  /** Called after each group commit: pulls waiting for work (MCP next_task) try their claim then. */
  private readonly passListeners = new Set<() => void>();

  constructor(db: SqliteDatabase, registry: AgentRegistry, options: TaskServiceOptions) {
    const core = (this.core = new TaskCore(db, registry, options));
    this.lifecycle = new TaskLifecycle(core);
    const assignment = (this.assignment = new TaskAssignment(core));
    core.dispatchPass = () => assignment.dispatchPass();
    this.splits = new TaskSplits(core, this.lifecycle);
    core.afterPass = () => {
      for (const listener of this.passListeners) listener();
    };
    this.sweep = new LeaseSweep(core, this.lifecycle, () => {
      // Work kept for an affinity's agent, or passed over while agents were busy, is looked at again.
      if (core.open.readyGroups.size > 0 && (core.slots.size > 0 || this.passListeners.size > 0)) core.wantDispatch();
    }, options.sweepMs);
    this.offAgents = registry.onChange((info) => {
      if (!info.connected) core.slots.delete(info.id);
      core.waitingReasons.clear();
      core.wantDispatch();
    });
  }

  /** Where pushed frames go: the realtime gateway, once it exists (it is built after this service). */
  connectSockets(send: (agentId: string, frame: ServerFrame) => boolean): void {
    this.core.send = send;
  }

  /** An agent takes up to `slots` pushed tasks at once from now on (0: none). Its socket closing forgets it. */
  setSlots(agent: AgentRecord, slots: number): void {
    if (slots === 0) this.core.slots.delete(agent.id);
    else this.core.slots.set(agent.id, slots);
    this.core.waitingReasons.clear();
    this.core.wantDispatch();
  }

  /**
   * Calls `listener` after every committed transition of any task (created, ready, assigned, running, a progress
   * report, succeeded, failed, cancelled, timed out), in commit order, with its workflow and step. Returns the
   * unsubscribe. A listener may call the service; what it changes is told after the transition at hand.
   */
  onTransition(listener: TransitionListener): () => void {
    return this.core.transitions.listen(listener);
  }

  /**
   * Calls `listener` after every dispatch pass, which runs whenever something changed (a task became ready, an agent
   * freed up or changed presence): the moment a waiting pull may find work. Returns the unsubscribe.
   */
  onDispatchPass(listener: () => void): () => void {
    this.passListeners.add(listener);
    return () => this.passListeners.delete(listener);
  }

  // --- Creating and reading -----------------------------------------------------------------------------------------

  async create(caller: TaskCaller, request: z.output<typeof CreateTaskRequest>): Promise<Task> {
    const task = await this.lifecycle.create(caller, request);
    // In a cluster, a task other hubs may take is shared before it is answered (cluster/tasks.ts).
    if (this.created) await this.created(task, request);
    return task;
  }

  /**
   * Creates tasks inside the caller's open transaction (the workflow engine starting a step); they commit or roll
   * back with it. Call settle() with the ids once it committed.
   */
  createInTransaction(caller: TaskCaller, requests: z.output<typeof CreateTaskRequest>[]): string[] {
    return this.lifecycle.createInTransaction(caller, requests);
  }

  /** Tasks created by createInTransaction, once committed: mirrored, told to listeners, offered. */
  settle(ids: string[]): void {
    this.core.adopt(ids);
  }

  /** One task with its input and result. An agent sees its own project's tasks only. */
  get(caller: TaskCaller, id: string): Task {
    return taskView(this.core, this.lifecycle.visibleRow(caller, id), true);
  }

  /** Tasks, newest first, without inputs and results. */
  list(query: z.output<typeof TaskQuery>): Task[] {
    return this.core.store.list(query).map((row) => taskView(this.core, row, false));
  }

  /** The tasks an agent holds, or was the last to hold, newest first. */
  ofAgent(agentId: string, state: TaskState | undefined, limit: number): Task[] {
    return this.core.store.ofAgent(agentId, state, limit).map((row) => taskView(this.core, row, false));
  }

  // --- The holder's side --------------------------------------------------------------------------------------------

  /** Pull: the best ready task this agent may take, now running for it; or null and why. */
  claimNext(agent: AgentRecord, request: z.output<typeof ClaimNextRequest>): ClaimNextResponse {
    this.pulledAt.set(agent.id, Date.now());
    return this.assignment.claimNext(agent, request);
  }

  /** How far the holder is; the first report starts an offered task. Keeps the lease. */
  progress(agent: AgentRecord, id: string, request: z.output<typeof TaskProgressRequest>): Task {
    return this.lifecycle.progress(agent, id, request);
  }

  /**
   * The holder's result: the task succeeded, and its dependents may become ready. Answered once committed;
   * `committed` hears the task at once after the COMMIT, before the offers that commit made are sent.
   */
  complete(agent: AgentRecord, id: string, result: z.output<typeof CompleteTaskRequest>, committed?: (task: Task) => void): Promise<Task> {
    return this.lifecycle.complete(agent, id, result, committed);
  }

  /** The holder's attempt failed: retried after the backoff while attempts remain (and retry is not false). */
  fail(agent: AgentRecord, id: string, request: z.output<typeof FailTaskRequest>): Task {
    return this.lifecycle.fail(agent, id, request);
  }

  /**
   * The holder splits its task into subtasks and waits for them (the task stays running, its lease kept); when they
   * have all ended it is sent `task.subtasks` with their aggregate, which the task's GET shows too.
   */
  split(agent: AgentRecord, id: string, request: z.output<typeof SplitTaskRequest>): Promise<Task> {
    return this.splits.splitTask(agent, id, request);
  }

  /** The creator or the cockpit ends a task that has not ended; its holder, if any, is told. */
  cancel(caller: TaskCaller, id: string, reason?: string): Task {
    return this.lifecycle.cancel(caller, id, reason);
  }

  // --- Sharing with the other hubs of a cluster (cluster/tasks.ts) -------------------------------------------------

  /**
   * Tasks shared with other hubs are given out only while this hub holds their claim (`mayAssign`), and a holder's
   * lease ends when the claim is lost (`claimLost`). `created` hears each task created here.
   */
  shareWith(shared: {
    mayAssign: (task: OpenTask) => boolean;
    claimLost: (taskId: string, now: number) => boolean;
    heldElsewhere: (taskId: string) => string | null;
    created: (task: Task, request: z.output<typeof CreateTaskRequest>) => Promise<void>;
    sharedPreference: (taskId: string) => string | null | undefined;
    holderElsewhere: (taskId: string) => string | null;
  } | null): void {
    this.core.mayAssign = shared ? shared.mayAssign : () => true;
    this.core.claimLost = shared ? shared.claimLost : () => false;
    this.core.heldElsewhere = shared ? shared.heldElsewhere : () => null;
    this.core.sharedPreference = shared ? shared.sharedPreference : () => undefined;
    this.core.holderElsewhere = shared ? shared.holderElsewhere : () => null;
    this.created = shared ? shared.created : null;
  }

  /**
   * An open task as another hub takes it in (importShared): its request as made (its dependencies met by now, which
   * the copy does not wait on), and the agent its affinity prefers, as resolved here. Undefined once it ended.
   */
  sharedForm(id: string): SharedTaskForm | undefined {
    const task = this.core.open.get(id);
    if (!task) return undefined;
    const row = task.row;
    const input = row.input_bytes === 0 ? undefined : (JSON.parse(row.input_external ? this.core.store.inputs.read(id).toString('utf8') : row.input!) as z.output<typeof CreateTaskRequest>['input']);
    const request: z.output<typeof CreateTaskRequest> = {
      title: row.title,
      instructions: row.instructions,
      input,
      project: row.project,
      capabilities: task.capabilities,
      tier: row.tier ?? undefined,
      priority: row.priority,
      timeoutSeconds: row.timeout_seconds,
      leaseSeconds: row.lease_seconds,
      maxAttempts: row.max_attempts,
      backoff: task.backoff,
      dependsOn: task.dependsOn,
      assignee: row.assignee ?? undefined,
      affinity: row.affinity === null ? undefined : (JSON.parse(row.affinity) as TaskAffinity),
      threadId: row.thread_id ?? undefined,
      parentTaskId: row.parent_task_id ?? undefined,
      workflowId: row.workflow_id ?? undefined,
      stepId: row.step_id ?? undefined,
    };
    return { id, project: row.project, createdBy: row.created_by, request, preferredAgent: task.preferredAgent };
  }

  /**
   * A task another hub shares: taken in as ready, with the same id, unless this hub has it already. The copy waits on
   * nothing (the other hub shares a task once its dependencies are met) and is no subtask or step of this hub's.
   */
  async importShared(shared: SharedTaskForm): Promise<boolean> {
    const { core } = this;
    if (core.store.row(shared.id)) return false;
    await core.later(() => {
      if (core.store.row(shared.id)) return null;
      const inputJson = shared.request.input === undefined ? null : JSON.stringify(shared.request.input);
      return core.insert(newTaskRow({ id: shared.id, project: shared.project, request: shared.request, createdBy: shared.createdBy, state: 'ready', inputJson, inputExternal: false, now: Date.now() }), []);
    });
    return true;
  }

  /**
   * A shared task that ended on another hub ends the same way here, where it was not held (a cancellation also
   * reaches a holder here, which is told), with its last holder; the tasks here that depend on it become ready or
   * fail, and a split or workflow step waiting on it moves on, as after a local end. Nothing changes if it already
   * ended here.
   */
  endShared(id: string, end: { state: TaskState; result: string | null; error: TaskError | null; holder?: string | null }): void {
    const { core } = this;
    const task = core.open.get(id);
    if (!task || !isFinalTaskState(end.state)) return;
    if (end.state === 'cancelled') {
      try {
        this.lifecycle.cancel({ kind: 'cockpit' }, id, undefined, `another hub (${end.error?.message ?? 'cancelled'})`);
      } catch {
        // It ended here meanwhile.
      }
      return;
    }
    core.now(() => {
      if (isHeldState(task.state)) return;
      const now = Date.now();
      const ended = core.change(task, task.state, end.state, {
        result: end.result,
        result_bytes: end.result === null ? 0 : Buffer.byteLength(end.result),
        result_external: 0,
        error: end.error === null ? null : JSON.stringify(end.error),
        finished_at: iso(now),
        ready_since: null,
        not_before: null,
        // Who ran it, for an affinity to that task (or its thread) here.
        holder_id: end.holder ?? undefined,
      }, now, false, false, true);
      if (ended) this.lifecycle.dependencyEnded(id, end.state, now);
    });
  }

  /** An open task's state and needs, for the cluster's claims (undefined once it ended). */
  peek(id: string): Pick<OpenTask, 'state' | 'project' | 'tier' | 'capabilities' | 'assignee' | 'holderId' | 'readySince' | 'priority' | 'preferredAgent' | 'attempt'> | undefined {
    return this.core.open.get(id);
  }

  /** The open tasks (pending, ready, assigned, running). */
  openTasks(): IterableIterator<OpenTask> {
    return this.core.open.values();
  }

  /**
   * The fewest tasks held by an agent of this hub that fits the task and has room for it: a free slot for pushed
   * work, or a pull asked in the last PULL_RECENT_MS. Null when none has, or when the task's affinity keeps it for a
   * present agent that is not of this hub.
   */
  roomFor(id: string): number | null {
    const { core } = this;
    const task = core.open.get(id);
    if (!task) return null;
    const now = Date.now();
    // While its affinity keeps the task for a present agent, only that agent counts (it may be on another hub).
    const keptFor = task.preferredAgent !== null && now - task.readySince < AFFINITY_WAIT_MS && isPresent(core.registry, task.preferredAgent) ? task.preferredAgent : null;
    let fewest: number | null = null;
    for (const agent of core.registry.all()) {
      if (agent.remote !== null || !agentFits(agent, task)) continue;
      if (keptFor !== null && agent.id !== keptFor) continue;
      const held = core.open.heldCount(agent.id);
      const slots = core.slots.get(agent.id);
      const pushed = slots !== undefined && held < slots && takesPushedWork(core.registry, agent);
      const pulling = now - (this.pulledAt.get(agent.id) ?? 0) < PULL_RECENT_MS;
      if ((pushed || pulling) && (fewest === null || held < fewest)) fewest = held;
    }
    return fewest;
  }

  /** How many more tasks this hub's agents can take now: free slots for pushed work, plus one per recent pull. */
  freeRoom(): number {
    const { core } = this;
    const now = Date.now();
    let room = 0;
    for (const [agentId, slots] of core.slots) {
      const agent = core.registry.find(agentId);
      if (agent && agent.remote === null && takesPushedWork(core.registry, agent)) room += Math.max(0, slots - core.open.heldCount(agentId));
    }
    for (const [agentId, at] of this.pulledAt) {
      if (now - at >= PULL_RECENT_MS) this.pulledAt.delete(agentId);
      else if (!core.slots.has(agentId)) room++;
    }
    return room;
  }

  /** A ready copy of a shared task takes the attempt count another hub reached, so its next attempt follows on. */
  raiseAttempt(id: string, attempt: number): void {
    const { core } = this;
    core.now(() => {
      const task = core.open.get(id);
      if (task && task.state === 'ready' && task.attempt < attempt) core.change(task, 'ready', 'ready', { attempt }, Date.now(), false);
    });
  }

  /** An agent's name, for words about where a task is (null: unknown here). */
  agentName(agentId: string): string | null {
    return this.core.registry.find(agentId)?.name ?? null;
  }

  /** Asks for a dispatch pass (a claim was won). */
  lookAgain(): void {
    this.core.wantDispatch();
  }

  close(): void {
    this.core.drain();
    this.core.closed = true;
    this.sweep.stop();
    this.offAgents();
  }
}
