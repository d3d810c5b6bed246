/**
 * The hub's MCP server over Streamable HTTP at /mcp, on the API server's port (the official SDK's server on a
 * transport of ours, http-transport.ts): the token of each request decides which agent calls, as for HTTP; a session
 * is bound to the agent that opened it.
 */
import { randomUUID } from 'node:crypto';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { McpSessionInfo } from '../../shared/contract';
import { DEFAULT_SESSION_IDLE_MINUTES, MCP_PATH } from '../../shared/mcp-protocol';
import { authorityOf } from '../api/auth';
import { agentOriginAllowed, SECURITY_HEADERS } from '../api/security';
import type { ApiContext } from '../api/server';
import { forbidden, unauthorized } from '../errors';
import { NodeStreamableHttpTransport } from './http-transport';
import { createAgentMcpServer, type ToolDeps } from './tools';

/**
 * A client that goes away without DELETE leaves its session open: past this many per agent, opening another closes
 * the agent's oldest, so sessions cannot pile up.
 */
export const MAX_SESSIONS_PER_AGENT = 16;

interface Session {
  agentId: string;
  transport: NodeStreamableHttpTransport;
  /** Aborted when the session closes: ends its pending waits. */
  closing: AbortController;
  /** The client's own name and version from its initialize request (`clientInfo`), for the cockpit. */
  client: { name: string; version: string };
  openedAt: string;
  /** Requests open (a pending wait, the notification stream): a session with one is in use, not idle. */
  active: number;
  /** When a request of the session last started or ended (Date.now()). */
  lastUsed: number;
}

export interface McpGatewayOptions extends ToolDeps {
  cockpitToken: string;
  /** A session without an open request for this long is closed (mcp.sessionIdleMinutes in config.json; 30 minutes by default). */
  sessionIdleMs?: number;
}

export class McpGateway {
  private readonly sessions = new Map<string, Session>();
  /** Set by close(): the hub is stopping and opens no session. */
  private stopping = false;
  private readonly listeners = new Set<() => void>();
  private readonly idleMs: number;
  private readonly idleSweep: NodeJS.Timeout;

  constructor(private readonly options: McpGatewayOptions) {
    this.idleMs = options.sessionIdleMs ?? DEFAULT_SESSION_IDLE_MINUTES * 60_000;
    // Checked a few times per timeout (at most every 30 s), so a session lives at most a quarter longer than it.
    this.idleSweep = setInterval(() => this.closeIdle(), Math.max(20, Math.min(this.idleMs / 4, 30_000)));
    this.idleSweep.unref();
  }

  /** Adds the /mcp route to the API server (one of the server's `register` steps). */
  register({ http }: ApiContext): void {
    http.route({ method: ['GET', 'POST', 'DELETE'], url: MCP_PATH, handler: (request, reply) => this.handle(request, reply) });
  }

  /** How many sessions are open (for status and tests). */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** The open sessions, oldest first, for the cockpit: who is connected over MCP, with which client, since when. */
  list(): McpSessionInfo[] {
    return [...this.sessions.values()].map(({ agentId, client, openedAt }) => ({ agentId, client, openedAt }));
  }

  /** Calls `listener` whenever a session opens or ends; returns the unsubscribe. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Closes every session (the hub is stopping): their waits end, their streams close. */
  async close(): Promise<void> {
    // From here on no session opens: a relay that reconnects at once would otherwise hold the stopping server open.
    this.stopping = true;
    clearInterval(this.idleSweep);
    const open = [...this.sessions.values()];
    this.sessions.clear();
    // Pending waits end first and answer (empty), then the streams close: a client is not left without its answer.
    for (const session of open) session.closing.abort();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await Promise.all(open.map((session) => session.transport.close().catch(() => undefined)));
  }

  private async handle(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    // A browser page that learned an agent's token must not act as that agent (as for agent sockets).
    if (!agentOriginAllowed(request.headers.origin)) throw forbidden('the MCP server is for programs: requests from browser pages (with an Origin) are refused');
    const authority = authorityOf(request, this.options.registry, this.options.cockpitToken);
    if (authority.kind !== 'agent') {
      throw authority.kind === 'none'
        ? unauthorized('the MCP server needs an agent token: Authorization: Bearer <token> (register with POST /api/v1/agents/register)')
        : forbidden('the MCP server acts as an agent: use an agent token, not the cockpit\'s');
    }
    if (this.stopping) {
      return void reply.code(503).header('connection', 'close').header('retry-after', '1').send(rpcError(-32000, 'the hub is stopping: retry once it is back'));
    }
    const agentId = authority.agent.id;
    const sessionId = request.headers['mcp-session-id'];

    let session: Session | undefined;
    if (typeof sessionId === 'string') {
      session = this.sessions.get(sessionId);
      if (!session) {
        return void reply
          .code(404)
          .send(rpcError(-32001, `Session not found: MCP session ${sessionId} ended (closed, unused for too long, or the hub restarted); initialize a new one`));
      }
      if (session.agentId !== agentId) throw forbidden('this MCP session belongs to another agent');
    } else if (request.method === 'POST' && isInitializeRequest(request.body)) {
      session = this.open(agentId, request.body.params.clientInfo);
    } else {
      return void reply.code(400).send(rpcError(-32000, 'no Mcp-Session-Id header: start with an initialize request'));
    }

    // The transport writes the answer (JSON or an event stream) on the raw response from here on, so the headers
    // every answer of the hub carries go on it first.
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.raw.setHeader(name, value);
    reply.hijack();
    // A session is in use while any of its requests is open: a call (a long wait, say) or the notification stream
    // (GET) a client holds open for as long as it runs. So a live client keeps its session however long it sits
    // quiet (some clients, Claude Code among them, do not initialize again after a 404); what the timeout frees are
    // the sessions of clients that went away without DELETE.
    const used = session;
    used.active++;
    used.lastUsed = Date.now();
    reply.raw.once('close', () => {
      used.active--;
      used.lastUsed = Date.now();
    });
    try {
      await session.transport.handleRequest(request.raw, reply.raw, request.body);
    } catch (error) {
      console.error('[mcp] a request failed:', error);
      if (!reply.raw.headersSent) reply.raw.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify(rpcError(-32603, 'the hub failed to answer')));
    }
  }

  private open(agentId: string, clientInfo: { name: string; version: string }): Session {
    const closing = new AbortController();
    const transport: NodeStreamableHttpTransport = new NodeStreamableHttpTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        this.sessions.set(id, session);
        this.closeOldestBeyondCap(agentId);
        this.changed();
      },
      onsessionclosed: (id) => void this.forget(id),
    });
    // Bounded: the client chooses these strings.
    const client = { name: clientInfo.name.slice(0, 200), version: clientInfo.version.slice(0, 100) };
    const session: Session = { agentId, transport, closing, client, openedAt: new Date().toISOString(), active: 0, lastUsed: Date.now() };
    transport.onclose = () => {
      closing.abort();
      if (transport.sessionId) this.forget(transport.sessionId);
    };
    const server = createAgentMcpServer(this.options, agentId, { closed: closing.signal });
    void server.connect(transport).catch((error: unknown) => console.error('[mcp] a session could not start:', error));
    return session;
  }

  /**
   * Closes the sessions without an open request for the idle timeout: their client went away without DELETE. Their
   * resource subscriptions end with them; a request with such a session's id gets 404, and a client initializes anew.
   */
  private closeIdle(): void {
    const before = Date.now() - this.idleMs;
    for (const [id, session] of this.sessions) {
      if (session.active > 0 || session.lastUsed > before) continue;
      this.forget(id);
      void this.end(session);
    }
  }

  private closeOldestBeyondCap(agentId: string): void {
    // The map keeps insertion order: the first of the agent's sessions is its oldest.
    const own = [...this.sessions].filter(([, session]) => session.agentId === agentId);
    for (const [id, session] of own.slice(0, Math.max(0, own.length - MAX_SESSIONS_PER_AGENT))) {
      this.forget(id);
      void this.end(session);
    }
  }

  private forget(id: string): void {
    const session = this.sessions.get(id);
    if (!session) return;
    this.sessions.delete(id);
    session.closing.abort();
    this.changed();
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }

  private async end(session: Session): Promise<void> {
    session.closing.abort();
    await session.transport.close().catch(() => undefined);
  }
}

function rpcError(code: number, message: string) {
  return { jsonrpc: '2.0', error: { code, message }, id: null };
}

