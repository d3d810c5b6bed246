/**
 * The MCP server's tools for one agent: each a thin adapter over the services the HTTP API uses (the registry,
 * messaging, the memory engine with its access rules), so no rule lives here twice.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { version as appVersion } from '../../../package.json';
import { MemorySearchQuery } from '../../shared/memory-protocol';
import {
  AcknowledgeInput,
  AcknowledgeOutput,
  ListAgentsInput,
  ListAgentsOutput,
  MemorySearchInput,
  MemorySearchOutput,
  MemoryStoreInput,
  MemoryStoreOutput,
  ReadInboxInput,
  ReadInboxOutput,
  SendMessageInput,
  SendMessageOutput,
  WaitForMessagesInput,
  WaitForMessagesOutput,
  WhoamiInput,
  WhoamiOutput,
} from '../../shared/mcp-protocol';
import type { AgentRegistry } from '../agents/registry';
import { badRequest, HubError } from '../errors';
import { checkedStore, memoryCaller, searchContext } from '../memory/access';
import type { MemoryEngine } from '../memory/engine';
import { publicMessage } from '../messaging/frames';
import type { MessagingService } from '../messaging/service';

export interface ToolDeps {
  registry: AgentRegistry;
  messaging: MessagingService;
  memory: MemoryEngine;
}

/** Ends the waits of a session that closes (DELETE, the hub stopping). */
export interface SessionSignal {
  readonly closed: AbortSignal;
}

/** A result with structured content, and the same JSON as text for clients that read only text. */
function ok<T extends object>(value: T): CallToolResult & { structuredContent: T } {
  return { content: [{ type: 'text', text: JSON.stringify(value) }], structuredContent: value as T & Record<string, unknown> };
}

/**
 * Runs a tool's body; a refusal of the hub's (a HubError: its message says what to do instead) becomes a tool error
 * the model reads, as do other failures.
 */
async function run<T extends object>(body: () => Promise<T> | T): Promise<CallToolResult> {
  try {
    return ok(await body());
  } catch (error) {
    const message = error instanceof HubError ? `${error.message} (${error.code})` : `the hub failed: ${(error as Error).message}`;
    return { content: [{ type: 'text', text: message }], isError: true };
  }
}

/** An MCP server whose tools act as agent `agentId` (the agent whose token opened the session). */
export function createAgentMcpServer(deps: ToolDeps, agentId: string, session: SessionSignal): McpServer {
  const { registry, messaging, memory } = deps;
  const { store } = messaging;
  const server = new McpServer({ name: 'devenviro-hub', version: appVersion });
  // Fetched per call: a revoked agent is refused by the services as over HTTP.
  const me = () => registry.get(agentId);

  const afterSeq = (after: string | undefined): number => {
    if (!after) return 0;
    const seq = store.seqOf(after);
    if (seq === undefined) throw badRequest(`after names no message (${after}): leave it out to read from the start`);
    return seq;
  };

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

  server.registerTool(
    'send_message',
    {
      description:
        'Send a message to one agent ({"type":"agent","id":...}), a topic\'s subscribers ({"type":"topic","name":...}) or everyone ({"type":"broadcast"}). ' +
        'body is text or JSON. Optional: subject, threadId (to continue a thread), replyTo (a message id), importance, ackRequired, idempotencyKey (a retry with the same key is stored once).',
      inputSchema: SendMessageInput,
      outputSchema: SendMessageOutput,
    },
    (input) => run(() => messaging.send(me(), input)),
  );

  server.registerTool(
    'read_inbox',
    {
      description:
        'Read your inbox, oldest first. By default only new messages (not yet acknowledged); acknowledge the ones you handled, or they are listed again. ' +
        'Pass the answer\'s `next` as `after` to read on.',
      inputSchema: ReadInboxInput,
      outputSchema: ReadInboxOutput,
    },
    ({ state, after, limit }) =>
      run(() => {
        const page = store.inbox(me().id, afterSeq(after), limit, state);
        return { messages: page.map(publicMessage), next: page.length === limit ? page.at(-1)!.id : null };
      }),
  );

  server.registerTool(
    'acknowledge',
    { description: 'Mark messages of your inbox as handled, so read_inbox and wait_for_messages no longer return them.', inputSchema: AcknowledgeInput, outputSchema: AcknowledgeOutput },
    ({ ids }) => run(async () => ({ acknowledged: await messaging.ack(me(), ids) })),
  );

  server.registerTool(
    'wait_for_messages',
    {
      description:
        'Block until a message reaches your inbox, then return at once with your unacknowledged messages (immediately if some are already waiting). ' +
        'Returns timedOut=true and no messages when timeoutMs passes first. Acknowledge what you handled, or it is returned again.',
      inputSchema: WaitForMessagesInput,
      outputSchema: WaitForMessagesOutput,
    },
    ({ timeoutMs, after }, extra) =>
      run(async () => {
        const agent = me();
        const from = afterSeq(after);
        const pending = () => store.inbox(agent.id, from, 100, 'unacked');
        const arrived = await waitForDelivery(messaging, agent.id, timeoutMs, [extra.signal, session.closed], () => pending().length > 0);
        const messages = arrived ? pending().map(publicMessage) : [];
        return { messages, timedOut: messages.length === 0 };
      }),
  );

  server.registerTool(
    'memory_search',
    {
      description:
        "Search the shared memory by meaning and keywords: your project's memories, and with scope=shared also other projects' shared ones. Optional filters: kinds, tags, since (ISO time).",
      inputSchema: MemorySearchInput,
      outputSchema: MemorySearchOutput,
    },
    ({ query, k, scope, kinds, tags, since }) =>
      run(async () => {
        // Parsed by the HTTP API's own query schema, so both ways in mean the same search.
        const parsed = MemorySearchQuery.parse({ q: query, k, scope, since, kind: kinds?.join(','), tags: tags?.join(',') });
        const caller = memoryCaller(me());
        return (await memory.store()).search(parsed, searchContext(caller, parsed));
      }),
  );

  server.registerTool(
    'memory_store',
    {
      description:
        'Store one memory (a fact, decision, task, error, code, note...) in your project, for you and the agents after you. A near-identical one is reinforced instead of duplicated. shared=true lets other projects read it.',
      inputSchema: MemoryStoreInput,
      outputSchema: MemoryStoreOutput,
    },
    (input) =>
      run(async () => {
        const engine = await memory.store();
        const inputs = [input];
        return { stored: await engine.store(inputs, checkedStore(engine, memoryCaller(me()), inputs)) };
      }),
  );

  return server;
}

/**
 * Resolves true once `ready()` holds: checked at once, then on each delivery to `agentId` (the hook the realtime
 * socket pushes from, so nothing polls); false when the timeout passes or a signal aborts first.
 */
function waitForDelivery(messaging: MessagingService, agentId: string, timeoutMs: number, signals: AbortSignal[], ready: () => boolean): Promise<boolean> {
  return new Promise((resolve) => {
    // Listening before the first check: a delivery committed in between is not missed.
    const off = messaging.onDelivered((deliveries) => {
      if (deliveries.some((delivery) => delivery.recipients.includes(agentId)) && ready()) finish(true);
    });
    const timer = setTimeout(() => finish(false), timeoutMs);
    const abort = () => finish(false);
    for (const signal of signals) signal.addEventListener('abort', abort, { once: true });
    function finish(value: boolean) {
      off();
      clearTimeout(timer);
      for (const signal of signals) signal.removeEventListener('abort', abort);
      resolve(value);
    }
    if (signals.some((signal) => signal.aborted) || ready()) finish(signals.every((signal) => !signal.aborted));
  });
}
