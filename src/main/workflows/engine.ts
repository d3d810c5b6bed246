/**
 * The workflow engine: runs validated definitions on the task service, durably. Starting a run writes it and starts
 * its first steps in one transaction; each task of a run that ends (told by the task service after its commit) moves
 * its step on in one more: the next fan-out items, the step's end, its dependents started or skipped, the run's end.
 * Cancel, approve and retry are transactions of their own. After a kill -9, whatever a crash cut off between a
 * task's commit and the engine's is found in the rows at start (an active item whose task has ended, an open task no
 * item holds) and finished then, so no step is forgotten and none runs twice (an item row names its one task).
 */
import type { TaskState } from '../../shared/task-protocol';
import type { AgentView, ApprovalDecision, WorkflowDefinition, WorkflowPlan, WorkflowProblem } from '../../shared/workflow-protocol';
import {
  WORKFLOW_ERROR_CODES,
  type StepApproval,
  type StepRunState,
  type WorkflowErrorCode,
  type WorkflowRun,
  type WorkflowState,
  type WorkflowSummary,
} from '../../shared/workflow-run-protocol';
import type { AgentRegistry } from '../agents/registry';
import type { SqliteDatabase } from '../db/database';
import { forbidden, HubError, notFound } from '../errors';
import { ulidGenerator } from '../ids';
import type { TaskCaller } from '../tasks/service';
import { validateWorkflow } from './definition';
import { RunStore, type RunRow } from './run-store';
import { runView, summaryView } from './run-view';
import { newEffects, StepRunner, taskEnded, type Effects, type EngineTasks, type RunContext } from './step-runners';

const COCKPIT: TaskCaller = { kind: 'cockpit' };
const CHANGE_BATCH_MS = 100;
const APPROVAL_SWEEP_MS = 1000;
const iso = (ms: number): string => new Date(ms).toISOString();

export function workflowError(code: WorkflowErrorCode, message: string): HubError {
  return new HubError(code, message, WORKFLOW_ERROR_CODES[code].status);
}

/** A 400 naming every problem (the first five in the sentence), as the validate route answers. */
export function invalidWorkflow(problems: WorkflowProblem[]): HubError {
  const shown = problems.slice(0, 5).map((p) => p.message);
  const more = problems.length > shown.length ? ` (and ${problems.length - shown.length} more)` : '';
  const error = new HubError('invalid_request', `invalid workflow: ${shown.join('; ')}${more}`);
  error.details = { problems };
  return error;
}

/** The registry's agents as validation sees them. */
export function agentViews(registry: AgentRegistry): AgentView[] {
  return registry.all().map((agent) => ({ id: agent.id, project: agent.project, tier: agent.tier, capabilities: agent.capabilities, revoked: agent.revokedAt !== null }));
}

/** The task service as the engine uses it: EngineTasks, and the transitions it tells after each commit. */
export interface EngineTaskService extends EngineTasks {
  onTransition(listener: (transition: { taskId: string; workflowId: string | null; to: TaskState }) => void): () => void;
}

/** Tells approvers that a gate opened (a hub message); the engine works without one. */
export type ApprovalNotifier = (run: { id: string; name: string; project: string; createdBy: string }, stepId: string, approval: StepApproval) => void;

export interface StartOptions {
  /** The definition's JSON size when the caller has it (an HTTP body). */
  bytes?: number;
  /** A retried start with the same key (per creator) answers the first run. */
  idempotencyKey?: string;
}

export class WorkflowEngine {
  readonly store: RunStore;
  private readonly runner: StepRunner;
  private readonly newId = ulidGenerator();
  /** Running runs' contexts, loaded on first use; dropped when a transaction fails (the rows are the truth). */
  private readonly contexts = new Map<string, RunContext>();
  /** Open approval gates with a deadline: run \0 step -> expiry (ms). */
  private readonly deadlines = new Map<string, number>();
  private readonly changed = new Set<string>();
  /** Tasks whose end was heard and not yet taken (taskEnded). */
  private readonly ended: string[] = [];
  private endedScheduled = false;
  private readonly changeListeners = new Set<(runs: WorkflowSummary[]) => void>();
  private changeTimer: NodeJS.Timeout | undefined;
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly offTasks: () => void;
  private notifier: ApprovalNotifier | undefined;
  private closed = false;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly registry: AgentRegistry,
    private readonly tasks: EngineTaskService,
  ) {
    this.store = new RunStore(db);
    this.runner = new StepRunner(this.store, tasks);
    this.offTasks = tasks.onTransition((t) => {
      if (t.workflowId === null) return;
      if (taskEnded(t.to)) this.taskEnded(t.taskId);
      else this.markChanged(t.workflowId);
    });
    this.recover();
    this.sweepTimer = setInterval(() => this.sweepApprovals(), APPROVAL_SWEEP_MS);
    this.sweepTimer.unref();
  }

  /** Who hears of opened gates (set once messaging exists). */
  notifyApprovers(notifier: ApprovalNotifier): void {
    this.notifier = notifier;
  }

  // --- Starting and reading -------------------------------------------------------------------------------------------

  /** Validates (with the registry's agents) and starts a run: 400 naming each problem, or the run. */
  start(caller: TaskCaller, raw: unknown, options: StartOptions = {}): WorkflowRun {
    const named = typeof raw === 'object' && raw !== null && typeof (raw as { project?: unknown }).project === 'string' ? (raw as { project: string }).project.trim() : undefined;
    if (caller.kind === 'agent' && named !== undefined && named !== caller.agent.project) {
      throw forbidden(`an agent runs workflows in its own project (${caller.agent.project}), not ${named}`);
    }
    const project = caller.kind === 'agent' ? caller.agent.project : named || 'default';
    const createdBy = caller.kind === 'agent' ? caller.agent.id : 'cockpit';
    if (options.idempotencyKey) {
      const earlier = this.store.runByKey(createdBy, options.idempotencyKey);
      if (earlier) return this.view(earlier);
    }
    const result = validateWorkflow(raw, { agents: agentViews(this.registry), project, ...(options.bytes !== undefined ? { bytes: options.bytes } : {}) });
    if (!result.ok) throw invalidWorkflow(result.problems);
    const definition: WorkflowDefinition = { ...result.definition, project };
    const id = this.newId();
    const now = Date.now();
    this.transact((fx) => {
      this.store.insertRun({
        id,
        name: definition.name,
        project,
        createdBy,
        definition: JSON.stringify(definition),
        plan: JSON.stringify(result.plan),
        idempotencyKey: options.idempotencyKey ?? null,
        now: iso(now),
      });
      for (const [stepId, step] of Object.entries(definition.steps)) this.store.insertStep(id, stepId, step.kind);
      const run = this.context(id)!;
      for (const stepId of result.plan.levels[0] ?? []) {
        // A step may have ended meanwhile (a fan-out of no items skips nothing, a failed first step skips others).
        if (this.store.step(id, stepId)?.state === 'waiting') this.runner.startStep(run, stepId, fx, now);
      }
      this.runner.finishRunIfDone(run, now);
    });
    return this.view(this.store.run(id)!);
  }

  /** Runs, newest first: an agent sees its own project's only. */
  list(caller: TaskCaller, query: { project?: string; state?: WorkflowState; limit: number }): WorkflowSummary[] {
    if (caller.kind === 'agent') {
      if (query.project !== undefined && query.project !== caller.agent.project) throw forbidden('an agent sees the workflows of its own project only');
      query = { ...query, project: caller.agent.project };
    }
    return this.store.listRuns(query).map((row) => summaryView(this.store, this.tasks, row));
  }

  get(caller: TaskCaller, id: string): WorkflowRun {
    return this.view(this.visible(caller, id));
  }

  // --- Cancel, approve, retry ---------------------------------------------------------------------------------------

  /** The creator, a strategic agent of the project or the cockpit: active tasks cancelled (their agents told). */
  cancel(caller: TaskCaller, id: string, reason?: string): WorkflowRun {
    const row = this.visible(caller, id);
    this.mayManage(caller, row, 'cancel');
    const who = caller.kind === 'agent' ? caller.agent.name : 'the cockpit';
    const why = `workflow ${row.name} (${id}) was cancelled by ${who}${reason ? `: ${reason}` : ''}`;
    this.transact((fx) => {
      const current = this.store.run(id)!;
      if (current.state !== 'running') throw workflowError('workflow_finished', `workflow ${id} already ended ${current.state}`);
      const run = this.context(id)!;
      const now = Date.now();
      for (const step of this.store.steps(id)) {
        if (step.state === 'running' || step.state === 'awaiting_approval') this.store.updateStep(id, step.step_id, { state: 'cancelled', error: why, finished_at: iso(now) });
        else if (step.state === 'waiting') this.store.updateStep(id, step.step_id, { state: 'skipped', error: why, finished_at: iso(now) });
      }
      this.runner.cancelActive(run, undefined, why, fx);
      this.store.setRunState(id, 'cancelled', why, iso(now));
      fx.changed.add(id);
      for (const key of this.deadlines.keys()) if (key.startsWith(`${id}\u0000`)) this.deadlines.delete(key);
    });
    return this.view(this.store.run(id)!);
  }

  /** An approver decides an open gate: approve (the subject), edit (a new value) or reject (the step fails). */
  approve(caller: TaskCaller, id: string, stepId: string, decision: ApprovalDecision): WorkflowRun {
    const row = this.visible(caller, id);
    const by = caller.kind === 'agent' ? caller.agent.id : 'cockpit';
    this.transact((fx) => {
      if (this.store.run(id)!.state !== 'running') throw workflowError('workflow_finished', `workflow ${id} already ended ${this.store.run(id)!.state}`);
      const step = this.store.step(id, stepId);
      if (!step) throw notFound(`workflow ${id} has no step ${stepId}`);
      if (step.state !== 'awaiting_approval' || step.approval === null) {
        throw workflowError('step_not_awaiting_approval', `step ${stepId} is ${step.state}, not an open approval gate`);
      }
      const approval = JSON.parse(step.approval) as StepApproval;
      const allowed =
        (caller.kind === 'cockpit' && approval.approvers !== 'strategic') ||
        (caller.kind === 'agent' && approval.approvers !== 'cockpit' && caller.agent.tier === 'strategic' && caller.agent.project === row.project);
      if (!allowed) {
        const who = approval.approvers === 'cockpit' ? 'the person at the cockpit' : approval.approvers === 'strategic' ? 'an agent of tier strategic in the project' : 'the cockpit or an agent of tier strategic in the project';
        throw workflowError('not_an_approver', `step ${stepId} is decided by ${who}`);
      }
      const now = Date.now();
      approval.decision = { decision: decision.decision, by, note: decision.note ?? null, at: iso(now) };
      const run = this.context(id)!;
      this.deadlines.delete(`${id}\u0000${stepId}`);
      if (decision.decision === 'reject') {
        const name = caller.kind === 'agent' ? caller.agent.name : 'the cockpit';
        this.runner.finishStep(run, stepId, 'failed', { error: `rejected by ${name}${decision.note ? `: ${decision.note}` : ''}`, approval }, fx, now);
      } else {
        const result = decision.decision === 'edit' ? decision.value : approval.subject;
        this.runner.finishStep(run, stepId, 'succeeded', { output: { result: result ?? null }, approval }, fx, now);
      }
    });
    return this.view(this.store.run(id)!);
  }

  /** Runs a failed, timed-out or cancelled step again (a fan-out: its items that did not succeed), and what it skipped. */
  retry(caller: TaskCaller, id: string, stepId: string): WorkflowRun {
    const row = this.visible(caller, id);
    this.mayManage(caller, row, 'retry');
    this.transact((fx) => {
      const current = this.store.run(id)!;
      if (current.state === 'cancelled' || current.state === 'succeeded') throw workflowError('workflow_finished', `workflow ${id} already ended ${current.state}`);
      const step = this.store.step(id, stepId);
      if (!step) throw notFound(`workflow ${id} has no step ${stepId}`);
      if (!(['failed', 'timed_out', 'cancelled'] as StepRunState[]).includes(step.state)) {
        throw workflowError('step_not_retryable', `step ${stepId} is ${step.state}: only a failed, timed-out or cancelled step can be retried`);
      }
      const run = this.context(id)!;
      const now = Date.now();
      // What it skipped waits again.
      const queue = [stepId];
      while (queue.length > 0) {
        for (const dependent of run.dependents.get(queue.shift()!) ?? []) {
          if (this.store.step(id, dependent)?.state !== 'skipped') continue;
          this.store.updateStep(id, dependent, { state: 'waiting', error: null, outcomes: null, finished_at: null });
          queue.push(dependent);
        }
      }
      if (step.kind === 'fan-out') {
        this.store.requeueItems(id, stepId);
        this.store.updateStep(id, stepId, { items_started: step.items_succeeded, items_failed: 0, items_cancelled: 0 });
      } else {
        this.store.updateStep(id, stepId, { items_started: 0, items_succeeded: 0, items_failed: 0, items_cancelled: 0, items_total: 0 });
      }
      this.store.updateStep(id, stepId, { state: 'waiting', error: null, outcomes: null, output: null, approval: null, finished_at: null });
      this.store.setRunState(id, 'running', null, iso(now));
      this.runner.startStep(run, stepId, fx, now);
      this.runner.finishRunIfDone(run, now);
    });
    return this.view(this.store.run(id)!);
  }

  /** Summaries of changed runs, at most once per tenth of a second. Returns the unsubscribe. */
  onChange(listener: (runs: WorkflowSummary[]) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  close(): void {
    this.closed = true;
    this.offTasks();
    clearInterval(this.sweepTimer);
    clearTimeout(this.changeTimer);
  }

  // --- Reacting to tasks --------------------------------------------------------------------------------------------

  /**
   * A task of a run ended (committed): its item's step moves on, unless the item moved on already. The ends heard in
   * one turn of the event loop are taken in one transaction (a fan-out's items end in bursts); a crash before it
   * commits is caught up at the next start (recover).
   */
  private taskEnded(taskId: string): void {
    if (this.closed) return;
    this.ended.push(taskId);
    if (this.endedScheduled) return;
    this.endedScheduled = true;
    setImmediate(() => this.takeEnded());
  }

  private takeEnded(): void {
    this.endedScheduled = false;
    const ids = this.ended.splice(0);
    if (this.closed || !this.db.open || ids.length === 0) return;
    try {
      this.transact((fx) => {
        const now = Date.now();
        for (const id of ids) this.itemTaskEnded(id, fx, now);
      });
    } catch {
      // One broken item must not hold up the others: each on its own, and the one that fails fails its step.
      for (const id of ids) {
        try {
          this.transact((fx) => this.itemTaskEnded(id, fx, Date.now()));
        } catch (error) {
          const link = this.store.linkOf(id);
          if (!link) continue;
          console.error(`[workflows] step ${link.step_id} of run ${link.run_id} could not go on:`, error);
          this.failStep(link.run_id, link.step_id, `the engine could not go on: ${(error as Error).message}`);
        }
      }
    }
  }

  /** Inside a transaction: the item whose current task this is moves on. */
  private itemTaskEnded(taskId: string, fx: Effects, now: number): void {
    const link = this.store.linkOf(taskId);
    if (!link) return;
    const item = this.store.item(link.run_id, link.step_id, link.idx);
    if (!item || item.state !== 'active' || item.task_id !== taskId) return;
    const task = this.tasks.get(COCKPIT, taskId);
    if (!taskEnded(task.state)) return;
    const run = this.context(link.run_id);
    if (run) this.runner.itemEnded(run, item, task, fx, now);
  }

  private failStep(runId: string, stepId: string, error: string): void {
    try {
      this.transact((fx) => {
        const run = this.context(runId);
        const step = this.store.step(runId, stepId);
        if (!run || !step || (step.state !== 'running' && step.state !== 'awaiting_approval')) return;
        this.runner.cancelActive(run, stepId, error, fx);
        this.runner.finishStep(run, stepId, 'failed', { error }, fx, Date.now());
      });
    } catch (second) {
      console.error(`[workflows] could not fail step ${stepId} of run ${runId}:`, second);
    }
  }

  /** At start: finishes what a crash cut off between a task's commit and the engine's. */
  private recover(): void {
    for (const item of this.store.unsettled()) if (item.task_id) this.taskEnded(item.task_id);
    for (const taskId of this.store.orphans()) {
      try {
        this.tasks.cancel(COCKPIT, taskId, 'its workflow step ended');
      } catch {
        // Ended meanwhile.
      }
    }
    for (const gate of this.store.openApprovals()) {
      const approval = JSON.parse(gate.approval) as StepApproval;
      if (approval.expiresAt) this.deadlines.set(`${gate.run_id}\u0000${gate.step_id}`, Date.parse(approval.expiresAt));
    }
  }

  private sweepApprovals(): void {
    if (this.closed || !this.db.open) return;
    const now = Date.now();
    for (const [key, expiresAt] of this.deadlines) {
      if (expiresAt > now) continue;
      this.deadlines.delete(key);
      const [runId, stepId] = key.split('\u0000') as [string, string];
      this.transact((fx) => {
        const step = this.store.step(runId, stepId);
        const run = this.context(runId);
        if (!run || step?.state !== 'awaiting_approval' || this.store.run(runId)?.state !== 'running') return;
        const approval = JSON.parse(step.approval!) as StepApproval;
        const seconds = Math.round((expiresAt - Date.parse(step.started_at ?? iso(now))) / 1000);
        this.runner.finishStep(run, stepId, 'timed_out', { error: `no decision within ${seconds} s`, approval }, fx, now);
      });
    }
  }

  // --- Transactions, contexts, views --------------------------------------------------------------------------------

  /** Runs `work` in one transaction, then what must follow the commit. */
  private transact<T>(work: (fx: Effects) => T): T {
    const fx = newEffects();
    let result: T;
    try {
      result = this.db.transaction(() => work(fx))();
    } catch (error) {
      this.contexts.clear();
      throw error;
    }
    this.afterCommit(fx);
    return result;
  }

  private afterCommit(fx: Effects): void {
    if (fx.created.length > 0) this.tasks.settle(fx.created);
    for (const { taskId, reason } of fx.cancel) {
      try {
        this.tasks.cancel(COCKPIT, taskId, reason);
      } catch {
        // It ended meanwhile: nothing to cancel.
      }
    }
    for (const { runId, stepId } of fx.gates) {
      const step = this.store.step(runId, stepId);
      const run = this.store.run(runId);
      if (!step?.approval || !run) continue;
      const approval = JSON.parse(step.approval) as StepApproval;
      if (approval.expiresAt) this.deadlines.set(`${runId}\u0000${stepId}`, Date.parse(approval.expiresAt));
      try {
        this.notifier?.({ id: run.id, name: run.name, project: run.project, createdBy: run.created_by }, stepId, approval);
      } catch (error) {
        console.error('[workflows] could not notify approvers:', error);
      }
    }
    for (const id of fx.changed) this.markChanged(id);
    // Finished runs need no context.
    for (const id of fx.changed) if (this.store.run(id)?.state !== 'running') this.contexts.delete(id);
  }

  private context(id: string): RunContext | undefined {
    let run = this.contexts.get(id);
    if (run) return run;
    const row = this.store.run(id);
    if (!row) return undefined;
    const definition = JSON.parse(row.definition) as WorkflowDefinition;
    const dependents = new Map<string, string[]>();
    for (const [stepId, step] of Object.entries(definition.steps)) {
      for (const dep of step.dependsOn) {
        let list = dependents.get(dep);
        if (!list) dependents.set(dep, (list = []));
        list.push(stepId);
      }
    }
    const outputs: RunContext['outputs'] = {};
    for (const { step_id, output } of this.store.outputs(id)) if (output !== null) outputs[step_id] = JSON.parse(output);
    const creatorAgent = row.created_by === 'cockpit' ? undefined : this.registry.find(row.created_by);
    run = {
      id,
      name: row.name,
      project: row.project,
      createdBy: row.created_by,
      creator: creatorAgent && !creatorAgent.revokedAt ? { kind: 'agent', agent: creatorAgent } : COCKPIT,
      definition,
      plan: JSON.parse(row.plan) as WorkflowPlan,
      dependents,
      outputs,
    };
    this.contexts.set(id, run);
    return run;
  }

  private visible(caller: TaskCaller, id: string): RunRow {
    const row = this.store.run(id);
    // Another project's run is answered as if it did not exist.
    if (!row || (caller.kind === 'agent' && row.project !== caller.agent.project)) throw notFound(`there is no workflow ${id}`);
    return row;
  }

  private mayManage(caller: TaskCaller, row: RunRow, action: string): void {
    if (caller.kind === 'cockpit') return;
    if (caller.agent.id === row.created_by || caller.agent.tier === 'strategic') return;
    throw forbidden(`only the agent that started workflow ${row.id}, a strategic agent of project ${row.project}, or the cockpit may ${action} it`);
  }

  private view(row: RunRow): WorkflowRun {
    return runView(this.store, this.tasks, row);
  }

  private markChanged(runId: string): void {
    if (this.changeListeners.size === 0 || this.closed) return;
    this.changed.add(runId);
    this.changeTimer ??= setTimeout(() => {
      this.changeTimer = undefined;
      if (this.closed || !this.db.open) return;
      const rows = [...this.changed].map((id) => this.store.run(id)).filter((row): row is RunRow => row !== undefined);
      this.changed.clear();
      const summaries = rows.map((row) => summaryView(this.store, this.tasks, row));
      for (const listener of this.changeListeners) listener(summaries);
    }, CHANGE_BATCH_MS);
  }
}
