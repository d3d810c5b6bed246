/**
 * The hub's own numbers: latency histograms per operation (Node's built-in HdrHistogram, so percentiles stay exact
 * to 3 significant figures at any rate without storing samples), throughput counters, and a sampler of process
 * figures. The cockpit gets a snapshot every second; Prometheus scrapes the same numbers as text.
 */
import { createHistogram, monitorEventLoopDelay, type RecordableHistogram } from 'node:perf_hooks';
import { OPERATIONS, type LatencyBucket, type LatencySummary, type MetricsSnapshot, type OperationName, type SlowOperation } from '../../shared/monitor-protocol';

const COUNTERS = ['messagesSent', 'messagesDelivered', 'memoriesStored', 'searches'] as const;
export type CounterName = (typeof COUNTERS)[number];

const SLOW_WINDOW_MS = 60_000;
/** The event-loop sampler's timer period; what it reports includes the period itself, which is taken off. */
const LOOP_SAMPLE_MS = 10;
const SLOW_KEEP = 20;
/** Histograms record microseconds: 1 µs to 10 minutes at 3 significant figures. */
const histogram = () => createHistogram({ lowest: 1, highest: 600_000_000, figures: 3 });

export class Metrics {
  /** Since start: for Prometheus and the Performance view's histograms. */
  private readonly total = new Map<OperationName, RecordableHistogram>();
  /** Since the last tick: the live charts' p50/p99 per second. */
  private window = new Map<OperationName, RecordableHistogram>();
  private readonly counters = new Map<CounterName, number>();
  private windowCounters = new Map<CounterName, number>();
  private slow: SlowOperation[] = [];
  /** Sampled for the hub's whole life (its timer does not keep the process alive), so it needs no closing. */
  private readonly loopDelay = monitorEventLoopDelay({ resolution: LOOP_SAMPLE_MS });
  private lastCpu = process.cpuUsage();
  /** Told of every recorded operation (the advisor keeps the recent ones, to name what ran during a stall). */
  private readonly recordListeners = new Set<(op: OperationName, durationMs: number, detail: string | (() => string) | undefined) => void>();
  private lastTick = performance.now();

  constructor() {
    for (const op of OPERATIONS) {
      this.total.set(op, histogram());
      this.window.set(op, histogram());
    }
    this.loopDelay.enable();
  }

  /**
   * Records one operation's duration; `detail` names it in the slowest-operations list (a function: built only for
   * an operation slow enough to be listed).
   */
  record(op: OperationName, durationMs: number, detail?: string | (() => string)): void {
    const micros = Math.max(1, Math.round(durationMs * 1000));
    this.total.get(op)!.record(micros);
    this.window.get(op)!.record(micros);
    if (this.slow.length < SLOW_KEEP || durationMs > this.slow[this.slow.length - 1]!.durationMs) {
      this.slow.push({ op, durationMs, at: new Date().toISOString(), detail: (typeof detail === 'function' ? detail() : detail) ?? null });
      this.slow.sort((a, b) => b.durationMs - a.durationMs);
      if (this.slow.length > SLOW_KEEP) this.slow.length = SLOW_KEEP;
    }
    for (const listener of this.recordListeners) listener(op, durationMs, detail);
  }

  onRecord(listener: (op: OperationName, durationMs: number, detail: string | (() => string) | undefined) => void): () => void {
    this.recordListeners.add(listener);
    return () => this.recordListeners.delete(listener);
  }

  count(counter: CounterName, n = 1): void {
    this.counters.set(counter, (this.counters.get(counter) ?? 0) + n);
    this.windowCounters.set(counter, (this.windowCounters.get(counter) ?? 0) + n);
  }

  /** Closes the current window and returns everything the cockpit charts. */
  tick(extra: Pick<MetricsSnapshot, 'agents' | 'storage'>): MetricsSnapshot {
    const now = performance.now();
    const seconds = Math.max(0.001, (now - this.lastTick) / 1000);
    this.lastTick = now;
    const cpu = process.cpuUsage(this.lastCpu);
    this.lastCpu = process.cpuUsage();
    const memory = process.memoryUsage();
    const cutoff = Date.now() - SLOW_WINDOW_MS;
    this.slow = this.slow.filter((entry) => Date.parse(entry.at) >= cutoff);

    const snapshot: MetricsSnapshot = {
      at: new Date().toISOString(),
      rates: Object.fromEntries(COUNTERS.map((name) => [name, (this.windowCounters.get(name) ?? 0) / seconds])) as MetricsSnapshot['rates'],
      totals: Object.fromEntries(COUNTERS.map((name) => [name, this.counters.get(name) ?? 0])) as MetricsSnapshot['totals'],
      latency: Object.fromEntries(OPERATIONS.map((op) => [op, summarise(this.window.get(op)!)])) as MetricsSnapshot['latency'],
      latencyTotal: Object.fromEntries(OPERATIONS.map((op) => [op, summarise(this.total.get(op)!)])) as MetricsSnapshot['latencyTotal'],
      process: {
        cpuPercent: ((cpu.user + cpu.system) / 1000 / (seconds * 1000)) * 100,
        rssBytes: memory.rss,
        heapUsedBytes: memory.heapUsed,
        heapTotalBytes: memory.heapTotal,
        eventLoopDelayP50Ms: Math.max(0, this.loopDelay.percentile(50) / 1e6 - LOOP_SAMPLE_MS),
        eventLoopDelayP99Ms: Math.max(0, this.loopDelay.percentile(99) / 1e6 - LOOP_SAMPLE_MS),
        eventLoopDelayMaxMs: Math.max(0, this.loopDelay.max / 1e6 - LOOP_SAMPLE_MS),
      },
      slowest: [...this.slow],
      ...extra,
    };
    for (const op of OPERATIONS) this.window.get(op)!.reset();
    this.windowCounters = new Map();
    this.loopDelay.reset();
    return snapshot;
  }

  /** Latency distribution of one operation since start, as (upper bound ms, count) buckets for a histogram chart. */
  buckets(op: OperationName): LatencyBucket[] {
    const h = this.total.get(op)!;
    if (h.count === 0) return [];
    const bounds = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 5000];
    const result: LatencyBucket[] = [];
    let previous = 0;
    for (const bound of bounds) {
      // The histogram gives percentiles, not bucket counts: find the share of samples at or below each bound.
      const share = shareAtOrBelow(h, bound * 1000);
      const cumulative = Math.round(share * h.count);
      result.push({ upToMs: bound, count: cumulative - previous });
      previous = cumulative;
    }
    // null: no upper bound (JSON has no Infinity).
    result.push({ upToMs: null, count: h.count - previous });
    return result;
  }

  /** Prometheus text exposition format. */
  prometheus(snapshot: MetricsSnapshot): string {
    const lines: string[] = [];
    const metric = (name: string, type: string, help: string) => lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    metric('devenviro_operation_latency_seconds', 'summary', 'Latency of hub operations since start');
    for (const op of OPERATIONS) {
      const h = this.total.get(op)!;
      for (const q of [0.5, 0.9, 0.99]) {
        lines.push(`devenviro_operation_latency_seconds{operation="${op}",quantile="${q}"} ${h.count ? h.percentile(q * 100) / 1e6 : 0}`);
      }
      lines.push(`devenviro_operation_latency_seconds_count{operation="${op}"} ${h.count}`);
      lines.push(`devenviro_operation_latency_seconds_sum{operation="${op}"} ${h.count ? (h.mean * h.count) / 1e6 : 0}`);
    }
    metric('devenviro_events_total', 'counter', 'Messages sent and delivered, memories stored, searches run');
    for (const name of COUNTERS) lines.push(`devenviro_events_total{event="${name}"} ${this.counters.get(name) ?? 0}`);
    metric('devenviro_agents', 'gauge', 'Agents by presence');
    lines.push(`devenviro_agents{state="online"} ${snapshot.agents.online}`, `devenviro_agents{state="registered"} ${snapshot.agents.registered}`);
    metric('devenviro_process_resident_memory_bytes', 'gauge', 'Resident memory of the hub process');
    lines.push(`devenviro_process_resident_memory_bytes ${snapshot.process.rssBytes}`);
    metric('devenviro_process_heap_used_bytes', 'gauge', 'V8 heap in use');
    lines.push(`devenviro_process_heap_used_bytes ${snapshot.process.heapUsedBytes}`);
    metric('devenviro_event_loop_delay_seconds', 'gauge', 'Event-loop delay p99 over the last second');
    lines.push(`devenviro_event_loop_delay_seconds ${snapshot.process.eventLoopDelayP99Ms / 1000}`);
    metric('devenviro_event_loop_delay_max_seconds', 'gauge', 'Longest event-loop delay over the last second');
    lines.push(`devenviro_event_loop_delay_max_seconds ${snapshot.process.eventLoopDelayMaxMs / 1000}`);
    metric('devenviro_storage_bytes', 'gauge', 'Size of the hub\'s stores on disk');
    for (const [store, bytes] of Object.entries(snapshot.storage)) lines.push(`devenviro_storage_bytes{store="${store}"} ${bytes}`);
    return lines.join('\n') + '\n';
  }
}

function summarise(h: RecordableHistogram): LatencySummary {
  if (h.count === 0) return { count: 0, p50Ms: null, p99Ms: null, maxMs: null };
  return { count: h.count, p50Ms: h.percentile(50) / 1000, p99Ms: h.percentile(99) / 1000, maxMs: h.max / 1000 };
}

/** Binary search over percentiles for the share of samples at or below a value (in µs). */
function shareAtOrBelow(h: RecordableHistogram, micros: number): number {
  if (micros < h.min) return 0;
  if (micros >= h.max) return 1;
  let low = 0;
  let high = 100;
  for (let i = 0; i < 20; i++) {
    const mid = (low + high) / 2;
    if (h.percentile(mid) <= micros) low = mid;
    else high = mid;
  }
  return low / 100;
}
