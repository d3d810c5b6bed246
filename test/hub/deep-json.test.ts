/**
 * Deeply nested JSON: refused with 400 over HTTP and an invalid_frame error over the socket, with the limit named,
 * before anything walks it recursively; the limit itself still goes through, and the hub keeps answering.
 */
import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH } from '../../src/shared/agent-protocol';
import { nestsDeeperThan } from '../../src/shared/json-depth';
import { openSocket, startHub } from './harness';

/** An object body nested `depth` levels deep (the body itself counts as one), as JSON text. */
const nestedObject = (depth: number) => '{"x":'.repeat(depth) + '1' + '}'.repeat(depth);
const nestedArray = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

describe('deeply nested JSON', () => {
  it('measures nesting without recursion, skipping brackets inside strings', () => {
    expect(nestsDeeperThan(Buffer.from(nestedArray(MAX_JSON_DEPTH)))).toBe(false);
    expect(nestsDeeperThan(Buffer.from(nestedArray(MAX_JSON_DEPTH + 1)))).toBe(true);
    expect(nestsDeeperThan(Buffer.from(nestedArray(1_000_000)))).toBe(true);
    const strings = JSON.stringify({ text: '['.repeat(5000) + '\\"{{{' + '{'.repeat(5000) });
    expect(nestsDeeperThan(Buffer.from(strings))).toBe(false);
  });

  it('answers a body nested 5,000 levels deep with 400 over HTTP, in both send routes', async () => {
    const hub = await startHub();
    const a = await hub.register('a');
    const b = await hub.register('b');
    for (const body of [nestedObject(5000), nestedArray(5000)]) {
      const broadcast = await hub.api('/messages', { token: a.token, body: `{"to":{"type":"broadcast"},"body":${body}}` });
      expect(broadcast.status).toBe(400);
      expect(broadcast.body).toMatchObject({ code: 'invalid_request' });
      expect(broadcast.body.error).toContain(`deeper than ${MAX_JSON_DEPTH} levels`);
      const direct = await hub.api(`/agents/${b.agent.id}/messages`, { token: a.token, body: `{"body":${body}}` });
      expect(direct.status).toBe(400);
      expect(direct.body.error).toContain(`deeper than ${MAX_JSON_DEPTH} levels`);
    }
    // A large deep document (decoded off the event loop) gets the same answer.
    const padded = `{"to":{"type":"broadcast"},"subject":"${'s'.repeat(400)}","body":{"pad":"${'p'.repeat(200_000)}","deep":${nestedArray(5000)}}}`;
    const large = await hub.api('/messages', { token: a.token, body: padded });
    expect(large.status).toBe(400);
    expect(large.body.error).toContain(`deeper than ${MAX_JSON_DEPTH} levels`);
    // The deepest body the hub takes (the document adds one level) is stored and read back.
    const deepest = nestedArray(MAX_JSON_DEPTH - 1);
    const ok = await hub.api(`/agents/${b.agent.id}/messages`, { token: a.token, body: `{"body":${deepest}}` });
    expect(ok.status).toBe(201);
    const inbox = await hub.api(`/agents/${b.agent.id}/messages`, { token: b.token });
    expect(JSON.stringify(inbox.body.messages[0].body)).toBe(deepest);
  });

  it('answers every other JSON route the same way, naming the limit', async () => {
    const hub = await startHub();
    const a = await hub.register('a');
    const deep = nestedObject(5000);
    for (const [path, body] of [
      ['/memory/store', `{"memories":[{"content":"hello","metadata":${deep}}]}`],
      ['/agents/register', `{"name":"b","project":"test","capabilities":${deep}}`],
      [`/agents/${a.agent.id}/topics`, `{"topics":${deep}}`],
      [`/agents/${a.agent.id}/messages/ack`, `{"ids":${deep}}`],
    ] as const) {
      const answer = await hub.api(path, { token: a.token, body });
      expect(answer.status, path).toBe(400);
      expect(answer.body, path).toMatchObject({ code: 'invalid_request', error: expect.stringContaining(`deeper than ${MAX_JSON_DEPTH} levels`) });
    }
  });

  it('answers the same over the socket, with the ref, and keeps the connection', async () => {
    const hub = await startHub();
    const a = await hub.register('a');
    const b = await hub.register('b');
    const socket = await openSocket(hub.url, a.agent.id, a.token);
    await socket.next((f) => f.type === 'welcome');
    socket.ws.send(`{"type":"send","ref":"deep","message":{"to":{"type":"agent","id":"${b.agent.id}"},"body":${nestedObject(5000)}}}`);
    const error = await socket.next((f) => f.type === 'error');
    expect(error).toMatchObject({ type: 'error', code: 'invalid_frame' });
    expect((error as { message: string }).message).toContain(`deeper than ${MAX_JSON_DEPTH} levels`);
    socket.send({ type: 'send', ref: 'fine', message: { to: { type: 'agent', id: b.agent.id }, body: 'still here' } });
    expect(await socket.next((f) => f.type === 'sent')).toMatchObject({ ref: 'fine' });
    socket.ws.close();
  });
});
