/**
 * Tasks handed to agents under a lease: creation, dependencies, assignment (pushed or claimed), progress, results,
 * failures with retries, cancellation, lease and timeout expiry. SQLite is the truth: every change of state is one
 * UPDATE conditional on the state (and, for a holder's report, the holder and attempt) it leaves, committed in one
 * transaction with its effects (the attempt's record, dependents made ready or failed). Open tasks are mirrored in
 * memory, re-read from their rows after each commit, for the dispatcher and the lease sweep.
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
import path from 'node:path';
import type Database from 'better-sqlite3';
import type { z } from 'zod';
import type { ServerFrame } from '../../shared/agent-protocol';
import {
  HELD_TASK_STATES,
  isFinalTaskState,
  TASK_ERROR_CODES,
  TASK_TRANSITIONS,
  taskBackoffSeconds,
  type ClaimNextRequest,
  type ClaimNextResponse,
  type CompleteTaskRequest,
  type CreateTaskRequest,
  type FailTaskRequest,
  type Task,
  type TaskAffinity,
  type TaskBackoff,
  type TaskError,
  type TaskErrorCode,
  type TaskProgressRequest,
  type TaskQuery,
  type TaskResult,
  type TaskState,
} from '../../shared/task-protocol';
import type { AgentRecord, AgentRegistry } from '../agents/registry';
import type { SqliteDatabase } from '../db/database';
import { badRequest, forbidden, HubError, notFound } from '../errors';
import { ulidGenerator } from '../ids';
import { BodyStore } from '../messaging/body-store';
import {
  agentFits,
  byUrgency,
  chooseAgent,
  emptyStats,
  isPresent,
  takesPushedWork,
  waitingReason,
  AFFINITY_WAIT_MS,
  type AgentRecordStats,
  type Candidate,
  type ReadyTask,
} from './dispatcher';

export const TASK_INPUT_DIR = 'task-inputs';
export const TASK_RESULT_DIR = 'task-results';
const SWEEP_MS = 250;
/** Assignments committed in one transaction by one dispatch pass; the next pass follows on the next turn. */
const DISPATCH_BATCH = 256;

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

type TaskRow = {
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

type AttemptRow = { task_id: string; attempt: number; agent_id: string; assigned_at: string; ended_at: string | null; outcome: string | null; reason: string | null };

/** An open task as the dispatcher and the sweep see it. */
interface OpenTask extends ReadyTask {
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

const iso = (ms: number): string => new Date(ms).toISOString();
const ms = (text: string | null): number | null => (text === null ? null : Date.parse(text));

export function taskError(code: TaskErrorCode, message: string): HubError {
  return new HubError(code, message, TASK_ERROR_CODES[code].status);
}

/** Group key of the ready index: tasks with the same needs are matched against agents once per dispatch pass. */
function needsKey(task: Pick<ReadyTask, 'project' | 'tier' | 'capabilities' | 'assignee'>): string {
  return `${task.project}\u0000${task.tier ?? ''}\u0000${[...task.capabilities].sort().join(',')}\u0000${task.assignee ?? ''}`;
}

/**
 * The tasks in order of urgency, as slices: first the `count` most urgent (a bounded selection, O(n·log count)),
 * then, only if the caller asks for more, all the others sorted.
 */
function* mostUrgentFirst(tasks: OpenTask[], count: number, now: number): Generator<OpenTask[]> {
  const urgency = byUrgency(now);
  if (tasks.length <= count * 2) {
    yield tasks.sort(urgency);
    return;
  }
  const top: OpenTask[] = [];
  for (const task of tasks) {
    if (top.length === count && urgency(task, top[count - 1]!) >= 0) continue;
    let at = top.length;
    while (at > 0 && urgency(task, top[at - 1]!) < 0) at--;
    top.splice(at, 0, task);
    if (top.length > count) top.pop();
  }
  yield top;
  const taken = new Set(top);
  yield tasks.filter((task) => !taken.has(task)).sort(urgency);
}

export class TaskService {
  private readonly open = new Map<string, OpenTask>();
  /** Ready tasks by needs (needsKey): the dispatcher's index. */
  private readonly readyGroups = new Map<string, Map<string, OpenTask>>();
  private readonly heldBy = new Map<string, Set<string>>();
  /** Agents taking pushed tasks, and how many at once (`tasks.ready` on their socket). */
  private readonly slots = new Map<string, number>();
  private readonly stats = new Map<string, AgentRecordStats>();
  private readonly newId = ulidGenerator();
  private readonly inputs: BodyStore;
  private readonly results: BodyStore;
  private readonly startedAt = Date.now();
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly offAgents: () => void;
  /** Called after each dispatch pass: pulls waiting for work (MCP next_task) try their claim then. */
  private readonly passListeners = new Set<() => void>();
  private readonly statements;
  private readonly updates = new Map<string, Database.Statement<unknown[]>>();
  private send: (agentId: string, frame: ServerFrame) => boolean = () => false;
  private dispatchScheduled = false;
  private closed = false;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly registry: AgentRegistry,
    private readonly options: TaskServiceOptions,
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
    this.inputs = new BodyStore(path.join(options.dataDir, TASK_INPUT_DIR));
    this.results = new BodyStore(path.join(options.dataDir, TASK_RESULT_DIR));
    // Files written for a create or complete that a crash cut off before its commit are removed.
    const inputBytes = new Map((this.statements.externalInputs.all() as { id: string; input_bytes: number }[]).map((r) => [r.id, r.input_bytes]));
    this.inputs.sweep((id) => inputBytes.get(id));
    const resultBytes = new Map((this.statements.externalResults.all() as { id: string; result_bytes: number }[]).map((r) => [r.id, r.result_bytes]));
    this.results.sweep((id) => resultBytes.get(id));

    for (const record of this.statements.records.all() as ({ agentId: string } & AgentRecordStats)[]) {
      this.stats.set(record.agentId, { ended: record.ended, succeeded: record.succeeded, succeededMs: record.succeededMs, lastAssignedAt: 0 });
    }
    for (const row of this.statements.openRows.all() as TaskRow[]) this.mirror(row);

    this.sweepTimer = setInterval(() => this.sweep(), options.sweepMs ?? SWEEP_MS);
    this.sweepTimer.unref();
    this.offAgents = registry.onChange((info) => {
      if (!info.connected) this.slots.delete(info.id);
      this.kick();
    });
  }

  /** Where pushed frames go: the realtime gateway, once it exists (it is built after this service). */
  connectSockets(send: (agentId: string, frame: ServerFrame) => boolean): void {
    this.send = send;
  }

  /** An agent takes up to `slots` pushed tasks at once from now on (0: none). Its socket closing forgets it. */
  setSlots(agent: AgentRecord, slots: number): void {
    if (slots === 0) this.slots.delete(agent.id);
    else this.slots.set(agent.id, slots);
    this.kick();
  }

  // --- Creating and reading -----------------------------------------------------------------------------------------

  async create(caller: TaskCaller, request: z.output<typeof CreateTaskRequest>): Promise<Task> {
    let project: string;
    if (caller.kind === 'agent') {
      if (request.project !== undefined && request.project !== caller.agent.project) throw forbidden('an agent creates tasks in its own project only');
      project = caller.agent.project;
    } else {
      project = request.project ?? 'default';
    }
    this.checkReferences(project, request);
    const id = this.newId();
    const inputJson = request.input === undefined ? null : JSON.stringify(request.input);
    const inputBytes = inputJson === null ? 0 : Buffer.byteLength(inputJson);
    const inputExternal = inputBytes > this.options.bodyFileBytes;
    if (inputExternal) await this.inputs.write(id, Buffer.from(inputJson!));
    try {
      // Checked again after the write: a dependency may have ended meanwhile.
      this.checkReferences(project, request);
      const now = Date.now();
      this.db.transaction(() => {
        const unmet = request.dependsOn.filter((dep) => this.row(dep)?.state !== 'succeeded');
        const state: TaskState = unmet.length === 0 ? 'ready' : 'pending';
        this.statements.insert.run({
          id,
          project,
          title: request.title,
          instructions: request.instructions,
          input: inputExternal ? null : inputJson,
          inputBytes,
          inputExternal: inputExternal ? 1 : 0,
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
          createdBy: caller.kind === 'agent' ? caller.agent.id : 'cockpit',
          state,
          readySince: state === 'ready' ? iso(now) : null,
          now: iso(now),
        });
        for (const dep of request.dependsOn) this.statements.insertDependency.run(id, dep);
      })();
    } catch (error) {
      if (inputExternal) this.inputs.discard(id, inputBytes);
      throw error;
    }
    return this.view(this.reread([id]).get(id)!, true);
  }

  /** One task with its input and result. An agent sees its own project's tasks only. */
  get(caller: TaskCaller, id: string): Task {
    return this.view(this.visibleRow(caller, id), true);
  }

  /** Tasks, newest first, without inputs and results. */
  list(query: z.output<typeof TaskQuery>): Task[] {
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
    return (this.prepared(sql).all(...params, query.limit) as TaskRow[]).map((row) => this.view(row, false));
  }

  /** The tasks an agent holds, or was the last to hold, newest first. */
  ofAgent(agentId: string, state: TaskState | undefined, limit: number): Task[] {
    const sql = `SELECT * FROM tasks WHERE holder_id = ? ${state ? 'AND state = ?' : ''} ORDER BY seq DESC LIMIT ?`;
    return (this.prepared(sql).all(...(state ? [agentId, state] : [agentId]), limit) as TaskRow[]).map((row) => this.view(row, false));
  }

  // --- The holder's side --------------------------------------------------------------------------------------------

  /** Pull: the best ready task this agent may take, now running for it; or null and why. */
  claimNext(agent: AgentRecord, request: z.output<typeof ClaimNextRequest>): ClaimNextResponse {
    const now = Date.now();
    const within = request.capabilities;
    let best: OpenTask | null = null;
    const urgency = byUrgency(now);
    for (const group of this.readyGroups.values()) {
      const sample = group.values().next().value;
      if (!sample || !agentFits(agent, sample)) continue;
      if (within && !sample.capabilities.every((c) => within.includes(c))) continue;
      for (const task of group.values()) {
        // Kept a while for the agent its affinity names, while that one is present.
        if (task.preferredAgent !== null && task.preferredAgent !== agent.id && now - task.readySince < AFFINITY_WAIT_MS && isPresent(this.registry, task.preferredAgent)) continue;
        if (!best || urgency(task, best) < 0) best = task;
      }
    }
    if (!best) return { task: null, reason: this.nothingFor(agent) };
    const [taken] = this.assign([[best, agent]], 'running', now);
    if (!taken) return { task: null, reason: 'another agent took it first; ask again' };
    return { task: this.view(taken, true), reason: null };
  }

  /** How far the holder is; the first report starts an offered task. Keeps the lease. */
  progress(agent: AgentRecord, id: string, request: z.output<typeof TaskProgressRequest>): Task {
    const task = this.holding(agent, id);
    const now = Date.now();
    this.db.transaction(() => {
      this.update(task, task.state, 'running', {
        progress: JSON.stringify({ percent: request.percent ?? null, note: request.note ?? null, at: iso(now) }),
        lease_expires_at: iso(now + task.leaseSeconds * 1000),
        started_at: task.state === 'assigned' ? iso(now) : undefined,
      }, now);
    })();
    return this.view(this.reread([id]).get(id)!, false);
  }

  /** The holder's result: the task succeeded, and its dependents may become ready. */
  async complete(agent: AgentRecord, id: string, result: z.output<typeof CompleteTaskRequest>): Promise<Task> {
    if (result.json === undefined && result.text === undefined && result.refs === undefined) throw badRequest('invalid result: give json, text or refs');
    let task = this.holding(agent, id);
    const json = JSON.stringify(result);
    const bytes = Buffer.byteLength(json);
    const external = bytes > this.options.bodyFileBytes;
    if (external) await this.results.write(id, Buffer.from(json));
    let touched: string[] = [];
    try {
      // Checked again after the write: the lease may have lapsed meanwhile.
      if (external) task = this.holding(agent, id);
      const now = Date.now();
      this.db.transaction(() => {
        this.update(task, task.state, 'succeeded', {
          result: external ? null : json,
          result_bytes: bytes,
          result_external: external ? 1 : 0,
          finished_at: iso(now),
          started_at: task.state === 'assigned' ? iso(now) : undefined,
          lease_expires_at: null,
        }, now);
        this.endAttempt(task, 'succeeded', 'completed', now);
        touched = [id, ...this.readyDependents(id, now)];
      })();
    } catch (error) {
      if (external) this.results.discard(id, bytes);
      throw error;
    }
    return this.view(this.reread(touched).get(id)!, false);
  }

  /** The holder's attempt failed: retried after the backoff while attempts remain (and retry is not false). */
  fail(agent: AgentRecord, id: string, request: z.output<typeof FailTaskRequest>): Task {
    const task = this.holding(agent, id);
    const error: TaskError = { code: request.code ?? 'failed', message: request.message };
    return this.view(this.endHeld(task, 'failed', error, request.retry, Date.now()).get(id)!, false);
  }

  /** The creator or the cockpit ends a task that has not ended; its holder, if any, is told. */
  cancel(caller: TaskCaller, id: string, reason?: string): Task {
    const row = this.visibleRow(caller, id);
    if (caller.kind === 'agent' && row.created_by !== caller.agent.id) throw forbidden(`only the agent that created task ${id}, or the cockpit, may cancel it`);
    const task = this.open.get(id);
    if (!task) throw taskError('task_finished', `task ${id} already ended ${row.state}`);
    const now = Date.now();
    const message = `cancelled by ${caller.kind === 'agent' ? caller.agent.name : 'the cockpit'}${reason ? `: ${reason}` : ''}`;
    let touched: string[] = [];
    this.db.transaction(() => {
      this.update(task, task.state, 'cancelled', { finished_at: iso(now), error: JSON.stringify({ code: 'cancelled', message }), lease_expires_at: null }, now);
      if (task.holderId !== null && (HELD_TASK_STATES as readonly TaskState[]).includes(task.state)) this.endAttempt(task, 'cancelled', message, now);
      touched = [id, ...this.failDependents(id, 'cancelled', now)];
    })();
    const holder = (HELD_TASK_STATES as readonly TaskState[]).includes(task.state) ? task.holderId : null;
    const rows = this.reread(touched);
    if (holder) this.send(holder, { type: 'task.cancelled', taskId: id, state: 'cancelled', reason: message });
    return this.view(rows.get(id)!, false);
  }

  close(): void {
    this.closed = true;
    clearInterval(this.sweepTimer);
    this.offAgents();
  }

  // --- Assignment (push) --------------------------------------------------------------------------------------------

  /** Schedules a dispatch pass on the next turn of the event loop (one pass however many changes asked for it). */
  private kick(): void {
    if (this.dispatchScheduled || this.closed) return;
    this.dispatchScheduled = true;
    setImmediate(() => {
      this.dispatchScheduled = false;
      if (!this.closed && this.db.open) this.dispatch();
      for (const listener of this.passListeners) listener();
    });
  }

  /**
   * Calls `listener` after every dispatch pass, which runs whenever something changed (a task became ready, an agent
   * freed up or changed presence): the moment a waiting pull may find work. Returns the unsubscribe.
   */
  onDispatchPass(listener: () => void): () => void {
    this.passListeners.add(listener);
    return () => this.passListeners.delete(listener);
  }

  /** Offers ready work to the best agents taking pushed tasks: one batch, one transaction; the rest on the next turn. */
  private dispatch(): void {
    if (this.slots.size === 0 || this.readyGroups.size === 0) return;
    const started = performance.now();
    const now = Date.now();
    const candidates: Candidate[] = [];
    for (const [agentId, slots] of this.slots) {
      const agent = this.registry.find(agentId);
      if (!agent || !takesPushedWork(this.registry, agent)) continue;
      const held = this.heldBy.get(agentId)?.size ?? 0;
      if (held < slots) candidates.push({ agent, held, slots, stats: this.statsOf(agentId) });
    }
    if (candidates.length === 0) return;
    const tasks: OpenTask[] = [];
    for (const group of this.readyGroups.values()) {
      const sample = group.values().next().value;
      if (sample && candidates.some((c) => agentFits(c.agent, sample))) tasks.push(...group.values());
    }
    const present = (agentId: string) => isPresent(this.registry, agentId);
    const chosen: Array<[OpenTask, AgentRecord]> = [];
    const free = candidates.reduce((n, c) => n + c.slots - c.held, 0);
    // Usually a few slots are free and many tasks wait: only the most urgent few are ordered, the rest if need be.
    for (const slice of mostUrgentFirst(tasks, Math.min(DISPATCH_BATCH, free) * 4, now)) {
      for (const task of slice) {
        if (chosen.length >= DISPATCH_BATCH) break;
        const candidate = chooseAgent(task, candidates, now, present);
        if (!candidate) continue;
        candidate.held++;
        chosen.push([task, candidate.agent]);
        if (candidates.every((c) => c.held >= c.slots)) break;
      }
      if (chosen.length >= DISPATCH_BATCH || candidates.every((c) => c.held >= c.slots)) break;
    }
    const assigned = this.assign(chosen, 'assigned', now);
    for (const row of assigned) this.send(row.holder_id!, { type: 'task.offered', task: this.view(row, true) });
    this.options.observeDispatch?.(performance.now() - started, assigned.length);
    if (chosen.length >= DISPATCH_BATCH) this.kick();
  }

  /**
   * Gives each task to its agent in one transaction. The UPDATE only takes a task still ready, so a task is never
   * given twice: what another path took meanwhile is skipped. Returns the rows of the tasks given.
   */
  private assign(pairs: Array<[OpenTask, AgentRecord]>, to: 'assigned' | 'running', now: number): TaskRow[] {
    if (pairs.length === 0) return [];
    const given: string[] = [];
    this.db.transaction(() => {
      for (const [task, agent] of pairs) {
        const changed = this.update(task, 'ready', to, {
          attempt: task.attempt + 1,
          holder_id: agent.id,
          held_since: iso(now),
          lease_expires_at: iso(now + task.leaseSeconds * 1000),
          started_at: to === 'running' ? iso(now) : null,
          ready_since: null,
          not_before: null,
          progress: null,
        }, now, false);
        if (!changed) continue;
        this.statements.insertAttempt.run(task.id, task.attempt + 1, agent.id, iso(now));
        given.push(task.id);
      }
    })();
    for (const [task, agent] of pairs) if (given.includes(task.id)) this.statsOf(agent.id).lastAssignedAt = now;
    return [...this.reread(given, false).values()];
  }

  // --- Leases, timeouts, backoff ------------------------------------------------------------------------------------

  /** Ends attempts whose lease lapsed or time ran out, and readies tasks whose backoff passed. */
  private sweep(): void {
    if (this.closed || !this.db.open) return;
    const now = Date.now();
    const lapsed: Array<[OpenTask, 'lease_lost' | 'timed_out', string]> = [];
    const due: OpenTask[] = [];
    for (const task of this.open.values()) {
      if (task.state === 'pending' && task.notBefore !== null && task.notBefore <= now) due.push(task);
      if (task.holderId === null || !(HELD_TASK_STATES as readonly TaskState[]).includes(task.state)) continue;
      if (task.heldSince !== null && now - task.heldSince >= task.timeoutSeconds * 1000) {
        lapsed.push([task, 'timed_out', `attempt ${task.attempt} ran past the task's timeout of ${task.timeoutSeconds} s`]);
        continue;
      }
      const silence = this.silenceOf(task.holderId, now);
      if (silence > task.leaseSeconds * 1000) {
        const holder = this.registry.find(task.holderId);
        const why = holder?.revokedAt ? 'its holder was revoked' : `its holder ${holder?.name ?? task.holderId} was not heard from for ${Math.round(silence / 1000)} s (lease ${task.leaseSeconds} s)`;
        lapsed.push([task, 'lease_lost', why]);
      }
    }
    for (const [task, code, message] of lapsed) {
      const holder = task.holderId!;
      const row = this.endHeld(task, code, { code, message }, true, now).get(task.id)!;
      this.send(holder, { type: 'task.cancelled', taskId: task.id, state: row.state, reason: `${code}: ${message}; your result will not be taken` });
    }
    if (due.length > 0) {
      this.db.transaction(() => {
        for (const task of due) if (this.statements.unmetDependencies.get(task.id) === 0) this.update(task, 'pending', 'ready', { ready_since: iso(now), not_before: null }, now, false);
      })();
      this.reread(due.map((task) => task.id));
    }
    // Work kept for an affinity's agent, or passed over while agents were busy, is looked at again.
    if (this.readyGroups.size > 0 && (this.slots.size > 0 || this.passListeners.size > 0)) this.kick();
  }

  /** How long the agent has not been heard from, ms: 0 with an open socket; revoked or unknown, forever. */
  private silenceOf(agentId: string, now: number): number {
    const agent = this.registry.find(agentId);
    if (!agent || agent.revokedAt) return Number.POSITIVE_INFINITY;
    if (agent.connections > 0) return 0;
    // After a restart, holders get a lease's span to come back.
    return now - Math.max(agent.lastSeen ?? 0, this.startedAt);
  }

  /**
   * Ends a held attempt that did not succeed. While attempts remain (and `retry`), the task waits its backoff
   * (pending) or is ready at once; otherwise it ends: timed_out for a timeout, failed for anything else.
   */
  private endHeld(task: OpenTask, outcome: 'failed' | 'lease_lost' | 'timed_out', error: TaskError, retry: boolean, now: number): Map<string, TaskRow> {
    const again = retry && task.attempt < task.maxAttempts;
    const wait = again ? taskBackoffSeconds(task.backoff, task.attempt) * 1000 : 0;
    const to: TaskState = again ? (wait > 0 ? 'pending' : 'ready') : outcome === 'timed_out' ? 'timed_out' : 'failed';
    let touched: string[] = [];
    this.db.transaction(() => {
      this.update(task, task.state, to, {
        error: JSON.stringify(error),
        lease_expires_at: null,
        not_before: to === 'pending' ? iso(now + wait) : null,
        ready_since: to === 'ready' ? iso(now) : null,
        finished_at: isFinalTaskState(to) ? iso(now) : null,
      }, now);
      this.endAttempt(task, outcome, error.message, now);
      touched = [task.id, ...(isFinalTaskState(to) ? this.failDependents(task.id, to, now) : [])];
    })();
    return this.reread(touched);
  }

  // --- Dependencies (inside a transaction) --------------------------------------------------------------------------

  /** Pending dependents of a task that just succeeded whose every dependency has now succeeded: made ready. */
  private readyDependents(id: string, now: number): string[] {
    const readied: string[] = [];
    for (const dependent of this.statements.dependents.all(id) as string[]) {
      const task = this.open.get(dependent);
      if (!task || task.state !== 'pending' || task.notBefore !== null) continue;
      if (this.statements.unmetDependencies.get(dependent) !== 0) continue;
      this.update(task, 'pending', 'ready', { ready_since: iso(now) }, now);
      readied.push(dependent);
    }
    return readied;
  }

  /** Pending tasks that (transitively) depend on one that ended without success: they end failed. */
  private failDependents(id: string, endedAs: TaskState, now: number): string[] {
    const failed: string[] = [];
    const queue: Array<[string, TaskState]> = [[id, endedAs]];
    while (queue.length > 0) {
      const [ended, state] = queue.shift()!;
      for (const dependent of this.statements.dependents.all(ended) as string[]) {
        const task = this.open.get(dependent);
        if (!task || task.state !== 'pending' || failed.includes(dependent)) continue;
        const error: TaskError = { code: 'dependency_failed', message: `its dependency ${ended} ended ${state}` };
        this.update(task, 'pending', 'failed', { error: JSON.stringify(error), finished_at: iso(now) }, now);
        failed.push(dependent);
        queue.push([dependent, 'failed']);
      }
    }
    return failed;
  }

  // --- Rows, the mirror and views -----------------------------------------------------------------------------------

  /**
   * One conditional UPDATE of a task's state (and fields; undefined ones are left alone). It takes the row only in
   * state `from` (and, for a held task, with the same holder and attempt); `strict` throws when it does not.
   */
  private update(task: OpenTask, from: TaskState, to: TaskState, fields: Record<string, string | number | null | undefined>, now: number, strict = true): boolean {
    if (!TASK_TRANSITIONS[from].includes(to) && from !== to) throw new Error(`illegal task transition ${from} -> ${to}`);
    const set = Object.entries(fields).filter(([, value]) => value !== undefined);
    const held = (HELD_TASK_STATES as readonly TaskState[]).includes(from);
    const sql = `UPDATE tasks SET state = ?, updated_at = ?${set.map(([column]) => `, ${column} = ?`).join('')}
      WHERE id = ? AND state = ?${held ? ' AND holder_id = ? AND attempt = ?' : ''}`;
    const params = [to, iso(now), ...set.map(([, value]) => value), task.id, from, ...(held ? [task.holderId, task.attempt] : [])];
    const changed = this.prepared(sql).run(...params).changes === 1;
    if (!changed && strict) throw taskError('lease_lost', `task ${task.id} changed meanwhile (it is no longer ${from} for this holder and attempt)`);
    return changed;
  }

  private endAttempt(task: OpenTask, outcome: string, reason: string, now: number): void {
    if (task.holderId === null || task.attempt === 0) return;
    const durationMs = task.heldSince === null ? null : now - task.heldSince;
    this.statements.endAttempt.run({ taskId: task.id, attempt: task.attempt, endedAt: iso(now), outcome, reason, durationMs });
    const stats = this.statsOf(task.holderId);
    stats.ended++;
    if (outcome === 'succeeded') {
      stats.succeeded++;
      stats.succeededMs += durationMs ?? 0;
    }
  }

  private prepared(sql: string): Database.Statement<unknown[]> {
    let statement = this.updates.get(sql);
    if (!statement) {
      statement = this.db.prepare<unknown[]>(sql);
      this.updates.set(sql, statement);
    }
    return statement;
  }

  private row(id: string): TaskRow | undefined {
    return this.statements.get.get(id) as TaskRow | undefined;
  }

  /** Re-reads tasks after a commit, so the mirror follows the rows; then lets the dispatcher look. Returns the rows. */
  private reread(ids: string[], kick = true): Map<string, TaskRow> {
    const rows = new Map<string, TaskRow>();
    for (const id of ids) {
      const row = this.row(id);
      if (!row) continue;
      this.mirror(row);
      rows.set(id, row);
    }
    if (kick && ids.length > 0) this.kick();
    return rows;
  }

  private mirror(row: TaskRow): void {
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
      if (affinity) task.preferredAgent = ('taskId' in affinity ? this.statements.holderOf.get(affinity.taskId) : this.statements.lastHolderInThread.get(affinity.threadId)) as string | null ?? null;
      const key = needsKey(task);
      let group = this.readyGroups.get(key);
      if (!group) this.readyGroups.set(key, (group = new Map()));
      group.set(task.id, task);
    }
    if (task.holderId !== null && (HELD_TASK_STATES as readonly TaskState[]).includes(task.state)) {
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

  private statsOf(agentId: string): AgentRecordStats {
    let stats = this.stats.get(agentId);
    if (!stats) this.stats.set(agentId, (stats = emptyStats()));
    return stats;
  }

  /** The open task the agent holds, or the refusal that says why not: lease_lost, task_finished, not_holder. */
  private holding(agent: AgentRecord, id: string): OpenTask {
    const task = this.open.get(id);
    if (task && task.holderId === agent.id && (HELD_TASK_STATES as readonly TaskState[]).includes(task.state)) return task;
    const row = this.visibleRow({ kind: 'agent', agent }, id);
    const now = row.holder_id && row.holder_id !== agent.id ? ` and is held by ${this.registry.find(row.holder_id)?.name ?? row.holder_id} (attempt ${row.attempt})` : '';
    const last = this.statements.lastAttemptOf.get(id, agent.id) as AttemptRow | undefined;
    if (last?.outcome === 'succeeded') throw taskError('task_finished', `task ${id} already succeeded: you completed it`);
    if (last) {
      throw taskError(
        'lease_lost',
        `your lease on task ${id} (attempt ${last.attempt}) ended at ${last.ended_at}: ${last.outcome}: ${last.reason}. The task is now ${row.state}${now}; your report was not taken`,
      );
    }
    if (isFinalTaskState(row.state)) throw taskError('task_finished', `task ${id} already ended ${row.state}`);
    throw taskError('not_holder', `task ${id} is ${row.state}${now}: you never held it, and only its holder reports on it`);
  }

  private visibleRow(caller: TaskCaller, id: string): TaskRow {
    const row = this.row(id);
    // Another project's task is answered as if it did not exist.
    if (!row || (caller.kind === 'agent' && row.project !== caller.agent.project)) throw notFound(`there is no task ${id}`);
    return row;
  }

  /** Dependencies, assignee, affinity and parent must be tasks and agents of the same project (400 naming the field). */
  private checkReferences(project: string, request: z.output<typeof CreateTaskRequest>): void {
    const problems: string[] = [];
    request.dependsOn.forEach((dep, i) => {
      const row = this.row(dep);
      if (!row || row.project !== project) problems.push(`dependsOn.${i}: there is no task ${dep} in project ${project}`);
      else if (isFinalTaskState(row.state) && row.state !== 'succeeded') problems.push(`dependsOn.${i}: task ${dep} already ended ${row.state}, so this one could never run`);
    });
    if (request.assignee !== undefined) {
      const agent = this.registry.find(request.assignee);
      if (!agent || agent.project !== project) problems.push(`assignee: there is no agent ${request.assignee} in project ${project}`);
    }
    if (request.affinity && 'taskId' in request.affinity && this.row(request.affinity.taskId)?.project !== project) {
      problems.push(`affinity.taskId: there is no task ${request.affinity.taskId} in project ${project}`);
    }
    if (request.parentTaskId !== undefined && this.row(request.parentTaskId)?.project !== project) {
      problems.push(`parentTaskId: there is no task ${request.parentTaskId} in project ${project}`);
    }
    if (problems.length > 0) throw badRequest(`invalid task: ${problems.join('; ')}`);
  }

  /** Why the agent's claim found nothing. */
  private nothingFor(agent: AgentRecord): string {
    let other = 0;
    for (const group of this.readyGroups.values()) other += group.size;
    if (other === 0) return `no task is ready in any project`;
    return `none of the ${other} ready tasks fits ${agent.name} (project ${agent.project}, tier ${agent.tier}, capabilities ${agent.capabilities.join(', ') || 'none'}), or they are kept for the agent their affinity names`;
  }

  private view(row: TaskRow, full: boolean): Task {
    const task: Task = {
      id: row.id,
      title: row.title,
      instructions: row.instructions,
      inputBytes: row.input_bytes,
      project: row.project,
      capabilities: JSON.parse(row.capabilities) as string[],
      tier: row.tier,
      priority: row.priority,
      timeoutSeconds: row.timeout_seconds,
      leaseSeconds: row.lease_seconds,
      maxAttempts: row.max_attempts,
      backoff: JSON.parse(row.backoff) as TaskBackoff,
      dependsOn: JSON.parse(row.depends_on) as string[],
      assignee: row.assignee,
      affinity: row.affinity === null ? null : (JSON.parse(row.affinity) as TaskAffinity),
      threadId: row.thread_id,
      parentTaskId: row.parent_task_id,
      workflowId: row.workflow_id,
      stepId: row.step_id,
      createdBy: row.created_by,
      state: row.state,
      attempt: row.attempt,
      holderId: row.holder_id,
      leaseExpiresAt: null,
      notBefore: row.not_before,
      progress: row.progress === null ? null : (JSON.parse(row.progress) as Task['progress']),
      error: row.error === null ? null : (JSON.parse(row.error) as TaskError),
      waiting: this.waiting(row),
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      startedAt: row.started_at,
      finishedAt: row.finished_at,
    };
    if ((HELD_TASK_STATES as readonly TaskState[]).includes(row.state) && row.holder_id) {
      const now = Date.now();
      const silence = this.silenceOf(row.holder_id, now);
      task.leaseExpiresAt = Number.isFinite(silence) ? iso(now - silence + row.lease_seconds * 1000) : iso(now);
    }
    if (full) {
      if (row.input_bytes > 0) task.input = JSON.parse(row.input_external ? this.inputs.read(row.id).toString('utf8') : row.input!);
      task.result = row.result_bytes === 0 ? null : (JSON.parse(row.result_external ? this.results.read(row.id).toString('utf8') : row.result!) as TaskResult);
    }
    return task;
  }

  private waiting(row: TaskRow): string | null {
    if (row.state === 'pending') {
      if (row.not_before !== null) return `retrying after its backoff, at ${row.not_before}`;
      const unmet = (JSON.parse(row.depends_on) as string[]).map((dep) => this.row(dep)).filter((dep) => dep && dep.state !== 'succeeded');
      return `waiting for ${unmet.map((dep) => `${dep!.id} (${dep!.title}: ${dep!.state})`).join(', ')}`;
    }
    if (row.state !== 'ready') return null;
    const task = this.open.get(row.id);
    if (!task) return null;
    return waitingReason(
      task,
      this.registry.all(),
      this.registry,
      (agent) => this.slots.has(agent.id),
      (agent) => (this.heldBy.get(agent.id)?.size ?? 0) >= (this.slots.get(agent.id) ?? 0),
    );
  }
}
