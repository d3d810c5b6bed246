/**
 * `devenviro mcp`: the hub's MCP server over stdio, for MCP clients that only launch commands. It relays JSON-RPC
 * messages unchanged between stdin/stdout and the running hub's Streamable HTTP endpoint (/mcp) with the agent's
 * token, so every tool is the hub's own; it never starts a hub. When the hub restarts, or ends the session, the relay
 * opens a new session and replays the client's initialize, so the client never sees the server fail. Only MCP goes
 * to stdout; notes go to stderr.
 */
import type { Readable, Writable } from 'node:stream';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { JSONRPCMessage, JSONRPCRequest } from '@modelcontextprotocol/sdk/types.js';
import { MCP_PATH } from '../../shared/mcp-protocol';
import { AbortError, retry, type Backoff } from '../../shared/retry';
import { HubHttp, type AgentClient } from '../client';
import { discoverHubUrl } from '../discovery';
import { HubClient } from '../hub-client';
import { listCredentials } from '../credentials';
import { noArgs, type Command, type Context } from './command';
import { location } from './hub';

/** Between attempts to reach a hub that is down: soon at first, then every few seconds, spread out across relays. */
const RECONNECT_BACKOFF: Backoff = { initialMs: 250, maxMs: 5_000, jitter: 'equal' };
/** A replayed initialize, or a health probe, that takes longer than this counts as a failed attempt. */
const ATTEMPT_TIMEOUT_MS = 10_000;
/** While the hub stays down, a note on stderr every this many failed attempts (about a minute apart). */
const NOTE_EVERY_ATTEMPTS = 12;
/** A request sent while the relay reopens a session waits this long for it, then gets an error. */
const HOLD_MS = 10_000;
/** JSON-RPC's "internal error": what a request gets when the hub cannot answer it. */
const NO_ANSWER = -32603;

export const mcp: Command = {
  summary: "serve the hub's MCP tools over stdio (for clients that launch a command)",
  usage: 'devenviro mcp --as NAME [--project P]',
  details: `Speaks MCP on stdin/stdout and relays every message to the running hub's ${MCP_PATH} as the agent,
using its saved credentials (registering the agent and saving them when there are none). It does not start a hub:
with none running it exits with 1. When the hub restarts or ends the session, the relay opens a new session on its
own (retrying every few seconds while the hub is down) and replays the client's initialize and resource
subscriptions; a request the hub had not answered, or one sent meanwhile, gets a JSON-RPC error saying so. It exits
when stdin closes, or with 1 when the hub refuses the agent's token. Notes go to stderr only.`,
  async run(ctx) {
    noArgs(ctx);
    const agent = await mcpIdentity(ctx);
    return relay(ctx, agent);
  },
};

/** The agent of --as: its saved credentials, or a fresh registration saved for next time; else the usual identity. */
async function mcpIdentity(ctx: Context): Promise<AgentClient> {
  const name = ctx.values.as as string | undefined;
  const project = ctx.values.project as string | undefined;
  if (name !== undefined && !listCredentials(ctx.dataDir).some((c) => c.name === name && (project === undefined || c.project === project))) {
    const agent = await HubClient.register({ ...location(ctx), name, project: project ?? 'default', persist: true });
    ctx.note(`devenviro mcp: registered ${name} in project ${agent.agent.project}; credentials saved under ${ctx.dataDir}`);
    return agent;
  }
  return ctx.identity();
}

type Id = string | number;

async function relay(ctx: Context, agent: AgentClient): Promise<number> {
  const local = new StdioServerTransport(ctx.io.stdin as Readable, ctx.io.stdout as Writable);
  /** The hub's address; a hub that comes back on another port says so in its hub.json (unless --url names it). */
  let hubUrl = agent.url;
  const refreshUrl = () => {
    const found = discoverHubUrl(location(ctx));
    if (found.source === 'hub.json') hubUrl = found.url;
  };
  const healthy = () => new HubHttp(() => hubUrl).request('GET', '/health', { timeoutMs: ATTEMPT_TIMEOUT_MS });
  /** The hub session messages go to; undefined while a new one is being opened. */
  let hub: StreamableHTTPClientTransport | undefined;
  /** The client's requests relayed to the hub and not answered yet. */
  const pending = new Set<Id>();
  /** Of those, the ones whose POST has not come back: their own failure decides what becomes of them. */
  const posting = new Set<Id>();
  /** Requests the hub never saw (no session, or it had forgotten it): sent on the next session, or failed after HOLD_MS. */
  const held = new Map<Id, { message: JSONRPCRequest; timer: NodeJS.Timeout }>();
  /** What a new session needs to stand where the old one stood: the client's handshake and its subscriptions. */
  let initialize: JSONRPCRequest | undefined;
  let initialized = false;
  const subscriptions = new Set<string>();
  /** Requests the relay itself sends (the replayed handshake, a session probe), answered to it and not to the client. */
  const internal = new Map<Id, { resolve: (result: unknown) => void; reject: (error: Error) => void }>();
  let nextInternal = 0;

  let finish!: (code: number) => void;
  const finished = new Promise<number>((resolve) => (finish = resolve));
  const closed = new AbortController();
  let reconnecting = false;
  let probing = false;

  const answerError = (id: Id, message: string) => void local.send({ jsonrpc: '2.0', id, error: { code: NO_ANSWER, message } }).catch(() => undefined);
  /** Requests the current session will never answer now get an error, so the client does not wait for them. */
  const failPending = (message: string) => {
    for (const id of pending) {
      if (posting.has(id)) continue;
      pending.delete(id);
      answerError(id, message);
    }
  };
  const hold = (message: JSONRPCRequest) => {
    const timer = setTimeout(() => {
      held.delete(message.id);
      answerError(message.id, `the hub at ${hubUrl} is not reachable (restarting, or stopped): the relay keeps trying to reconnect; call again in a while`);
    }, HOLD_MS);
    held.set(message.id, { message, timer });
  };
  /** Relays a client message to a session; a request the hub could not have seen is held for the next session. */
  const forward = (session: StreamableHTTPClientTransport, message: JSONRPCMessage) => {
    const id = 'method' in message && 'id' in message ? message.id : undefined;
    if (id !== undefined) {
      pending.add(id);
      posting.add(id);
    }
    session.send(message).then(
      () => void (id !== undefined && posting.delete(id)),
      (error: unknown) => {
        if (id !== undefined) {
          posting.delete(id);
          pending.delete(id);
          if (neverReached(error) && !closed.signal.aborted) hold(message as JSONRPCRequest);
          // A request whose POST failed would otherwise wait for ever: answer it with the reason.
          else answerError(id, `the hub did not take this request: ${error instanceof Error ? error.message : String(error)}`);
        }
        void trouble(session, error);
      },
    );
  };

  const stop = (code: number, why?: string) => {
    if (closed.signal.aborted) return;
    closed.abort(new Error(why ?? 'the relay is closing'));
    if (why) ctx.note(`devenviro mcp: ${why}`);
    void (async () => {
      failPending(`no answer from the hub: ${why ?? 'the relay is closing'}`);
      for (const [id, { timer }] of held) {
        clearTimeout(timer);
        answerError(id, `no answer from the hub: ${why ?? 'the relay is closing'}`);
      }
      held.clear();
      const last = hub;
      hub = undefined;
      // End the hub's session (it would otherwise linger until the agent opens 16 more); a hub that is gone is fine.
      await last?.terminateSession().catch(() => undefined);
      await last?.close().catch(() => undefined);
      await local.close().catch(() => undefined);
      finish(code);
    })();
  };

  /** Sends a request of the relay's own on a session and waits for its answer. */
  const ask = (session: StreamableHTTPClientTransport, method: string, params?: JSONRPCRequest['params']): Promise<unknown> => {
    const id = `devenviro-relay-${++nextInternal}`;
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => settle(() => reject(new Error(`the hub did not answer ${method} within ${ATTEMPT_TIMEOUT_MS / 1000} s`))), ATTEMPT_TIMEOUT_MS);
      const settle = (then: () => void) => {
        clearTimeout(timer);
        internal.delete(id);
        then();
      };
      internal.set(id, { resolve: (result) => settle(() => resolve(result)), reject: (error) => settle(() => reject(error)) });
      session.send({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) }).catch((error: unknown) => settle(() => reject(error as Error)));
    });
  };

  /** A transport to the hub's /mcp whose events count only while it is the current session. */
  const openTransport = (): StreamableHTTPClientTransport => {
    const session = new StreamableHTTPClientTransport(new URL(hubUrl + MCP_PATH), { requestInit: { headers: { authorization: `Bearer ${agent.token}` } } });
    session.onmessage = (message: JSONRPCMessage) => {
      if (!('method' in message) && 'id' in message && message.id !== undefined && internal.has(message.id)) {
        const waiter = internal.get(message.id)!;
        if ('error' in message) waiter.reject(new Error(message.error.message));
        else waiter.resolve((message as { result: unknown }).result);
        return;
      }
      // An answer the client waits for comes through even from a session being replaced; anything else only from the current one.
      const answerTo = !('method' in message) && 'id' in message ? message.id : undefined;
      if (answerTo !== undefined && pending.delete(answerTo)) posting.delete(answerTo);
      else if (session !== hub) return;
      if (initialize && 'id' in message && message.id === initialize.id && 'result' in message) {
        const version = (message.result as { protocolVersion?: unknown }).protocolVersion;
        if (typeof version === 'string') session.setProtocolVersion(version);
      }
      local.send(message).catch(() => stop(0));
    };
    session.onerror = (error) => void trouble(session, error);
    return session;
  };

  /**
   * A new session in place of one the hub no longer has: waits for the hub (backoff), replays the client's
   * initialize (its answer stays here: the client has had one), then its initialized notification and subscriptions.
   */
  const reconnect = (why: string) => {
    if (reconnecting || closed.signal.aborted) return;
    reconnecting = true;
    const old = hub;
    hub = undefined;
    failPending(`no answer from the hub: ${why}. The relay is opening a new session; call again`);
    ctx.note(`devenviro mcp: ${why}; opening a new session`);
    void old?.terminateSession().catch(() => undefined).finally(() => void old.close().catch(() => undefined));
    void retry(
      async () => {
        refreshUrl();
        await healthy();
        const session = openTransport();
        try {
          await session.start();
          if (initialize) {
            const result = (await ask(session, initialize.method, initialize.params)) as { protocolVersion?: unknown };
            if (typeof result.protocolVersion === 'string') session.setProtocolVersion(result.protocolVersion);
          }
          if (initialized) await session.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
          for (const uri of subscriptions) await ask(session, 'resources/subscribe', { uri });
          return session;
        } catch (error) {
          await session.close().catch(() => undefined);
          // The hub is up but refuses the agent (revoked, or its data was replaced): retrying will not help.
          if (refusesAgent(error)) throw new AbortError((error as Error).message);
          throw error;
        }
      },
      {
        backoff: RECONNECT_BACKOFF,
        retries: Infinity,
        signal: closed.signal,
        onFailedAttempt: (error, attempt) => {
          if (attempt === 1 || attempt % NOTE_EVERY_ATTEMPTS === 0) ctx.note(`devenviro mcp: the hub at ${hubUrl} is not back yet (${error.message}); still trying`);
        },
      },
    ).then(
      (session) => {
        reconnecting = false;
        if (closed.signal.aborted) return void session.close().catch(() => undefined);
        hub = session;
        ctx.note(`devenviro mcp: reconnected to ${hubUrl}${MCP_PATH} with a new session`);
        for (const { message, timer } of held.values()) {
          clearTimeout(timer);
          forward(session, message);
        }
        held.clear();
      },
      (error: unknown) => {
        reconnecting = false;
        stop(1, `cannot open a new session on the hub at ${hubUrl} for ${agent.agent.name}: ${(error as Error).message}`);
      },
    );
  };

  /**
   * An error on a session: the session gone (404: the hub restarted or ended it) or the hub gone means a new
   * session; anything else is one failed message, and the relay goes on (after making sure the session still holds).
   */
  const trouble = async (session: StreamableHTTPClientTransport, error: unknown) => {
    if (session !== hub || closed.signal.aborted) return;
    if (refusesAgent(error)) {
      // The token no longer works (the agent was revoked): no session will; the client must be set up again.
      return stop(1, `the hub at ${hubUrl} refuses ${agent.agent.name}'s token (${error.message}); closing. Register the agent again (devenviro connect or register)`);
    }
    if (error instanceof StreamableHTTPError && error.code === 404) return reconnect(`the hub at ${hubUrl} no longer has this MCP session (it restarted, or ended the session)`);
    const alive = await healthy().then(
      () => true,
      () => false,
    );
    if (session !== hub) return;
    if (!alive) return reconnect(`the hub at ${hubUrl} went away`);
    ctx.note(`devenviro mcp: ${(error as Error)?.message ?? String(error)}`);
    // A hub that came back quickly is up but has forgotten the session: a ping on it answers 404 (handled above).
    // One probe at a time: the probe's own failure comes back here.
    if (!initialize || probing) return;
    probing = true;
    await ask(session, 'ping').catch(() => undefined);
    probing = false;
  };

  local.onmessage = (message: JSONRPCMessage) => {
    if (closed.signal.aborted) {
      if ('method' in message && 'id' in message) answerError(message.id, 'the relay is closing');
      return;
    }
    if ('method' in message) {
      if (message.method === 'initialize' && 'id' in message) initialize = message as JSONRPCRequest;
      if (message.method === 'notifications/initialized') initialized = true;
      const uri = (message.params as { uri?: unknown } | undefined)?.uri;
      if (message.method === 'resources/subscribe' && typeof uri === 'string') subscriptions.add(uri);
      if (message.method === 'resources/unsubscribe' && typeof uri === 'string') subscriptions.delete(uri);
    }
    if (hub) return forward(hub, message);
    // No session now: a request waits a little for the new one; a notification has no one to go to.
    if ('method' in message && 'id' in message) hold(message as JSONRPCRequest);
  };
  local.onerror = (error) => ctx.note(`devenviro mcp: unreadable input: ${error.message}`);

  hub = openTransport();
  await hub.start();
  await local.start();
  ctx.io.stdin.once('end', () => stop(0));
  ctx.io.stdin.once('close', () => stop(0));
  void ctx.io.interrupted.then(() => stop(0));
  ctx.note(`devenviro mcp: ${agent.agent.name} (project ${agent.agent.project}) on ${hubUrl}${MCP_PATH}`);
  return finished;
}

/** Whether a failed POST never reached the hub's tools: the session was unknown (404), or nothing listened. */
function neverReached(error: unknown): boolean {
  if (error instanceof StreamableHTTPError) return error.code === 404;
  return (error as { cause?: { code?: unknown } } | undefined)?.cause?.code === 'ECONNREFUSED';
}

/** Whether the hub refuses the agent itself (a token it does not know, or a revoked agent): no new session helps. */
function refusesAgent(error: unknown): error is StreamableHTTPError {
  return error instanceof StreamableHTTPError && (error.code === 401 || error.code === 403 || error.code === 410);
}
