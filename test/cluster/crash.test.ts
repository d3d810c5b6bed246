/**
 * Crashes in the middle of a burst of cross-hub messages, with hubs as real processes (kill -9: no shutdown code
 * runs) and a real redis-server: the sender's hub dies, the recipient's hub dies and the agent moves to another hub,
 * Redis dies and comes back. A send counts as acknowledged when its `sent` frame reached the sender; every one of
 * those must reach the recipient, in order per sender, and (where the recipient never moved) exactly once.
 */
import { createClient } from 'redis';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { ServerFrame } from '../../src/shared/agent-protocol';
import { openSocket, type Socket } from '../hub/harness';
import { tempDir } from '../helpers';
import { cockpitToken, hubCall, registerOn, startClusterHub, startHubProcess, type HubProcess } from '../support/hub-process';
import { redisUnavailable, startRedis, type RedisServer } from '../support/redis-server';

const unavailable = redisUnavailable();
/** Sends a sender keeps unacknowledged at once. */
const WINDOW = 10;
const TEST_MS = 60_000;

async function until<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000, detail?: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${detail ? `: ${detail()}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function redis(): Promise<RedisServer> {
  const server = await startRedis(tempDir('devenviro-redis-'));
  onTestFinished(() => server.stop());
  return server;
}

/** A hub process joined to the test's Redis, on a data folder the test can start it on again. */
async function hub(server: RedisServer, hubName: string): Promise<{ process: HubProcess; dataDir: string }> {
  const dataDir = tempDir(`devenviro-${hubName}-`);
  const process = await startClusterHub(dataDir, { redisUrl: server.url, hubName });
  onTestFinished(() => process.stop());
  return { process, dataDir };
}

/** Waits until `on` knows an agent registered on another hub (its identity travels through Redis). */
async function known(on: HubProcess, agentId: string): Promise<void> {
  const token = cockpitToken(on);
  await until(`agent ${agentId} known on ${on.url}`, async () => (await hubCall(on, `/agents/${agentId}/status`, token)).status === 200);
}

async function connect(on: HubProcess, agent: { id: string; token: string }): Promise<Socket> {
  const socket = await openSocket(on.url, agent.id, agent.token);
  onTestFinished(() => socket.ws.close());
  await socket.next((frame) => frame.type === 'welcome', 20_000);
  return socket;
}

/** What an agent received on a socket (sender's label and number, parsed from the body), acknowledging each at once. */
function receive(socket: Socket): Array<{ id: string; from: string; n: number }> {
  const into: Array<{ id: string; from: string; n: number }> = [];
  const take = (frame: ServerFrame) => {
    if (frame.type !== 'message') return;
    const [from, n] = String(frame.message.body).split(' ');
    into.push({ id: frame.message.id, from: from!, n: Number(n) });
    socket.send({ type: 'ack', ids: [frame.message.id] });
  };
  // Frames that came in the same read as the welcome are already in the socket's list.
  socket.frames.forEach(take);
  socket.ws.on('message', (data) => take(JSON.parse(data.toString()) as ServerFrame));
  return into;
}

interface Burst {
  label: string;
  /** Message id of every acknowledged send, by number. */
  acknowledged: Map<number, string>;
  /** Sends written to the socket so far (acknowledged or not). */
  written(): number;
  /** Stops sending; resolves once every outstanding send was answered or the socket closed. */
  stop(): Promise<void>;
  /** Refusals (error frames): none expected. */
  errors: string[];
}

/** Sends `<label> <n>` to `to` without pause, at most WINDOW unacknowledged, until stopped or the socket closes. */
function burst(socket: Socket, to: string, label: string): Burst {
  const acknowledged = new Map<number, string>();
  const errors: string[] = [];
  let next = 0;
  let outstanding = 0;
  let stopped = false;
  let open = true;
  let settle: (() => void) | null = null;
  const pump = () => {
    while (open && !stopped && outstanding < WINDOW) {
      const n = next++;
      outstanding++;
      socket.send({ type: 'send', ref: String(n), message: { to: { type: 'agent', id: to }, body: `${label} ${n}` } });
    }
    if ((stopped && outstanding === 0) || !open) settle?.();
  };
  socket.ws.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as ServerFrame;
    if (frame.type === 'sent') acknowledged.set(Number(frame.ref), frame.result.id);
    else if (frame.type === 'error') errors.push(`${frame.ref}: ${frame.code} ${frame.message}`);
    else return;
    outstanding--;
    pump();
  });
  socket.ws.on('close', () => {
    open = false;
    pump();
  });
  pump();
  return {
    label,
    acknowledged,
    errors,
    written: () => next,
    stop: () => {
      stopped = true;
      const done = new Promise<void>((resolve) => (settle = resolve));
      pump();
      return done;
    },
  };
}

/**
 * Waits until an agent's Redis inbox stream is empty, as it must be once it acknowledged everything: an entry left
 * behind would be delivered again by a hub it moves to.
 */
async function inboxEmptied(server: RedisServer, agentId: string): Promise<void> {
  const client = createClient({ url: server.url }).on('error', () => undefined);
  await client.connect();
  onTestFinished(() => client.destroy());
  const key = `devenviro:inbox:${agentId}`;
  let left: string[] = [];
  await until(`the Redis inbox of ${agentId} emptied`, async () => {
    left = ((await client.xRange(key, '-', '+')) ?? []).map((entry) => String(entry?.message.b));
    return left.length === 0;
  }, 20_000, () => `left: ${left.join(', ')}`);
}

const missingOf = (sent: Burst, received: ReadonlyArray<{ id: string }>) => {
  const ids = new Set(received.map((message) => message.id));
  return [...sent.acknowledged].filter(([, id]) => !ids.has(id)).map(([n]) => n);
};
const duplicatesOf = (received: ReadonlyArray<{ id: string }>) => received.length - new Set(received.map((message) => message.id)).size;
const numbersFrom = (received: ReadonlyArray<{ from: string; n: number }>, label: string) => received.filter((message) => message.from === label).map((message) => message.n);
const increasing = (numbers: readonly number[]) => numbers.every((n, i) => i === 0 || n > numbers[i - 1]!);

describe.skipIf(unavailable !== null)(`crashes in a cluster${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  it(
    "kill -9 of the sender's hub mid-burst: every acknowledged send reaches the recipient on the other hub exactly once, also after the hub restarts and forwards what it had left",
    async () => {
      const server = await redis();
      const [a, b] = await Promise.all([hub(server, 'a'), hub(server, 'b')]);
      const sender = await registerOn(a.process, 'sender');
      const receiver = await registerOn(b.process, 'receiver');
      await known(a.process, receiver.id);
      const received = receive(await connect(b.process, receiver));

      const sending = burst(await connect(a.process, sender), receiver.id, 'sender');
      await until('150 sends acknowledged', () => sending.acknowledged.size >= 150);
      await a.process.kill9();
      await sending.stop();
      expect(sending.errors).toEqual([]);
      const acknowledged = sending.acknowledged.size;
      await until('every acknowledged send on B', () => missingOf(sending, received).length === 0, 20_000, () => `missing ${missingOf(sending, received).join(',')}`);

      // Hub A starts again: what it committed but had not handed to Redis goes now, before anything new.
      const again = await startHubProcess(a.dataDir);
      onTestFinished(() => again.stop());
      const after = await hubCall(again, '/messages', sender.token, { to: { type: 'agent', id: receiver.id }, body: 'after 0' });
      expect(after.status).toBe(201);
      await until('the send after the restart on B', () => received.some((message) => message.id === after.body.id));

      expect(duplicatesOf(received)).toBe(0);
      expect(missingOf(sending, received)).toEqual([]);
      const numbers = numbersFrom(received, 'sender');
      expect(increasing(numbers)).toBe(true);
      // Nothing but what was written arrives; the restart forwarded at most the sends that were never answered.
      expect(numbers.at(-1)).toBeLessThan(sending.written());
      expect(numbers.length).toBeGreaterThanOrEqual(acknowledged);
      await inboxEmptied(server, receiver.id);
    },
    TEST_MS,
  );

  it(
    'a send forwarded twice (its hub died after Redis took it, before noting so) is delivered once, and its acknowledgement empties the inbox',
    async () => {
      const server = await redis();
      const [a, b] = await Promise.all([hub(server, 'a'), hub(server, 'b')]);
      const sender = await registerOn(a.process, 'sender');
      const receiver = await registerOn(b.process, 'receiver');
      await known(a.process, receiver.id);
      const ids: string[] = [];
      for (let n = 0; n < 3; n++) {
        const sent = await hubCall(a.process, '/messages', sender.token, { to: { type: 'agent', id: receiver.id }, body: `sender ${n}` });
        expect(sent.status).toBe(201);
        ids.push(sent.body.id);
      }
      // What hub A writes on its restart for sends whose forwarding it had not noted: the same entries once more.
      const client = createClient({ url: server.url }).on('error', () => undefined);
      await client.connect();
      onTestFinished(() => client.destroy());
      const key = `devenviro:inbox:${receiver.id}`;
      const entries = (await client.xRange(key, '-', '+')) ?? [];
      expect(entries).toHaveLength(3);
      for (const entry of entries) await client.xAdd(key, '*', entry!.message);

      const received = receive(await connect(b.process, receiver));
      await until('3 messages on B', () => received.length >= 3);
      await inboxEmptied(server, receiver.id);
      expect(received.map((message) => message.id)).toEqual(ids);
      // An agent moving to a hub that never saw these gets nothing again.
      const c = await hub(server, 'c');
      await known(c.process, receiver.id);
      const onC = await connect(c.process, receiver);
      expect((await hubCall(c.process, `/agents/${receiver.id}/messages?limit=100`, receiver.token)).body.messages).toEqual([]);
      expect(onC.messages()).toEqual([]);
    },
    TEST_MS,
  );

  it(
    "kill -9 of the recipient's hub mid-burst, the agent reconnects to a third hub: every acknowledged send arrives, none missing, no gap, in order",
    async () => {
      const server = await redis();
      const [a, b, c] = await Promise.all([hub(server, 'a'), hub(server, 'b'), hub(server, 'c')]);
      const sender = await registerOn(a.process, 'sender');
      const mover = await registerOn(b.process, 'mover');
      await known(a.process, mover.id);
      await known(c.process, mover.id);
      const onB = receive(await connect(b.process, mover));

      const sending = burst(await connect(a.process, sender), mover.id, 'sender');
      await until('100 messages received on B', () => onB.length >= 100);
      await b.process.kill9();
      // The sender goes on while the agent finds another hub.
      const onC = receive(await connect(c.process, mover));
      const reachedC = sending.acknowledged.size;
      await until('100 more sends acknowledged', () => sending.acknowledged.size >= reachedC + 100);
      await sending.stop();
      expect(sending.errors).toEqual([]);
      const everywhere = () => [...onB, ...onC];
      await until('every acknowledged send received', () => missingOf(sending, everywhere()).length === 0, 20_000, () => `missing ${missingOf(sending, everywhere()).join(',')}`);

      // On C: each message once, in the order sent.
      const onCNumbers = numbersFrom(onC, 'sender');
      expect(duplicatesOf(onC)).toBe(0);
      expect(increasing(onCNumbers)).toBe(true);
      // No gap: C starts at or before the first message B did not deliver, and B and C together hold every number
      // up to the last.
      const onBNumbers = numbersFrom(onB, 'sender');
      expect(increasing(onBNumbers)).toBe(true);
      expect(onCNumbers[0]).toBeLessThanOrEqual(onBNumbers.at(-1)! + 1);
      const all = new Set([...onBNumbers, ...onCNumbers]);
      const last = Math.max(...all);
      expect(Array.from({ length: last + 1 }, (_, n) => n).filter((n) => !all.has(n))).toEqual([]);
      // Delivered again on C only what B may not have had time to confirm to Redis: acknowledgements reach Redis in
      // the order they were made, so what comes again is the tail of what B delivered, never an older message alone.
      // (How long that tail is depends on the machine's load when B died.)
      const again = onCNumbers.filter((n) => onBNumbers.includes(n));
      if (again.length > 0) expect(again).toEqual(onBNumbers.filter((n) => n >= again[0]!));
      await inboxEmptied(server, mover.id);
    },
    TEST_MS,
  );

  it(
    'Redis killed (kill -9) and restarted mid-burst: every acknowledged send arrives, once, in order per sender',
    async () => {
      const server = await redis();
      const [a, b] = await Promise.all([hub(server, 'a'), hub(server, 'b')]);
      const first = await registerOn(a.process, 'first');
      const second = await registerOn(a.process, 'second');
      const receiver = await registerOn(b.process, 'receiver');
      await known(a.process, receiver.id);
      const received = receive(await connect(b.process, receiver));

      const senders = [burst(await connect(a.process, first), receiver.id, 'first'), burst(await connect(a.process, second), receiver.id, 'second')];
      const total = () => senders.reduce((sum, sender) => sum + sender.acknowledged.size, 0);
      await until('200 sends acknowledged', () => total() >= 200);
      await server.kill9();
      // Hub A goes on acknowledging while Redis is down (the sends wait in its SQLite).
      const whileDown = total();
      await until('100 more sends acknowledged with Redis down', () => total() >= whileDown + 100);
      await server.restart();
      const restarted = total();
      await until('100 more sends acknowledged after the restart', () => total() >= restarted + 100, 30_000);
      await Promise.all(senders.map((sender) => sender.stop()));
      for (const sender of senders) expect(sender.errors).toEqual([]);

      for (const sender of senders) {
        await until(`every acknowledged send of ${sender.label} on B`, () => missingOf(sender, received).length === 0, 30_000, () => `missing ${missingOf(sender, received).join(',')}`);
      }
      expect(duplicatesOf(received)).toBe(0);
      for (const sender of senders) expect(increasing(numbersFrom(received, sender.label))).toBe(true);
      await inboxEmptied(server, receiver.id);
    },
    TEST_MS,
  );
});
