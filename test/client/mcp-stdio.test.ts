/**
 * `devenviro mcp`, the stdio entry of the hub's MCP server: the official SDK's client launches the CLI from its source
 * (node --import tsx) and talks MCP over its stdin/stdout; the CLI relays to a real hub on loopback.
 */
import { spawn } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ResourceUpdatedNotificationSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it, onTestFinished } from 'vitest';
import { HubClient, type Message } from '../../src/client';
import { loadCredentials } from '../../src/client/credentials';
import { MCP_RESOURCES, MCP_TOOL_NAMES } from '../../src/shared/mcp-protocol';
import { tempDir } from '../helpers';
import { CLI, ROOT, cleanEnv } from './cli-run';
import { freePort, startHub, startHubProcess, waitFor } from './hub';

/** An MCP client that launches `devenviro mcp ...args` and keeps what it writes to stderr. */
async function launch(args: string[]): Promise<{ client: Client; transport: StdioClientTransport; stderr: () => string }> {
  const transport = new StdioClientTransport({ command: process.execPath, args: ['--import', 'tsx', CLI, 'mcp', ...args], cwd: ROOT, env: cleanEnv(), stderr: 'pipe' });
  let stderr = '';
  transport.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
  const client = new Client({ name: 'stdio-test', version: '1.0.0' });
  await client.connect(transport);
  onTestFinished(() => client.close());
  return { client, transport, stderr: () => stderr };
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

// Each launch is a fresh Node process compiling TypeScript: allow for a busy machine.
describe('devenviro mcp (stdio)', { timeout: 120_000 }, () => {
  it('registers the agent when none is saved, lists the tools, and whoami names the agent', async () => {
    const dataDir = tempDir();
    const hub = await startHub(dataDir);
    const { client, stderr } = await launch(['--as', 'stdio-builder', '--project', 'shop', '--data-dir', dataDir]);

    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual([...MCP_TOOL_NAMES].sort());
    const saved = loadCredentials(dataDir, 'shop', 'stdio-builder');
    expect(saved).toBeDefined();
    const who = await call(client, 'whoami');
    expect(who.isError).toBeFalsy();
    expect(who.structuredContent).toMatchObject({ agent: { id: saved!.id, name: 'stdio-builder', project: 'shop' } });
    expect(stderr()).toContain('registered stdio-builder in project shop');
    expect(hub.app.hub().mcp.sessionCount).toBe(1);
    // Closing its stdin ends the relay and, with it, its session on the hub.
    await client.close();
    await waitFor(() => hub.app.hub().mcp.sessionCount === 0, 'the session to end');

    // A second launch uses the saved credentials: the same agent, no new registration.
    const again = await launch(['--as', 'stdio-builder', '--project', 'shop', '--data-dir', dataDir]);
    expect((await call(again.client, 'whoami')).structuredContent).toMatchObject({ agent: { id: saved!.id } });
    expect(again.stderr()).not.toContain('registered');
  });

  it('send_message reaches a WebSocket agent, and wait_for_messages wakes on its reply', async () => {
    const dataDir = tempDir();
    const hub = await startHub(dataDir);
    const { client } = await launch(['--as', 'stdio-agent', '--data-dir', dataDir]);
    const me = loadCredentials(dataDir, 'default', 'stdio-agent')!;

    const ws = await HubClient.register({ url: hub.url, name: 'ws-agent' });
    const received: Message[] = [];
    ws.on('message', (message) => void received.push(message));
    await ws.connect();
    onTestFinished(() => ws.close());

    const sent = await call(client, 'send_message', { to: { type: 'agent', id: ws.id }, body: 'please review src/a.ts', subject: 'review' });
    expect(sent.isError).toBeFalsy();
    const { id } = sent.structuredContent as { id: string };
    await waitFor(() => received.length === 1, 'the message at the WebSocket agent');
    expect(received[0]).toMatchObject({ id, from: me.id, body: 'please review src/a.ts', subject: 'review' });

    const waiting = call(client, 'wait_for_messages', { timeoutMs: 60_000 });
    // Let the wait reach the hub, then reply and time the wake-up.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const sentAt = performance.now();
    const reply = await ws.send(me.id, 'looks good', { replyTo: id });
    const woke = await waiting;
    const wakeMs = performance.now() - sentAt;
    expect(woke.structuredContent).toMatchObject({ timedOut: false, messages: [{ id: reply.id, from: ws.id, body: 'looks good', replyTo: id }] });
    // Far under the 60 s timeout: it returned on arrival, not at the end.
    expect(wakeMs).toBeLessThan(10_000);
  });

  it('reply, read_thread and the inbox resource with its update notification work through the relay', async () => {
    const dataDir = tempDir();
    const hub = await startHub(dataDir);
    const { client } = await launch(['--as', 'stdio-replier', '--data-dir', dataDir]);
    const me = loadCredentials(dataDir, 'default', 'stdio-replier')!;
    const ws = await HubClient.register({ url: hub.url, name: 'asker' });
    const received: Message[] = [];
    ws.on('message', (message) => void received.push(message));
    await ws.connect();
    onTestFinished(() => ws.close());

    // The hub's notifications come through the relay's own notification stream to stdout.
    const updates: string[] = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) => void updates.push(notification.params.uri));
    await client.subscribeResource({ uri: MCP_RESOURCES.inbox });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const question = await ws.send(me.id, 'which port does the hub use?', { subject: 'port' });
    await waitFor(() => updates.includes(MCP_RESOURCES.inbox), 'the inbox update through the relay');
    const { contents } = await client.readResource({ uri: MCP_RESOURCES.inbox });
    expect(JSON.parse((contents[0] as { text: string }).text)).toMatchObject({ unacknowledged: 1, messages: [{ id: question.id, from: ws.id }] });

    const replied = await call(client, 'reply', { messageId: question.id, body: '4477 by default' });
    expect(replied.structuredContent).toMatchObject({ threadId: question.threadId, to: { type: 'agent', id: ws.id } });
    await waitFor(() => received.length === 1, 'the reply at the WebSocket agent');
    expect(received[0]).toMatchObject({ from: me.id, body: '4477 by default', threadId: question.threadId, replyTo: question.id });
    const thread = await call(client, 'read_thread', { threadId: question.threadId });
    expect((thread.structuredContent as { messages: Array<{ id: string }> }).messages.map((m) => m.id)).toEqual([question.id, (replied.structuredContent as { id: string }).id]);
  });

  it('opens a new session when the hub restarts: a call made meanwhile waits for it, the subscription is replayed, the client never sees a failure', async () => {
    const dataDir = tempDir();
    const port = await freePort();
    const hub = await startHub(dataDir, { port });
    const { client, transport, stderr } = await launch(['--as', 'survivor', '--data-dir', dataDir]);
    const me = loadCredentials(dataDir, 'default', 'survivor')!;
    let closed = false;
    transport.onclose = () => (closed = true);
    const updates: string[] = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) => void updates.push(notification.params.uri));
    await client.subscribeResource({ uri: MCP_RESOURCES.inbox });
    expect((await call(client, 'whoami')).structuredContent).toMatchObject({ agent: { id: me.id } });

    await hub.stop();
    await waitFor(() => /no longer has this MCP session|went away/.test(stderr()), 'the relay to notice', 30_000);
    // Sent while no hub listens: held, then sent on the new session.
    const during = call(client, 'whoami');
    const again = await startHub(dataDir, { port });
    expect((await during).structuredContent).toMatchObject({ agent: { id: me.id, name: 'survivor' } });
    await waitFor(() => stderr().includes(`devenviro mcp: reconnected to ${again.url}/mcp with a new session`), 'the reconnect note', 30_000);
    expect(again.app.hub().mcp.sessionCount).toBe(1);
    expect(again.app.hub().mcp.list()[0]).toMatchObject({ agentId: me.id });

    // The subscription made on the old session holds on the new one: a message pushes the inbox update.
    const ws = await HubClient.register({ url: again.url, name: 'pinger' });
    await ws.send(me.id, 'still there?');
    await waitFor(() => updates.includes(MCP_RESOURCES.inbox), 'the inbox update on the new session', 30_000);
    const inbox = await call(client, 'read_inbox');
    expect(inbox.structuredContent).toMatchObject({ messages: [{ body: 'still there?' }] });
    expect(closed).toBe(false);
  });

  it('after a kill -9 of the hub, the wait it cut off gets a JSON-RPC error, and calls work again once a new hub process is up', async () => {
    const dataDir = tempDir();
    const port = await freePort();
    const hub = await startHubProcess(dataDir, port);
    const { client, transport, stderr } = await launch(['--as', 'crash-witness', '--data-dir', dataDir]);
    let closed = false;
    transport.onclose = () => (closed = true);
    expect((await call(client, 'whoami')).isError).toBeFalsy();
    const waiting = call(client, 'wait_for_messages', { timeoutMs: 120_000 });
    await new Promise((resolve) => setTimeout(resolve, 500));

    // The SDK client surfaces the JSON-RPC error as McpError: not a hang until the 120 s timeout. (Expected before the
    // kill and awaited after it, so the rejection is never unhandled in between.)
    const cutOff = expect(waiting).rejects.toThrow(/no answer from the hub: the hub at http:\/\/127\.0\.0\.1:\d+ went away\. The relay is opening a new session; call again/);
    await hub.kill('SIGKILL');
    await cutOff;
    await waitFor(() => stderr().includes('is not back yet'), 'the retry note', 30_000);

    const back = await startHubProcess(dataDir, port);
    await waitFor(() => stderr().includes(`reconnected to ${back.url}/mcp`), 'the reconnect', 60_000);
    const who = await call(client, 'whoami');
    expect(who.structuredContent).toMatchObject({ agent: { name: 'crash-witness' } });
    expect(closed).toBe(false);
  });

  it('exits with 1 when the hub refuses the agent\'s token (revoked): the refused call is answered first', async () => {
    const dataDir = tempDir();
    const hub = await startHub(dataDir);
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'mcp', '--as', 'revoked', '--data-dir', dataDir], { cwd: ROOT, env: cleanEnv() });
    onTestFinished(() => void child.kill('SIGKILL'));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const rpc = (message: Record<string, unknown>) => child.stdin.write(JSON.stringify({ jsonrpc: '2.0', ...message }) + '\n');
    rpc({ id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
    await waitFor(() => stdout.includes('"id":1'), 'the initialize answer', 60_000);
    rpc({ method: 'notifications/initialized' });
    const me = loadCredentials(dataDir, 'default', 'revoked')!;

    hub.app.hub().registry.revoke(me.id);
    rpc({ id: 2, method: 'tools/call', params: { name: 'whoami', arguments: {} } });
    expect(await exited).toBe(1);
    expect(stderr).toContain(`the hub at ${hub.url} refuses revoked's token`);
    // stdout held only JSON-RPC: the initialize answer, then an error answer for the refused call.
    const lines = stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toMatchObject([{ id: 1, result: { serverInfo: { name: 'devenviro-hub' } } }, { id: 2, error: { code: -32603 } }]);
  });

  it('without a running hub: a clear error on stderr, nothing on stdout, exit code 1', async () => {
    const dataDir = tempDir();
    // A port nothing listens on (the hub that had it has stopped).
    const gone = await startHub(tempDir());
    await gone.stop();
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'mcp', '--as', 'nobody', '--data-dir', dataDir, '--url', gone.url], { cwd: ROOT, env: cleanEnv() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain(`devenviro mcp: cannot reach the hub at ${gone.url}`);
    expect(stderr).toContain('is it running?');
  });
});
