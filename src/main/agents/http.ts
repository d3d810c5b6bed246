/** HTTP routes of agent identity and presence (API v1). */
import { API_PREFIX, RegisterRequest, StatusUpdate, Ulid, type AgentInfo } from '../../shared/agent-protocol';
import { authorityOf, bearerToken, requireAuthority, requireCockpit, requireSelfOrCockpit } from '../api/auth';
import type { ApiContext } from '../api/server';
import { secretsEqual } from '../api/security';
import { parseInput } from '../validation';
import type { Cluster } from '../cluster';
import type { AgentRegistry } from './registry';

export function registerAgentRoutes({ http }: ApiContext, registry: AgentRegistry, cockpitToken: string, cluster: Cluster | null = null): void {
  const who = (request: Parameters<typeof authorityOf>[0]) => authorityOf(request, registry, cockpitToken);
  const agentParam = (params: unknown) => parseInput(Ulid, (params as { id?: string }).id, 'agent id');

  http.post(`${API_PREFIX}/agents/register`, async (request, reply) => {
    const input = parseInput(RegisterRequest, request.body, 'registration');
    const presented = bearerToken(request);
    // A token that is neither the cockpit's nor valid is still allowed here: it is checked against the named agent.
    const authority = secretsEqual(presented, cockpitToken) ? { kind: 'cockpit' as const } : { kind: 'none' as const };
    // In a cluster, a name another hub registered is taken from it first, and a new name is claimed cluster-wide.
    await cluster?.prepareRegister(input.project, input.name);
    const result = registry.register(input, authority, presented);
    if (cluster && !result.existing) await cluster.claimNew(registry.get(result.agent.id));
    return reply.code(result.existing ? 200 : 201).send(result);
  });

  http.get(`${API_PREFIX}/agents`, async (request) => {
    requireAuthority(who(request));
    return { agents: registry.all().map((agent) => registry.info(agent)) };
  });

  http.get(`${API_PREFIX}/agents/active`, async (request) => {
    requireAuthority(who(request));
    const agents: AgentInfo[] = registry
      .all()
      .map((agent) => registry.info(agent))
      .filter((info) => info.status !== 'offline');
    return { agents };
  });

  http.get(`${API_PREFIX}/agents/:id/status`, async (request) => {
    requireAuthority(who(request));
    return registry.info(registry.get(agentParam(request.params)));
  });

  http.put(`${API_PREFIX}/agents/:id/status`, async (request) => {
    const id = agentParam(request.params);
    const authority = who(request);
    requireSelfOrCockpit(authority, id);
    const update = parseInput(StatusUpdate, request.body, 'status');
    const agent = registry.get(id);
    registry.setStatus(agent, update.status, update.activity);
    return registry.info(agent);
  });

  /** A heartbeat for agents without a socket: keeps them shown as present. */
  http.post(`${API_PREFIX}/agents/:id/heartbeat`, async (request) => {
    const id = agentParam(request.params);
    requireSelfOrCockpit(who(request), id);
    return registry.info(registry.get(id));
  });

  http.post(`${API_PREFIX}/agents/:id/revoke`, async (request) => {
    const id = agentParam(request.params);
    requireCockpit(request, cockpitToken, 'revoke an agent', registry);
    return registry.info(registry.revoke(id));
  });
}
