/** The hub's MCP server over Streamable HTTP, driven by the official SDK's client against a real hub on loopback. */
import { describe, expect, it } from 'vitest';
import { MAX_SESSIONS_PER_AGENT } from '../../src/main/mcp/gateway';
import { MCP_TOOL_NAMES } from '../../src/shared/mcp-protocol';
import { openSocket, startHub } from '../hub/harness';
import { call, connect, INITIALIZE, post, text } from './mcp-client';

describe('MCP server (Streamable HTTP)', () => {
  it('lists its tools, each with a description and input and output schemas, and says who the caller is', async () => {
    const hub = await startHub();
    const me = await hub.register('mcp-builder');
    const { client } = await connect(hub, me.token);
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual([...MCP_TOOL_NAMES].sort());
    for (const tool of tools) {
      expect(tool.description!.length).toBeGreaterThan(20);
      expect(tool.inputSchema.type).toBe('object');
      expect(tool.outputSchema?.type).toBe('object');
    }
    const who = await call(client, 'whoami');
    expect(who.isError).toBeFalsy();
    expect(who.structuredContent).toMatchObject({ agent: { id: me.agent.id, name: 'mcp-builder', project: 'test' } });
    const agents = await call(client, 'list_agents');
    expect((agents.structuredContent as { agents: Array<{ id: string }> }).agents.map((agent) => agent.id)).toContain(me.agent.id);
    await client.close();
  });

  it('an MCP agent sends to a WebSocket agent, gets its reply in the inbox, and acknowledges it', async () => {
    const hub = await startHub();
    const mcpAgent = await hub.register('mcp-agent');
    const wsAgent = await hub.register('ws-agent');
    const socket = await openSocket(hub.url, wsAgent.agent.id, wsAgent.token);
    const { client } = await connect(hub, mcpAgent.token);

    const sent = await call(client, 'send_message', {
      to: { type: 'agent', id: wsAgent.agent.id },
      body: 'please review src/a.ts',
      subject: 'review',
      importance: 'high',
      ackRequired: true,
    });
    expect(sent.isError).toBeFalsy();
    const { id, threadId } = sent.structuredContent as { id: string; threadId: string };
    const frame = await socket.next((f) => f.type === 'message');
    expect(frame).toMatchObject({ message: { id, from: mcpAgent.agent.id, body: 'please review src/a.ts', subject: 'review', importance: 'high', ackRequired: true } });

    socket.send({ type: 'send', ref: 'r', message: { to: { type: 'agent', id: mcpAgent.agent.id }, body: 'looks good', threadId, replyTo: id } });
    const waited = await call(client, 'wait_for_messages', { timeoutMs: 5000 });
    expect(waited.structuredContent).toMatchObject({ timedOut: false, messages: [{ from: wsAgent.agent.id, body: 'looks good', threadId, replyTo: id }] });
    const reply = (waited.structuredContent as { messages: Array<{ id: string }> }).messages[0]!;

    const inbox = await call(client, 'read_inbox');
    expect((inbox.structuredContent as { messages: Array<{ id: string }> }).messages.map((m) => m.id)).toEqual([reply.id]);
    expect((await call(client, 'acknowledge', { ids: [reply.id] })).structuredContent).toEqual({ acknowledged: 1 });
    expect((await call(client, 'read_inbox')).structuredContent).toEqual({ messages: [], next: null });
    const all = await call(client, 'read_inbox', { state: 'all' });
    expect((all.structuredContent as { messages: unknown[] }).messages).toHaveLength(1);
    await client.close();
    socket.ws.close();
  });

  it('wait_for_messages returns the moment a message arrives, and times out empty', async () => {
    const hub = await startHub();
    const waiter = await hub.register('waiter');
    const sender = await hub.register('sender');
    const { client } = await connect(hub, waiter.token);

    const started = performance.now();
    const empty = await call(client, 'wait_for_messages', { timeoutMs: 300 });
    const emptyMs = performance.now() - started;
    expect(empty.structuredContent).toEqual({ messages: [], timedOut: true });
    expect(emptyMs).toBeGreaterThanOrEqual(290);

    const waiting = call(client, 'wait_for_messages', { timeoutMs: 20_000 });
    // The wait is registered once the call reaches the hub; send a little later, then time the wake-up.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const sentAt = performance.now();
    const send = await hub.api(`/agents/${waiter.agent.id}/messages`, { token: sender.token, body: { body: 'wake up' } });
    expect(send.status).toBe(201);
    const woke = await waiting;
    const wakeMs = performance.now() - sentAt;
    expect(woke.structuredContent).toMatchObject({ timedOut: false, messages: [{ id: send.body.id, body: 'wake up' }] });
    // Far under the 20 s timeout: it returned on arrival, not at the end.
    expect(wakeMs).toBeLessThan(5000);
    await client.close();
  });

  it('stores a memory and finds it again, in the caller\'s own project only', async () => {
    const hub = await startHub();
    const agent = await hub.register('memory-agent', { project: 'alpha' });
    const other = await hub.register('other-agent', { project: 'beta' });
    const { client } = await connect(hub, agent.token);

    const stored = await call(client, 'memory_store', { text: 'The build uses esbuild through electron-vite', kind: 'fact', tags: ['build'] });
    expect(stored.isError).toBeFalsy();
    const memory = (stored.structuredContent as { stored: Array<{ memory: { id: string; project: string; agent: string } }> }).stored[0]!.memory;
    expect(memory).toMatchObject({ project: 'alpha', agent: agent.agent.id });

    const found = await call(client, 'memory_search', { query: 'which bundler does the build use', k: 5 });
    expect(found.isError).toBeFalsy();
    expect((found.structuredContent as { hits: Array<{ memory: { id: string } }> }).hits[0]!.memory.id).toBe(memory.id);

    // The access rule of the HTTP API holds: another project is refused with what to do instead, nothing stored.
    const elsewhere = await call(client, 'memory_store', { text: 'into beta', project: 'beta' });
    expect(elsewhere.isError).toBe(true);
    expect(text(elsewhere)).toMatch(/only in its own project \(alpha\).*leave project out/);
    const otherClient = (await connect(hub, other.token)).client;
    const seenByBeta = await call(otherClient, 'memory_search', { query: 'bundler build', k: 5 });
    expect((seenByBeta.structuredContent as { hits: unknown[] }).hits).toEqual([]);
    const stats = await hub.api('/memory/stats', { token: agent.token });
    expect(stats.body.total).toBe(1);
    await client.close();
    await otherClient.close();
  });

  it('refuses a missing or wrong token, the cockpit\'s, a browser Origin, and another agent\'s session', async () => {
    const hub = await startHub();
    const a = await hub.register('agent-a');
    const b = await hub.register('agent-b');

    expect((await post(hub, INITIALIZE, {})).status).toBe(401);
    expect((await post(hub, INITIALIZE, { authorization: 'Bearer not-a-token' })).status).toBe(401);
    expect((await post(hub, INITIALIZE, { authorization: `Bearer ${hub.app.cockpitToken}` })).status).toBe(403);
    const fromPage = await post(hub, INITIALIZE, { authorization: `Bearer ${a.token}`, origin: `${hub.url}` });
    expect(fromPage.status).toBe(403);
    await expect(connect(hub, 'wrong-token')).rejects.toThrow();

    const { client, transport } = await connect(hub, a.token);
    const sessionId = transport.sessionId!;
    expect(sessionId).toBeTruthy();
    const list = { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} };
    const stolen = await post(hub, list, { authorization: `Bearer ${b.token}`, 'mcp-session-id': sessionId });
    expect(stolen.status).toBe(403);
    expect((await stolen.json()).error).toMatch(/another agent/);
    const unknown = await post(hub, list, { authorization: `Bearer ${a.token}`, 'mcp-session-id': 'no-such-session' });
    expect(unknown.status).toBe(404);
    const noSession = await post(hub, list, { authorization: `Bearer ${a.token}` });
    expect(noSession.status).toBe(400);

    // The owner's session still works; DELETE ends it.
    expect((await client.listTools()).tools.length).toBe(MCP_TOOL_NAMES.length);
    expect(hub.app.hub().mcp.sessionCount).toBe(1);
    await transport.terminateSession();
    expect(hub.app.hub().mcp.sessionCount).toBe(0);
    const afterDelete = await post(hub, list, { authorization: `Bearer ${a.token}`, 'mcp-session-id': sessionId });
    expect(afterDelete.status).toBe(404);
  });

  it('answers malformed arguments and an unknown tool with tool errors, stores nothing, and keeps serving', async () => {
    const hub = await startHub();
    const a = await hub.register('careful');
    const b = await hub.register('recipient');
    const { client } = await connect(hub, a.token);

    const cases: Array<[string, Record<string, unknown>]> = [
      ['send_message', { to: { type: 'agent', id: 'not-a-ulid' }, body: 'x' }],
      ['send_message', { to: { type: 'agent', id: b.agent.id }, body: 42 }],
      ['send_message', { to: { type: 'agent', id: b.agent.id }, body: 'x', importance: 'extreme' }],
      ['send_message', { to: { type: 'agent', id: b.agent.id }, body: 'x', unexpected: true }],
      ['wait_for_messages', { timeoutMs: 'soon' }],
      ['acknowledge', { ids: [] }],
      ['memory_store', { text: '' }],
      ['memory_store', { text: 'x'.repeat(100_001) }],
      ['memory_search', { query: 'x', k: 10_000 }],
    ];
    for (const [name, args] of cases) {
      const result = await call(client, name, args);
      expect(result.isError, `${name} ${JSON.stringify(args).slice(0, 80)}`).toBe(true);
      expect(text(result)).toMatch(/Invalid arguments for tool/);
    }
    // A rule of the services (not the schema): a recipient that does not exist.
    const nobody = await call(client, 'send_message', { to: { type: 'agent', id: '01ARZ3NDEKTSV4RRFFQ69G5FAV' }, body: 'hello' });
    expect(nobody.isError).toBe(true);
    expect(text(nobody)).toMatch(/not_found/);

    const unknown = await call(client, 'no_such_tool');
    expect(unknown.isError).toBe(true);
    expect(text(unknown)).toMatch(/Tool no_such_tool not found/);

    // Nothing was stored by any of it.
    const inbox = await hub.api(`/agents/${b.agent.id}/messages?state=all`, { token: b.token });
    expect(inbox.body.messages).toEqual([]);
    expect((await hub.api('/memory/stats', { token: a.token })).body.total).toBe(0);
    expect((await call(client, 'whoami')).isError).toBeFalsy();
    await client.close();
  });

  it('refuses arguments over the size limit before parsing them, and a revoked agent\'s session', async () => {
    const hub = await startHub({ maxBytes: 4096 });
    const a = await hub.register('big-sender');
    const b = await hub.register('big-recipient');
    const { client, transport } = await connect(hub, a.token);
    const huge = {
      jsonrpc: '2.0',
      id: 9,
      method: 'tools/call',
      params: { name: 'send_message', arguments: { to: { type: 'agent', id: b.agent.id }, body: 'x'.repeat(200_000) } },
    };
    const response = await post(hub, huge, { authorization: `Bearer ${a.token}`, 'mcp-session-id': transport.sessionId! });
    expect(response.status).toBe(413);
    expect((await response.json()).code).toBe('too_large');
    // Within the HTTP limit but over the message limit: the send rule answers, as a tool error.
    const over = await call(client, 'send_message', { to: { type: 'agent', id: b.agent.id }, body: 'y'.repeat(10_000) });
    expect(over.isError).toBe(true);
    expect(text(over)).toMatch(/too_large/);
    expect((await hub.api(`/agents/${b.agent.id}/messages?state=all`, { token: b.token })).body.messages).toEqual([]);

    const revoke = await hub.api(`/agents/${a.agent.id}/revoke`, { token: hub.app.cockpitToken, body: {} });
    expect(revoke.status).toBe(200);
    const list = { jsonrpc: '2.0', id: 3, method: 'tools/list', params: {} };
    const afterRevoke = await post(hub, list, { authorization: `Bearer ${a.token}`, 'mcp-session-id': transport.sessionId! });
    expect(afterRevoke.status).toBe(410);
    const headers = (await post(hub, INITIALIZE, { authorization: `Bearer ${b.token}` })).headers;
    expect(headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('keeps at most MAX_SESSIONS_PER_AGENT sessions per agent, closing the oldest', async () => {
    const hub = await startHub();
    const a = await hub.register('leaky');
    const b = await hub.register('tidy');
    const mine = await connect(hub, b.token);
    const ids: string[] = [];
    for (let i = 0; i < MAX_SESSIONS_PER_AGENT + 2; i++) {
      const response = await post(hub, INITIALIZE, { authorization: `Bearer ${a.token}` });
      expect(response.status).toBe(200);
      ids.push(response.headers.get('mcp-session-id')!);
    }
    expect(hub.app.hub().mcp.sessionCount).toBe(MAX_SESSIONS_PER_AGENT + 1);
    const list = { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} };
    const headers = (id: string) => ({ authorization: `Bearer ${a.token}`, 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' });
    expect((await post(hub, list, headers(ids[0]!))).status).toBe(404);
    expect((await post(hub, list, headers(ids[1]!))).status).toBe(404);
    expect((await post(hub, list, headers(ids.at(-1)!))).status).toBe(200);
    // Another agent's session is not touched.
    expect((await mine.client.listTools()).tools.length).toBe(MCP_TOOL_NAMES.length);
    await mine.client.close();
  });

  it('closes its sessions when the hub stops, ending a pending wait', async () => {
    const hub = await startHub();
    const a = await hub.register('sleeper');
    const { client } = await connect(hub, a.token);
    const waiting = call(client, 'wait_for_messages', { timeoutMs: 60_000 }).then(
      (result) => ({ result }),
      (error: Error) => ({ error }),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = performance.now();
    const stopped = hub.app.stop();
    // The wait is ended and answered (empty) before its stream closes, far before its 60 s timeout.
    expect(await waiting).toEqual({ result: expect.objectContaining({ structuredContent: { messages: [], timedOut: true } }) });
    expect(performance.now() - started).toBeLessThan(10_000);
    await stopped;
  });
});
