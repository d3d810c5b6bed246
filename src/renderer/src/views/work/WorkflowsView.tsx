/**
 * The Workflows view: the latest runs (state, step counts, gates awaiting approval, work waiting for an agent), the
 * selected run drawn live (RunDetail), and starting a workflow from a pasted definition or a template. Live through
 * 'workflows.changed'; the selected run is in the URL (#/workflows/<id>).
 */
import { useState } from 'react';
import { invoke, useNow, useTransport } from '../../hooks';
import type { WorkflowSummary } from '../../../../shared/workflow-run-protocol';
import { Empty, ErrorNotice, Loading, Panel, ViewHeader } from '../../components/ui';
import { formatAgo } from '../../format';
import { navigate } from '../../router';
import { useWorkflowRuns } from './hooks';
import { RunDetail } from './RunDetail';
import { StartWorkflow } from './StartWorkflow';
import '../../components/workflows.css';

export function WorkflowsView({ selectedId }: { selectedId: string | null }) {
  const transport = useTransport();
  const runs = useWorkflowRuns();
  const now = useNow(5000);
  const [starting, setStarting] = useState(false);
  const list = runs.state === 'ready' ? runs.value : [];
  const running = list.filter((run) => run.state === 'running').length;
  const awaiting = list.filter((run) => run.awaitingApproval.length > 0).length;

  const start = async (definition: unknown) => {
    const run = await invoke(transport, 'workflows.start', { definition });
    setStarting(false);
    navigate('workflows', run.id);
    return run.id;
  };

  return (
    <div className="view" data-testid="view-workflows">
      <ViewHeader
        title="Workflows"
        subtitle={
          runs.state === 'ready' ? (
            <>
              <span className="num">{running}</span> running
              {awaiting > 0 && (
                <>
                  {' · '}
                  <span className="text-warn num" data-testid="wf-awaiting-count">{awaiting}</span> awaiting your approval
                </>
              )}
            </>
          ) : (
            'Graphs of steps run on tasks: fan-out, fan-in, approval gates.'
          )
        }
        actions={
          <button type="button" className="btn btn-primary" onClick={() => setStarting((open) => !open)} aria-expanded={starting} data-testid="wf-new">
            Start a workflow…
          </button>
        }
      />
      {starting && (
        <Panel title="Start a workflow" testId="wf-start-panel">
          <StartWorkflow start={start} onCancel={() => setStarting(false)} />
        </Panel>
      )}
      <div className="wf-layout">
        <Panel title="Runs" testId="wf-runs" bodyClassName="panel-body-flush" meta={<span className="small">latest 100</span>}>
          {runs.state === 'loading' && <Loading />}
          {runs.state === 'error' && <ErrorNotice message={runs.message} onRetry={runs.reload} />}
          {runs.state === 'ready' &&
            (list.length === 0 ? (
              <Empty title="No workflow has run yet" testId="wf-runs-empty">
                Start one here, with <code>devenviro workflow run FILE</code>, or <code>POST /api/v1/workflows</code>.
              </Empty>
            ) : (
              <ul className="wf-runs">
                {list.map((run) => (
                  <RunItem key={run.id} run={run} now={now} selected={run.id === selectedId} />
                ))}
              </ul>
            ))}
        </Panel>
        {selectedId ? (
          <RunDetail key={selectedId} id={selectedId} />
        ) : (
          <Panel>
            <Empty title="Choose a run">Its steps are drawn as a graph, live, with the approvals waiting for you and a timeline of who ran what.</Empty>
          </Panel>
        )}
      </div>
    </div>
  );
}

function RunItem({ run, now, selected }: { run: WorkflowSummary; now: number; selected: boolean }) {
  const total = Object.values(run.steps).reduce((n, count) => n + count, 0);
  return (
    <li className={`wf-run ${selected ? 'selected' : ''}`} data-testid="wf-run" data-id={run.id} data-state={run.state} data-name={run.name}>
      <button type="button" onClick={() => navigate('workflows', run.id)} aria-current={selected ? 'true' : undefined}>
        <span className="wf-run-top">
          <span className="wf-run-name">{run.name}</span>
          <span className={`wf-badge wf-badge-${run.state}`}>{run.state}</span>
        </span>
        <span className="wf-run-meta">
          <span>{run.project}</span>
          <span className="num">
            {run.steps.succeeded}/{total} steps done
          </span>
          {run.steps.running > 0 && <span className="num">{run.steps.running} running</span>}
          {run.steps.failed + run.steps.timed_out > 0 && <span className="text-down num">{run.steps.failed + run.steps.timed_out} failed</span>}
          <span>{formatAgo(run.createdAt, now)}</span>
        </span>
        {run.awaitingApproval.length > 0 && (
          <span className="wf-badge wf-badge-awaiting_approval" data-testid="wf-run-awaiting">
            approve: {run.awaitingApproval.join(', ')}
          </span>
        )}
        {run.waiting.length > 0 && (
          <span className="small text-warn" title={run.waiting.map((w) => `${w.stepId}: ${w.reason}`).join('\n')}>
            {run.waiting[0]!.stepId}: {run.waiting[0]!.reason}
          </span>
        )}
      </button>
    </li>
  );
}

/** The sidebar's figure: runs with a gate awaiting approval (amber), else runs in progress. */
export function WorkflowsNavHint() {
  const runs = useWorkflowRuns();
  if (runs.state !== 'ready') return null;
  const awaiting = runs.value.filter((run) => run.awaitingApproval.length > 0).length;
  const running = runs.value.filter((run) => run.state === 'running').length;
  if (awaiting > 0) {
    return (
      <span className="nav-hint nav-hint-warn num" title={`${awaiting} workflow${awaiting === 1 ? '' : 's'} awaiting your approval`} data-testid="wf-nav-hint">
        {awaiting}
      </span>
    );
  }
  if (running === 0) return null;
  return (
    <span className="nav-hint num" title="workflows running" data-testid="wf-nav-hint">
      {running}
    </span>
  );
}
