/**
 * The one action an item may carry: how it is described (what a button says, what it calls) and how the hub takes
 * it for the person at the cockpit, on the item as it is now.
 */
import { adviceFixPath, type Advice } from '../../shared/advice-protocol';
import type { AttentionAction, AttentionItem } from '../../shared/attention-protocol';
import { API_PREFIX } from '../../shared/agent-protocol';
import { RESERVATIONS_RELEASE_PATH } from '../../shared/reservation-protocol';
import { workflowApprovePath, workflowRetryPath } from '../../shared/workflow-run-protocol';
import { badRequest } from '../errors';
import type { AttentionDeps } from './source';

const COCKPIT = { kind: 'cockpit' } as const;

export const describeAction = {
  message(agent: { id: string; name: string }): AttentionAction {
    return {
      kind: 'message-agent',
      label: `Message ${agent.name}`,
      needsText: true,
      target: { agentId: agent.id },
      calls: { cockpit: 'messages.send', http: { method: 'POST', path: `${API_PREFIX}/agents/${agent.id}/messages`, body: { body: '…', importance: 'high' } } },
    };
  },
  revoke(agent: { id: string; name: string }, unread: number): AttentionAction {
    return {
      kind: 'revoke-agent',
      label: `Revoke ${agent.name}`,
      confirm: `Revoke ${agent.name}? Its token stops working at once${unread > 0 ? ` and its ${unread} unread messages are no longer waited for` : ''}; registering it again from the cockpit restores it.`,
      target: { agentId: agent.id },
      calls: { cockpit: 'agents.revoke', http: { method: 'POST', path: `${API_PREFIX}/agents/${agent.id}/revoke` } },
    };
  },
  release(ids: string[], holder: string): AttentionAction {
    return {
      kind: 'release-reservations',
      label: ids.length === 1 ? 'Release the lease' : `Release ${ids.length} leases`,
      target: { reservationIds: ids },
      calls: { cockpit: 'reservations.release', http: { method: 'POST', path: RESERVATIONS_RELEASE_PATH, body: { ids } } },
      confirm: `Release ${holder}'s ${ids.length === 1 ? 'lease' : `${ids.length} leases`}? ${holder} is told when it comes back.`,
    };
  },
  retryStep(workflowId: string, stepId: string): AttentionAction {
    return {
      kind: 'retry-step',
      label: `Retry ${stepId}`,
      target: { workflowId, stepId },
      calls: { cockpit: 'workflows.retry', http: { method: 'POST', path: workflowRetryPath(workflowId, stepId) } },
    };
  },
  approveStep(workflowId: string, stepId: string, runName: string): AttentionAction {
    return {
      kind: 'approve-step',
      label: 'Approve',
      confirm: `Approve ${stepId} of ${runName} as it stands? Open the run to read its subject or edit it first.`,
      target: { workflowId, stepId },
      calls: { cockpit: 'workflows.approve', http: { method: 'POST', path: workflowApprovePath(workflowId, stepId), body: { decision: 'approve' } } },
    };
  },
  applyFix(advice: Advice): AttentionAction {
    const fix = advice.fix!;
    return {
      kind: 'apply-fix',
      label: fix.label,
      ...(fix.safe ? {} : { confirm: `${fix.label}? ${fix.estimatedCost}.` }),
      target: { adviceId: advice.id },
      calls: { cockpit: 'advice.fix', http: { method: 'POST', path: adviceFixPath(advice.id) } },
    };
  },
  runBackup(): AttentionAction {
    return { kind: 'run-backup', label: 'Run backup now', target: {}, calls: { cockpit: 'backup.run', http: { method: 'POST', path: `${API_PREFIX}/backup/run` } } };
  },
};

/** Takes the item's action as the cockpit; answers what happened, in words. Throws the service's error if it fails. */
export async function performAction(deps: AttentionDeps, item: AttentionItem, text: string | undefined): Promise<string> {
  const { action } = item;
  if (!action) throw badRequest(`${item.id} has no action to take`);
  const { agentId, reservationIds, workflowId, stepId } = action.target;
  switch (action.kind) {
    case 'message-agent': {
      if (!text) throw badRequest('a message needs its text: { "text": "…" }');
      const sent = await deps.messaging.send(deps.registry.ensureOverseer(), {
        to: { type: 'agent', id: agentId! },
        body: text,
        importance: 'high',
        ackRequired: false,
      });
      return `Sent to ${deps.registry.get(agentId!).name} (message ${sent.id})`;
    }
    case 'revoke-agent':
      return `${deps.registry.revoke(agentId!).name} is revoked`;
    case 'release-reservations': {
      const { released } = await deps.reservations.release(COCKPIT, { ids: reservationIds! });
      return `Released ${released.length} lease${released.length === 1 ? '' : 's'}`;
    }
    case 'retry-step':
      deps.workflows.retry(COCKPIT, workflowId!, stepId!);
      return `Step ${stepId} runs again`;
    case 'approve-step':
      deps.workflows.approve(COCKPIT, workflowId!, stepId!, { decision: 'approve', note: 'approved from the attention list' });
      return `${stepId} approved`;
    case 'run-backup':
      return `Backup run ${deps.backup.runNow().runId} started`;
    case 'apply-fix': {
      if (!deps.advice) throw badRequest('the advisor is not running');
      const result = await deps.advice.fix(action.target.adviceId!);
      if (!result.ok) throw badRequest(`${action.label} failed: ${result.error}`);
      const figures = result.figures.map((figure) => `${figure.label} ${figure.before} → ${figure.after}${figure.unit === 'bytes' ? ' B' : ` ${figure.unit}`}`);
      return `${action.label}: done in ${Math.round(result.durationMs)} ms${figures.length ? ` (${figures.join(', ')})` : ''}`;
    }
  }
}
