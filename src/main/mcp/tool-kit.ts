/**
 * What every MCP tool file shares: the services a tool adapts (ToolDeps), the calling agent's context, and the two
 * helpers that turn a service's answer or refusal into an MCP tool result.
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { AgentRecord, AgentRegistry } from '../agents/registry';
import { HubError } from '../errors';
import type { MemoryEngine } from '../memory/engine';
import type { MessagingService } from '../messaging/service';
import type { ReservationService } from '../reservations/service';
import type { TaskService } from '../tasks/service';
import type { WorkflowEngine } from '../workflows/engine';

/** The services the tools are thin adapters over: the same ones the HTTP API uses. */
export interface ToolDeps {
  registry: AgentRegistry;
  messaging: MessagingService;
  memory: MemoryEngine;
  reservations: ReservationService;
  tasks: TaskService;
  /** Workflow runs (start, read, list, approve); without it the workflow tools are left out. */
  workflows?: WorkflowEngine;
}

/** Ends the waits of a session that closes (DELETE, idle timeout, the hub stopping). */
export interface SessionSignal {
  readonly closed: AbortSignal;
}

/** One session's view: the services, and the agent whose token opened it. */
export interface ToolContext extends ToolDeps {
  agentId: string;
  /** The calling agent, fetched per call: a revoked agent is refused by the services as over HTTP. */
  me(): AgentRecord;
  session: SessionSignal;
}

/** A tool file's one export: adds its tools to a session's server. */
export type ToolGroup = (server: McpServer, context: ToolContext) => void;

/** A result with structured content, and the same JSON as text for clients that read only text. */
export function ok<T extends object>(value: T): CallToolResult & { structuredContent: T } {
  return { content: [{ type: 'text', text: JSON.stringify(value) }], structuredContent: value as T & Record<string, unknown> };
}

/**
 * Runs a tool's body; a refusal of the hub's (a HubError: its message says what to do instead) becomes a tool error
 * the model reads, as do other failures.
 */
export async function run<T extends object>(body: () => Promise<T> | T): Promise<CallToolResult> {
  try {
    return ok(await body());
  } catch (error) {
    const message = error instanceof HubError ? `${error.message} (${error.code})` : `the hub failed: ${(error as Error).message}`;
    return { content: [{ type: 'text', text: message }], isError: true };
  }
}
