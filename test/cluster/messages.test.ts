/**
 * Messages between agents on different hubs joined through a real redis-server: direct sends over HTTP and the
 * socket (large bodies too), topics and broadcast across three hubs, order within a burst, idempotency keys across
 * hubs, an agent moving between hubs mid-stream (and to the hub its messages were sent to), and Redis going away and coming back while a hub keeps sending.
 */
import { createClient } from 'redis';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Message, RegisterResponse, ServerFrame } from '../../src/shared/agent-protocol';
import { openSocket, type Socket, type TestHub } from '../hub/harness';
import { redisUnavailable, type RedisServer } from '../support/redis-server';
import { clusterHub, redis, until } from './support';

const unavailable = redisUnavailable();

/** A client of the test's Redis, to look at what the hubs keep there. */
async function inspect(server: RedisServer) {
  const client = createClient({ url: server.url });
  await client.connect();
  onTestFinished(() => client.destroy());
  return {
    inboxLength: (agentId: string) => client.xLen(`devenviro:inbox:${agentId}`),
    /** Milliseconds an idempotency record has left (-2: none). */
    idempotencyTtl: (senderId: string, key: string) => client.pTTL(`devenviro:idem:${senderId}:${key}`),
  };
}

/** Waits until a hub knows an agent registered on another hub. */
const known = (hub: TestHub, agent: RegisterResponse) =>
  until(`${agent.agent.name} known on ${hub.url}`, async () => (await hub.api(`/agents/${agent.agent.id}/status`, { token: hub.app.cockpitToken })).status === 200);

async function connect(hub: TestHub, agent: RegisterResponse): Promise<Socket> {
  const socket = await openSocket(hub.url, agent.agent.id, agent.token);
  onTestFinished(() => socket.ws.close());
  await socket.next((frame) => frame.type === 'welcome');
  return socket;
}

/** Hub A with a sender and hub B with a receiver, both on their sockets, A knowing where the receiver is. */
async function burstAcross(server: RedisServer) {
  const a = await clusterHub(server, 'a');
  const b = await clusterHub(server, 'b');
  const sender = await a.register('sender');
  const receiver = await b.register('receiver');
  await known(a, receiver);
  return { a, b, sender, receiver, inbox: await connect(b, receiver), outbox: await connect(a, sender) };
}

const isMessage = (frame: ServerFrame): frame is Extract<ServerFrame, { type: 'message' }> => frame.type === 'message';
/** The next message frame's message (after the last frame `next` returned). */
async function nextMessage(socket: Socket, predicate: (message: Message) => boolean = () => true, timeoutMs?: number): Promise<Message> {
  const frame = await socket.next((each) => isMessage(each) && predicate(each.message), timeoutMs);
  return (frame as Extract<ServerFrame, { type: 'message' }>).message;
}
const bodies = (socket: Socket) => socket.messages().map((message) => message.body);
const inboxOf = async (hub: TestHub, agent: RegisterResponse): Promise<Message[]> =>
  (await hub.api(`/agents/${agent.agent.id}/messages?limit=1000`, { token: agent.token })).body.messages;

describe.skipIf(unavailable !== null)(`messages between hubs${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  it('delivers a direct message sent on hub A to an agent on hub B, over HTTP and the socket, large bodies too; an ack clears it everywhere', async () => {
    const server = await redis();
    const look = await inspect(server);
    const a = await clusterHub(server, 'a', { bodyFileBytes: 4096 });
    const b = await clusterHub(server, 'b', { bodyFileBytes: 4096 });
    const sender = await a.register('sender');
    const receiver = await b.register('receiver');
    await known(a, receiver);
    const inbox = await connect(b, receiver);
    // Traffic is counted per hub of the recipient: A must know the receiver is on B before the first send.
    await until('A knows the receiver is on B', () => a.app.hub().registry.find(receiver.agent.id)?.remote?.hubId === b.app.hub().cluster!.hubId);

    const overHttp = await a.api('/messages', { token: sender.token, body: { to: { type: 'agent', id: receiver.agent.id }, body: 'over http', subject: 'hello' } });
    expect(overHttp.status).toBe(201);
    expect(overHttp.body).toMatchObject({ recipients: 1, duplicate: false });
    const first = await nextMessage(inbox);
    expect(first).toMatchObject({ id: overHttp.body.id, from: sender.agent.id, body: 'over http', subject: 'hello', to: { type: 'agent', id: receiver.agent.id } });
    // Acknowledged only once in Redis: the entry is in the receiver's stream.
    expect(await look.inboxLength(receiver.agent.id)).toBe(1);

    const outbox = await connect(a, sender);
    const large = { rows: Array.from({ length: 2_000 }, (_, i) => ({ i, text: `row ${i} ${'é'.repeat(20)}` })) };
    outbox.send({ type: 'send', ref: 'one', message: { to: { type: 'agent', id: receiver.agent.id }, body: { kind: 'small', n: 1 } } });
    outbox.send({ type: 'send', ref: 'two', message: { to: { type: 'agent', id: receiver.agent.id }, body: large } });
    const sentOne = await outbox.next((frame) => frame.type === 'sent' && frame.ref === 'one');
    const sentTwo = await outbox.next((frame) => frame.type === 'sent' && frame.ref === 'two');
    const second = await nextMessage(inbox);
    const third = await nextMessage(inbox);
    expect(second).toMatchObject({ id: (sentOne as { result: { id: string } }).result.id, contentType: 'json', body: { kind: 'small', n: 1 } });
    expect(third.id).toBe((sentTwo as { result: { id: string } }).result.id);
    expect(third.body).toEqual(large);
    // Stored on B as on A: the large body in a file, readable back whole.
    const onB = await inboxOf(b, receiver);
    expect(onB.map((message) => message.id)).toEqual([first.id, second.id, third.id]);
    expect(onB[2]!.body).toEqual(large);

    inbox.send({ type: 'ack', ids: [first.id, second.id, third.id] });
    await until('the entries deleted from Redis', async () => (await look.inboxLength(receiver.agent.id)) === 0);
    expect(await inboxOf(b, receiver)).toEqual([]);
    // Hub A, which kept its copy of what it sent, learns of the acknowledgement when the receiver shows up there.
    expect(await inboxOf(a, receiver)).toEqual([]);
    // What each hub handed to the other is counted for the cockpit.
    const sentByA = a.app.hub().cluster!.traffic().find((row) => row.from !== row.to && row.to === b.app.hub().cluster!.hubId);
    expect(sentByA?.messages).toBe(3);
    expect(sentByA!.bytes).toBeGreaterThan(JSON.stringify(large).length);
    const receivedByB = b.app.hub().cluster!.traffic().find((row) => row.from === a.app.hub().cluster!.hubId);
    expect(receivedByB?.messages).toBe(3);
  });

  it('reaches topic subscribers and everyone (broadcast) across three hubs', async () => {
    const server = await redis();
    const [a, b, c] = [await clusterHub(server, 'a'), await clusterHub(server, 'b'), await clusterHub(server, 'c')];
    const speaker = await a.register('speaker');
    const onB = await b.register('listener-b');
    const onC = await c.register('listener-c');
    const quiet = await c.register('quiet');
    for (const agent of [onB, onC, quiet]) await known(a, agent);
    const socketB = await connect(b, onB);
    const socketC = await connect(c, onC);
    const socketQuiet = await connect(c, quiet);
    socketB.send({ type: 'subscribe', topics: ['builds'] });
    expect((await c.api(`/agents/${onC.agent.id}/topics`, { token: onC.token, body: { topics: ['builds'] } })).status).toBe(200);
    // Subscriptions made on B and C are known on A, where the topic is sent.
    await until('subscriptions replicated to A', () => a.app.hub().messaging.store.subscribers('builds').sort().join() === [onB.agent.id, onC.agent.id].sort().join());

    const topic = await a.api('/messages', { token: speaker.token, body: { to: { type: 'topic', name: 'builds' }, body: 'build 41 is green' } });
    expect(topic.status).toBe(201);
    expect(topic.body.recipients).toBe(2);
    expect((await nextMessage(socketB)).body).toBe('build 41 is green');
    expect((await nextMessage(socketC)).body).toBe('build 41 is green');

    const everyone = await a.api('/messages', { token: speaker.token, body: { to: { type: 'broadcast' }, body: 'hubs restart at noon' } });
    expect(everyone.status).toBe(201);
    for (const socket of [socketB, socketC, socketQuiet]) expect((await nextMessage(socket)).body).toBe('hubs restart at noon');
    // The quiet agent never subscribed: the topic did not reach it.
    expect(bodies(socketQuiet)).toEqual(['hubs restart at noon']);

    // An unsubscribe on C is known on A too.
    expect((await c.api(`/agents/${onC.agent.id}/topics/builds`, { method: 'DELETE', token: onC.token })).status).toBe(200);
    await until('unsubscribe replicated to A', () => a.app.hub().messaging.store.subscribers('builds').join() === onB.agent.id);
  });

  it('delivers a burst of 200 from hub A to an agent on hub B in order', async () => {
    const { receiver, inbox, outbox } = await burstAcross(await redis());
    for (let i = 0; i < 200; i++) outbox.send({ type: 'send', ref: `m${i}`, message: { to: { type: 'agent', id: receiver.agent.id }, body: `message ${i}` } });
    await outbox.next((frame) => frame.type === 'sent' && frame.ref === 'm199', 15_000);
    await until('all 200 on B', () => inbox.messages().length >= 200, 15_000);
    expect(bodies(inbox)).toEqual(Array.from({ length: 200 }, (_, i) => `message ${i}`));
  });

  it('clears from Redis every entry of one acknowledgement of 2,500 messages (more than one XDEL takes)', async () => {
    const server = await redis();
    const look = await inspect(server);
    const { b, receiver, inbox, outbox } = await burstAcross(server);
    for (let i = 0; i < 2_500; i++) outbox.send({ type: 'send', ref: `m${i}`, message: { to: { type: 'agent', id: receiver.agent.id }, body: `message ${i}` } });
    await outbox.next((frame) => frame.type === 'sent' && frame.ref === 'm2499', 60_000);
    await until('all 2,500 on B', () => inbox.messages().length >= 2_500, 60_000);
    expect(await look.inboxLength(receiver.agent.id)).toBe(2_500);
    inbox.send({ type: 'ack', ids: inbox.messages().map((message) => message.id) });
    await until('the inbox stream empty', async () => (await look.inboxLength(receiver.agent.id)) === 0, 15_000);
    expect(await inboxOf(b, receiver)).toEqual([]);
  }, 120_000);

  it('stores a message once when its idempotency key is used again through another hub', async () => {
    const server = await redis();
    const look = await inspect(server);
    const a = await clusterHub(server, 'a');
    const b = await clusterHub(server, 'b');
    const sender = await a.register('sender');
    const receiver = await b.register('receiver');
    await known(a, receiver);
    await known(b, sender);
    const send = { to: { type: 'agent', id: receiver.agent.id }, body: 'deploy 7', idempotencyKey: 'deploy-7' };
    const first = await a.api('/messages', { token: sender.token, body: send });
    expect(first.status).toBe(201);
    // The sender retries through hub B (it moved, or its first answer was lost).
    const retry = await b.api('/messages', { token: sender.token, body: send });
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({ id: first.body.id, threadId: first.body.threadId, duplicate: true });
    // The record in Redis keeps the idempotency window's time to live (24 h), not forever and not reset to nothing.
    const ttl = await look.idempotencyTtl(sender.agent.id, 'deploy-7');
    expect(ttl).toBeGreaterThan(23 * 60 * 60 * 1000);
    expect(ttl).toBeLessThanOrEqual(24 * 60 * 60 * 1000);
    const inbox = await connect(b, receiver);
    await nextMessage(inbox);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(bodies(inbox)).toEqual(['deploy 7']);
    expect((await inboxOf(b, receiver)).map((message) => message.id)).toEqual([first.body.id]);
  });

  it('lets an agent move from hub B to hub C mid-stream: the unacknowledged rest arrives on C, nothing acknowledged comes again', async () => {
    const server = await redis();
    const look = await inspect(server);
    const a = await clusterHub(server, 'a');
    const b = await clusterHub(server, 'b');
    const c = await clusterHub(server, 'c');
    const sender = await a.register('sender');
    const mover = await b.register('mover');
    await known(a, mover);
    await known(c, mover);
    const send = (i: number) => a.api('/messages', { token: sender.token, body: { to: { type: 'agent', id: mover.agent.id }, body: `step ${i}` } });

    const onB = await connect(b, mover);
    for (let i = 0; i < 20; i++) expect((await send(i)).status).toBe(201);
    await until('20 on B', () => onB.messages().length === 20);
    onB.send({ type: 'ack', ids: onB.messages().slice(0, 10).map((message) => message.id) });
    await until('10 acknowledged in Redis', async () => (await look.inboxLength(mover.agent.id)) === 10);
    onB.ws.close();
    await onB.closed;
    // Sent while the agent is between hubs.
    for (let i = 20; i < 30; i++) expect((await send(i)).status).toBe(201);

    const onC = await connect(c, mover);
    await until('the rest on C', () => onC.messages().length >= 20);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(bodies(onC)).toEqual(Array.from({ length: 20 }, (_, i) => `step ${i + 10}`));
    // New messages follow on C.
    expect((await send(30)).status).toBe(201);
    await nextMessage(onC, (message) => message.body === 'step 30');
    expect(bodies(onC).slice(20)).toEqual(['step 30']);
    onC.send({ type: 'ack', ids: onC.messages().map((message) => message.id) });
    await until('all acknowledged in Redis', async () => (await look.inboxLength(mover.agent.id)) === 0);

    // Back on B: B marks what was acknowledged on C, and delivers nothing again.
    const again = await connect(b, mover);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(again.messages()).toEqual([]);
    expect(await inboxOf(b, mover)).toEqual([]);
    again.ws.close();
    await again.closed;

    // On the sending hub A, whose deliveries of these messages never noted their Redis entries: what was acknowledged
    // elsewhere is marked so there, what was not arrives, and its acknowledgement there empties the stream.
    for (let i = 31; i < 33; i++) expect((await send(i)).status).toBe(201);
    const onA = await connect(a, mover);
    await until('the rest on A', () => onA.messages().length >= 2);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(bodies(onA)).toEqual(['step 31', 'step 32']);
    expect((await inboxOf(a, mover)).map((message) => message.body)).toEqual(['step 31', 'step 32']);
    onA.send({ type: 'ack', ids: onA.messages().map((message) => message.id) });
    await until('acknowledged on A in Redis', async () => (await look.inboxLength(mover.agent.id)) === 0);
  });

  it('keeps acknowledging sends while Redis is down, says how many wait, and delivers them in order once it is back', async () => {
    const server = await redis();
    const a = await clusterHub(server, 'a');
    const b = await clusterHub(server, 'b');
    const sender = await a.register('sender');
    const neighbour = await a.register('neighbour');
    const far = await b.register('far');
    await known(a, far);
    const farSocket = await connect(b, far);
    const neighbourSocket = await connect(a, neighbour);
    expect((await a.api('/messages', { token: sender.token, body: { to: { type: 'agent', id: far.agent.id }, body: 'before' } })).status).toBe(201);
    expect((await nextMessage(farSocket)).body).toBe('before');

    await server.kill9();
    await until('hub A notices', () => !a.app.hub().cluster!.state().connected);
    for (let i = 0; i < 5; i++) {
      expect((await a.api('/messages', { token: sender.token, body: { to: { type: 'agent', id: far.agent.id }, body: `while down ${i}` } })).status).toBe(201);
    }
    // Local agents are served meanwhile.
    expect((await a.api('/messages', { token: sender.token, body: { to: { type: 'agent', id: neighbour.agent.id }, body: 'next door' } })).status).toBe(201);
    expect((await nextMessage(neighbourSocket)).body).toBe('next door');
    expect(a.app.hub().cluster!.queued()).toBe(6);
    const service = await until('the queue on the service line', () => {
      const line = a.app.services.get('cluster');
      return line?.detail.includes('6 sends wait for Redis') && line;
    });
    expect(service.state).toBe('degraded');

    await server.restart();
    await until('the queued sends on B', () => farSocket.messages().length === 6, 15_000);
    expect(bodies(farSocket)).toEqual(['before', 'while down 0', 'while down 1', 'while down 2', 'while down 3', 'while down 4']);
    await until('nothing waits', () => a.app.hub().cluster!.queued() === 0);
    await until('the service up again', () => a.app.services.get('cluster')?.state === 'up');
    // Sends go straight again.
    expect((await a.api('/messages', { token: sender.token, body: { to: { type: 'agent', id: far.agent.id }, body: 'after' } })).status).toBe(201);
    expect((await nextMessage(farSocket, (message) => message.body === 'after')).from).toBe(sender.agent.id);
  });
});
