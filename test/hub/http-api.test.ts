/** The hub's HTTP API: registration, presence, messages, send request bodies. */
import { request as httpRequest } from 'node:http';
import { describe, expect, it } from 'vitest';
import { startHub, until } from './harness';

describe('agent registration', () => {
  it('gives a new agent an id and a token, and the same identity back to its token after a restart', async () => {
    const hub = await startHub();
    const first = await hub.register('planner', { tier: 'strategic', capabilities: ['plan', 'review'] });
    expect(first.existing).toBe(false);
    expect(first.agent).toMatchObject({ name: 'planner', project: 'test', tier: 'strategic', capabilities: ['plan', 'review'], status: 'online' });
    expect(first.token).toMatch(/^dvx_[A-Za-z0-9_-]{43}$/);

    await hub.restart();
    const again = await hub.api('/agents/register', { token: first.token, body: { name: 'planner', project: 'test', tier: 'strategic' } });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ existing: true, token: first.token, agent: { id: first.agent.id } });
    const list = await hub.api('/agents', { token: first.token });
    expect(list.body.agents.filter((a: { name: string }) => a.name === 'planner')).toHaveLength(1);
  });

  it('refuses to hand an existing name to someone without its token, but lets the cockpit reclaim it', async () => {
    const hub = await startHub();
    const original = await hub.register('coder');
    const stranger = await hub.api('/agents/register', { body: { name: 'coder', project: 'test' } });
    expect(stranger.status).toBe(409);
    expect(stranger.body.code).toBe('conflict');
    const wrongToken = await hub.api('/agents/register', { token: 'dvx_wrong', body: { name: 'coder', project: 'test' } });
    expect(wrongToken.status).toBe(409);

    const reclaimed = await hub.api('/agents/register', { token: hub.app.cockpitToken, body: { name: 'coder', project: 'test' } });
    expect(reclaimed.status).toBe(200);
    expect(reclaimed.body.agent.id).toBe(original.agent.id);
    expect(reclaimed.body.token).not.toBe(original.token);
    // The old token stops working once the identity is reclaimed.
    expect((await hub.api('/agents', { token: original.token })).status).toBe(401);
    expect((await hub.api('/agents', { token: reclaimed.body.token })).status).toBe(200);
  });

  it('keeps the same name apart in different projects, and validates every field', async () => {
    const hub = await startHub();
    const a = await hub.register('worker', { project: 'alpha' });
    const b = await hub.register('worker', { project: 'beta' });
    expect(a.agent.id).not.toBe(b.agent.id);
    const bad = await hub.api('/agents/register', { body: { name: '../etc', tier: 'boss', capabilities: 'all' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/name/);
    expect(bad.body.error).toMatch(/tier/);
    expect(bad.body.error).toMatch(/capabilities/);
    const malformed = await hub.api('/agents/register', { body: '{"name": ' });
    expect(malformed.status).toBe(400);
  });

  it('stores tokens only as hashes', async () => {
    const hub = await startHub();
    const { token } = await hub.register('secretive');
    const rows = hub.app.hub().db.prepare('SELECT token_hash FROM agents').pluck().all() as string[];
    expect(rows.every((hash) => /^[0-9a-f]{64}$/.test(hash))).toBe(true);
    const dump = JSON.stringify(hub.app.hub().db.prepare('SELECT * FROM agents').all());
    expect(dump).not.toContain(token);
  });
});

describe('presence and status', () => {
  it('lets an agent set its status and activity, shows it to others, and not change another agent', async () => {
    const hub = await startHub();
    const a = await hub.register('a');
    const b = await hub.register('b');
    const set = await hub.api(`/agents/${a.agent.id}/status`, { method: 'PUT', token: a.token, body: { status: 'busy', activity: 'running tests' } });
    expect(set.status).toBe(200);
    const seen = await hub.api(`/agents/${a.agent.id}/status`, { token: b.token });
    expect(seen.body).toMatchObject({ status: 'busy', activity: 'running tests', connected: false });
    const active = await hub.api('/agents/active', { token: b.token });
    expect(active.body.agents.map((x: { name: string }) => x.name)).toEqual(expect.arrayContaining(['a', 'b']));
    const meddling = await hub.api(`/agents/${a.agent.id}/status`, { method: 'PUT', token: b.token, body: { status: 'idle' } });
    expect(meddling.status).toBe(403);
    const invalid = await hub.api(`/agents/${a.agent.id}/status`, { method: 'PUT', token: a.token, body: { status: 'offline' } });
    expect(invalid.status).toBe(400);
  });

  it('revoking an agent (cockpit only) closes its access and stops delivery to it', async () => {
    const hub = await startHub();
    const a = await hub.register('a');
    const b = await hub.register('b');
    expect((await hub.api(`/agents/${b.agent.id}/revoke`, { token: a.token, body: {} })).status).toBe(403);
    const revoked = await hub.api(`/agents/${b.agent.id}/revoke`, { token: hub.app.cockpitToken, body: {} });
    expect(revoked.body).toMatchObject({ revoked: true, status: 'offline' });
    expect((await hub.api('/agents', { token: b.token })).status).toBe(410);
    const send = await hub.api(`/agents/${b.agent.id}/messages`, { token: a.token, body: { body: 'hello?' } });
    expect(send.status).toBe(410);
    expect((await hub.api('/agents/register', { token: b.token, body: { name: 'b', project: 'test' } })).status).toBe(410);
  });
});

describe('messages over HTTP', () => {
  it('delivers a direct message to the recipient only, who reads and acknowledges it', async () => {
    const hub = await startHub();
    const a = await hub.register('a');
    const b = await hub.register('b');
    const c = await hub.register('c');
    const sent = await hub.api(`/agents/${b.agent.id}/messages`, {
      token: a.token,
      body: { subject: 'review', body: { pr: 42, files: ['src/x.ts'] }, importance: 'high', ackRequired: true },
    });
    expect(sent.status).toBe(201);
    expect(sent.body).toMatchObject({ recipients: 1, duplicate: false });

    const inbox = await hub.api(`/agents/${b.agent.id}/messages`, { token: b.token });
    expect(inbox.body.messages).toHaveLength(1);
    expect(inbox.body.messages[0]).toMatchObject({
      id: sent.body.id,
      from: a.agent.id,
      to: { type: 'agent', id: b.agent.id },
      subject: 'review',
      contentType: 'json',
      body: { pr: 42, files: ['src/x.ts'] },
      importance: 'high',
      ackRequired: true,
      threadId: sent.body.id,
    });
    expect((await hub.api(`/agents/${b.agent.id}/messages`, { token: c.token })).status).toBe(403);
    expect((await hub.api(`/agents/${b.agent.id}/messages`)).status).toBe(401);
    expect((await hub.api(`/agents/${b.agent.id}/messages`, { token: 'dvx_nope' })).status).toBe(401);
    // The cockpit oversees every inbox.
    expect((await hub.api(`/agents/${b.agent.id}/messages`, { token: hub.app.cockpitToken })).body.messages).toHaveLength(1);

    const status = await hub.api(`/agents/${b.agent.id}/status`, { token: b.token });
    expect(status.body).toMatchObject({ inboxDepth: 1, messagesIn: 1 });
    const ack = await hub.api(`/agents/${b.agent.id}/messages/ack`, { token: b.token, body: { ids: [sent.body.id] } });
    expect(ack.body).toEqual({ acknowledged: 1 });
    expect((await hub.api(`/agents/${b.agent.id}/messages`, { token: b.token })).body.messages).toHaveLength(0);
    expect((await hub.api(`/agents/${b.agent.id}/messages?state=all`, { token: b.token })).body.messages).toHaveLength(1);
    expect((await hub.api(`/agents/${b.agent.id}/status`, { token: b.token })).body).toMatchObject({ inboxDepth: 0, messagesIn: 1 });
    expect((await hub.api(`/agents/${a.agent.id}/status`, { token: a.token })).body).toMatchObject({ messagesOut: 1 });
  });

  it('stores a retried send with the same idempotency key once', async () => {
    const hub = await startHub();
    const a = await hub.register('a');
    const b = await hub.register('b');
    const body = { body: 'deploy', idempotencyKey: 'deploy-7' };
    const [first, second] = await Promise.all([
      hub.api(`/agents/${b.agent.id}/messages`, { token: a.token, body }),
      hub.api(`/agents/${b.agent.id}/messages`, { token: a.token, body }),
    ]);
    expect(first.body.id).toBe(second.body.id);
    expect([first.body.duplicate, second.body.duplicate].sort()).toEqual([false, true]);
    expect((await hub.api(`/agents/${b.agent.id}/messages`, { token: b.token })).body.messages).toHaveLength(1);
  });

  it('pages an inbox with after/limit', async () => {
    const hub = await startHub();
    const a = await hub.register('a');
    const b = await hub.register('b');
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await hub.api(`/agents/${b.agent.id}/messages`, { token: a.token, body: { body: `m${i}` } })).body.id);
    const page1 = await hub.api(`/agents/${b.agent.id}/messages?limit=3`, { token: b.token });
    expect(page1.body.messages.map((m: { id: string }) => m.id)).toEqual(ids.slice(0, 3));
    const page2 = await hub.api(`/agents/${b.agent.id}/messages?limit=3&after=${page1.body.next}`, { token: b.token });
    expect(page2.body.messages.map((m: { id: string }) => m.id)).toEqual(ids.slice(3, 6));
    const page3 = await hub.api(`/agents/${b.agent.id}/messages?limit=3&after=${page2.body.next}`, { token: b.token });
    expect(page3.body).toEqual({ messages: [expect.objectContaining({ id: ids[6] })], next: null });
    expect((await hub.api(`/agents/${b.agent.id}/messages?limit=5000`, { token: b.token })).status).toBe(400);
  });

  it('delivers to a topic\'s subscribers and to everyone by broadcast, never back to the sender', async () => {
    const hub = await startHub();
    const [a, b, c, d] = await Promise.all(['a', 'b', 'c', 'd'].map((name) => hub.register(name)));
    for (const agent of [a!, b!, c!]) {
      expect((await hub.api(`/agents/${agent.agent.id}/topics`, { token: agent.token, body: { topics: ['builds'] } })).body.topics).toEqual(['builds']);
    }
    const topic = await hub.api('/messages', { token: a!.token, body: { to: { type: 'topic', name: 'builds' }, body: 'build 12 is green' } });
    expect(topic.body.recipients).toBe(2);
    const broadcast = await hub.api('/messages', { token: a!.token, body: { to: { type: 'broadcast' }, body: 'standup in 5' } });
    // Everyone else: b, c, d and the cockpit's overseer identity.
    expect(broadcast.body.recipients).toBe(4);
    const inboxOf = async (agent: typeof a) => (await hub.api(`/agents/${agent!.agent.id}/messages`, { token: agent!.token })).body.messages.map((m: { body: string }) => m.body);
    expect(await inboxOf(b)).toEqual(['build 12 is green', 'standup in 5']);
    expect(await inboxOf(d)).toEqual(['standup in 5']);
    expect(await inboxOf(a)).toEqual([]);
    await hub.api(`/agents/${c!.agent.id}/topics/builds`, { method: 'DELETE', token: c!.token });
    expect((await hub.api('/messages', { token: a!.token, body: { to: { type: 'topic', name: 'builds' }, body: 'again' } })).body.recipients).toBe(1);
  });

  it('threads replies, lists threads, and shows an agent only what it may see', async () => {
    const hub = await startHub();
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((name) => hub.register(name)));
    const question = await hub.api(`/agents/${b!.agent.id}/messages`, { token: a!.token, body: { subject: 'flaky test', body: 'is auth.spec flaky?' } });
    const answer = await hub.api(`/agents/${a!.agent.id}/messages`, { token: b!.token, body: { body: 'yes, a race in setup', replyTo: question.body.id } });
    expect(answer.body.threadId).toBe(question.body.id);
    const threads = await hub.api(`/agents/${a!.agent.id}/threads`, { token: a!.token });
    expect(threads.body.threads).toEqual([
      expect.objectContaining({ threadId: question.body.id, subject: 'flaky test', messages: 2, participants: expect.arrayContaining([a!.agent.id, b!.agent.id]) }),
    ]);
    const thread = await hub.api(`/threads/${question.body.id}`, { token: b!.token });
    expect(thread.body.messages.map((m: { body: string }) => m.body)).toEqual(['is auth.spec flaky?', 'yes, a race in setup']);
    expect((await hub.api(`/threads/${question.body.id}`, { token: c!.token })).status).toBe(404);
    const badReply = await hub.api(`/agents/${a!.agent.id}/messages`, { token: b!.token, body: { body: 'x', replyTo: '01ARZ3NDEKTSV4RRFFQ69G5FAV' } });
    expect(badReply.status).toBe(400);
  });

  it('finds messages by keyword, only among those the caller sent or received', async () => {
    const hub = await startHub();
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((name) => hub.register(name)));
    await hub.api(`/agents/${b!.agent.id}/messages`, { token: a!.token, body: { subject: 'Database migration', body: 'The migration to Postgres failed at step three' } });
    await hub.api(`/agents/${c!.agent.id}/messages`, { token: a!.token, body: { body: 'migration notes for c only' } });
    const forB = await hub.api('/messages/search?q=migration', { token: b!.token });
    expect(forB.body.hits).toHaveLength(1);
    expect(forB.body.hits[0].snippet).toContain('[migration]');
    const prefix = await hub.api('/messages/search?q=postg', { token: b!.token });
    expect(prefix.body.hits).toHaveLength(1);
    const forCockpit = await hub.api('/messages/search?q=migration', { token: hub.app.cockpitToken });
    expect(forCockpit.body.hits).toHaveLength(2);
    const syntax = await hub.api(`/messages/search?q=${encodeURIComponent('"unbalanced AND (')}`, { token: b!.token });
    expect(syntax.status).toBe(200);
  });

  it('indexes for search once sends pause, and a search in the middle of a burst still sees every sent message', async () => {
    const hub = await startHub();
    const [a, b] = await Promise.all(['a', 'b'].map((name) => hub.register(name)));
    // More than one indexing slice, sent all at once: the keyword index waits while they flow.
    const sends = Array.from({ length: 700 }, (_, i) =>
      hub.api(`/agents/${b!.agent.id}/messages`, { token: a!.token, body: { body: `burst message number${i} of the nightly build` } }),
    );
    expect((await Promise.all(sends)).every((response) => response.status === 201)).toBe(true);
    const last = await hub.api('/messages/search?q=number699', { token: b!.token });
    expect(last.body.hits.map((hit: { message: { body: string } }) => hit.message.body)).toEqual(['burst message number699 of the nightly build']);
    const store = hub.app.hub().messaging.store;
    expect(store.searchBacklog()).toBe(0);
    const first = await hub.api('/messages/search?q=number0', { token: b!.token });
    expect(first.body.hits).toHaveLength(1);

    await hub.api(`/agents/${b!.agent.id}/messages`, { token: a!.token, body: { body: 'one more after the burst' } });
    expect(store.searchBacklog()).toBe(1);
    await until(() => store.searchBacklog() === 0, 5000, 'the keyword index to catch up once the hub is quiet');
  });

  it('refuses an oversized message with 413 and stays healthy', async () => {
    const hub = await startHub({ maxBytes: 64 * 1024 });
    const a = await hub.register('a');
    const b = await hub.register('b');
    const huge = await hub.api(`/agents/${b.agent.id}/messages`, { token: a.token, body: { body: 'x'.repeat(64 * 1024 + 1) } });
    expect(huge.status).toBe(413);
    expect(huge.body.error).toMatch(/65536/);
    const enormous = await hub.api(`/agents/${b.agent.id}/messages`, { token: a.token, body: { body: 'x'.repeat(512 * 1024) } });
    expect(enormous.status).toBe(413);
    expect(enormous.body.code).toBe('too_large');
    const fits = await hub.api(`/agents/${b.agent.id}/messages`, { token: a.token, body: { body: 'x'.repeat(64 * 1024) } });
    expect(fits.status).toBe(201);
    expect((await hub.api(`/agents/${b.agent.id}/messages`, { token: b.token })).body.messages).toHaveLength(1);
  });

  it('answers unknown agents and bad ids with clear errors', async () => {
    const hub = await startHub();
    const a = await hub.register('a');
    const unknown = await hub.api('/agents/01ARZ3NDEKTSV4RRFFQ69G5FAV/messages', { token: a.token, body: { body: 'hi' } });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatch(/no agent/);
    expect((await hub.api('/agents/not-an-id/messages', { token: a.token, body: { body: 'hi' } })).status).toBe(400);
    expect((await hub.api('/messages', { token: a.token, body: { to: { type: 'planet' }, body: 'hi' } })).status).toBe(400);
  });
});

describe('send request bodies', () => {
  /** Posts `pieces` one write at a time, with a Content-Length of `declared` (or chunked, without one). */
  function post(url: string, token: string, pieces: string[], declared?: number): Promise<{ status: number; body: any }> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
      if (declared !== undefined) headers['content-length'] = declared;
      const req = httpRequest(`${url}/api/v1/messages`, { method: 'POST', headers }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk)).on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
      });
      req.on('error', reject);
      (async () => {
        for (const piece of pieces) {
          req.write(piece);
          await new Promise((r) => setTimeout(r, 5));
        }
        req.end();
      })().catch(reject);
    });
  }

  it('reads a body arriving in pieces, with a Content-Length or chunked, small or large', async () => {
    const hub = await startHub({ maxBytes: 1024 * 1024 });
    const [a, b] = await Promise.all(['a', 'b'].map((name) => hub.register(name)));
    for (const text of ['short', 'y'.repeat(200 * 1024)]) {
      const json = JSON.stringify({ to: { type: 'agent', id: b!.agent.id }, body: text });
      const pieces = [json.slice(0, 10), json.slice(10, json.length - 3), json.slice(json.length - 3)];
      for (const declared of [Buffer.byteLength(json), undefined]) {
        const sent = await post(hub.url, a!.token, pieces, declared);
        expect(sent.status).toBe(201);
        const inbox = await hub.api(`/agents/${b!.agent.id}/messages`, { token: b!.token });
        expect(inbox.body.messages.find((m: { id: string }) => m.id === sent.body.id).body).toBe(text);
      }
    }
  });
});
