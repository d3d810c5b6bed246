/**
 * Measurements the hub's metrics lack, taken cheaply for the advisor: event-loop stalls with their time and what ran
 * (a timer's lateness, matched against the operations and HTTP requests that overlapped it), time spent in garbage
 * collection, and the recent latency of each operation (a sliding window, so a fix shows in the figures at once,
 * where the since-start histograms would not move).
 */
import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import type { OperationName } from '../../shared/monitor-protocol';

/** The stall detector's timer period: a stall is this timer firing late by at least the threshold. */
const STALL_TICK_MS = 50;
const KEEP_STALLS = 50;
const KEEP_ACTIVITIES = 500;
/** Recent latencies kept per operation (and for at most RECENT_WINDOW_MS). */
const KEEP_LATENCIES = 1000;
const RECENT_WINDOW_MS = 5 * 60_000;
const GC_WINDOW_MS = 60_000;

/**
 * The last `size` things the hub did (operations and requests), oldest overwritten first: a ring of fixed arrays,
 * because one is added for every message sent and delivered, and shifting an array of 500 on each cost the hub
 * microseconds per message. A name with a detail is put together only when a stall asks.
 */
class ActivityRing {
  private readonly names: string[];
  private readonly details: Array<string | (() => string) | undefined>;
  private readonly starts: Float64Array;
  private readonly ends: Float64Array;
  private next = 0;
  private count = 0;

  constructor(private readonly size: number) {
    this.names = new Array<string>(size).fill('');
    this.details = new Array<string | (() => string) | undefined>(size).fill(undefined);
    this.starts = new Float64Array(size);
    this.ends = new Float64Array(size);
  }

  add(name: string, detail: string | (() => string) | undefined, start: number, end: number): void {
    const i = this.next;
    this.names[i] = name;
    this.details[i] = detail;
    this.starts[i] = start;
    this.ends[i] = end;
    this.next = i + 1 === this.size ? 0 : i + 1;
    if (this.count < this.size) this.count++;
  }

  /** The kept activities that overlap [start, end], oldest first. */
  overlapping(start: number, end: number): Activity[] {
    const found: Activity[] = [];
    const oldest = this.count < this.size ? 0 : this.next;
    for (let n = 0; n < this.count; n++) {
      const k = (oldest + n) % this.size;
      if (this.starts[k]! <= end && this.ends[k]! >= start) {
        const name = this.names[k]!;
        const detail = this.details[k];
        found.push({ what: detail === undefined ? name : () => `${name} (${typeof detail === 'function' ? detail() : detail})`, start: this.starts[k]!, end: this.ends[k]! });
      }
    }
    return found;
  }
}

/** The last `size` latencies of one operation (ms, and when each ended), oldest overwritten first. */
class LatencyRing {
  private readonly ends: Float64Array;
  private readonly ms: Float64Array;
  private next = 0;
  private count = 0;

  constructor(private readonly size: number) {
    this.ends = new Float64Array(size);
    this.ms = new Float64Array(size);
  }

  add(end: number, ms: number): void {
    this.ends[this.next] = end;
    this.ms[this.next] = ms;
    this.next = this.next + 1 === this.size ? 0 : this.next + 1;
    if (this.count < this.size) this.count++;
  }

  /** The latencies that ended at or after `cutoff`, sorted, and when the oldest of them ended; null without any. */
  since(cutoff: number): { sorted: Float64Array; oldestEnd: number } | null {
    const kept: number[] = [];
    let oldestEnd = Infinity;
    for (let k = 0; k < this.count; k++) {
      const end = this.ends[k]!;
      if (end < cutoff) continue;
      kept.push(this.ms[k]!);
      if (end < oldestEnd) oldestEnd = end;
    }
    return kept.length === 0 ? null : { sorted: Float64Array.from(kept).sort(), oldestEnd };
  }
}

/** Something the hub did, with when it started and ended (performance.now() ms). */
interface Activity {
  /** A function when naming it costs something (built only if a stall asks). */
  what: string | (() => string);
  start: number;
  end: number;
}

export interface Stall {
  /** When the stall began (ISO). */
  at: string;
  durationMs: number;
  /** The operations and requests that overlapped it, longest first; empty when none was timed. */
  during: string[];
}

export interface GcFigures {
  /** Share of the last minute's wall time spent in GC (0..1). */
  share: number;
  /** Collections in the last minute, and how many were major (mark-sweep-compact). */
  count: number;
  major: number;
  longestMs: number;
}

export class Measurements {
  private readonly activities = new ActivityRing(KEEP_ACTIVITIES);
  private readonly open = new Map<object, { what: string; start: number }>();
  private readonly stalls: Array<{ start: number; end: number; at: string; during: string[] | null }> = [];
  private readonly latencies = new Map<OperationName, LatencyRing>();
  private readonly gcEntries: Array<{ end: number; ms: number; major: boolean }> = [];
  private timer: NodeJS.Timeout | undefined;
  private gcObserver: PerformanceObserver | undefined;
  private expected = 0;

  constructor(private readonly stallMs: () => number) {}

  start(): void {
    this.expected = performance.now() + STALL_TICK_MS;
    this.timer = setInterval(() => this.checkStall(), STALL_TICK_MS);
    this.timer.unref();
    this.gcObserver = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const kind = ((entry as unknown as { detail?: { kind?: number } }).detail)?.kind;
        this.gcEntries.push({ end: entry.startTime + entry.duration, ms: entry.duration, major: kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR });
      }
      this.trimGc();
    });
    this.gcObserver.observe({ entryTypes: ['gc'] });
  }

  stop(): void {
    clearInterval(this.timer);
    this.gcObserver?.disconnect();
  }

  /** A timed operation finished (from Metrics.record): kept to name stalls and for recent latency. */
  operation(op: OperationName, durationMs: number, detail: string | (() => string) | undefined): void {
    const end = performance.now();
    this.activities.add(op, detail, end - durationMs, end);
    let ring = this.latencies.get(op);
    if (!ring) this.latencies.set(op, (ring = new LatencyRing(KEEP_LATENCIES)));
    ring.add(end, durationMs);
  }

  /** An HTTP request began; `finished` closes it (both from the API server's hooks). */
  requestStarted(key: object, what: string): void {
    // Bounded: a request that never finishes (neither answered nor aborted) must not make this grow for ever.
    if (this.open.size >= KEEP_ACTIVITIES) this.open.delete(this.open.keys().next().value!);
    this.open.set(key, { what, start: performance.now() });
  }

  requestFinished(key: object): void {
    const started = this.open.get(key);
    if (!started) return;
    this.open.delete(key);
    this.activities.add(started.what, undefined, started.start, performance.now());
  }

  /** Stalls of the last `minutes`, newest first, each with what overlapped it. */
  recentStalls(minutes: number): Stall[] {
    const cutoff = Date.now() - minutes * 60_000;
    return this.stalls
      .filter((stall) => Date.parse(stall.at) >= cutoff)
      .map((stall) => ({ at: stall.at, durationMs: stall.end - stall.start, during: (stall.during ??= this.overlapping(stall)) }))
      .reverse();
  }

  /** p99 and count of an operation's latencies over the last five minutes; null without any. */
  recentLatency(op: OperationName): { p99Ms: number; count: number; since: string } | null {
    const cutoff = performance.now() - RECENT_WINDOW_MS;
    const recent = this.latencies.get(op)?.since(cutoff);
    if (!recent) return null;
    const { sorted, oldestEnd } = recent;
    const p99 = sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)]!;
    return { p99Ms: p99, count: sorted.length, since: wallTime(oldestEnd) };
  }

  /** Forgets an operation's recent latencies (after a fix changed what they measure). */
  resetLatency(op: OperationName): void {
    this.latencies.delete(op);
  }

  gc(): GcFigures {
    this.trimGc();
    const total = this.gcEntries.reduce((sum, entry) => sum + entry.ms, 0);
    return {
      share: total / GC_WINDOW_MS,
      count: this.gcEntries.length,
      major: this.gcEntries.filter((entry) => entry.major).length,
      longestMs: this.gcEntries.reduce((most, entry) => Math.max(most, entry.ms), 0),
    };
  }

  private checkStall(): void {
    const now = performance.now();
    const late = now - this.expected;
    this.expected = now + STALL_TICK_MS;
    if (late < this.stallMs()) return;
    // The loop was held from about when the timer was due until now; what held it is named when asked for, once
    // the request that caused it has finished too.
    const start = now - late;
    this.stalls.push({ start, end: now, at: wallTime(start), during: null });
    if (this.stalls.length > KEEP_STALLS) this.stalls.shift();
  }

  private overlapping(stall: { start: number; end: number }): string[] {
    const now = performance.now();
    const candidates = [...this.activities.overlapping(stall.start, stall.end), ...[...this.open.values()].map((open) => ({ ...open, end: now }))];
    return candidates
      .filter((activity) => activity.start <= stall.end && activity.end >= stall.start)
      .sort((a, b) => b.end - b.start - (a.end - a.start))
      .map((activity) => (typeof activity.what === 'function' ? activity.what() : activity.what))
      .filter((what, i, all) => all.indexOf(what) === i)
      .slice(0, 3);
  }

  private trimGc(): void {
    const cutoff = performance.now() - GC_WINDOW_MS;
    while (this.gcEntries.length > 0 && this.gcEntries[0]!.end < cutoff) this.gcEntries.shift();
  }
}

/** A performance.now() time as wall-clock ISO. */
function wallTime(monotonicMs: number): string {
  return new Date(performance.timeOrigin + monotonicMs).toISOString();
}
