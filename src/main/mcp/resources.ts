/**
 * The MCP resources of a session: its agent's inbox (unacknowledged messages) and the directory of agents, read
 * from the same services as the tools. A client may subscribe to either: the inbox is announced as updated the moment
 * a message reaches it (and when its depth changes, after acknowledgements), the directory when an agent changes.
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ErrorCode, McpError, SubscribeRequestSchema, UnsubscribeRequestSchema, type ReadResourceResult } from '@modelcontextprotocol/sdk/types.js';
import { INBOX_RESOURCE_LIMIT, MCP_RESOURCES } from '../../shared/mcp-protocol';
import { mcpMessage } from './message-view';
import type { ToolContext } from './tool-kit';

/** A burst of changes is announced at most this often per resource: the first at once, the rest as one. */
const INBOX_NOTIFY_MS = 100;
const AGENTS_NOTIFY_MS = 1000;

export function registerResources(server: McpServer, { registry, messaging, me, agentId, session }: ToolContext): void {
  const json = (uri: URL, value: unknown): ReadResourceResult => ({ contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(value) }] });

  server.registerResource(
    'inbox',
    MCP_RESOURCES.inbox,
    {
      title: 'My inbox',
      description: `Your unacknowledged messages, oldest first (the first ${INBOX_RESOURCE_LIMIT}), and how many there are. Acknowledge handled ones with the acknowledge tool.`,
      mimeType: 'application/json',
    },
    (uri) => {
      const agent = me();
      const messages = messaging.store.inbox(agent.id, 0, INBOX_RESOURCE_LIMIT, 'unacked');
      return json(uri, { unacknowledged: agent.inboxDepth, messages: messages.map((message) => mcpMessage(message)) });
    },
  );

  server.registerResource(
    'agents',
    MCP_RESOURCES.agents,
    {
      title: 'Agent directory',
      description: 'Every agent registered on the hub: id, name, project, tier, capabilities, presence and activity.',
      mimeType: 'application/json',
    },
    (uri) => json(uri, { agents: registry.all().map((agent) => registry.info(agent)) }),
  );

  // Subscriptions: listeners are attached only while the client subscribes, and go with the session.
  server.server.registerCapabilities({ resources: { subscribe: true } });
  const watches = new Map<string, () => void>();
  const known = new Set<string>(Object.values(MCP_RESOURCES));
  const announce = (uri: string, everyMs: number) => throttle(() => void server.server.sendResourceUpdated({ uri }).catch(() => undefined), everyMs);

  const watchers: Record<string, () => () => void> = {
    [MCP_RESOURCES.inbox]: () => {
      const notify = announce(MCP_RESOURCES.inbox, INBOX_NOTIFY_MS);
      let depth = me().inboxDepth;
      const offDelivered = messaging.onDelivered((deliveries) => {
        if (!deliveries.some((delivery) => delivery.recipients.includes(agentId))) return;
        // Announced now, not with the counters a moment later; an acknowledgement in between still changes the depth.
        depth = me().inboxDepth;
        notify.fire();
      });
      const offChanged = registry.onChange((agent) => {
        if (agent.id !== agentId || agent.inboxDepth === depth) return;
        depth = agent.inboxDepth;
        notify.fire();
      });
      return () => (offDelivered(), offChanged(), notify.cancel());
    },
    [MCP_RESOURCES.agents]: () => {
      const notify = announce(MCP_RESOURCES.agents, AGENTS_NOTIFY_MS);
      const off = registry.onChange(() => notify.fire());
      return () => (off(), notify.cancel());
    },
  };

  server.server.setRequestHandler(SubscribeRequestSchema, ({ params: { uri } }) => {
    if (!known.has(uri)) throw new McpError(ErrorCode.InvalidParams, `no resource ${uri}: the hub offers ${[...known].join(' and ')}`);
    if (!watches.has(uri)) watches.set(uri, watchers[uri]!());
    return {};
  });
  server.server.setRequestHandler(UnsubscribeRequestSchema, ({ params: { uri } }) => {
    watches.get(uri)?.();
    watches.delete(uri);
    return {};
  });
  session.closed.addEventListener('abort', () => {
    for (const stop of watches.values()) stop();
    watches.clear();
  }, { once: true });
}

/** Calls `send` at once, then at most once per `everyMs`: changes in between are announced together at its end. */
function throttle(send: () => void, everyMs: number): { fire(): void; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  let pending = false;
  const tick = () => {
    timer = undefined;
    if (!pending) return;
    pending = false;
    send();
    timer = setTimeout(tick, everyMs);
  };
  return {
    fire() {
      if (timer) {
        pending = true;
        return;
      }
      send();
      timer = setTimeout(tick, everyMs);
    },
    cancel() {
      clearTimeout(timer);
      timer = undefined;
      pending = false;
    },
  };
}
