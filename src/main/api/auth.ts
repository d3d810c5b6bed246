import type { FastifyRequest } from 'fastify';
import type { AgentRecord, AgentRegistry, Authority } from '../agents/registry';
import { forbidden, unauthorized } from '../errors';
import { secretsEqual } from './security';

/**
 * Who sent a request: the cockpit (its token), an agent (its token; a sign of life too), or nobody. A wrong token
 * is an error, never "nobody".
 */
export function authorityOf(request: FastifyRequest, registry: AgentRegistry, cockpitToken: string): Authority {
  const header = request.headers.authorization;
  if (!header) return { kind: 'none' };
  if (!header.startsWith('Bearer ')) throw unauthorized('the Authorization header must be "Bearer <token>"');
  const token = header.slice('Bearer '.length).trim();
  if (secretsEqual(token, cockpitToken)) return { kind: 'cockpit' };
  const agent = registry.authenticate(token);
  registry.touch(agent);
  return { kind: 'agent', agent };
}

export function requireAuthority(authority: Authority): Exclude<Authority, { kind: 'none' }> {
  if (authority.kind === 'none') throw unauthorized('this call needs a token: Authorization: Bearer <token>');
  return authority;
}

/** Reading an inbox: the agent itself, or the person at the cockpit. Nobody reads another agent's mail. */
export function requireSelfOrCockpit(authority: Authority, agentId: string): void {
  const who = requireAuthority(authority);
  if (who.kind === 'agent' && who.agent.id !== agentId) throw forbidden("an agent may read and change only its own inbox and status");
}

/** The sending identity: the agent, or for the cockpit its overseer identity. */
export function senderOf(authority: Authority, registry: AgentRegistry): AgentRecord {
  const who = requireAuthority(authority);
  return who.kind === 'agent' ? who.agent : registry.ensureOverseer();
}
