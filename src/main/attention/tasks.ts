/**
 * Work stuck for want of an agent: ready tasks that no agent of the project that is present could take (none has
 * the tier and capabilities, or all that have are offline), grouped by what they need, with the dispatcher's reason.
 * One grouped read through the partial index of open tasks; a workflow's waiting steps are these tasks too.
 */
import { durationWords, type AttentionItem } from '../../shared/attention-protocol';
import { agentFits, waitingReason } from '../tasks/dispatcher';
import type { SourceFactory } from './source';

type NeedsRow = { project: string; tier: string | null; capabilities: string; assignee: string | null; n: number; oldest: string; workflows: number };

export const stuckTasksSource: SourceFactory = ({ db, registry }, limits) => {
  // Through the partial index of open tasks (named: without statistics the planner would walk every task ever made
  // through tasks_by_project for the GROUP BY's order).
  const readyByNeeds = db.prepare(
    `SELECT project, tier, capabilities, assignee, count(*) AS n, min(coalesce(ready_since, created_at)) AS oldest, count(workflow_id) AS workflows
     FROM tasks INDEXED BY tasks_open WHERE state IN ('pending', 'ready', 'assigned', 'running') AND state = 'ready'
     GROUP BY project, tier, capabilities, assignee`,
  );
  return (now) => {
    const items: AttentionItem[] = [];
    const agents = registry.all();
    const present = agents.filter((agent) => !agent.revokedAt && registry.presence(agent) !== 'offline');
    for (const row of readyByNeeds.all() as NeedsRow[]) {
      const task = { project: row.project, tier: row.tier, capabilities: JSON.parse(row.capabilities) as string[], assignee: row.assignee };
      if (present.some((agent) => agentFits(agent, task))) continue;
      const waitedMs = now - Date.parse(row.oldest);
      if (waitedMs < limits.stuckTaskMs) continue;
      // Only the rules about who exists and who is present apply here: nobody present fits.
      const reason = waitingReason(task, agents, registry, () => true, () => false);
      const needs = [row.tier && `tier ${row.tier}`, ...task.capabilities.map((c) => `\`${c}\``), row.assignee && `assignee ${row.assignee}`].filter(Boolean).join(', ');
      items.push({
        id: `tasks-stuck:${row.project}:${row.tier ?? ''}:${task.capabilities.join(',')}:${row.assignee ?? ''}`,
        kind: 'tasks-stuck',
        severity: 'warning',
        project: row.project,
        title: `${row.n} task${row.n === 1 ? '' : 's'} in ${row.project} ${row.n === 1 ? 'waits' : 'wait'} for an agent${needs ? ` (${needs})` : ''}: ${reason}; oldest ${durationWords(waitedMs)}`,
        detail: `No agent that is present can take ${row.n === 1 ? 'it' : 'them'}: connect an agent of project ${row.project}${needs ? ` with ${needs}` : ''}, or start one that is offline.${row.workflows > 0 ? ` ${row.workflows} belong to workflows, whose steps wait meanwhile.` : ''}`,
        evidence: [
          { label: 'waiting', value: row.n, unit: 'count' },
          { label: 'oldest waited', value: waitedMs, unit: 'ms' },
          ...(row.workflows > 0 ? [{ label: 'of workflows', value: row.workflows, unit: 'count' as const }] : []),
        ],
        since: row.oldest,
        link: { view: 'tasks', selection: null, label: 'Open Tasks' },
        action: null,
      });
    }
    return items;
  };
};
