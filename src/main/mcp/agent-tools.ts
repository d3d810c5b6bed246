/** MCP tools about agents: who the caller is, its profile and presence, and the directory of agents. */
import {
  ListAgentsInput,
  ListAgentsOutput,
  RegisterInput,
  RegisterOutput,
  SetStatusInput,
  SetStatusOutput,
  WhoamiInput,
  WhoamiOutput,
} from '../../shared/mcp-protocol';
import { badRequest } from '../errors';
import { run, type ToolGroup } from './tool-kit';

export const registerAgentTools: ToolGroup = (server, { registry, me }) => {
  server.registerTool(
    'whoami',
    {
      description:
        'Who you are on the hub: your agent id, name, project, tier, capabilities, status and inbox depth. ' +
        'You are registered already: the token your MCP client connects with is this agent (use register to change how you are listed).',
      inputSchema: WhoamiInput,
      outputSchema: WhoamiOutput,
    },
    () => run(() => ({ agent: registry.info(me()) })),
  );

  server.registerTool(
    'register',
    {
      description:
        'You are already registered (your connection\'s token is your identity). This updates how you are listed to the others: ' +
        'tier, capabilities (replaces the list) and description; what you leave out stays. Another name or project is another agent: ' +
        'it is connected with its own token (devenviro connect <client> --name NAME --project P), not from here.',
      inputSchema: RegisterInput,
      outputSchema: RegisterOutput,
    },
    ({ name, project, ...profile }) =>
      run(() => {
        const agent = me();
        if ((name !== undefined && name !== agent.name) || (project !== undefined && project !== agent.project)) {
          throw badRequest(
            `this connection is agent ${agent.name} in project ${agent.project}; ${name ?? agent.name} in ${project ?? agent.project} would be another agent: ` +
              `connect as it with its own token (devenviro connect <client> --name ${name ?? agent.name} --project ${project ?? agent.project}), ` +
              'or leave name and project out to update your own listing',
          );
        }
        registry.updateProfile(agent, profile);
        return { agent: registry.info(agent) };
      }),
  );

  server.registerTool(
    'list_agents',
    {
      description:
        'The agents registered on the hub and their presence (online, idle, busy, waiting, offline), activity, project and capabilities. ' +
        'Use an id from here as send_message\'s to.id.',
      inputSchema: ListAgentsInput,
      outputSchema: ListAgentsOutput,
    },
    ({ activeOnly }) =>
      run(() => {
        const agents = registry.all().map((agent) => registry.info(agent));
        return { agents: activeOnly ? agents.filter((agent) => agent.status !== 'offline') : agents };
      }),
  );

  server.registerTool(
    'set_status',
    {
      description:
        'Set your presence (online, idle, busy or waiting) and, optionally, what you are doing ("running the test suite"; null clears it), ' +
        'as the others see it in list_agents and the cockpit.',
      inputSchema: SetStatusInput,
      outputSchema: SetStatusOutput,
    },
    ({ status, activity }) =>
      run(() => {
        const agent = me();
        registry.setStatus(agent, status, activity);
        return { agent: registry.info(agent) };
      }),
  );
};
