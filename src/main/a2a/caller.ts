/** Who an A2A call speaks for: the agent whose token it presented, carried through the SDK as the call's user. */
import { ServerCallContext, type User } from '@a2a-js/sdk/server';
import type { AgentRecord, AgentRegistry } from '../agents/registry';

/** The SDK's user for an agent: its name for the SDK is the agent's id, which scopes its tasks. */
export class HubAgentUser implements User {
  constructor(readonly agentId: string) {}
  get isAuthenticated(): boolean {
    return true;
  }
  get userName(): string {
    return this.agentId;
  }
}

/** A call context acting for the agent (for work the hub does on a task outside a request: a reply, a restart). */
export function contextFor(agentId: string, requestedVersion?: string): ServerCallContext {
  return new ServerCallContext({ user: new HubAgentUser(agentId), ...(requestedVersion ? { requestedVersion } : {}) });
}

/** The agent a call context speaks for. */
export function callerOf(context: ServerCallContext, registry: AgentRegistry): AgentRecord {
  const user = context.user;
  // The gateway authenticates every call before the SDK sees it; a context without an agent is a bug, not a caller.
  if (!(user instanceof HubAgentUser)) throw new Error('an A2A call reached the hub without an authenticated agent');
  return registry.get(user.agentId);
}

/** The id of the agent a call context speaks for (the owner of the tasks it creates and reads). */
export function ownerOf(context: ServerCallContext): string {
  const user = context.user;
  if (!(user instanceof HubAgentUser)) throw new Error('an A2A call reached the task store without an authenticated agent');
  return user.agentId;
}
