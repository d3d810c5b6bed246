/** The memory benchmark's result shapes (written as JSON to bench/results/memory-<timestamp>.json). */
import type { MemoryStats } from '../../src/shared/memory-protocol';
import type { BuildState } from '../lib/hub-process';
import type { machineFacts } from '../lib/machine';
import type { ProfileSummary } from '../lib/profile';
import type { Summary } from '../lib/stats';
import type { SummaryRow } from '../lib/table';
import type { Options } from './options';

export interface StorePhase {
  memories: number;
  requests: number;
  wallMs: number;
  perSecond: number;
  latency: Summary;
  histogram: string;
  /** Stores that reinforced an existing memory (the same fact) instead of adding one. */
  reinforced: number;
  /** Stores that superseded an existing memory (a newer value of it): a memory is added, the old one is history. */
  superseding: number;
  /** The hub's ONNX runs during the phase, and memories per run (grouping). */
  embedRuns: number | null;
  memoriesPerEmbedRun: number | null;
  embedMs: number | null;
  cpuPercent: Record<string, number | null>;
  /**
   * The hub's CPU time per memory stored (ms): its main thread (the event loop) and its other threads (the inference
   * workers, mostly). On a loaded machine this moves much less than memories/s.
   */
  hubCpuMsPerMemory: { main: number; others: number; total: number; busiestOthers: number[] } | null;
  load1: number;
}

export interface BatchedPhase extends StorePhase {
  inflight: number;
  batchSizes: { min: number; max: number };
  /** memories/s by stretch of the load (the index is exact below 20,000, IVF above). */
  segments: Array<{ from: number; to: number; seconds: number; perSecond: number }>;
}

export interface SearchPhase {
  memories: number;
  queries: number;
  k: number;
  latency: Summary;
  hubTookMs: Summary;
  histogram: string;
  hitsPerQuery: number;
  /** Share of returned hits that came from the vector side / the keyword side. */
  vectorShare: number;
  keywordShare: number;
  cpuPercent: Record<string, number | null>;
  load1: number;
}

export interface IvfWait {
  waitedMs: number;
  kind: string;
  size: number;
  total: number;
  builds: number;
  timedOut: boolean;
}

export interface RecallResult {
  queries: number;
  k: number;
  recallAt10: number;
  indexKind: string;
  nlist?: number;
  nprobe?: number;
  estimatedRecall?: number;
  openMs: number;
  exactMsPerQuery: number;
  indexMsPerQuery: number;
  /** Near-duplicate checks: edited copies of stored notes, their stored neighbours at cosine >= 0.95 found. */
  nearDuplicates: {
    queries: number;
    pairs: number;
    /** searchCloseBatch, as stores use it (int8 scan of the nearest lists). */
    close: { found: number; msPerQuery: number };
    /** searchBatch: FAISS's IVF search at its nprobe, what stores used before. */
    faiss: { found: number; msPerQuery: number };
  };
}

export interface Results {
  suite: 'memory';
  startedAt: string;
  finishedAt?: string;
  machine: ReturnType<typeof machineFacts>;
  loadAverage: { start: number[]; end?: number[] };
  options: Options;
  build: BuildState;
  hub: { pid?: number; startMs?: number; encoder?: string; dimension?: number };
  single?: StorePhase;
  concurrent?: StorePhase;
  batched?: BatchedPhase;
  loadSeconds?: number;
  ivf?: IvfWait;
  search?: SearchPhase;
  singleAtScale?: StorePhase;
  recall?: RecallResult;
  rss: { afterLoad?: number; afterIvf?: number; afterSearch?: number; peak?: number };
  finalStats?: MemoryStats;
  profiles: ProfileSummary[];
  errors: Record<string, string>;
  summary: SummaryRow[];
}
