/**
 * The traffic patterns the hub benchmark drives: one message in flight at a time, open-loop load at a fixed rate,
 * and pipelined bulk sends. Bodies start with the send time (`<µs>|…`), so any receiver, in any process on this
 * machine, can compute the latency itself.
 */
import { nowUs, type Mode, type Peer } from './peer';
import { mulberry32 } from '../../test/support/seeded-random';

export const rng = mulberry32;

const WORDS =
  'agent build test commit branch review merge deploy error warning lint type module import export function class ' +
  'interface promise socket message queue latency throughput memory index vector search thread topic broadcast status ' +
  'the a of to and in is that for it with as was on be at by this from or have an they which one you had not but';

/** 128 KiB of word-like text (so the hub's keyword index does realistic work), made once. */
const PAD = (() => {
  const random = rng(42);
  const vocabulary = WORDS.split(' ');
  const parts: string[] = [];
  let length = 0;
  while (length < 128 * 1024) {
    const word =
      random() < 0.7
        ? vocabulary[Math.floor(random() * vocabulary.length)]!
        : Array.from({ length: 3 + Math.floor(random() * 8) }, () => String.fromCharCode(97 + Math.floor(random() * 26))).join('');
    parts.push(word);
    length += word.length + 1;
  }
  return parts.join(' ');
})();

/** A body of exactly `bytes` ASCII bytes, starting with the send time; `variant` picks a different slice of text. */
export function makeBody(sentAtUs: number, bytes: number, variant = 0): string {
  const head = `${sentAtUs}|`;
  const need = Math.max(0, bytes - head.length);
  if (need > PAD.length) return head + PAD.repeat(Math.ceil(need / PAD.length)).slice(0, need);
  const start = (variant * 997) % (PAD.length - need + 1);
  return head + PAD.slice(start, start + need);
}

export function sentAtUs(body: string): number {
  return Number(body.slice(0, body.indexOf('|')));
}

/** Collects delivery latencies (and, in hub mode, send→durable latencies) from every peer it is attached to. */
export class LatencyRecorder {
  readonly delivery: number[] = [];
  readonly durable: number[] = [];
  delivered = 0;

  attach(peers: readonly Peer[]): this {
    for (const peer of peers) {
      peer.onDelivery = (body, _id, at) => {
        this.delivered++;
        this.delivery.push((at - sentAtUs(body)) / 1000);
      };
      peer.onSent = (ref, at) => this.durable.push((at - Number(ref)) / 1000);
    }
    return this;
  }
}

export interface SequentialResult {
  /** Sender's send to receiver's arrival, ms. */
  delivery: number[];
  /** Sender's send to the hub's `sent` (durable) frame, ms; empty for the relay. */
  durable: number[];
  timedOut: boolean;
}

/** One message in flight at a time, between random pairs; each waits for delivery (and for `sent`, on the hub). */
export async function sequentialLatency(peers: readonly Peer[], mode: Mode, n: number, warmup: number, bodyBytes = 256, timeoutMs = 30_000): Promise<SequentialResult> {
  const random = rng(7);
  const result: SequentialResult = { delivery: [], durable: [], timedOut: false };
  const deadline = performance.now() + timeoutMs;
  for (let i = 0; i < warmup + n; i++) {
    if (performance.now() > deadline) {
      result.timedOut = true;
      break;
    }
    const a = Math.floor(random() * peers.length);
    const b = (a + 1 + Math.floor(random() * (peers.length - 1))) % peers.length;
    const sender = peers[a]!;
    const receiver = peers[b]!;
    const record = i >= warmup;
    await new Promise<void>((resolve) => {
      let waiting = mode === 'hub' ? 2 : 1;
      const done = () => --waiting === 0 && resolve();
      receiver.onDelivery = (body, _id, at) => {
        if (record) result.delivery.push((at - sentAtUs(body)) / 1000);
        done();
      };
      sender.onSent = (ref, at) => {
        if (record) result.durable.push((at - Number(ref)) / 1000);
        done();
      };
      const t = nowUs();
      sender.sendTo(receiver.id, makeBody(t, bodyBytes, i), String(t));
    });
  }
  return result;
}

export interface OpenLoopResult {
  sent: number;
  elapsedMs: number;
  /** How far the sender fell behind its schedule at worst (client-side trouble if large), ms. */
  maxScheduleLagMs: number;
}

/**
 * Sends at a fixed aggregate rate for a while, whatever the responses do (open loop): each tick sends what the
 * schedule says is due, from the senders in turn, each to a random recipient other than itself.
 */
export async function openLoop(
  senders: readonly Peer[],
  recipients: readonly string[],
  ratePerSec: number,
  durationMs: number,
  bodyBytes: number,
  seed = 11,
): Promise<OpenLoopResult> {
  const random = rng(seed);
  let sent = 0;
  let maxLag = 0;
  const total = Math.round((ratePerSec * durationMs) / 1000);
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const tick = () => {
      const elapsed = performance.now() - started;
      const due = Math.min(total, Math.floor((elapsed / 1000) * ratePerSec));
      if (due - sent > 1) maxLag = Math.max(maxLag, ((due - sent) / ratePerSec) * 1000);
      while (sent < due) {
        const sender = senders[sent % senders.length]!;
        let to = recipients[Math.floor(random() * recipients.length)]!;
        if (to === sender.id) to = recipients[(recipients.indexOf(to) + 1) % recipients.length]!;
        const t = nowUs();
        sender.sendTo(to, makeBody(t, bodyBytes, sent), String(t));
        sent++;
      }
      if (sent >= total) {
        clearInterval(timer);
        resolve();
      }
    };
    const timer = setInterval(tick, 1);
  });
  return { sent, elapsedMs: performance.now() - started, maxScheduleLagMs: maxLag };
}

export interface ThroughputResult {
  messages: number;
  delivered: number;
  /** First send to last delivery, ms. */
  elapsedMs: number;
  msgsPerSec: number;
  /** First send to the last `sent` frame (hub), ms. */
  durableElapsedMs: number | null;
  timedOut: boolean;
  errors: number;
  lastError: string | null;
}

/**
 * One sender pipelines `n` sends (at most `window` unconfirmed: unconfirmed means no `sent` yet on the hub, not
 * yet delivered on the relay); one receiver takes them (acking, on the hub). Rate = n / (last delivery - first send).
 */
export async function pipelinedThroughput(sender: Peer, receiver: Peer, mode: Mode, n: number, window: number, bodyBytes: number, timeoutMs = 60_000): Promise<ThroughputResult> {
  let sent = 0;
  let confirmed = 0;
  let delivered = 0;
  let lastDelivery = 0;
  let lastConfirmed = 0;
  const errorsBefore = sender.errors + receiver.errors;
  const bodies = Array.from({ length: 64 }, (_, i) => makeBody(0, bodyBytes, i).slice(2));
  const started = nowUs();
  const pump = () => {
    const inFlight = sent - (mode === 'hub' ? confirmed : delivered);
    for (let k = window - inFlight; k > 0 && sent < n; k--) {
      const t = nowUs();
      sender.sendTo(receiver.id, `${t}|${bodies[sent % bodies.length]!}`.slice(0, bodyBytes), String(t));
      sent++;
    }
  };
  let timedOut = false;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      timedOut = true;
      resolve();
    }, timeoutMs);
    const check = () => {
      if (delivered >= n && (mode === 'relay' || confirmed >= n)) {
        clearTimeout(timer);
        resolve();
      }
    };
    sender.onSent = (_ref, at) => {
      confirmed++;
      lastConfirmed = at;
      pump();
      check();
    };
    receiver.onDelivery = (_body, _id, at) => {
      delivered++;
      lastDelivery = at;
      if (mode === 'relay') pump();
      check();
    };
    pump();
  });
  const elapsedMs = ((delivered ? lastDelivery : nowUs()) - started) / 1000;
  return {
    messages: n,
    delivered,
    elapsedMs,
    msgsPerSec: (delivered / elapsedMs) * 1000,
    durableElapsedMs: mode === 'hub' && confirmed ? (lastConfirmed - started) / 1000 : null,
    timedOut,
    errors: sender.errors + receiver.errors - errorsBefore,
    lastError: sender.lastError ?? receiver.lastError,
  };
}

/** Waits until `delivered()` reaches `expected` or the time is up; returns whether everything arrived. */
export async function drain(delivered: () => number | Promise<number>, expected: number, timeoutMs = 10_000): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if ((await delivered()) >= expected) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return (await delivered()) >= expected;
}
