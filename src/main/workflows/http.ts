/**
 * HTTP route of workflow definitions (API v1): check one against the caller's project and its registered agents,
 * answering the plan, or a 400 whose `problems` name each step at fault. Nothing is stored.
 */
import { WORKFLOW_VALIDATE_PATH, type WorkflowCheck } from '../../shared/workflow-protocol';
import type { AgentRegistry } from '../agents/registry';
import { authorityOf, requireAuthority } from '../api/auth';
import type { ApiContext } from '../api/server';
import { forbidden } from '../errors';
import { validateWorkflow } from './definition';
import { agentViews, invalidWorkflow } from './engine';
import { isPlainObject } from './values';

export function registerWorkflowRoutes({ http }: ApiContext, registry: AgentRegistry, cockpitToken: string): void {
  /** An agent's workflows run in its own project; the cockpit's in the one the definition names (else `default`). */
  http.post(WORKFLOW_VALIDATE_PATH, async (request): Promise<WorkflowCheck> => {
    const who = requireAuthority(authorityOf(request, registry, cockpitToken));
    const body: unknown = request.body;
    const named = isPlainObject(body) && typeof body.project === 'string' ? body.project.trim() : undefined;
    if (who.kind === 'agent' && named !== undefined && named !== who.agent.project) {
      throw forbidden(`an agent runs workflows in its own project (${who.agent.project}), not ${named}`);
    }
    const project = who.kind === 'agent' ? who.agent.project : named || 'default';
    const agents = agentViews(registry);
    const length = Number(request.headers['content-length']);
    const result = validateWorkflow(body, { agents, project, ...(Number.isFinite(length) ? { bytes: length } : {}) });
    if (!result.ok) throw invalidWorkflow(result.problems);
    const steps = Object.keys(result.definition.steps).length;
    return { ok: true, name: result.definition.name, project, steps, plan: result.plan };
  });
}
