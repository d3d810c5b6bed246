/** The A2A door's tasks in the Agents view: open ones, then the latest finished, live (task id, caller, target, state, age). */
import type { A2aTaskInfo, A2aTaskStateName } from '../../../shared/contract';
import { Empty, ErrorNotice, Loading, Panel, Tag, type Tone } from '../components/ui';
import { formatAgo, formatDateTime, shortId } from '../format';
import { useAgentLookup, useLiveCall, useNow } from '../hooks';
import { href } from '../router';

const STATE_TONE: Partial<Record<A2aTaskStateName, Tone>> = {
  submitted: 'accent',
  working: 'accent',
  completed: 'up',
  'input-required': 'warn',
  'auth-required': 'warn',
  failed: 'down',
  rejected: 'down',
  canceled: 'muted',
};

export function A2aTasksPanel() {
  const tasks = useLiveCall('a2a.tasks');
  const lookup = useAgentLookup();
  const now = useNow(5000);
  return (
    <Panel title="A2A tasks" testId="a2a-tasks" bodyClassName="panel-body-flush" meta={tasks.state === 'ready' && <span className="num muted">{tasks.value.length}</span>}>
      {tasks.state === 'loading' && <Loading />}
      {tasks.state === 'error' && <ErrorNotice message={tasks.message} />}
      {tasks.state === 'ready' &&
        (tasks.value.length === 0 ? (
          <Empty title="No A2A task">An agent on another framework creates one with SendMessage (see Connect an agent, A2A).</Empty>
        ) : (
          <table className="table">
            <thead>
              <tr>
                <th>Task</th>
                <th>Caller</th>
                <th>For</th>
                <th>State</th>
                <th>Updated</th>
              </tr>
            </thead>
            <tbody>
              {tasks.value.map((task) => (
                <TaskRow key={task.id} task={task} lookup={lookup} now={now} />
              ))}
            </tbody>
          </table>
        ))}
    </Panel>
  );
}

function TaskRow({ task, lookup, now }: { task: A2aTaskInfo; lookup: ReturnType<typeof useAgentLookup>; now: number }) {
  const caller = lookup(task.callerId);
  const target = task.agentId ? lookup(task.agentId) : undefined;
  return (
    <tr data-testid="a2a-task" data-task={task.id} data-state={task.state}>
      <td className="num" title={task.id}>
        <a href={href('messages', task.id)}>{shortId(task.id)}</a>
      </td>
      <td data-testid="a2a-task-caller">
        <a href={href('agents', task.callerId)}>{caller?.name ?? shortId(task.callerId)}</a>
      </td>
      <td data-testid="a2a-task-target">{task.agentId ? <a href={href('agents', task.agentId)}>{target?.name ?? shortId(task.agentId)}</a> : '—'}</td>
      <td data-testid="a2a-task-state">
        <Tag tone={STATE_TONE[task.state]}>{task.state}</Tag>
      </td>
      <td className="num" title={formatDateTime(task.updatedAt)}>
        {formatAgo(task.updatedAt, now)}
      </td>
    </tr>
  );
}
