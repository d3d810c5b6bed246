/** MCP tools about agents: who the caller is, and the directory of agents with their presence. */
import { ListAgentsInput, ListAgentsOutput, WhoamiInput, WhoamiOutput } from '../../shared/mcp-protocol';
import { run, type ToolGroup } from './tool-kit';

export const registerAgentTools: ToolGroup = (server, { registry, me }) => {
  server.registerTool(
    'whoami',
    { description: 'Who you are on the hub: your agent id, name, project, status and inbox depth.', inputSchema: WhoamiInput, outputSchema: WhoamiOutput },
    () => run(() => ({ agent: registry.info(me()) })),
  );

  server.registerTool(
    'list_agents',
    {
      description: 'The agents registered on the hub and their presence (online, busy, away, offline), activity and project. Use an id from here as send_message\'s to.id.',
      inputSchema: ListAgentsInput,
      outputSchema: ListAgentsOutput,
    },
    ({ activeOnly }) =>
      run(() => {
        const agents = registry.all().map((agent) => registry.info(agent));
        return { agents: activeOnly ? agents.filter((agent) => agent.status !== 'offline') : agents };
      }),
  );
};
