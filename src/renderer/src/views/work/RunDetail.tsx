/**
 * One workflow run in the Workflows view: its graph drawn live (steps coloured by state, fan-out items as progress),
 * the approval gates open now with their subject (approve, reject, or edit and approve), the selected step's facts
 * with Retry, the timeline of who ran what, Cancel, and the result once it succeeded.
 */
import { useCallback, useMemo, useState } from 'react';
import type { WorkflowRun, WorkflowStepRun } from '../../../../shared/workflow-run-protocol';
import { WorkflowGraph, STATE_LABEL, stepDuration, type GraphNode } from '../../components/WorkflowGraph';
import { ErrorNotice, Loading, Panel } from '../../components/ui';
import { formatAgo, formatDateTime, formatDuration } from '../../format';
import { invoke, useAgentLookup, useCall, useEvent, useNow, useThrottled, useTransport } from '../../hooks';
import { href } from '../../router';
import { Timeline } from './Timeline';

const RETRYABLE = new Set(['failed', 'timed_out', 'cancelled']);

function json(value: unknown): string {
  return value === undefined ? '—' : JSON.stringify(value, null, 2);
}

export function RunDetail({ id }: { id: string }) {
  const run = useCall('workflows.get', { id });
  const refresh = useThrottled(run.reload, 250);
  useEvent('workflows.changed', (changed) => changed.some((summary) => summary.id === id) && refresh());
  const now = useNow(1000);
  const [selected, setSelected] = useState<string | null>(null);

  if (run.state === 'loading') return <Loading>Loading the run…</Loading>;
  if (run.state === 'error') return <ErrorNotice message={run.message} onRetry={run.reload} />;
  return <RunBody run={run.value} now={now} selected={selected} onSelect={setSelected} reload={run.reload} />;
}

function RunBody({ run, now, selected, onSelect, reload }: { run: WorkflowRun; now: number; selected: string | null; onSelect: (id: string | null) => void; reload: () => void }) {
  const lookup = useAgentLookup();
  const agentName = useCallback((agentId: string) => lookup(agentId)?.name ?? agentId.slice(-6), [lookup]);
  const nodes: GraphNode[] = useMemo(() => run.stepRuns.map((step) => ({ ...step })), [run.stepRuns]);
  const gates = run.stepRuns.filter((step) => step.state === 'awaiting_approval' && step.approval);
  const step = run.stepRuns.find((s) => s.id === selected) ?? null;
  const ran = (run.finishedAt ? Date.parse(run.finishedAt) : now) - Date.parse(run.createdAt);

  return (
    <div className="wf-detail" data-testid="wf-detail" data-run={run.id} data-state={run.state}>
      <div className="wf-detail-head">
        <h2>{run.name}</h2>
        <span className={`wf-badge wf-badge-${run.state}`} data-testid="wf-run-state">
          {run.state}
        </span>
        <span className="small muted">
          project {run.project} · started by {run.createdBy === 'cockpit' ? 'the cockpit' : agentName(run.createdBy)} {formatAgo(run.createdAt, now)} · {run.finishedAt ? 'ran' : 'running for'}{' '}
          <span className="num">{formatDuration(ran)}</span>
        </span>
        <span className="grow" />
        {run.state === 'running' && <CancelRun run={run} onDone={reload} />}
      </div>
      {run.error && <ErrorNotice title="The workflow failed" message={run.error} />}
      {gates.map((gate) => (
        <Gate key={gate.id} run={run} step={gate} onDone={reload} />
      ))}
      <Panel title="Steps" testId="wf-steps" meta={<Legend />}>
        <WorkflowGraph steps={nodes} now={now} selected={selected} onSelect={(stepId) => onSelect(stepId === selected ? null : stepId)} label={`The steps of ${run.name}, coloured by state`} />
        {run.waiting.length > 0 && (
          <ul className="small text-warn" data-testid="wf-waiting">
            {run.waiting.map((w) => (
              <li key={w.stepId}>
                <strong>{w.stepId}</strong>: {w.reason} — <a href={href('tasks')}>waiting work</a>
              </li>
            ))}
          </ul>
        )}
      </Panel>
      {step && <StepPanel run={run} step={step} now={now} agentName={agentName} onDone={reload} />}
      <Panel title="Timeline" testId="wf-timeline-panel" meta={<span className="small">who ran what; a lane per agent</span>}>
        {run.timeline.length === 0 ? <p className="small muted">No task has been created yet.</p> : <Timeline timeline={run.timeline} now={now} agentName={agentName} />}
      </Panel>
      {run.state === 'succeeded' && run.result !== undefined && (
        <Panel title="Result" testId="wf-result">
          <pre className="wf-subject">{json(run.result)}</pre>
        </Panel>
      )}
    </div>
  );
}

function Legend() {
  const items: Array<[string, string]> = [
    ['waiting', 'var(--line-strong)'],
    ['running', 'var(--accent)'],
    ['awaiting approval', 'var(--starting)'],
    ['succeeded', 'var(--up)'],
    ['failed', 'var(--down)'],
  ];
  return (
    <span className="wf-legend" aria-hidden="true">
      {items.map(([label, color]) => (
        <span key={label}>
          <i className="wf-swatch" style={{ background: color }} />
          {label}
        </span>
      ))}
    </span>
  );
}

/** An open approval gate: its question, the subject as it stands, and the decision. */
function Gate({ run, step, onDone }: { run: WorkflowRun; step: WorkflowStepRun; onDone: () => void }) {
  const transport = useTransport();
  const approval = step.approval!;
  const [mode, setMode] = useState<'decide' | 'edit'>('decide');
  const [edited, setEdited] = useState(() => json(approval.subject));
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const forCockpit = approval.approvers !== 'strategic';

  const decide = async (decision: 'approve' | 'reject' | 'edit') => {
    setError(null);
    let value: unknown;
    if (decision === 'edit') {
      try {
        value = JSON.parse(edited);
      } catch (failure) {
        setError(`the edited subject is not JSON: ${(failure as Error).message}`);
        return;
      }
    }
    setBusy(true);
    try {
      await invoke(transport, 'workflows.approve', { id: run.id, stepId: step.id, decision: { decision, ...(decision === 'edit' && { value }), ...(note.trim() && { note: note.trim() }) } });
      onDone();
    } catch (failure) {
      setError((failure as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="wf-gate" data-testid="wf-gate" data-step={step.id} aria-label={`Approval ${step.id}`}>
      <div className="wf-actions">
        <span className="wf-badge wf-badge-awaiting_approval">awaiting approval</span>
        <strong>{step.id}</strong>
        {approval.expiresAt && <span className="small muted">decide before {formatDateTime(approval.expiresAt)}</span>}
      </div>
      <div className="wf-gate-prompt" data-testid="wf-gate-prompt">
        {approval.prompt}
      </div>
      {mode === 'decide' ? (
        <pre className="wf-subject" data-testid="wf-gate-subject">
          {json(approval.subject)}
        </pre>
      ) : (
        <textarea className="input wf-subject-edit" value={edited} onChange={(e) => setEdited(e.target.value)} spellCheck={false} aria-label="Edited subject (JSON)" data-testid="wf-gate-edit" />
      )}
      <input className="input" value={note} onChange={(e) => setNote(e.target.value)} placeholder="A note for the record (optional)" aria-label="Note" maxLength={4000} />
      {error && <p className="text-down small">{error}</p>}
      {!forCockpit && <p className="small text-warn">Only an agent of tier strategic may decide this gate.</p>}
      <div className="wf-actions">
        {mode === 'decide' ? (
          <>
            <button type="button" className="btn btn-primary" disabled={busy || !forCockpit} onClick={() => decide('approve')} data-testid="wf-approve">
              Approve
            </button>
            <button type="button" className="btn" disabled={busy || !forCockpit} onClick={() => setMode('edit')} data-testid="wf-edit">
              Edit…
            </button>
            <button type="button" className="btn btn-danger" disabled={busy || !forCockpit} onClick={() => decide('reject')} data-testid="wf-reject">
              Reject
            </button>
          </>
        ) : (
          <>
            <button type="button" className="btn btn-primary" disabled={busy} onClick={() => decide('edit')} data-testid="wf-edit-approve">
              Approve as edited
            </button>
            <button type="button" className="btn btn-ghost" disabled={busy} onClick={() => setMode('decide')}>
              Back
            </button>
          </>
        )}
      </div>
    </section>
  );
}

function StepPanel({ run, step, now, agentName, onDone }: { run: WorkflowRun; step: WorkflowStepRun; now: number; agentName: (id: string) => string; onDone: () => void }) {
  const transport = useTransport();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const duration = stepDuration(step, now);
  const retry = async () => {
    setBusy(true);
    setError(null);
    try {
      await invoke(transport, 'workflows.retry', { id: run.id, stepId: step.id });
      onDone();
    } catch (failure) {
      setError((failure as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Panel
      title={`Step ${step.id}`}
      testId="wf-step"
      meta={<span className={`wf-badge wf-badge-${step.state}`}>{STATE_LABEL[step.state]}</span>}
      actions={
        RETRYABLE.has(step.state) && (
          <button type="button" className="btn btn-small" disabled={busy} onClick={retry} data-testid="wf-retry">
            {busy ? 'Retrying…' : 'Retry step'}
          </button>
        )
      }
    >
      <dl className="wf-step-facts">
        <dt>kind</dt>
        <dd>{step.kind}</dd>
        {step.title && (
          <>
            <dt>title</dt>
            <dd>{step.title}</dd>
          </>
        )}
        {step.description && (
          <>
            <dt>description</dt>
            <dd>{step.description}</dd>
          </>
        )}
        <dt>depends on</dt>
        <dd>{step.dependsOn.length > 0 ? step.dependsOn.join(', ') : 'nothing'}</dd>
        {step.items.total > 0 && (
          <>
            <dt>tasks</dt>
            <dd className="num">
              {step.items.total} ({step.items.succeeded} done, {step.items.active} running, {step.items.failed} failed, {step.items.queued} queued)
            </dd>
            <dt>agents</dt>
            <dd>{step.agents.length > 0 ? step.agents.map(agentName).join(', ') : '—'}</dd>
          </>
        )}
        {step.waiting && (
          <>
            <dt>waiting</dt>
            <dd className="text-warn">{step.waiting}</dd>
          </>
        )}
        {step.error && (
          <>
            <dt>error</dt>
            <dd className="text-down">{step.error}</dd>
          </>
        )}
        <dt>ran</dt>
        <dd className="num">{duration === null ? 'not started' : `${formatDuration(duration)}${step.finishedAt ? '' : ' so far'}`}</dd>
        {step.approval?.decision && (
          <>
            <dt>decision</dt>
            <dd>
              {step.approval.decision.decision} by {step.approval.decision.by === 'cockpit' ? 'the cockpit' : agentName(step.approval.decision.by)}
              {step.approval.decision.note ? `: ${step.approval.decision.note}` : ''}
            </dd>
          </>
        )}
      </dl>
      {error && <p className="text-down small">{error}</p>}
    </Panel>
  );
}

function CancelRun({ run, onDone }: { run: WorkflowRun; onDone: () => void }) {
  const transport = useTransport();
  const [stage, setStage] = useState<'idle' | 'confirm' | 'working'>('idle');
  const [error, setError] = useState<string | null>(null);
  if (stage === 'idle') {
    return (
      <button type="button" className="btn btn-small btn-danger" onClick={() => setStage('confirm')} data-testid="wf-cancel">
        Cancel workflow…
      </button>
    );
  }
  const cancel = async () => {
    setStage('working');
    setError(null);
    try {
      await invoke(transport, 'workflows.cancel', { id: run.id, reason: 'cancelled in the cockpit' });
      onDone();
      setStage('idle');
    } catch (failure) {
      setError((failure as Error).message);
      setStage('confirm');
    }
  };
  return (
    <div className="confirm" role="alertdialog" aria-label={`Cancel ${run.name}?`}>
      <p>Cancel {run.name}? Its running tasks are cancelled and their agents told.</p>
      {error && <p className="text-down small">{error}</p>}
      <div className="confirm-actions">
        <button type="button" className="btn btn-small" onClick={() => setStage('idle')} disabled={stage === 'working'}>
          Keep it running
        </button>
        <button type="button" className="btn btn-small btn-danger" onClick={cancel} disabled={stage === 'working'} data-testid="wf-cancel-confirm">
          {stage === 'working' ? 'Cancelling…' : 'Cancel workflow'}
        </button>
      </div>
    </div>
  );
}
