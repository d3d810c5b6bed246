/** The hub's Streamable HTTP transport (src/main/mcp/http-transport.ts) on the wire: raw requests against a real hub on loopback. */
import { describe, expect, it } from 'vitest';
import { MCP_PATH } from '../../src/shared/mcp-protocol';
import { startHub } from '../hub/harness';
import { INITIALIZE, post } from './mcp-client';

describe('MCP Streamable HTTP transport', () => {
  it('answers a quick call as one JSON body, a long one as an event stream, and refuses what the spec refuses', async () => {
    const hub = await startHub();
    const me = await hub.register('wire');
    const auth = { authorization: `Bearer ${me.token}` };

    const opened = await post(hub, INITIALIZE, auth);
    expect(opened.status).toBe(200);
    expect(opened.headers.get('content-type')).toBe('application/json');
    const sessionId = opened.headers.get('mcp-session-id')!;
    expect(sessionId).toBeTruthy();
    expect(await opened.json()).toMatchObject({ jsonrpc: '2.0', id: 1, result: { serverInfo: { name: 'devenviro-hub' } } });
    const session = { ...auth, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' };
    expect((await post(hub, { jsonrpc: '2.0', method: 'notifications/initialized' }, session)).status).toBe(202);

    // Quick calls: JSON, a batch's answers together.
    const ping = await post(hub, { jsonrpc: '2.0', id: 2, method: 'ping' }, session);
    expect(ping.headers.get('content-type')).toBe('application/json');
    expect(ping.headers.get('mcp-session-id')).toBe(sessionId);
    expect(await ping.json()).toEqual({ jsonrpc: '2.0', id: 2, result: {} });
    const batch = await post(hub, [{ jsonrpc: '2.0', id: 3, method: 'ping' }, { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'whoami', arguments: {} } }], session);
    const answers = (await batch.json()) as Array<{ id: number; result: Record<string, unknown> }>;
    expect(answers.map((answer) => answer.id).sort()).toEqual([3, 4]);
    expect(answers.find((answer) => answer.id === 4)!.result).toMatchObject({ structuredContent: { agent: { id: me.agent.id } } });

    // A call still running past the JSON window: an event stream, its headers at once, the answer as an event.
    const started = performance.now();
    const wait = await post(hub, { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'wait_for_messages', arguments: { timeoutMs: 1500 } } }, session);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(wait.headers.get('content-type')).toBe('text/event-stream');
    const events = await wait.text();
    const data = /^data: (.*)$/m.exec(events)![1]!;
    expect(events.startsWith('event: message\n')).toBe(true);
    expect(JSON.parse(data)).toMatchObject({ id: 5, result: { structuredContent: { messages: [], timedOut: true } } });

    // The spec's refusals.
    expect((await post(hub, { jsonrpc: '2.0', id: 6, method: 'ping' }, { ...session, accept: 'application/json' })).status).toBe(406);
    expect((await post(hub, { jsonrpc: '2.0', id: 7, method: 'ping' }, { ...session, 'mcp-protocol-version': '1999-01-01' })).status).toBe(400);
    const garbage = await post(hub, { hello: 'world' }, session);
    expect(garbage.status).toBe(400);
    expect(await garbage.json()).toMatchObject({ error: { code: -32700 } });
    const again = await post(hub, INITIALIZE, session);
    expect(again.status).toBe(400);
    expect(await again.json()).toMatchObject({ error: { code: -32600, message: expect.stringMatching(/already initialized/) } });

    // GET: the one notification stream of the session.
    const get = (accept: string, signal?: AbortSignal) => fetch(`${hub.url}${MCP_PATH}`, { headers: { ...session, accept }, signal });
    expect((await get('application/json')).status).toBe(406);
    const streaming = new AbortController();
    const stream = await get('text/event-stream', streaming.signal);
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toBe('text/event-stream');
    expect((await get('text/event-stream')).status).toBe(409);
    streaming.abort();

    // DELETE ends the session.
    const ended = await fetch(`${hub.url}${MCP_PATH}`, { method: 'DELETE', headers: session });
    expect(ended.status).toBe(200);
    expect(hub.app.hub().mcp.sessionCount).toBe(0);
    expect((await post(hub, { jsonrpc: '2.0', id: 8, method: 'ping' }, session)).status).toBe(404);
  });
});
