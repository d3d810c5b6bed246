/**
 * The Tasks view: work waiting for an agent with the reason it waits ("no online agent with capability `review`"),
 * what each agent holds and has done, the latest tasks by state, project and agent, and Cancel. Live: the lists are
 * fetched again (at most twice a second) when the hub pushes 'tasks.changed'.
 */
import { useMemo, useState } from 'react';
import { TASK_STATES, type Task, type TaskState } from '../../../../shared/task-protocol';
import type { WaitingTask } from '../../../../shared/workflow-run-protocol';
import { Empty, ErrorNotice, Loading, Panel, Tag, ViewHeader } from '../../components/ui';
import '../../components/workflows.css';
import { formatAgo, shortId } from '../../format';
import { invoke, useAgentLookup, useCall, useNow, useTransport } from '../../hooks';
import { href } from '../../router';
import { useReloadOnTaskChange, useTaskCounts } from './hooks';

const OPEN: readonly TaskState[] = ['pending', 'ready', 'assigned', 'running'];
const STATE_TONE: Partial<Record<TaskState, 'up' | 'warn' | 'accent' | 'muted'>> = {
  succeeded: 'up',
  running: 'accent',
  assigned: 'accent',
  ready: 'warn',
  cancelled: 'muted',
};

/** A reason that says work is about to move rather than stuck. */
const isMoving = (reason: string | null) => reason === null || reason === 'about to be offered';

export function TasksView() {
  const counts = useTaskCounts();
  const [filter, setFilter] = useState<{ state: TaskState | ''; project: string; agent: string }>({ state: '', project: '', agent: '' });
  const waiting = useCall('tasks.waiting', { limit: 200 });
  const params = { limit: 200, ...(filter.state && { state: filter.state }), ...(filter.project && { project: filter.project }), ...(filter.agent && { agent: filter.agent }) };
  const recent = useCall('tasks.list', params);
  const all = useCall('tasks.list', { limit: 500 });
  useReloadOnTaskChange(waiting.reload);
  useReloadOnTaskChange(recent.reload);
  useReloadOnTaskChange(all.reload, 1000);
  const now = useNow(1000);

  const open = counts.state === 'ready' ? counts.value.open : null;
  return (
    <div className="view" data-testid="view-tasks">
      <ViewHeader
        title="Tasks"
        subtitle={
          open ? (
            <>
              <span className="num" data-testid="tasks-ready">{open.ready}</span> waiting for an agent
              {counts.state === 'ready' && counts.value.stuck > 0 && (
                <>
                  {' '}(<span className="text-warn num" data-testid="tasks-stuck">{counts.value.stuck}</span> that no present agent can take)
                </>
              )}
              {' · '}
              <span className="num">{open.assigned + open.running}</span> held · <span className="num">{open.pending}</span> pending
            </>
          ) : (
            'Work handed to agents under a lease, live.'
          )
        }
      />
      <div className="tasks-layout">
        <Panel title="Waiting for an agent" testId="tasks-waiting" meta={waiting.state === 'ready' && <span className="num">{waiting.value.length}</span>}>
          {waiting.state === 'loading' && <Loading />}
          {waiting.state === 'error' && <ErrorNotice message={waiting.message} onRetry={waiting.reload} />}
          {waiting.state === 'ready' &&
            (waiting.value.length === 0 ? (
              <Empty title="No work is waiting" testId="tasks-waiting-empty">
                Ready tasks that no agent has taken show here, with the reason.
              </Empty>
            ) : (
              <WaitingTable tasks={waiting.value} now={now} />
            ))}
        </Panel>
        <Panel title="By agent" testId="tasks-by-agent" meta={<span className="small">latest 500 tasks</span>}>
          {all.state === 'loading' && <Loading />}
          {all.state === 'error' && <ErrorNotice message={all.message} onRetry={all.reload} />}
          {all.state === 'ready' && <ByAgent tasks={all.value} onPick={(agent) => setFilter((f) => ({ ...f, agent }))} />}
        </Panel>
      </div>
      <Panel
        title="Tasks"
        testId="tasks-list"
        bodyClassName="panel-body-flush"
        actions={<Filters filter={filter} setFilter={setFilter} tasks={all.state === 'ready' ? all.value : []} />}
      >
        {recent.state === 'loading' && <Loading />}
        {recent.state === 'error' && <ErrorNotice message={recent.message} onRetry={recent.reload} />}
        {recent.state === 'ready' &&
          (recent.value.length === 0 ? (
            <Empty title="No tasks" testId="tasks-empty">
              Agents create tasks with <code>devenviro task create</code> or <code>POST /api/v1/tasks</code>; workflows create them for their steps.
            </Empty>
          ) : (
            <TaskTable tasks={recent.value} now={now} />
          ))}
      </Panel>
    </div>
  );
}

function Needs({ task }: { task: Pick<Task, 'capabilities' | 'tier'> }) {
  if (task.capabilities.length === 0 && !task.tier) return <span className="muted">any agent</span>;
  return (
    <span className="tags">
      {task.tier && <Tag tone="accent">{task.tier}</Tag>}
      {task.capabilities.map((c) => (
        <Tag key={c}>{c}</Tag>
      ))}
    </span>
  );
}

function WaitingTable({ tasks, now }: { tasks: WaitingTask[]; now: number }) {
  return (
    <div className="table-scroll">
      <table className="table" data-testid="tasks-waiting-table">
        <thead>
          <tr>
            <th>Task</th>
            <th>Needs</th>
            <th>Why it waits</th>
            <th className="right">Created</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {tasks.map((task) => (
            <tr key={task.id} data-testid="waiting-task" data-id={task.id}>
              <td className="task-title" title={`${task.title} (${task.project})`}>
                {task.title}
                <div className="small muted">
                  {task.project}
                  {task.workflowId && (
                    <>
                      {' · '}
                      <a href={href('workflows', task.workflowId)}>workflow step {task.stepId}</a>
                    </>
                  )}
                </div>
              </td>
              <td>
                <Needs task={task} />
              </td>
              <td className={isMoving(task.waiting) ? 'task-reason task-reason-ok' : 'task-reason'} data-testid="waiting-reason">
                {task.waiting ?? '—'}
              </td>
              <td className="right num nowrap">{formatAgo(task.createdAt, now)}</td>
              <td className="right">
                <CancelTask id={task.id} title={task.title} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function TaskTable({ tasks, now }: { tasks: Task[]; now: number }) {
  const lookup = useAgentLookup();
  return (
    <div className="table-scroll">
      <table className="table" data-testid="tasks-table">
        <thead>
          <tr>
            <th>Task</th>
            <th>State</th>
            <th>Agent</th>
            <th className="right">Attempt</th>
            <th>Progress / outcome</th>
            <th className="right">Updated</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {tasks.map((task) => (
            <tr key={task.id} data-testid="task-row" data-id={task.id} data-state={task.state}>
              <td className="task-title" title={`${task.title} · ${task.id}`}>
                {task.title}
                <div className="small muted">
                  {task.project} · <span className="num">{shortId(task.id)}</span>
                  {task.workflowId && (
                    <>
                      {' · '}
                      <a href={href('workflows', task.workflowId)}>{task.stepId}</a>
                    </>
                  )}
                </div>
              </td>
              <td>
                <Tag tone={STATE_TONE[task.state] ?? (task.state === 'failed' || task.state === 'timed_out' ? 'warn' : undefined)}>{task.state.replace('_', ' ')}</Tag>
              </td>
              <td className="nowrap">{task.holderId ? <a href={href('agents', task.holderId)}>{lookup(task.holderId)?.name ?? shortId(task.holderId)}</a> : <span className="muted">—</span>}</td>
              <td className="right num">
                {task.attempt}/{task.maxAttempts}
              </td>
              <td className="small muted task-title">
                {task.error ? <span className="text-warn">{task.error.message}</span> : task.progress ? `${task.progress.percent ?? '—'}% ${task.progress.note ?? ''}` : (task.waiting ?? '')}
              </td>
              <td className="right num nowrap">{formatAgo(task.updatedAt, now)}</td>
              <td className="right">{OPEN.includes(task.state) && <CancelTask id={task.id} title={task.title} />}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Filters({
  filter,
  setFilter,
  tasks,
}: {
  filter: { state: TaskState | ''; project: string; agent: string };
  setFilter: (f: { state: TaskState | ''; project: string; agent: string }) => void;
  tasks: Task[];
}) {
  const lookup = useAgentLookup();
  const projects = useMemo(() => [...new Set(tasks.map((t) => t.project))].sort(), [tasks]);
  const agents = useMemo(() => [...new Set(tasks.map((t) => t.holderId).filter((id): id is string => id !== null))], [tasks]);
  return (
    <div className="task-filters">
      <select className="input" value={filter.state} onChange={(e) => setFilter({ ...filter, state: e.target.value as TaskState | '' })} aria-label="State" data-testid="tasks-filter-state">
        <option value="">Any state</option>
        {TASK_STATES.map((state) => (
          <option key={state} value={state}>
            {state.replace('_', ' ')}
          </option>
        ))}
      </select>
      <select className="input" value={filter.project} onChange={(e) => setFilter({ ...filter, project: e.target.value })} aria-label="Project">
        <option value="">All projects</option>
        {projects.map((p) => (
          <option key={p} value={p}>
            {p}
          </option>
        ))}
      </select>
      <select className="input" value={filter.agent} onChange={(e) => setFilter({ ...filter, agent: e.target.value })} aria-label="Agent" data-testid="tasks-filter-agent">
        <option value="">Any agent</option>
        {agents.map((id) => (
          <option key={id} value={id}>
            {lookup(id)?.name ?? shortId(id)}
          </option>
        ))}
      </select>
    </div>
  );
}

/** Per agent: what it holds now, and how its latest tasks ended. */
function ByAgent({ tasks, onPick }: { tasks: Task[]; onPick: (agentId: string) => void }) {
  const lookup = useAgentLookup();
  const rows = useMemo(() => {
    const byAgent = new Map<string, { held: number; succeeded: number; failed: number }>();
    for (const task of tasks) {
      if (!task.holderId) continue;
      let row = byAgent.get(task.holderId);
      if (!row) byAgent.set(task.holderId, (row = { held: 0, succeeded: 0, failed: 0 }));
      if (task.state === 'assigned' || task.state === 'running') row.held++;
      else if (task.state === 'succeeded') row.succeeded++;
      else if (task.state === 'failed' || task.state === 'timed_out') row.failed++;
    }
    return [...byAgent.entries()].sort((a, b) => b[1].held - a[1].held || b[1].succeeded - a[1].succeeded);
  }, [tasks]);
  if (rows.length === 0) return <Empty title="No agent has taken a task yet" />;
  return (
    <table className="table" data-testid="tasks-agents-table">
      <thead>
        <tr>
          <th>Agent</th>
          <th className="right">Holds</th>
          <th className="right">Done</th>
          <th className="right">Failed</th>
        </tr>
      </thead>
      <tbody>
        {rows.map(([id, row]) => (
          <tr key={id} className="clickable" onClick={() => onPick(id)} data-testid="tasks-agent-row" data-agent={lookup(id)?.name ?? id}>
            <td>{lookup(id)?.name ?? shortId(id)}</td>
            <td className="right num">{row.held}</td>
            <td className="right num">{row.succeeded}</td>
            <td className={`right num ${row.failed > 0 ? 'text-warn' : ''}`}>{row.failed}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function CancelTask({ id, title }: { id: string; title: string }) {
  const transport = useTransport();
  const [stage, setStage] = useState<'idle' | 'confirm' | 'working'>('idle');
  const [error, setError] = useState<string | null>(null);
  if (stage === 'idle') {
    return (
      <button type="button" className="btn btn-small" onClick={() => setStage('confirm')} data-testid="task-cancel">
        Cancel…
      </button>
    );
  }
  const cancel = async () => {
    setStage('working');
    setError(null);
    try {
      // The row changes when the hub's tasks.changed event brings the lists again.
      await invoke(transport, 'tasks.cancel', { id, reason: 'cancelled in the cockpit' });
    } catch (failure) {
      setError((failure as Error).message);
      setStage('confirm');
    }
  };
  return (
    <div className="confirm" role="alertdialog" aria-label={`Cancel ${title}?`}>
      <p>Cancel “{title}”? Its agent is told, and tasks waiting on it fail.</p>
      {error && <p className="text-down small">{error}</p>}
      <div className="confirm-actions">
        <button type="button" className="btn btn-small" onClick={() => setStage('idle')} disabled={stage === 'working'}>
          Keep it
        </button>
        <button type="button" className="btn btn-small btn-danger" onClick={cancel} disabled={stage === 'working'} data-testid="task-cancel-confirm">
          {stage === 'working' ? 'Cancelling…' : 'Cancel task'}
        </button>
      </div>
    </div>
  );
}

/** The sidebar's figure: tasks waiting for an agent, amber while some are stuck. */
export function TasksNavHint() {
  const counts = useTaskCounts();
  if (counts.state !== 'ready' || counts.value.open.ready === 0) return null;
  const { ready } = counts.value.open;
  const { stuck } = counts.value;
  return (
    <span className={`nav-hint num ${stuck > 0 ? 'nav-hint-warn' : ''}`} title={stuck > 0 ? `${ready} tasks waiting for an agent, ${stuck} that no present agent can take` : `${ready} tasks waiting for an agent`} data-testid="tasks-nav-hint">
      {ready}
    </span>
  );
}
