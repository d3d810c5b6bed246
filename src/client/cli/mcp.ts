/**
 * `devenviro mcp`: the hub's MCP server over stdio, for MCP clients that only launch commands. It relays JSON-RPC
 * messages unchanged between stdin/stdout and the running hub's Streamable HTTP endpoint (/mcp) with the agent's
 * token, so every tool is the hub's own; it never starts a hub. Only MCP goes to stdout; notes go to stderr.
 */
import type { Readable, Writable } from 'node:stream';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { MCP_PATH } from '../../shared/mcp-protocol';
import { HubClient, type AgentClient } from '../client';
import { listCredentials } from '../credentials';
import { noArgs, type Command, type Context } from './command';
import { location } from './hub';

export const mcp: Command = {
  summary: "serve the hub's MCP tools over stdio (for clients that launch a command)",
  usage: 'devenviro mcp --as NAME [--project P]',
  details: `Speaks MCP on stdin/stdout and relays every message to the running hub's ${MCP_PATH} as the agent,
using its saved credentials (registering the agent and saving them when there are none). It does not start a hub:
with none running it exits with 1, and it exits when the hub goes away. Notes go to stderr only.`,
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

async function relay(ctx: Context, agent: AgentClient): Promise<number> {
  const endpoint = new URL(agent.url + MCP_PATH);
  const local = new StdioServerTransport(ctx.io.stdin as Readable, ctx.io.stdout as Writable);
  const hub = new StreamableHTTPClientTransport(endpoint, { requestInit: { headers: { authorization: `Bearer ${agent.token}` } } });

  /** Requests relayed to the hub and not answered yet. */
  const pending = new Set<string | number>();
  let finish!: (code: number) => void;
  const finished = new Promise<number>((resolve) => (finish = resolve));
  let closing = false;
  const stop = (code: number, why?: string) => {
    if (closing) return;
    closing = true;
    if (why) ctx.note(`devenviro mcp: ${why}`);
    void (async () => {
      // Requests the hub will never answer now get an error, so the client does not wait for them.
      for (const id of pending) await local.send({ jsonrpc: '2.0', id, error: { code: -32603, message: `no answer from the hub: ${why ?? 'the relay is closing'}` } }).catch(() => undefined);
      // End the hub's session (it would otherwise linger until the agent opens 16 more); a hub that is gone is fine.
      await hub.terminateSession().catch(() => undefined);
      await hub.close().catch(() => undefined);
      await local.close().catch(() => undefined);
      finish(code);
    })();
  };

  // An error of the hub side is either the hub being gone (stop) or one refused message (answered, go on).
  const hubTrouble = async (error: unknown) => {
    if (closing) return;
    // 404: the hub no longer knows the session (it is stopping, or restarted): the client must start afresh.
    if (error instanceof StreamableHTTPError && error.code === 404) return stop(1, `the hub at ${agent.url} ended this MCP session (stopped or restarted); closing`);
    const alive = await HubClient.health({ url: agent.url }).then(
      () => true,
      () => false,
    );
    if (!alive) stop(1, `the hub at ${agent.url} went away; closing`);
    else ctx.note(`devenviro mcp: ${(error as Error)?.message ?? String(error)}`);
  };

  // Initialize's answer names the protocol version; later requests carry it in their header, as the SDK client does.
  let initializeId: string | number | undefined;
  local.onmessage = (message: JSONRPCMessage) => {
    if ('method' in message && message.method === 'initialize' && 'id' in message) initializeId = message.id;
    if ('method' in message && 'id' in message) pending.add(message.id);
    hub.send(message).catch((error: unknown) => {
      // A request whose POST failed would otherwise wait for ever: answer it with the reason.
      if ('method' in message && 'id' in message && pending.delete(message.id)) {
        const text = error instanceof Error ? error.message : String(error);
        void local.send({ jsonrpc: '2.0', id: message.id, error: { code: -32603, message: `the hub did not take this request: ${text}` } }).catch(() => undefined);
      }
      void hubTrouble(error);
    });
  };
  hub.onmessage = (message: JSONRPCMessage) => {
    if (!('method' in message) && 'id' in message && message.id !== undefined) pending.delete(message.id);
    if (initializeId !== undefined && 'id' in message && message.id === initializeId && 'result' in message) {
      const version = (message.result as { protocolVersion?: unknown }).protocolVersion;
      if (typeof version === 'string') hub.setProtocolVersion(version);
      initializeId = undefined;
    }
    local.send(message).catch(() => stop(0));
  };
  hub.onerror = (error) => void hubTrouble(error);
  local.onerror = (error) => ctx.note(`devenviro mcp: unreadable input: ${error.message}`);

  await hub.start();
  await local.start();
  ctx.io.stdin.once('end', () => stop(0));
  ctx.io.stdin.once('close', () => stop(0));
  void ctx.io.interrupted.then(() => stop(0));
  ctx.note(`devenviro mcp: ${agent.agent.name} (project ${agent.agent.project}) on ${endpoint.href}`);
  return finished;
}
