/** The agents' realtime socket against a real hub. */
import { describe, expect, it } from 'vitest';
import { openSocket, startHub, until } from './harness';

describe('realtime socket', () => {
  it('pushes a message the moment it is stored, and takes sends over the socket', async () => {
    const hub = await startHub();
    const a = await hub.register('a');
    const b = await hub.register('b');
    const sa = await openSocket(hub.url, a.agent.id, a.token);
    const sb = await openSocket(hub.url, b.agent.id, b.token);
    expect(await sb.next((f) => f.type === 'welcome')).toMatchObject({ type: 'welcome', agent: { id: b.agent.id, connected: true }, pending: 0 });

    sa.send({ type: 'send', ref: 'r1', message: { to: { type: 'agent', id: b.agent.id }, body: 'ping', subject: 'latency' } });
    const sent = await sa.next((f) => f.type === 'sent');
    expect(sent).toMatchObject({ type: 'sent', ref: 'r1', result: { recipients: 1, duplicate: false } });
    const pushed = await sb.next((f) => f.type === 'message');
    expect(pushed).toMatchObject({ type: 'message', message: { body: 'ping', from: a.agent.id } });
    expect(pushed.type === 'message' && pushed.message.id).toBe(sent.type === 'sent' && sent.result.id);
    // Presence follows the socket.
    expect((await hub.api(`/agents/${b.agent.id}/status`, { token: a.token })).body).toMatchObject({ connected: true, status: 'online' });
    sb.ws.close();
    await sb.closed;
    await until(() => !hub.app.hub().registry.get(b.agent.id).connections, 2000, 'disconnect');
    expect((await hub.api(`/agents/${b.agent.id}/status`, { token: a.token })).body).toMatchObject({ connected: false });
    sa.ws.close();
  });

  it('delivers each text body as the sender\'s JSON parses, whatever its escapes, script or repeated keys', async () => {
    const hub = await startHub();
    const a = await hub.register('a');
    const b = await hub.register('b');
    const sa = await openSocket(hub.url, a.agent.id, a.token);
    const sb = await openSocket(hub.url, b.agent.id, b.token);
    const literals = ['"plain"', '"héllo 日本語 😀 \u2028"', '"a \\"quoted\\" word\\n"', '"\\u0041\\ud83d\\ude00"', '""', '"evil","body":"real"', ' "spaced" '];
    for (const [i, literal] of literals.entries()) {
      sa.ws.send(`{"type":"send","ref":"r${i}","message":{"to":{"type":"agent","id":"${b.agent.id}"},"body":${literal}}}`);
    }
    await until(() => sb.messages().length === literals.length, 5000, 'deliveries');
    const expected = literals.map((literal) => (JSON.parse(`{"body":${literal}}`) as { body: string }).body);
    expect(sb.messages().map((m) => m.body)).toEqual(expected);
    // And as stored: read back over HTTP.
    const inbox = (await hub.api(`/agents/${b.agent.id}/messages`, { token: b.token })).body as { messages: Array<{ body: string }> };
    expect(inbox.messages.map((m) => m.body)).toEqual(expected);
    sa.ws.close();
    sb.ws.close();
  });

  it('redelivers unacknowledged messages after a reconnect, in order, and never acknowledged ones', async () => {
    const hub = await startHub();
    const a = await hub.register('a');
    const b = await hub.register('b');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await hub.api(`/agents/${b.agent.id}/messages`, { token: a.token, body: { body: `m${i}` } })).body.id);

    const first = await openSocket(hub.url, b.agent.id, b.token);
    await until(() => first.messages().length === 5, 2000, 'backlog');
    expect(first.messages().map((m) => m.id)).toEqual(ids);
    first.send({ type: 'ack', ids: ids.slice(0, 3) });
    await until(() => hub.app.hub().registry.get(b.agent.id).inboxDepth === 2, 2000, 'acks');
    first.ws.terminate();

    // Sent while b is away.
    ids.push((await hub.api(`/agents/${b.agent.id}/messages`, { token: a.token, body: { body: 'm5' } })).body.id);
    const second = await openSocket(hub.url, b.agent.id, b.token);
    expect(await second.next((f) => f.type === 'welcome')).toMatchObject({ pending: 3 });
    await until(() => second.messages().length === 3, 2000, 'resume');
    expect(second.messages().map((m) => m.id)).toEqual(ids.slice(3));
    second.ws.close();
  });

  it('survives a hub restart: what was acknowledged as stored is delivered afterwards', async () => {
    const hub = await startHub();
    const a = await hub.register('a');
    const b = await hub.register('b');
    const sa = await openSocket(hub.url, a.agent.id, a.token);
    for (let i = 0; i < 50; i++) sa.send({ type: 'send', ref: `r${i}`, message: { to: { type: 'agent', id: b.agent.id }, body: `n${i}` } });
    await until(() => sa.frames.filter((f) => f.type === 'sent').length === 50, 5000, 'sent acks');
    await hub.restart();
    const sb = await openSocket(hub.url, b.agent.id, b.token);
    await until(() => sb.messages().length === 50, 5000, 'delivery after restart');
    expect(sb.messages().map((m) => m.body)).toEqual(Array.from({ length: 50 }, (_, i) => `n${i}`));
    sb.ws.close();
  });

  it('answers malformed frames with an error and keeps the connection', async () => {
    const hub = await startHub();
    const a = await hub.register('a');
    const s = await openSocket(hub.url, a.agent.id, a.token);
    s.ws.send('{ nope');
    expect(await s.next((f) => f.type === 'error')).toMatchObject({ code: 'invalid_frame' });
    s.send({ type: 'teleport' });
    expect(await s.next((f) => f.type === 'error' && f.message.includes('type'))).toMatchObject({ code: 'invalid_frame' });
    s.send({ type: 'send', ref: 'x', message: { to: { type: 'agent', id: '01ARZ3NDEKTSV4RRFFQ69G5FAV' }, body: 'hello' } });
    expect(await s.next((f) => f.type === 'error' && f.ref === 'x')).toMatchObject({ code: 'not_found' });
    s.send({ type: 'status', status: 'waiting', activity: 'waiting for review' });
    await until(() => hub.app.hub().registry.get(a.agent.id).status === 'waiting', 2000, 'status');
    expect(s.ws.readyState).toBe(s.ws.OPEN);
    s.ws.close();
  });

  it('closes a socket that sends an oversized frame with 1009, and nothing else is disturbed', async () => {
    const hub = await startHub({ maxBytes: 32 * 1024 });
    const a = await hub.register('a');
    const b = await hub.register('b');
    const big = await openSocket(hub.url, a.agent.id, a.token);
    const other = await openSocket(hub.url, b.agent.id, b.token);
    big.send({ type: 'send', ref: 'big', message: { to: { type: 'agent', id: b.agent.id }, body: 'y'.repeat(200 * 1024) } });
    const closed = await big.closed;
    expect(closed.code).toBe(1009);
    // Over the body limit but under the frame limit: a clear error, socket kept.
    const again = await openSocket(hub.url, a.agent.id, a.token);
    again.send({ type: 'send', ref: 'mid', message: { to: { type: 'agent', id: b.agent.id }, body: 'z'.repeat(40 * 1024) } });
    expect(await again.next((f) => f.type === 'error' && f.ref === 'mid')).toMatchObject({ code: 'too_large' });
    again.send({ type: 'send', ref: 'ok', message: { to: { type: 'agent', id: b.agent.id }, body: 'fine' } });
    await other.next((f) => f.type === 'message');
    expect(other.messages().map((m) => m.body)).toEqual(['fine']);
    again.ws.close();
    other.ws.close();
  });

  it('refuses bad tokens, another agent\'s socket and every browser origin, the hub\'s own included', async () => {
    const hub = await startHub();
    const a = await hub.register('a');
    const b = await hub.register('b');
    await expect(openSocket(hub.url, a.agent.id, 'dvx_bad')).rejects.toThrow('HTTP 401');
    await expect(openSocket(hub.url, b.agent.id, a.token)).rejects.toThrow('HTTP 403');
    await expect(openSocket(hub.url, a.agent.id, a.token, { Origin: 'https://evil.example' })).rejects.toThrow('HTTP 403');
    // The cockpit's own origin opens the cockpit socket, never an agent's.
    await expect(openSocket(hub.url, a.agent.id, a.token, { Origin: hub.url })).rejects.toThrow('HTTP 403');
    await expect(openSocket(hub.url, a.agent.id, a.token, { Origin: hub.url.replace('127.0.0.1', 'localhost') })).rejects.toThrow('HTTP 403');
    const program = await openSocket(hub.url, a.agent.id, a.token);
    program.ws.close();
  });

  it('a slow consumer never holds up the others, and still gets everything', async () => {
    const hub = await startHub();
    const [sender, fast, slow] = await Promise.all(['sender', 'fast', 'slow'].map((name) => hub.register(name)));
    for (const agent of [fast!, slow!]) await hub.api(`/agents/${agent.agent.id}/topics`, { token: agent.token, body: { topics: ['firehose'] } });
    const s = await openSocket(hub.url, sender!.agent.id, sender!.token);
    const f = await openSocket(hub.url, fast!.agent.id, fast!.token);
    const w = await openSocket(hub.url, slow!.agent.id, slow!.token);
    // The slow agent stops reading: its socket buffer fills up on the hub's side.
    w.ws.pause();
    const count = 400;
    const body = 'p'.repeat(16 * 1024);
    for (let i = 0; i < count; i++) s.send({ type: 'send', ref: String(i), message: { to: { type: 'topic', name: 'firehose' }, body: `${i}:${body}` } });
    await until(() => f.messages().length === count, 15_000, 'the fast consumer');
    expect(w.messages().length).toBeLessThan(count);
    w.ws.resume();
    await until(() => w.messages().length === count, 15_000, 'the slow consumer catching up');
    const order = w.messages().map((m) => Number(String(m.body).split(':')[0]));
    expect(order).toEqual(Array.from({ length: count }, (_, i) => i));
    for (const socket of [s, f, w]) socket.ws.close();
  });
});
