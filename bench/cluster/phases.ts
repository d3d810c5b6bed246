/**
 * The two measurements of the cluster benchmark, whatever hubs the agents sit on:
 *
 * - paced latency: one sender, one recipient, one message at a time with a pause between sends; latency is the
 *   send's start to the push frame at the recipient (both clocks are this process's), and send to `sent` (durable)
 * - durable throughput: many senders, each pipelining its sends (at most `window` unacknowledged) to a list of
 *   recipients in turn; acknowledged sends per second, and every message checked at its recipient by sender and
 *   sequence (missing and duplicated ones counted)
 */
import type { CpuQuotaGroup, CpuQuotaStat } from '../lib/cpu-quota';
import { cpuSeconds, machineBusySeconds } from '../lib/proc';
import { nowUs, type Peer } from '../lib/peer';
import { summarize, type Summary } from '../lib/stats';
import { makeBody } from '../lib/traffic';

export interface LatencyResult {
  samples: number;
  /** Send start → push frame at the recipient, ms. */
  delivery: Summary;
  /** Send start → `sent` frame (the send acknowledged as durable), ms. */
  durable: Summary;
  /** Sends that got no push within the time allowed for each. */
  timedOut: number;
  /** Why the phase stopped early (three sends in a row not delivered), or null. */
  abandoned: string | null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `samples` sends (after `warmup` uncounted), each awaited (push and `sent`, or `perSendTimeoutMs`), `paceMs` apart. */
export async function pacedLatency(sender: Peer, recipient: Peer, samples: number, warmup: number, paceMs: number, bodyBytes: number, perSendTimeoutMs = 5_000): Promise<LatencyResult> {
  const delivery: number[] = [];
  const durable: number[] = [];
  let timedOut = 0;
  let inARow = 0;
  let abandoned: string | null = null;
  for (let i = 0; i < warmup + samples; i++) {
    const counted = i >= warmup;
    const started = nowUs();
    const ref = `lat-${i}`;
    const body = makeBody(started, bodyBytes, i);
    const outcome = await new Promise<{ delivered: number | null; sent: number | null }>((resolve) => {
      const result = { delivered: null as number | null, sent: null as number | null };
      const timer = setTimeout(() => resolve(result), perSendTimeoutMs);
      const check = () => {
        if (result.delivered !== null && result.sent !== null) {
          clearTimeout(timer);
          resolve(result);
        }
      };
      recipient.onDelivery = (text, _id, at) => {
        if (text !== body) return; // a late one from an earlier, timed-out send
        result.delivered = at;
        check();
      };
      sender.onSent = (sentRef, at) => {
        if (sentRef !== ref) return;
        result.sent = at;
        check();
      };
      sender.sendTo(recipient.id, body, ref);
    });
    if (outcome.delivered === null) {
      timedOut++;
      if (++inARow === 3) {
        abandoned = `three sends in a row were not delivered within ${perSendTimeoutMs} ms (${outcome.sent === null ? 'nor acknowledged' : 'though acknowledged'})`;
        break;
      }
    } else inARow = 0;
    if (counted && outcome.delivered !== null) delivery.push((outcome.delivered - started) / 1000);
    if (counted && outcome.sent !== null) durable.push((outcome.sent - started) / 1000);
    await sleep(paceMs);
  }
  recipient.onDelivery = () => undefined;
  sender.onSent = () => undefined;
  return { samples, delivery: summarize(delivery), durable: summarize(durable), timedOut, abandoned };
}

export interface Flow {
  sender: Peer;
  /** Recipient agent ids, sent to in turn. */
  to: readonly string[];
}

export interface ThroughputResult {
  senders: number;
  recipients: number;
  /** Messages sent (every sender sends the same number). */
  messages: number;
  bodyBytes: number;
  window: number;
  /** Sends the hubs acknowledged (`sent` frames). */
  acknowledged: number;
  /** First send → last `sent`, ms. */
  acknowledgedMs: number;
  acknowledgedPerSec: number;
  /** Distinct messages received (by sender and sequence). */
  received: number;
  duplicates: number;
  /** Acknowledged sends never received within the drain time. */
  missing: number;
  /** First send → last push received, ms. */
  receivedMs: number;
  receivedPerSec: number;
  /** Send → push, per message, ms (under full load: queueing included). */
  delivery: Summary;
  /** Pushes of an earlier run (its warm-up) that arrived during this one, not counted. */
  stray: number;
  errors: number;
  lastError: string | null;
  timedOut: boolean;
  /** CPU seconds per process over the phase (hubs by label, redis, this bench process, the whole machine). */
  cpuSeconds: Record<string, number | null>;
  /** Wall time the CPU figures cover (first send → the last push, or the end of the wait), ms. */
  cpuWindowMs: number;
  /** How long the run waited for other processes to quiet down first, and what they used then (% of a core). */
  quietWait?: { waitedMs: number; othersPercent: number | null };
  /** Per hub by label, when each hub ran under a CPU quota: its cgroup's cpu.stat over the same window. */
  quota: Record<string, CpuQuotaStat> | null;
  /** Hubs' + Redis's CPU time per acknowledged message, µs. */
  serverCpuUsPerMessage: number | null;
}

export interface CpuSources {
  hubs: Array<{ label: string; pid: number; quota: CpuQuotaGroup | null }>;
  redisPid: number | null;
}

function quotaNow(sources: CpuSources): Record<string, CpuQuotaStat> | null {
  if (!sources.hubs.some((hub) => hub.quota)) return null;
  return Object.fromEntries(sources.hubs.map((hub) => [hub.label, hub.quota!.stat()]));
}

function cpuNow(sources: CpuSources): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const hub of sources.hubs) out[hub.label] = cpuSeconds(hub.pid);
  if (sources.redisPid !== null) out['redis'] = cpuSeconds(sources.redisPid);
  out['bench'] = cpuSeconds(process.pid);
  out['machine'] = machineBusySeconds();
  return out;
}

let runs = 0;

/**
 * Every flow's sender sends `perSender` messages of `bodyBytes` (at most `window` unacknowledged per sender);
 * `recipients` are every peer that may receive one. Waits for the last acknowledgement (at most `timeoutMs`), then up
 * to `drainMs` for the last pushes.
 */
export async function durableThroughput(
  flows: readonly Flow[],
  recipients: readonly Peer[],
  options: { perSender: number; window: number; bodyBytes: number; timeoutMs: number; drainMs: number; cpu: CpuSources },
): Promise<ThroughputResult> {
  const { perSender, window, bodyBytes } = options;
  const total = flows.length * perSender;
  const run = `r${++runs}.`;
  let stray = 0;
  const seen = new Set<string>();
  let duplicates = 0;
  let lastReceived = 0;
  let acknowledged = 0;
  let lastAcknowledged = 0;
  const latencies: number[] = [];
  const errorsBefore = flows.reduce((n, f) => n + f.sender.errors, 0);
  let wake: () => void = () => undefined;

  for (const peer of recipients) {
    peer.onDelivery = (body, _id, at) => {
      // Bodies are `<sent µs>|r<run>.<flow>:<seq>|<padding>`.
      const first = body.indexOf('|');
      const key = body.slice(first + 1, body.indexOf('|', first + 1));
      if (!key.startsWith(run)) {
        stray++;
        return;
      }
      if (seen.has(key)) {
        duplicates++;
        return;
      }
      seen.add(key);
      latencies.push((at - Number(body.slice(0, first))) / 1000);
      lastReceived = at;
      if (seen.size >= total) wake();
    };
  }

  const cpuBefore = cpuNow(options.cpu);
  const quotaBefore = quotaNow(options.cpu);
  const started = nowUs();
  await new Promise<void>((resolve) => {
    wake = () => undefined;
    const timer = setTimeout(resolve, options.timeoutMs);
    flows.forEach((flow, f) => {
      let sent = 0;
      let confirmed = 0;
      const pump = () => {
        for (let k = window - (sent - confirmed); k > 0 && sent < perSender; k--) {
          const t = nowUs();
          const head = `${t}|${run}${f}:${sent}|`;
          flow.sender.sendTo(flow.to[sent % flow.to.length]!, head + makeBody(0, Math.max(0, bodyBytes - head.length) + 2, sent).slice(2), String(sent));
          sent++;
        }
      };
      flow.sender.onSent = (_ref, at) => {
        confirmed++;
        acknowledged++;
        lastAcknowledged = at;
        if (acknowledged >= total) {
          clearTimeout(timer);
          resolve();
        }
        pump();
      };
      pump();
    });
  });
  const timedOut = acknowledged < total;
  // The last pushes may trail the last acknowledgement (another hub delivers them).
  if (seen.size < total) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, options.drainMs);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
  const cpuAfter = cpuNow(options.cpu);
  const quotaAfter = quotaNow(options.cpu);
  const cpuWindowMs = (nowUs() - started) / 1000;
  for (const flow of flows) flow.sender.onSent = () => undefined;
  for (const peer of recipients) peer.onDelivery = () => undefined;

  const cpu: Record<string, number | null> = {};
  for (const key of Object.keys(cpuAfter)) {
    const before = cpuBefore[key];
    const after = cpuAfter[key];
    cpu[key] = before == null || after == null ? null : after - before;
  }
  const quota =
    quotaBefore && quotaAfter
      ? Object.fromEntries(
          Object.entries(quotaAfter).map(([label, after]) => {
            const before = quotaBefore[label]!;
            return [label, { periods: after.periods - before.periods, throttledPeriods: after.throttledPeriods - before.throttledPeriods, throttledSeconds: after.throttledSeconds - before.throttledSeconds }];
          }),
        )
      : null;
  const serverKeys = [...options.cpu.hubs.map((h) => h.label), ...(options.cpu.redisPid !== null ? ['redis'] : [])];
  const serverCpu = serverKeys.every((k) => cpu[k] != null) ? serverKeys.reduce((s, k) => s + cpu[k]!, 0) : null;
  const acknowledgedMs = acknowledged ? (lastAcknowledged - started) / 1000 : NaN;
  const receivedMs = seen.size ? (lastReceived - started) / 1000 : NaN;
  const errors = flows.reduce((n, f) => n + f.sender.errors, 0) - errorsBefore;
  return {
    senders: flows.length,
    recipients: recipients.length,
    messages: total,
    bodyBytes,
    window,
    acknowledged,
    acknowledgedMs,
    acknowledgedPerSec: (acknowledged / acknowledgedMs) * 1000,
    received: seen.size,
    duplicates,
    missing: Math.max(0, acknowledged - seen.size),
    receivedMs,
    receivedPerSec: (seen.size / receivedMs) * 1000,
    delivery: summarize(latencies),
    stray,
    errors,
    lastError: flows.find((f) => f.sender.lastError)?.sender.lastError ?? null,
    timedOut,
    cpuSeconds: cpu,
    cpuWindowMs,
    quota,
    serverCpuUsPerMessage: serverCpu !== null && acknowledged ? (serverCpu / acknowledged) * 1e6 : null,
  };
}
