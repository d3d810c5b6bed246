/** The agents' TypeScript client against a real hub: registration, messaging, resuming after a drop, errors. */
import { describe, expect, it } from 'vitest';
import { AgentClient, HubClient, HubClientError, HubHttp, loadCredentials, type Message } from '../../src/client';
import { tempDir } from '../helpers';
import { sleep, startHub, startProxy, waitFor } from './hub';

const UNKNOWN_ID = '01ARZ3NDEKTSV4RRFFQ69G5FAV';

/** Collects what a client's handler sees. */
function collect(client: AgentClient): Message[] {
  const seen: Message[] = [];
  client.on('message', (message) => {
    seen.push(message);
  });
  return seen;
}

async function rejection(promise: Promise<unknown>): Promise<HubClientError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(HubClientError);
    return error as HubClientError;
  }
  throw new Error('expected the call to fail');
}

const closeAll = (...clients: AgentClient[]) => Promise.all(clients.map((c) => c.close()));

describe('registration', () => {
  it('keeps the identity across re-registration and a hub restart on the same data directory', async () => {
    const dataDir = tempDir();
    let hub = await startHub(dataDir);
    const first = await HubClient.register({ url: hub.url, name: 'builder', project: 'shop', tier: 'development', capabilities: ['tests'] });
    expect(first.existing).toBe(false);
    expect(first.agent).toMatchObject({ name: 'builder', project: 'shop', capabilities: ['tests'] });
    expect(first.token.length).toBeGreaterThan(20);

    // Someone else cannot take the name without the token.
    const taken = await rejection(HubClient.register({ url: hub.url, name: 'builder', project: 'shop' }));
    expect(taken).toMatchObject({ status: 409, code: 'conflict' });

    await hub.stop();
    hub = await startHub(dataDir);
    const again = await HubClient.register({ url: hub.url, name: 'builder', project: 'shop', token: first.token });
    expect(again.existing).toBe(true);
    expect(again.id).toBe(first.id);
    expect(again.token).toBe(first.token);
  });

  it('finds the hub through hub.json in the data directory and can persist credentials there', async () => {
    const dataDir = tempDir();
    const hub = await startHub(dataDir);
    const env = {}; // no DEVENVIRO_URL: discovery reads <dataDir>/hub.json
    const agent = await HubClient.register({ dataDir, env, name: 'finder', persist: true });
    expect(agent.url).toBe(hub.url);
    const saved = loadCredentials(dataDir, 'default', 'finder');
    expect(saved).toMatchObject({ id: agent.id, token: agent.token });
    // persist: the saved token is presented again, so the identity is kept without passing it.
    const again = await HubClient.register({ dataDir, env, name: 'finder', persist: true });
    expect(again).toMatchObject({ id: agent.id, existing: true });
    const attached = await HubClient.attach({ dataDir, env, id: agent.id, token: agent.token });
    expect(attached.agent.name).toBe('finder');
  });
});

describe('messaging', () => {
  it('pushes a direct message over the sockets, and acknowledges it once the handler resolves', async () => {
    const hub = await startHub(tempDir());
    const alice = await HubClient.register({ url: hub.url, name: 'alice' });
    const bob = await HubClient.register({ url: hub.url, name: 'bob' });
    let handled = 0;
    const received: Message[] = [];
    bob.on('message', async (message) => {
      received.push(message);
      await sleep(20);
      handled++;
    });
    const connected: boolean[] = [];
    bob.on('connected', ({ reconnected }) => connected.push(reconnected));
    await bob.connect();
    await alice.connect();
    expect(bob.connected).toBe(true);
    expect(connected).toEqual([false]);

    const result = await alice.send(bob.id, 'hello bob', { subject: 'greeting', importance: 'high' });
    expect(result).toMatchObject({ recipients: 1, duplicate: false });
    await waitFor(() => handled === 1, 'the handler to run');
    expect(received[0]).toMatchObject({ id: result.id, from: alice.id, to: { type: 'agent', id: bob.id }, body: 'hello bob', subject: 'greeting', importance: 'high', contentType: 'text' });

    // Auto-ack: the inbox empties once the handler has resolved.
    await waitFor(async () => (await bob.inbox()).messages.length === 0, 'the auto-ack');
    expect((await bob.inbox({ state: 'all' })).messages.map((m) => m.id)).toEqual([result.id]);

    // JSON bodies and replies keep the thread.
    const reply = await bob.reply(received[0]!, { ok: true, items: [1, 2] });
    await waitFor(async () => (await alice.inbox()).messages.length === 1, 'the reply');
    const [answer] = (await alice.inbox()).messages;
    expect(answer).toMatchObject({ id: reply.id, threadId: result.threadId, replyTo: result.id, contentType: 'json', body: { ok: true, items: [1, 2] } });
    await closeAll(alice, bob);
  });

  it('leaves messages unacknowledged with autoAck: false until ack() is called', async () => {
    const hub = await startHub(tempDir());
    const alice = await HubClient.register({ url: hub.url, name: 'alice' });
    const bob = await HubClient.register({ url: hub.url, name: 'bob', autoAck: false });
    const received = collect(bob);
    await bob.connect();
    const { id } = await alice.send(bob.id, 'please ack');
    await waitFor(() => received.length === 1, 'the push');
    await sleep(100);
    expect((await bob.inbox()).messages.map((m) => m.id)).toEqual([id]);
    expect(await bob.ack([id])).toBe(1);
    expect((await bob.inbox()).messages).toEqual([]);
    await closeAll(alice, bob);
  });

  it('delivers to topic subscribers and broadcasts to everyone but the sender', async () => {
    const hub = await startHub(tempDir());
    const [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map((name) => HubClient.register({ url: hub.url, name })));
    const toBob = collect(bob!);
    const toCarol = collect(carol!);
    const toAlice = collect(alice!);
    await Promise.all([alice!.connect(), bob!.connect(), carol!.connect()]);

    expect(await carol!.subscribe(['builds', 'deploys'])).toEqual(['builds', 'deploys']);
    const topic = await alice!.send({ type: 'topic', name: 'builds' }, 'build 42 is green');
    expect(topic.recipients).toBe(1);
    await waitFor(() => toCarol.length === 1, 'the topic message');
    expect(toCarol[0]).toMatchObject({ to: { type: 'topic', name: 'builds' }, body: 'build 42 is green' });

    const everyone = await alice!.send({ type: 'broadcast' }, 'standup in 5');
    // The cockpit's overseer identity is an agent too, so "everyone" counts it.
    expect(everyone.recipients).toBeGreaterThanOrEqual(2);
    await waitFor(() => toBob.length === 1 && toCarol.length === 2, 'the broadcast');
    expect(toBob.map((m) => m.body)).toEqual(['standup in 5']);
    expect(toAlice).toEqual([]);

    expect(await carol!.unsubscribe('builds')).toEqual(['deploys']);
    expect((await alice!.send({ type: 'topic', name: 'builds' }, 'nobody hears this')).recipients).toBe(0);
    await closeAll(alice!, bob!, carol!);
  });

  it('answers the other calls: status, agents, active, search, threads, thread', async () => {
    const hub = await startHub(tempDir());
    const alice = await HubClient.register({ url: hub.url, name: 'alice' });
    const bob = await HubClient.register({ url: hub.url, name: 'bob' });
    const info = await alice.setStatus('busy', 'running the test suite');
    expect(info).toMatchObject({ status: 'busy', activity: 'running the test suite' });
    expect((await bob.info(alice.id)).status).toBe('busy');
    expect((await alice.agents()).map((a) => a.name)).toEqual(expect.arrayContaining(['alice', 'bob']));
    expect((await alice.active()).map((a) => a.name)).toEqual(expect.arrayContaining(['alice', 'bob']));

    const first = await alice.send(bob.id, 'the flaky parser test fails on Windows', { subject: 'parser' });
    await bob.send(alice.id, 'looking at the parser now', { replyTo: first.id });
    const hits = await bob.search('parser');
    expect(hits.map((h) => h.message.id)).toContain(first.id);
    expect(hits[0]!.snippet).toContain('[');
    const threads = await bob.threads();
    expect(threads).toHaveLength(1);
    expect(threads[0]).toMatchObject({ threadId: first.threadId, messages: 2, subject: 'parser' });
    expect((await alice.thread(first.threadId)).map((m) => m.body)).toEqual(['the flaky parser test fails on Windows', 'looking at the parser now']);
    expect(await alice.heartbeat()).toMatchObject({ id: alice.id });
  });
});

describe('resuming after a drop', () => {
  it('redelivers after the socket is cut, without losing a message or calling the handler twice', async () => {
    const hub = await startHub(tempDir());
    const proxy = await startProxy(hub.port);
    const alice = await HubClient.register({ url: hub.url, name: 'alice' });
    const bob = await HubClient.register({ url: proxy.url, name: 'bob' });

    // The handler is held on the first message, so nothing is acknowledged when the socket is cut: the hub must
    // redeliver all of them, and the client must drop what its handler already has.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const calls: string[] = [];
    bob.on('message', async (message) => {
      calls.push(message.id);
      await gate;
    });
    const events: string[] = [];
    bob.on('connected', ({ reconnected }) => events.push(reconnected ? 'reconnected' : 'connected'));
    bob.on('disconnected', ({ willReconnect }) => events.push(`disconnected:${willReconnect}`));
    await bob.connect();

    const before = [];
    for (let i = 0; i < 3; i++) before.push((await alice.send(bob.id, `before ${i}`)).id);
    await waitFor(() => calls.length === 1, 'the first message to reach the handler');
    await sleep(50); // the other two are queued behind the held handler

    proxy.cut();
    await waitFor(() => events.includes('disconnected:true'), 'the drop');
    const during = [];
    for (let i = 0; i < 3; i++) during.push((await alice.send(bob.id, `during ${i}`)).id);

    await waitFor(() => events.includes('reconnected'), 'the reconnect');
    release();
    const all = [...before, ...during];
    await waitFor(() => calls.length >= all.length, 'every message');
    await sleep(200); // room for any duplicate to show up
    expect(calls).toEqual(all);
    await waitFor(async () => (await bob.inbox()).messages.length === 0, 'every message acknowledged');

    // A reconnect after everything was acknowledged delivers nothing again.
    proxy.cut();
    await waitFor(() => events.filter((e) => e === 'reconnected').length === 2, 'the second reconnect');
    await sleep(200);
    expect(calls).toHaveLength(all.length);
    await closeAll(alice, bob);
  });

  it('resumes across a hub restart on the same port and data directory', async () => {
    const dataDir = tempDir();
    const hub = await startHub(dataDir);
    const port = hub.port;
    const alice = await HubClient.register({ url: hub.url, name: 'alice' });
    // Manual acks: every message is still unacknowledged after the restart, so the hub redelivers all of them.
    const bob = await HubClient.register({ url: hub.url, name: 'bob', autoAck: false });
    const received = collect(bob);
    let reconnects = 0;
    bob.on('connected', ({ reconnected }) => (reconnects += reconnected ? 1 : 0));
    await bob.connect();

    const first = await alice.send(bob.id, 'one');
    await waitFor(() => received.length === 1, 'the first message');

    await hub.stop();
    const restarted = await startHub(dataDir, { port });
    expect(restarted.url).toBe(hub.url);
    const second = await alice.send(bob.id, 'two');
    await waitFor(() => reconnects === 1 && received.length === 2, 'the reconnect and the second message', 15_000);
    await sleep(200);
    expect(received.map((m) => m.id)).toEqual([first.id, second.id]);
    expect(await bob.ack(received.map((m) => m.id))).toBe(2);
    await closeAll(alice, bob);
  });

  it('keeps reconnecting while another hub holds its address, and resumes when its own is back', async () => {
    const dataDir = tempDir();
    const hub = await startHub(dataDir);
    const port = hub.port;
    const alice = await HubClient.register({ url: hub.url, name: 'alice' });
    const bob = await HubClient.register({ url: hub.url, name: 'bob' });
    const received = collect(bob);
    const failures: HubClientError[] = [];
    const errors: Error[] = [];
    bob.on('reconnecting', ({ error }) => failures.push(error));
    bob.on('error', (error) => errors.push(error));
    await bob.connect();

    // While bob's hub is down, a hub on another data directory takes the port: it does not know bob's token.
    await hub.stop();
    const stranger = await startHub(tempDir(), { port });
    await waitFor(() => failures.filter((f) => f.status === 401).length >= 2, 'reconnects refused by the other hub');
    expect(errors).toEqual([]);
    await stranger.stop();

    const restarted = await startHub(dataDir, { port });
    expect(restarted.url).toBe(hub.url);
    const sent = await alice.send(bob.id, 'back home');
    await waitFor(() => received.some((m) => m.id === sent.id), 'the message after the reconnect', 15_000);
    expect(bob.connected).toBe(true);
    expect(errors).toEqual([]);
    await closeAll(alice, bob);
  });

  it("follows its data directory's hub.json to a hub restarted on another port", async () => {
    const dataDir = tempDir();
    const hub = await startHub(dataDir);
    // No URL: found through <dataDir>/hub.json, as the CLI does.
    const bob = await HubClient.register({ dataDir, env: {}, name: 'bob' });
    expect(bob.url).toBe(hub.url);
    const received = collect(bob);
    await bob.connect();

    await hub.stop();
    const moved = await startHub(dataDir);
    expect(moved.url).not.toBe(hub.url);
    const alice = await HubClient.register({ url: moved.url, name: 'alice' });
    const sent = await alice.send(bob.id, 'found you');
    await waitFor(() => received.some((m) => m.id === sent.id), 'the message at the new address', 15_000);
    expect(bob.url).toBe(moved.url);
    await closeAll(alice, bob);
  });

  it('retries a socket send whose answer was lost, and the hub stores it once', async () => {
    const hub = await startHub(tempDir());
    const proxy = await startProxy(hub.port);
    const alice = await HubClient.register({ url: proxy.url, name: 'alice' });
    const bob = await HubClient.register({ url: hub.url, name: 'bob' });
    await alice.connect();

    // The hub stores the message and answers `sent`; the answer is lost with the connection.
    let cuts = 0;
    proxy.inspect = (chunk) => {
      if (cuts === 0 && chunk.includes('"type":"sent"')) {
        cuts++;
        return 'cut';
      }
      return 'pass';
    };
    const result = await alice.send(bob.id, 'exactly once', { timeoutMs: 15_000 });
    expect(cuts).toBe(1);
    // The retry carried the same idempotency key: the hub answered with the first id.
    expect(result.duplicate).toBe(true);
    const inbox = await bob.inbox({ state: 'all' });
    expect(inbox.messages.map((m) => [m.id, m.body])).toEqual([[result.id, 'exactly once']]);
    await closeAll(alice, bob);
  });

  it('sends waiting for a reconnect go out once the socket is back', async () => {
    const hub = await startHub(tempDir());
    const proxy = await startProxy(hub.port);
    const alice = await HubClient.register({ url: proxy.url, name: 'alice' });
    const bob = await HubClient.register({ url: hub.url, name: 'bob' });
    let down = false;
    alice.on('disconnected', () => (down = true));
    await alice.connect();
    proxy.cut();
    await waitFor(() => down, 'the drop');
    const results = await Promise.all([alice.send(bob.id, 'a'), alice.send(bob.id, 'b'), alice.send(bob.id, 'c')]);
    expect(new Set(results.map((r) => r.id)).size).toBe(3);
    expect((await bob.inbox()).messages.map((m) => m.body)).toEqual(['a', 'b', 'c']);
    await closeAll(alice, bob);
  });
});

describe('errors', () => {
  it('reports the hub refusals as HubClientError with status and code', async () => {
    const hub = await startHub(tempDir(), { maxBytes: 1024 });
    const alice = await HubClient.register({ url: hub.url, name: 'alice' });
    const bob = await HubClient.register({ url: hub.url, name: 'bob' });

    // 401: a token the hub does not know, over HTTP and on the socket.
    expect(await rejection(HubClient.attach({ url: hub.url, id: alice.id, token: 'not-a-token' }))).toMatchObject({ status: 401, code: 'unauthorized' });
    // The cockpit reclaims alice's name: her old token stops opening the socket.
    const stale = await HubClient.register({ url: hub.url, name: 'alice', token: alice.token });
    const alice2 = await HubClient.register({ url: hub.url, name: 'alice', token: hub.app.cockpitToken });
    expect(alice2.id).toBe(alice.id);
    expect(alice2.token).not.toBe(alice.token);
    expect(await rejection(stale.connect())).toMatchObject({ status: 401, code: 'unauthorized' });
    expect(stale.connected).toBe(false);

    // 403: another agent's inbox.
    const asAlice = new HubHttp(() => hub.url, alice2.token);
    expect(await rejection(asAlice.request('GET', `/agents/${bob.id}/messages`))).toMatchObject({ status: 403, code: 'forbidden' });
    expect(await rejection(HubClient.attach({ url: hub.url, id: bob.id, token: alice2.token }))).toMatchObject({ status: 403 });

    // 404: an agent that does not exist, over HTTP and over the socket.
    expect(await rejection(alice2.send(UNKNOWN_ID, 'anyone there?'))).toMatchObject({ status: 404, code: 'not_found' });
    expect(await rejection(alice2.info(UNKNOWN_ID))).toMatchObject({ status: 404, code: 'not_found' });
    await alice2.connect();
    expect(await rejection(alice2.send(UNKNOWN_ID, 'anyone there?'))).toMatchObject({ status: 404, code: 'not_found' });

    // 413: a body above messages.maxBytes: over the socket, and a big one that goes over HTTP.
    expect(await rejection(alice2.send(bob.id, 'x'.repeat(2000)))).toMatchObject({ status: 413, code: 'too_large' });
    expect(await rejection(alice2.send(bob.id, 'x'.repeat(200_000)))).toMatchObject({ status: 413, code: 'too_large' });
    await alice2.close();
    expect(await rejection(alice2.send(bob.id, 'y'.repeat(2000)))).toMatchObject({ status: 413, code: 'too_large' });

    // 400, checked before anything is sent.
    expect(await rejection(alice2.send({ type: 'topic', name: '#bad topic' }, 'x'))).toMatchObject({ status: 400, code: 'invalid_request' });

    // Nothing listening.
    const nowhere = await rejection(HubClient.register({ url: 'http://127.0.0.1:9', name: 'lost' }));
    expect(nowhere).toMatchObject({ status: 0, code: 'unreachable' });
    expect(nowhere.message).toContain('http://127.0.0.1:9');
    expect((await bob.inbox()).messages).toEqual([]);
  });

  it('stops reconnecting when the agent is revoked from the cockpit', async () => {
    const hub = await startHub(tempDir());
    const bob = await HubClient.register({ url: hub.url, name: 'bob' });
    const errors: HubClientError[] = [];
    const drops: boolean[] = [];
    bob.on('error', (error) => errors.push(error as HubClientError));
    bob.on('disconnected', ({ willReconnect }) => drops.push(willReconnect));
    await bob.connect();
    await new HubHttp(() => hub.url, hub.app.cockpitToken).request('POST', `/agents/${bob.id}/revoke`);
    await waitFor(() => errors.length === 1, 'the revocation');
    expect(errors[0]).toMatchObject({ status: 410, code: 'revoked' });
    expect(drops).toEqual([false]);
    expect(bob.connected).toBe(false);
    expect(await rejection(bob.inbox())).toMatchObject({ status: 410, code: 'revoked' });
  });
});
