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

  it('closes when the hub goes away', async () => {
    const dataDir = tempDir();
    const hub = await startHub(dataDir);
    const { client, transport, stderr } = await launch(['--as', 'leaver', '--data-dir', dataDir]);
    expect((await call(client, 'whoami')).isError).toBeFalsy();
    let closed = false;
    transport.onclose = () => (closed = true);
    await hub.stop();
    await waitFor(() => closed, 'the relay to exit', 30_000);
    // Stopping, the hub first ends its sessions, then stops listening: the relay sees one or the other.
    expect(stderr()).toMatch(/the hub at http:\/\/127\.0\.0\.1:\d+ (went away|ended this MCP session \(stopped or restarted\)); closing/);
  });

  it('exits with 1 when the hub process crashes mid-session, with a wait pending', async () => {
    const dataDir = tempDir();
    const hub = await startHubProcess(dataDir, await freePort());
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'mcp', '--as', 'crash-witness', '--data-dir', dataDir], { cwd: ROOT, env: cleanEnv() });
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
    rpc({ id: 2, method: 'tools/call', params: { name: 'wait_for_messages', arguments: { timeoutMs: 120_000 } } });
    await new Promise((resolve) => setTimeout(resolve, 500));

    await hub.kill('SIGKILL');
    expect(await exited).toBe(1);
    expect(stderr).toContain(`the hub at ${hub.url} went away; closing`);
    // stdout held only JSON-RPC: the initialize answer, then an error answer for the wait the crash cut off.
    const lines = stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ jsonrpc: '2.0', id: 1, result: { serverInfo: { name: 'devenviro-hub' } } });
    expect(lines[1]).toMatchObject({ jsonrpc: '2.0', id: 2, error: { code: -32603 } });
    expect((lines[1]!.error as { message: string }).message).toContain('no answer from the hub: the hub at');
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
