/** The hub's performance figures as they travel: the live snapshot the cockpit charts each second, histograms. */

/** The operations the hub times, in the order the cockpit shows them. */
export const OPERATIONS = ['send', 'deliver', 'store', 'search', 'embed', 'extract'] as const;
export type OperationName = (typeof OPERATIONS)[number];

export interface LatencySummary {
  count: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

export interface SlowOperation {
  op: OperationName;
  durationMs: number;
  at: string;
  detail: string | null;
}

/** Pushed once a second: everything the live charts draw. */
export interface MetricsSnapshot {
  at: string;
  /** Per second, over the last tick. */
  rates: { messagesSent: number; messagesDelivered: number; memoriesStored: number; searches: number };
  totals: { messagesSent: number; messagesDelivered: number; memoriesStored: number; searches: number };
  /** Over the last tick. */
  latency: Record<OperationName, LatencySummary>;
  /** Since the hub started. */
  latencyTotal: Record<OperationName, LatencySummary>;
  process: {
    cpuPercent: number;
    rssBytes: number;
    heapUsedBytes: number;
    heapTotalBytes: number;
    eventLoopDelayP50Ms: number;
    eventLoopDelayP99Ms: number;
    /** The longest the event loop was held over the last second: one request's work at most, when all is well. */
    eventLoopDelayMaxMs: number;
  };
  agents: { registered: number; online: number; byTier: Record<string, number>; byStatus: Record<string, number> };
  /** Bytes on disk per store (SQLite files with their WAL, vector index files). */
  storage: Record<string, number>;
  /** The slowest operations of the last minute. */
  slowest: SlowOperation[];
}

/** One bar of an operation's latency histogram since start; upToMs null is the open-ended last bucket. */
export interface LatencyBucket {
  upToMs: number | null;
  count: number;
}
