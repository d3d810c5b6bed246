/** Who a request speaks for (an agent by its token, or the cockpit), and the checks routes make with it. */
import type { IncomingHttpHeaders } from 'node:http';
import type { AgentRecord, AgentRegistry, Authority } from '../agents/registry';
import { forbidden, unauthorized } from '../errors';
import { secretsEqual } from './security';

/** An HTTP request or a WebSocket upgrade: anything with headers. */
export interface WithHeaders {
  headers: IncomingHttpHeaders;
}

/**
 * The token a request presents: `Authorization: Bearer <token>`, or — when the URL is given, for WebSocket upgrades,
 * which a browser cannot give headers — its `?token=`. Undefined when it presents none.
 */
export function bearerToken(request: WithHeaders, url?: URL): string | undefined {
  const header = request.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice('Bearer '.length).trim();
  return url?.searchParams.get('token') ?? undefined;
}

/**
 * Who sent a request: the cockpit (its token), an agent (its token; a sign of life too), or nobody. A wrong token
 * is an error, never "nobody".
 */
export function authorityOf(request: WithHeaders, registry: AgentRegistry, cockpitToken: string): Authority {
  const token = bearerToken(request);
  if (token === undefined) {
    if (request.headers.authorization) throw unauthorized('the Authorization header must be "Bearer <token>"');
    return { kind: 'none' };
  }
  if (secretsEqual(token, cockpitToken)) return { kind: 'cockpit' };
  const agent = registry.authenticate(token);
  registry.touch(agent);
  return { kind: 'agent', agent };
}

export function requireAuthority(authority: Authority): Exclude<Authority, { kind: 'none' }> {
  if (authority.kind === 'none') throw unauthorized('this call needs a token: Authorization: Bearer <token>');
  return authority;
}

/**
 * Calls only the person at the cockpit may make (`action` completes "only the cockpit may …"). Without its token the
 * answer is 401. With the registry, an agent's valid token is recognised and refused with 403; without it (routes
 * that know no agents) any other token is a 401.
 */
export function requireCockpit(request: WithHeaders, cockpitToken: string, action: string, registry?: AgentRegistry): void {
  const kind = registry ? authorityOf(request, registry, cockpitToken).kind : secretsEqual(bearerToken(request), cockpitToken) ? 'cockpit' : 'none';
  if (kind === 'cockpit') return;
  if (kind === 'none') throw unauthorized(`only the cockpit may ${action}: send its token as Authorization: Bearer <token from cockpit-token>`);
  throw forbidden(`only the cockpit may ${action}`);
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
