/**
 * The hub's A2A agent card: the hub itself, its JSON-RPC interface on the API's port, bearer-token security, and
 * one skill per agent that can receive messages (id: the agent's name, or name@project where names repeat).
 */
import type { AgentCard, AgentSkill } from '@a2a-js/sdk';
import { A2A_PROTOCOL_VERSION } from '@a2a-js/sdk';
import { A2A_PATH } from '../../shared/a2a-protocol';
import type { AgentRecord } from '../agents/registry';

/** The security scheme's name in the card: the caller's agent token, as for the rest of the API. */
export const BEARER_SCHEME = 'agentToken';

export interface CardInputs {
  /** Where the hub answers, e.g. http://127.0.0.1:4477. */
  baseUrl: string;
  version: string;
  /** The agents to list (not revoked). */
  agents: readonly AgentRecord[];
}

export function buildAgentCard({ baseUrl, version, agents }: CardInputs): AgentCard {
  return {
    name: 'DevEnviro Cockpit hub',
    description:
      'A local hub of coding agents. Send a message to one of them (message.metadata.to = its skill id, i.e. its name) ' +
      'and it lands in that agent\'s inbox; the agent\'s reply completes the task.',
    supportedInterfaces: [{ url: `${baseUrl}${A2A_PATH}`, protocolBinding: 'JSONRPC', tenant: '', protocolVersion: A2A_PROTOCOL_VERSION }],
    provider: { organization: 'DevEnviro Cockpit', url: baseUrl },
    version,
    capabilities: { streaming: false, pushNotifications: false, extensions: [], extendedAgentCard: false },
    securitySchemes: {
      [BEARER_SCHEME]: {
        scheme: {
          $case: 'httpAuthSecurityScheme',
          value: { description: "The calling agent's hub token (register with POST /api/v1/agents/register).", scheme: 'bearer', bearerFormat: '' },
        },
      },
    },
    securityRequirements: [{ schemes: { [BEARER_SCHEME]: { list: [] } } }],
    defaultInputModes: ['text/plain', 'application/json', 'application/octet-stream'],
    defaultOutputModes: ['text/plain', 'application/json'],
    skills: skillsOf(agents),
    signatures: [],
  };
}

function skillsOf(agents: readonly AgentRecord[]): AgentSkill[] {
  const perName = new Map<string, number>();
  for (const agent of agents) perName.set(agent.name, (perName.get(agent.name) ?? 0) + 1);
  return [...agents]
    .sort((a, b) => a.project.localeCompare(b.project) || a.name.localeCompare(b.name))
    .map((agent) => ({
      id: perName.get(agent.name) === 1 ? agent.name : `${agent.name}@${agent.project}`,
      name: agent.name,
      description: agent.description ?? `Agent ${agent.name} of project ${agent.project} (${agent.tier} tier)`,
      tags: [agent.tier, `project:${agent.project}`, ...agent.capabilities],
      examples: [],
      inputModes: [],
      outputModes: [],
      securityRequirements: [],
    }));
}
