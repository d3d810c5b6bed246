/**
 * The MCP server of one session: its resources (resources.ts) and its tools, which come from one file per area, each
 * a thin adapter over the services the HTTP API uses (the registry, messaging, the memory engine with its access
 * rules, reservations, tasks, workflows), so no rule lives here twice. A new area adds its file and one line to TOOL_GROUPS.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { version as appVersion } from '../../../package.json';
import { registerAgentTools } from './agent-tools';
import { registerMemoryTools } from './memory-tools';
import { registerMessageTools } from './message-tools';
import { registerReservationTools } from './reservation-tools';
import { registerResources } from './resources';
import { registerTaskTools } from './task-tools';
import { registerTopicTools } from './topic-tools';
import { registerWorkflowTools } from './workflow-tools';
import type { SessionSignal, ToolDeps, ToolGroup } from './tool-kit';

export type { SessionSignal, ToolDeps } from './tool-kit';

/** Every tool file of the server, in the order their tools are listed. */
const TOOL_GROUPS: readonly ToolGroup[] = [
  registerAgentTools,
  registerMessageTools,
  registerTopicTools,
  registerMemoryTools,
  registerReservationTools,
  registerTaskTools,
  registerWorkflowTools,
];

/** An MCP server whose tools act as agent `agentId` (the agent whose token opened the session). */
export function createAgentMcpServer(deps: ToolDeps, agentId: string, session: SessionSignal): McpServer {
  const server = new McpServer({ name: 'devenviro-hub', version: appVersion });
  const context = { ...deps, agentId, me: () => deps.registry.get(agentId), session };
  for (const addTools of TOOL_GROUPS) addTools(server, context);
  registerResources(server, context);
  return server;
}
