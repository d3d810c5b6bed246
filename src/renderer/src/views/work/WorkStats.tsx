/**
 * The Overview's figures of stuck and waiting work: workflow gates awaiting approval (and runs whose steps wait for an
 * agent), and tasks waiting for an agent (with how many no present agent can take), each linking to where it is dealt
 * with.
 */
import { Stat } from '../../components/ui';
import { href } from '../../router';
import { useTaskCounts, useWorkflowRuns } from './hooks';

export function WorkStats() {
  const runs = useWorkflowRuns();
  const counts = useTaskCounts();
  const awaiting = runs.state === 'ready' ? runs.value.filter((run) => run.awaitingApproval.length > 0) : [];
  const gates = awaiting.reduce((n, run) => n + run.awaitingApproval.length, 0);
  const running = runs.state === 'ready' ? runs.value.filter((run) => run.state === 'running').length : 0;
  const blocked = runs.state === 'ready' ? runs.value.filter((run) => run.state === 'running' && run.waiting.length > 0).length : 0;
  const ready = counts.state === 'ready' ? counts.value.open.ready : null;
  const stuck = counts.state === 'ready' ? counts.value.stuck : 0;
  return (
    <>
      <Stat
        label="Awaiting approval"
        value={<a href={awaiting.length === 1 ? href('workflows', awaiting[0]!.id) : href('workflows')}>{runs.state === 'ready' ? gates : '—'}</a>}
        sub={`${running} workflow${running === 1 ? '' : 's'} running${blocked > 0 ? `, ${blocked} waiting for an agent` : ''}`}
        tone={gates > 0 ? 'warn' : 'muted'}
        testId="stat-awaiting-approval"
      />
      <Stat
        label="Tasks waiting"
        value={<a href={href('tasks')}>{ready ?? '—'}</a>}
        sub={stuck > 0 ? `${stuck} no present agent can take` : 'for an agent to take them'}
        tone={stuck > 0 ? 'warn' : 'muted'}
        testId="stat-tasks-waiting"
      />
    </>
  );
}
