/**
 * A run as callers see it, built from its rows: WorkflowSummary for lists and events, WorkflowRun (definition, plan,
 * every step with its counts, approval and result, the timeline of who ran what, the run's result) for one run.
 */
import type { TaskState } from '../../shared/task-protocol';
import { STEP_RUN_STATES, type StepApproval, type StepStateCounts, type WorkflowRun, type WorkflowStepRun, type WorkflowSummary, type WorkflowTimelineEntry } from '../../shared/workflow-run-protocol';
import type { StepOutput, WorkflowDefinition, WorkflowPlan, WorkflowStep } from '../../shared/workflow-protocol';
import type { TaskCaller } from '../tasks/service';
import type { RunRow, RunStore, StepRow, TimelineRow } from './run-store';
import type { EngineTasks } from './step-runners';

const COCKPIT: TaskCaller = { kind: 'cockpit' };

/** Why a running step's first waiting task waits ("no online agent with capability `review`"), if one does. */
function waitingOf(store: RunStore, tasks: EngineTasks, step: StepRow): string | null {
  if (step.state !== 'running') return null;
  // One look per step: the items of a step wait for the same reason.
  const item = store.firstActiveItem(step.run_id, step.step_id);
  return item?.task_id ? tasks.get(COCKPIT, item.task_id).waiting : null;
}

export function summaryView(store: RunStore, tasks: EngineTasks, row: RunRow, steps = store.steps(row.id)): WorkflowSummary {
  const counts = Object.fromEntries(STEP_RUN_STATES.map((s) => [s, 0])) as StepStateCounts;
  const waiting: WorkflowSummary['waiting'] = [];
  for (const step of steps) {
    counts[step.state]++;
    const reason = row.state === 'running' ? waitingOf(store, tasks, step) : null;
    if (reason) waiting.push({ stepId: step.step_id, reason });
  }
  return {
    id: row.id,
    name: row.name,
    project: row.project,
    state: row.state,
    createdBy: row.created_by,
    steps: counts,
    awaitingApproval: steps.filter((s) => s.state === 'awaiting_approval').map((s) => s.step_id),
    waiting,
    error: row.error,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at,
  };
}

function titleOf(step: WorkflowStep): string | null {
  if (step.kind === 'task') return step.title;
  if (step.kind === 'fan-out') return step.task.title;
  if (step.kind === 'fan-in' && step.aggregate.use === 'task') return step.aggregate.task.title;
  return null;
}

function stepView(stepId: string, step: WorkflowStep, row: StepRow, timeline: TimelineRow[], holders: Set<string>, waiting: string | null): WorkflowStepRun {
  const taskIds = timeline.map((entry) => entry.task_id);
  const agents = [...holders];
  const oneTask = step.kind === 'task' || (step.kind === 'fan-in' && step.aggregate.use === 'task');
  const total = oneTask ? 1 : row.items_total;
  const ended = row.items_succeeded + row.items_failed + row.items_cancelled;
  let approval: StepApproval | null = null;
  if (step.kind === 'approval') {
    approval = row.approval ? (JSON.parse(row.approval) as StepApproval) : { prompt: step.prompt, approvers: step.approvers, expiresAt: null, decision: null };
  }
  const view: WorkflowStepRun = {
    id: stepId,
    kind: step.kind,
    state: row.state,
    dependsOn: step.dependsOn,
    description: step.description ?? null,
    title: titleOf(step),
    taskIds,
    items: {
      total,
      queued: Math.max(0, total - row.items_started),
      active: Math.max(0, row.items_started - ended),
      succeeded: row.items_succeeded,
      failed: row.items_failed,
      cancelled: row.items_cancelled,
    },
    agents,
    waiting,
    error: row.error,
    approval,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
  if (row.state === 'succeeded' && row.output !== null) view.result = (JSON.parse(row.output) as StepOutput).result;
  return view;
}

export function runView(store: RunStore, tasks: EngineTasks, row: RunRow): WorkflowRun {
  const steps = store.steps(row.id);
  const summary = summaryView(store, tasks, row, steps);
  const definition = JSON.parse(row.definition) as WorkflowDefinition;
  const plan = JSON.parse(row.plan) as WorkflowPlan;
  const rows = new Map(steps.map((s) => [s.step_id, s]));
  const timelineRows = store.timeline(row.id);
  const byStep = new Map<string, TimelineRow[]>();
  for (const entry of timelineRows) {
    let list = byStep.get(entry.step_id);
    if (!list) byStep.set(entry.step_id, (list = []));
    list.push(entry);
  }
  const waiting = new Map(summary.waiting.map((w) => [w.stepId, w.reason]));
  // Every attempt's holder, each once per step, in the order they were first given one of its tasks.
  const holders = new Map<string, Set<string>>();
  for (const { step_id, agent_id } of store.holders(row.id)) {
    let set = holders.get(step_id);
    if (!set) holders.set(step_id, (set = new Set()));
    set.add(agent_id);
  }
  const stepRuns = plan.levels
    .flat()
    .map((stepId) => stepView(stepId, definition.steps[stepId]!, rows.get(stepId)!, byStep.get(stepId) ?? [], holders.get(stepId) ?? new Set(), waiting.get(stepId) ?? null));
  const timeline: WorkflowTimelineEntry[] = timelineRows.map((t) => ({
    taskId: t.task_id,
    stepId: t.step_id,
    itemIndex: definition.steps[t.step_id]?.kind === 'fan-out' ? t.idx : null,
    state: t.state as TaskState,
    attempt: t.attempt,
    agentId: t.holder_id,
    createdAt: t.created_at,
    startedAt: t.started_at,
    finishedAt: t.finished_at,
  }));
  const run: WorkflowRun = { ...summary, definition, plan, stepRuns, timeline };
  if (row.state === 'succeeded') {
    // The steps nothing depends on: one result, or an object keyed by step id.
    const depended = new Set(Object.values(definition.steps).flatMap((s) => s.dependsOn));
    const sinks = stepRuns.filter((s) => !depended.has(s.id));
    run.result = sinks.length === 1 ? sinks[0]!.result : Object.fromEntries(sinks.map((s) => [s.id, s.result]));
  }
  return run;
}
