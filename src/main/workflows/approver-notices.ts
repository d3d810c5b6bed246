/**
 * Tells approvers that a workflow's approval gate opened, by a hub message from the overseer: the project's strategic
 * agents when they may decide, otherwise the agent that started the workflow. The message says what to decide and how.
 */
import type { AgentRegistry } from '../agents/registry';
import type { MessagingService } from '../messaging/service';
import { workflowApprovePath } from '../../shared/workflow-run-protocol';
import type { WorkflowEngine } from './engine';

export function noticeApprovers(engine: WorkflowEngine, registry: AgentRegistry, messaging: MessagingService): void {
  engine.notifyApprovers((run, stepId, approval) => {
    const overseer = registry.ensureOverseer();
    const strategic =
      approval.approvers === 'cockpit'
        ? []
        : registry.all().filter((a) => a.project === run.project && a.tier === 'strategic' && !a.revokedAt && a.id !== overseer.id);
    const creator = run.createdBy === 'cockpit' ? undefined : registry.find(run.createdBy);
    const recipients = strategic.length > 0 ? strategic : creator && !creator.revokedAt ? [creator] : [];
    const who = approval.approvers === 'cockpit' ? 'the person at the cockpit' : approval.approvers === 'strategic' ? 'an agent of tier strategic' : 'the cockpit or an agent of tier strategic';
    for (const agent of recipients) {
      const body = {
        kind: 'workflow.approval',
        workflowId: run.id,
        workflow: run.name,
        stepId,
        prompt: approval.prompt,
        subject: approval.subject ?? null,
        approvers: approval.approvers,
        expiresAt: approval.expiresAt,
        decide: `POST ${workflowApprovePath(run.id, stepId)} {"decision": "approve" | "reject" | "edit", "value"?, "note"?} (decided by ${who})`,
      };
      messaging
        .send(overseer, { to: { type: 'agent', id: agent.id }, subject: `approval needed: ${run.name} / ${stepId}`, body, importance: 'high', ackRequired: false })
        .catch((error: Error) => console.error('[workflows] could not tell an approver:', error.message));
    }
  });
}
