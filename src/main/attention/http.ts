/** GET /api/v1/attention: an agent sees its own project's items, the cockpit every item (or one project's). */
import { ATTENTION_PATH, AttentionActRequest, AttentionQuery, type AttentionActResult, type AttentionList } from '../../shared/attention-protocol';
import type { AgentRegistry } from '../agents/registry';
import type { ApiContext } from '../api/server';
import { authorityOf, requireAuthority, requireCockpit } from '../api/auth';
import { forbidden } from '../errors';
import { parseInput } from '../validation';
import type { AttentionService } from './service';

export function registerAttentionRoutes({ http }: ApiContext, registry: AgentRegistry, attention: AttentionService, cockpitToken: string): void {
  http.get(ATTENTION_PATH, async (request): Promise<AttentionList> => {
    const who = requireAuthority(authorityOf(request, registry, cockpitToken));
    const query = parseInput(AttentionQuery, request.query, 'attention query');
    if (who.kind === 'cockpit') return attention.list(query);
    if (query.project !== undefined && query.project !== who.agent.project) throw forbidden("an agent sees its own project's attention items only");
    return attention.list({ project: who.agent.project });
  });

  http.post(`${ATTENTION_PATH}/:id/act`, async (request): Promise<AttentionActResult> => {
    requireCockpit(request, cockpitToken, 'act on attention items', registry);
    const { id, text } = parseInput(AttentionActRequest, { ...(request.body as object | undefined), id: (request.params as { id: string }).id }, 'attention action');
    return attention.act(id, text);
  });
}
