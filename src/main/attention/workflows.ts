/**
 * Workflows that wait for a person or have failed: each open approval gate the cockpit may decide (with Approve as
 * its action), and each run that failed lately with the step to retry. Running runs come through their partial
 * index; failed ones from the newest runs only, so neither grows with the history.
 */
import { durationWords, type AttentionItem } from '../../shared/attention-protocol';
import type { StepApproval } from '../../shared/workflow-run-protocol';
import { describeAction } from './actions';
import type { SourceFactory } from './source';

/** Runs looked at: running ones (approval gates), and the newest runs for failures. */
const RUNNING_LIMIT = 500;
const RECENT_LIMIT = 100;

export const workflowSource: SourceFactory = ({ workflows }, limits) => (now) => {
  const items: AttentionItem[] = [];
  // The run store's rows, not the engine's summaries: those work out why each step's tasks wait, which this does not need.
  const { store } = workflows;
  for (const run of store.listRuns({ state: 'running', limit: RUNNING_LIMIT })) {
    const steps = store.steps(run.id);
    for (const step of steps.filter((candidate) => candidate.state === 'awaiting_approval')) {
      const stepId = step.step_id;
      const approval = step.approval ? (JSON.parse(step.approval) as StepApproval) : null;
      const since = step.started_at ?? run.updated_at;
      const waitedMs = now - Date.parse(since);
      const cockpitMay = approval?.approvers !== 'strategic';
      items.push({
        id: `workflow-approval:${run.id}:${stepId}`,
        kind: 'workflow-approval',
        severity: 'warning',
        project: run.project,
        title: `${run.name} waits for approval of ${stepId}; ${durationWords(waitedMs)}`,
        detail: approval?.prompt ?? null,
        evidence: [
          { label: 'waiting', value: waitedMs, unit: 'ms' },
          { label: 'steps done', value: steps.filter((candidate) => candidate.state === 'succeeded').length, unit: 'count' },
          ...(approval?.expiresAt ? [{ label: 'times out in', value: Math.max(0, Date.parse(approval.expiresAt) - now), unit: 'ms' as const }] : []),
        ],
        since,
        link: { view: 'workflows', selection: run.id, label: 'Open the run' },
        action: cockpitMay ? describeAction.approveStep(run.id, stepId, run.name) : null,
      });
    }
  }
  for (const run of store.listRuns({ limit: RECENT_LIMIT })) {
    if (run.state !== 'failed' || run.finished_at === null || now - Date.parse(run.finished_at) > limits.failedWorkflowMs) continue;
    const steps = store.steps(run.id);
    const failed = steps.find((step) => step.state === 'failed' || step.state === 'timed_out');
    const count = (state: string) => steps.filter((step) => step.state === state).length;
    items.push({
      id: `workflow-failed:${run.id}`,
      kind: 'workflow-failed',
      severity: 'warning',
      project: run.project,
      title: `${run.name} failed${failed ? ` at ${failed.step_id}` : ''} ${durationWords(now - Date.parse(run.finished_at))} ago`,
      detail: failed?.error ?? run.error,
      evidence: [
        { label: 'steps failed', value: count('failed') + count('timed_out'), unit: 'count' },
        { label: 'steps done', value: count('succeeded'), unit: 'count' },
      ],
      since: run.finished_at,
      link: { view: 'workflows', selection: run.id, label: 'Open the run' },
      action: failed ? describeAction.retryStep(run.id, failed.step_id) : null,
    });
  }
  return items;
};
