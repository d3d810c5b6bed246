/**
 * What happens to a run's steps inside one engine transaction: starting a step when its dependencies allow (a task
 * step's task, a fan-out's items up to its concurrency, a fan-in's aggregate or task, an approval gate), an item's
 * task ending (the next queued item started, the step finished), and a finished step's effect downstream (started,
 * skipped) and on the run. Every write here commits with the transaction the engine opened; what must follow the
 * commit (mirroring created tasks, cancelling tasks, notifying approvers) is collected in Effects.
 */
import type { z } from 'zod';
import { MAX_TITLE_CHARS, type CreateTaskRequest, type Task, type TaskAffinity, type TaskState } from '../../shared/task-protocol';
import type { Outcome, StepOutput, TaskTemplate, WorkflowDefinition, WorkflowPlan, WorkflowStep } from '../../shared/workflow-protocol';
import type { StepApproval, StepRunState } from '../../shared/workflow-run-protocol';
import type { TaskCaller } from '../tasks/service';
import { aggregate, collect } from './aggregate';
import { resolveFanOutItemInput, resolveFanOutItems, resolveStepInput, taskStepOutput, type RefScope, type Resolved } from './refs';
import type { ItemRow, RunStore } from './run-store';
import { isPlainObject } from './values';

export type TaskRequest = z.output<typeof CreateTaskRequest>;

/** What the engine needs of the task service. */
export interface EngineTasks {
  /** Creates tasks inside the caller's open transaction; they commit (or roll back) with it. Returns their ids. */
  createInTransaction(caller: TaskCaller, requests: TaskRequest[]): string[];
  /** After the commit: the created tasks are mirrored, offered and told to transition listeners. */
  settle(ids: string[]): void;
  cancel(caller: TaskCaller, id: string, reason?: string): Task;
  get(caller: TaskCaller, id: string): Task;
}

/** A running run as the engine keeps it in memory: its definition, who depends on whom, finished steps' outputs. */
export interface RunContext {
  id: string;
  name: string;
  project: string;
  createdBy: string;
  /** Who its tasks are created as: the agent that started it (it may cancel them), or the cockpit. */
  creator: TaskCaller;
  definition: WorkflowDefinition;
  plan: WorkflowPlan;
  /** Step id -> the steps that depend on it. */
  dependents: Map<string, string[]>;
  /** Succeeded steps' outputs, for references. */
  outputs: Record<string, StepOutput>;
}

/** What must happen once the transaction has committed. */
export interface Effects {
  created: string[];
  cancel: { taskId: string; reason: string }[];
  /** Approval gates that opened: their approvers are told. */
  gates: { runId: string; stepId: string }[];
  changed: Set<string>;
}

export const newEffects = (): Effects => ({ created: [], cancel: [], gates: [], changed: new Set() });

const COCKPIT: TaskCaller = { kind: 'cockpit' };
const iso = (ms: number): string => new Date(ms).toISOString();
const FINAL: readonly StepRunState[] = ['succeeded', 'failed', 'cancelled', 'timed_out', 'skipped'];
const isFinal = (state: StepRunState) => FINAL.includes(state);

/**
 * How a step cut short by a first-success fan-in (its result no longer wanted) says so in its error: such a step does
 * not fail the run.
 */
export const NOT_NEEDED = 'not needed: ';

const isFirstSuccess = (step: WorkflowStep): boolean => step.kind === 'fan-in' && step.aggregate.use === 'first-success';

/** A fan-in that runs even when some of its dependencies did not succeed. */
function toleratesFailures(step: WorkflowStep): boolean {
  if (step.kind !== 'fan-in') return false;
  return step.aggregate.use === 'first-success' || step.aggregate.allowFailures;
}

function refErrors(resolved: Resolved & { ok: false }): string {
  return resolved.errors.map((e) => e.message).join('; ');
}

/** A task input must be text, an object or a list: any other resolved value is wrapped as `{value}`. */
function asTaskBody(value: unknown): TaskRequest['input'] {
  if (value === undefined) return undefined;
  if (typeof value === 'string' || Array.isArray(value) || isPlainObject(value)) return value as TaskRequest['input'];
  return { value };
}

export class StepRunner {
  constructor(
    private readonly store: RunStore,
    private readonly tasks: EngineTasks,
  ) {}

  // --- Starting -----------------------------------------------------------------------------------------------------

  /** Starts a waiting step whose dependencies allow it. */
  startStep(run: RunContext, stepId: string, fx: Effects, now: number): void {
    const step = run.definition.steps[stepId]!;
    const scope: RefScope = { input: run.definition.input, steps: run.outputs };
    fx.changed.add(run.id);
    switch (step.kind) {
      case 'task': {
        const input = resolveStepInput(step, scope);
        if (!input.ok) return this.finishStep(run, stepId, 'failed', { error: `its input: ${refErrors(input)}` }, fx, now);
        this.store.updateStep(run.id, stepId, { state: 'running', items_total: 1, started_at: iso(now), error: null });
        this.createItemTasks(run, stepId, step, [{ idx: 0, input: input.value, item: null, isNew: !this.store.item(run.id, stepId, 0) }], step.title, fx);
        return;
      }
      case 'fan-out': {
        const existing = this.store.step(run.id, stepId)!;
        if (existing.items_total === 0 && this.store.items(run.id, stepId).length === 0) {
          const items = resolveFanOutItems(step, scope);
          if (!items.ok) return this.finishStep(run, stepId, 'failed', { error: `its items: ${refErrors(items)}` }, fx, now);
          if (items.value.length === 0) return this.finishStep(run, stepId, 'succeeded', { output: { result: [] }, outcomes: [] }, fx, now);
          items.value.forEach((item, idx) => this.store.insertItem(run.id, stepId, idx, JSON.stringify(item ?? null), 'queued', null));
          this.store.updateStep(run.id, stepId, { items_total: items.value.length });
        }
        this.store.updateStep(run.id, stepId, { state: 'running', started_at: iso(now), finished_at: null, error: null });
        this.startQueuedItems(run, stepId, fx, now);
        return;
      }
      case 'fan-in': {
        const outcomes = step.dependsOn.flatMap((dep) => JSON.parse(this.store.step(run.id, dep)?.outcomes ?? '[]') as Outcome[]);
        if (step.aggregate.use !== 'task') {
          const result = aggregate(step.aggregate, outcomes);
          const state = result.ok ? 'succeeded' : 'failed';
          const finished = result.ok ? { output: { result: result.value }, outcomes: [{ source: stepId, ok: true, value: result.value, finishedAt: now }] } : { error: result.error };
          return this.finishStep(run, stepId, state, finished, fx, now);
        }
        const collected = collect(outcomes, { allowFailures: step.aggregate.allowFailures });
        if (!collected.ok) return this.finishStep(run, stepId, 'failed', { error: collected.error }, fx, now);
        const input = resolveStepInput(step, { ...scope, results: collected.value as unknown[] });
        if (!input.ok) return this.finishStep(run, stepId, 'failed', { error: `its input: ${refErrors(input)}` }, fx, now);
        this.store.updateStep(run.id, stepId, { state: 'running', items_total: 1, started_at: iso(now), error: null });
        const template = step.aggregate.task;
        this.createItemTasks(run, stepId, template, [{ idx: 0, input: input.value, item: null, isNew: !this.store.item(run.id, stepId, 0) }], template.title, fx);
        return;
      }
      case 'approval': {
        const subject = resolveStepInput(step, scope);
        if (!subject.ok) return this.finishStep(run, stepId, 'failed', { error: `its subject: ${refErrors(subject)}` }, fx, now);
        const approval: StepApproval = {
          prompt: step.prompt,
          approvers: step.approvers,
          subject: subject.value,
          expiresAt: step.timeoutSeconds === undefined ? null : iso(now + step.timeoutSeconds * 1000),
          decision: null,
        };
        this.store.updateStep(run.id, stepId, { state: 'awaiting_approval', approval: JSON.stringify(approval), started_at: iso(now), error: null });
        fx.gates.push({ runId: run.id, stepId });
        return;
      }
    }
  }

  /** Starts queued items of a fan-out while fewer than its concurrency are active. */
  private startQueuedItems(run: RunContext, stepId: string, fx: Effects, now: number): void {
    const step = run.definition.steps[stepId]!;
    if (step.kind !== 'fan-out') return;
    const row = this.store.step(run.id, stepId)!;
    if (row.items_started >= row.items_total) return;
    const active = row.items_started - row.items_succeeded - row.items_failed - row.items_cancelled;
    const room = step.concurrency - active;
    if (room <= 0) return;
    const queued = this.store.queued(run.id, stepId, room);
    if (queued.length === 0) return;
    const scope: RefScope = { input: run.definition.input, steps: run.outputs };
    const starts: { idx: number; input: unknown; item: unknown; isNew: boolean }[] = [];
    for (const item of queued) {
      const value = item.item === null ? null : (JSON.parse(item.item) as unknown);
      const input = resolveFanOutItemInput(step, scope, value, item.idx);
      if (!input.ok) {
        this.cancelActive(run, stepId, `step ${stepId} failed`, fx);
        return this.finishStep(run, stepId, 'failed', { error: `item ${item.idx}'s input: ${refErrors(input)}` }, fx, now);
      }
      starts.push({ idx: item.idx, input: input.value, item: value, isNew: false });
    }
    this.createItemTasks(run, stepId, step.task, starts, step.task.title, fx, row.items_total);
  }

  /** Creates one task per item (in one batch), marks the items active and links each task to its item. */
  private createItemTasks(
    run: RunContext,
    stepId: string,
    template: TaskTemplate,
    items: { idx: number; input: unknown; isNew: boolean; item: unknown }[],
    title: string,
    fx: Effects,
    fanOutOf?: number,
  ): void {
    const affinity = this.affinityOf(run, template);
    const requests = items.map(({ idx, input }): TaskRequest => {
      const suffix = fanOutOf === undefined ? '' : ` (item ${idx + 1} of ${fanOutOf})`;
      return {
        title: title.slice(0, MAX_TITLE_CHARS - suffix.length) + suffix,
        instructions: template.instructions,
        input: asTaskBody(input),
        project: run.project,
        capabilities: template.capabilities,
        tier: template.tier,
        priority: template.priority,
        timeoutSeconds: template.timeoutSeconds,
        leaseSeconds: template.leaseSeconds,
        maxAttempts: template.maxAttempts,
        backoff: template.backoff,
        dependsOn: [],
        assignee: template.assignee,
        affinity,
        workflowId: run.id,
        stepId,
      };
    });
    const ids = this.tasks.createInTransaction(run.creator, requests);
    items.forEach(({ idx, isNew }, i) => {
      if (isNew) this.store.insertItem(run.id, stepId, idx, null, 'active', null);
      this.store.startItem(run.id, stepId, idx, ids[i]!);
    });
    this.store.countItems(run.id, stepId, { started: items.length });
    fx.created.push(...ids);
  }

  private affinityOf(run: RunContext, template: TaskTemplate): TaskAffinity | undefined {
    if (!template.affinity) return undefined;
    if ('threadId' in template.affinity) return { threadId: template.affinity.threadId };
    const taskId = this.store.item(run.id, template.affinity.step, 0)?.task_id;
    return taskId ? { taskId } : undefined;
  }

  // --- Items ending -------------------------------------------------------------------------------------------------

  /** An item's current task ended (`task` read after its commit). */
  itemEnded(run: RunContext, item: ItemRow, task: Task, fx: Effects, now: number): void {
    const itemState = task.state === 'succeeded' ? 'succeeded' : task.state === 'cancelled' ? 'cancelled' : 'failed';
    if (!this.store.endItem(item, itemState)) return;
    this.store.countItems(run.id, item.step_id, { [itemState]: 1 });
    fx.changed.add(run.id);
    const row = this.store.step(run.id, item.step_id);
    if (!row || row.state !== 'running') return;
    const step = run.definition.steps[item.step_id]!;
    const why = task.error?.message ?? `its task ended ${task.state}`;
    if (step.kind !== 'fan-out') {
      if (task.state === 'succeeded') {
        const output = taskStepOutput(task.result);
        return this.finishStep(run, item.step_id, 'succeeded', { output, outcomes: [{ source: item.step_id, ok: true, value: output.result, finishedAt: now }] }, fx, now);
      }
      const state: StepRunState = task.state === 'timed_out' ? 'timed_out' : task.state === 'cancelled' ? 'cancelled' : 'failed';
      return this.finishStep(run, item.step_id, state, { error: `task ${task.id} ended ${task.state}: ${why}` }, fx, now);
    }
    if (itemState === 'succeeded') {
      // A first-success fan-in waiting on this fan-out is decided by its first item to succeed.
      const source = `${item.step_id}[${item.idx}]`;
      for (const dependent of run.dependents.get(item.step_id) ?? []) this.decideFirstSuccess(run, dependent, source, taskStepOutput(task.result).result, fx, now);
      if (this.store.step(run.id, item.step_id)?.state !== 'running') return;
    }
    if (itemState !== 'succeeded' && step.onItemFailure === 'fail') {
      this.cancelActive(run, item.step_id, `item ${item.idx} of step ${item.step_id} failed`, fx);
      const state: StepRunState = task.state === 'cancelled' ? 'cancelled' : 'failed';
      return this.finishStep(run, item.step_id, state, { error: `item ${item.idx} (task ${task.id}) ended ${task.state}: ${why}` }, fx, now);
    }
    const ended = row.items_succeeded + row.items_failed + row.items_cancelled;
    if (ended < row.items_total) return this.startQueuedItems(run, item.step_id, fx, now);
    // Every item ended: the results in item order (null for a failed one), each item an outcome for a fan-in.
    const outcomes: Outcome[] = this.store.items(run.id, item.step_id).map((it) => {
      const source = `${item.step_id}[${it.idx}]`;
      if (it.state !== 'succeeded' || it.task_id === null) {
        const failed = it.task_id === null ? null : this.tasks.get(COCKPIT, it.task_id);
        return { source, ok: false, error: failed?.error?.message ?? `ended ${it.state}` };
      }
      const done = this.tasks.get(COCKPIT, it.task_id);
      return { source, ok: true, value: taskStepOutput(done.result).result, finishedAt: done.finishedAt ? Date.parse(done.finishedAt) : now };
    });
    const succeeded = outcomes.filter((o) => o.ok).length;
    if (succeeded === 0) return this.finishStep(run, item.step_id, 'failed', { error: `all ${outcomes.length} items failed`, outcomes }, fx, now);
    this.finishStep(run, item.step_id, 'succeeded', { output: { result: outcomes.map((o) => (o.ok ? (o.value ?? null) : null)) }, outcomes }, fx, now);
  }

  /** Ends a step's (or every step's) active and queued items; their open tasks are cancelled after the commit. */
  cancelActive(run: RunContext, stepId: string | undefined, reason: string, fx: Effects): void {
    const steps = stepId === undefined ? this.store.steps(run.id).filter((s) => s.items_started > s.items_succeeded + s.items_failed + s.items_cancelled || s.items_total > s.items_started) : [this.store.step(run.id, stepId)!];
    for (const step of steps) {
      const active = this.store.activeItems(run.id, step.step_id);
      for (const item of active) if (item.task_id) fx.cancel.push({ taskId: item.task_id, reason });
      const queued = Math.max(0, step.items_total - step.items_started);
      this.store.cancelItems(run.id, step.step_id);
      this.store.countItems(run.id, step.step_id, { started: queued, cancelled: active.length + queued });
    }
  }

  // --- Steps ending -------------------------------------------------------------------------------------------------

  /** A step ended: recorded, then its dependents started or skipped, then the run finished if nothing is left. */
  finishStep(
    run: RunContext,
    stepId: string,
    state: Exclude<StepRunState, 'waiting' | 'running' | 'awaiting_approval'>,
    done: { output?: StepOutput; outcomes?: Outcome[]; error?: string; approval?: StepApproval },
    fx: Effects,
    now: number,
  ): void {
    const outcomes = done.outcomes ?? (state === 'succeeded' ? [{ source: stepId, ok: true, value: done.output?.result ?? null, finishedAt: now }] : [{ source: stepId, ok: false, error: done.error ?? state }]);
    this.store.updateStep(run.id, stepId, {
      state,
      output: done.output === undefined ? undefined : JSON.stringify(done.output),
      outcomes: JSON.stringify(outcomes),
      error: done.error ?? null,
      approval: done.approval === undefined ? undefined : JSON.stringify(done.approval),
      finished_at: iso(now),
    });
    fx.changed.add(run.id);
    if (state === 'succeeded' && done.output) run.outputs[stepId] = done.output;
    if (state !== 'succeeded') {
      const runRow = this.store.run(run.id);
      if (runRow && runRow.error === null) this.store.setRunState(run.id, 'running', `step ${stepId} ${state}: ${done.error ?? state}`, iso(now));
    }
    this.propagate(run, stepId, fx, now);
    this.finishRunIfDone(run, now);
  }

  /** Starts the dependents of a finished step that may now run; skips those that never can. */
  propagate(run: RunContext, stepId: string, fx: Effects, now: number): void {
    for (const dependent of run.dependents.get(stepId) ?? []) {
      const row = this.store.step(run.id, dependent);
      if (!row || row.state !== 'waiting') continue;
      const step = run.definition.steps[dependent]!;
      if (isFirstSuccess(step)) {
        const first = (JSON.parse(this.store.step(run.id, stepId)!.outcomes ?? '[]') as Outcome[]).find((o) => o.ok);
        if (first) {
          this.decideFirstSuccess(run, dependent, first.source, first.value ?? null, fx, now);
          continue;
        }
      }
      const states = step.dependsOn.map((dep) => this.store.step(run.id, dep)!.state);
      if (states.every((s) => s === 'succeeded')) {
        this.startStep(run, dependent, fx, now);
      } else if (toleratesFailures(step)) {
        if (states.every(isFinal)) this.startStep(run, dependent, fx, now);
      } else if (states.some((s) => isFinal(s) && s !== 'succeeded')) {
        const failed = step.dependsOn.find((dep, i) => isFinal(states[i]!) && states[i] !== 'succeeded')!;
        this.skip(run, dependent, `step ${failed} did not succeed`, fx, now);
      }
    }
  }

  /**
   * A first-success fan-in still waiting is decided by an input that just succeeded (`source`: a step, or a fan-out's
   * item): it succeeds with that result at once, and its other inputs that feed nothing else are cut short in the
   * same transaction: running ones cancelled (their tasks cancelled after the commit, their agents told), waiting ones
   * skipped, each with a NOT_NEEDED error.
   */
  private decideFirstSuccess(run: RunContext, fanInId: string, source: string, value: unknown, fx: Effects, now: number): void {
    const step = run.definition.steps[fanInId]!;
    if (!isFirstSuccess(step) || this.store.step(run.id, fanInId)?.state !== 'waiting') return;
    this.store.updateStep(run.id, fanInId, { started_at: iso(now) });
    this.finishStep(run, fanInId, 'succeeded', { output: { result: value ?? null }, outcomes: [{ source: fanInId, ok: true, value: value ?? null, finishedAt: now }] }, fx, now);
    const why = `${NOT_NEEDED}fan-in ${fanInId} took the first success, from ${source}`;
    for (const input of step.dependsOn) {
      // An input whose result another step wants keeps running.
      if ((run.dependents.get(input) ?? []).some((other) => other !== fanInId)) continue;
      const row = this.store.step(run.id, input);
      if (!row || isFinal(row.state)) continue;
      const outcomes = JSON.stringify([{ source: input, ok: false, error: why }]);
      if (row.state === 'waiting') {
        this.store.updateStep(run.id, input, { state: 'skipped', error: why, finished_at: iso(now), outcomes });
        continue;
      }
      this.cancelActive(run, input, why, fx);
      this.store.updateStep(run.id, input, { state: 'cancelled', error: why, finished_at: iso(now), outcomes });
    }
    this.finishRunIfDone(run, now);
  }

  private skip(run: RunContext, stepId: string, reason: string, fx: Effects, now: number): void {
    this.store.updateStep(run.id, stepId, { state: 'skipped', error: reason, finished_at: iso(now), outcomes: JSON.stringify([{ source: stepId, ok: false, error: reason }]) });
    fx.changed.add(run.id);
    this.propagate(run, stepId, fx, now);
  }

  /** When no step can move any more: succeeded if every step did, failed otherwise. */
  finishRunIfDone(run: RunContext, now: number): void {
    const states = this.store.stepStates(run.id);
    if ((states.get('waiting') ?? 0) + (states.get('running') ?? 0) + (states.get('awaiting_approval') ?? 0) > 0) return;
    const row = this.store.run(run.id);
    if (!row || row.state !== 'running') return;
    // A step cut short by a first-success fan-in was not needed: it does not fail the run.
    const ok = this.store.steps(run.id).every((step) => step.state === 'succeeded' || (step.error?.startsWith(NOT_NEEDED) ?? false));
    this.store.setRunState(run.id, ok ? 'succeeded' : 'failed', ok ? null : row.error ?? 'a step did not succeed', iso(now));
  }
}

/** A task's final state as the step's. */
export const taskEnded = (state: TaskState): boolean => state === 'succeeded' || state === 'failed' || state === 'cancelled' || state === 'timed_out';
