/** The vector index's tuning: thresholds for IVF builds and compaction, nlist and nprobe targets, save pacing. */
import { defaultBuildThreads } from './builder';

export interface VectorIndexTuning {
  /** Live vectors from which an IVF index is built (default 20,000: a flat single query then costs ~4 ms). */
  ivfThreshold: number;
  /** An IVF index falls back to flat below this many live vectors (default ivfThreshold / 2). */
  flatBelow: number;
  /** Retrain when live vectors reach this multiple of the count the IVF was trained on (default 2). */
  regrowFactor: number;
  /** Compact when tombstones reach this share of positions… (default 0.15) */
  compactRatio: number;
  /** …and at least this many (default 1,000). */
  minCompactDead: number;
  /** nlist = nlistFactor × √n, rounded (default 2; see the benchmark for why not 4). */
  nlistFactor: number;
  /** Above this nlist the coarse quantizer is HNSW32 instead of flat (default 2,048). */
  hnswQuantizerFrom: number;
  trainPointsPerList: number;
  maxTrainPoints: number;
  /**
   * nprobe is the smallest value whose recall@10 reaches this for stored vectors used as queries (default 0.975).
   * Real questions lie farther from what they find than stored vectors do, and get less: on 100,000 developer notes,
   * 0.971 / 0.987 / 0.993 for stored vectors came with 0.922 / 0.951 / 0.969 for held-out questions (nprobe 32 / 48 /
   * 64), so 0.975 here aims at ~0.95 for questions.
   */
  targetRecall: number;
  maxNprobe: number;
  tuneQueries: number;
  /** Inverted lists a near-duplicate check (searchCloseBatch) scans per query (default 8). */
  closeProbeLists: number;
  /** Bytes per IVF part file (the unit loaded between yields; default 16 MiB ≈ 8k 512-d vectors, ~20 ms). */
  partBytes: number;
  /** OpenMP/BLAS threads for the build child (default cores - 1). */
  buildThreads: number;
  buildNiceness: number;
  /** After a failed build, wait this long before trying again. */
  buildRetryMs: number;
  /** Start builds by themselves when a policy above says so (default true). */
  autoBuild: boolean;
  saveDelayMs: number;
  saveAfterChanges: number;
  /** Above this widened k, a filtered search switches to an exact scan of the accepted vectors. */
  maxWidenK: number;
  /** Run a garbage collection after swapping indexes, so the old one's native memory goes at once. */
  releaseMemory: boolean;
  /** When to reconcile the saved index against loadAll: only if counts differ (default), or on every open. */
  reconcile: 'mismatch' | 'always';
}

export const DEFAULT_TUNING: VectorIndexTuning = {
  ivfThreshold: 20_000,
  flatBelow: 10_000,
  regrowFactor: 2,
  compactRatio: 0.15,
  minCompactDead: 1_000,
  nlistFactor: 2,
  hnswQuantizerFrom: 2_048,
  trainPointsPerList: 32,
  maxTrainPoints: 131_072,
  targetRecall: 0.975,
  maxNprobe: 256,
  tuneQueries: 256,
  closeProbeLists: 8,
  partBytes: 16 * 2 ** 20,
  buildThreads: defaultBuildThreads(),
  buildNiceness: 10,
  buildRetryMs: 60_000,
  autoBuild: true,
  saveDelayMs: 5_000,
  saveAfterChanges: 5_000,
  maxWidenK: 4_096,
  releaseMemory: true,
  reconcile: 'mismatch',
};

/** The tuning an index runs with: the defaults, overridden; flatBelow follows a given ivfThreshold unless also given. */
export function resolveTuning(given: Partial<VectorIndexTuning> | undefined): VectorIndexTuning {
  const tuning = { ...DEFAULT_TUNING, ...given };
  if (given?.ivfThreshold !== undefined && given.flatBelow === undefined) tuning.flatBelow = Math.floor(tuning.ivfThreshold / 2);
  return tuning;
}

/** What a build should make of `live` vectors: IVF when large enough (to stay IVF, or to become IVF), else flat. */
export function buildTarget(t: VectorIndexTuning, isIvf: boolean, live: number): 'flat' | 'ivf' {
  return live >= (isIvf ? t.flatBelow : t.ivfThreshold) && live >= 64 ? 'ivf' : 'flat';
}

/** The IVF layout for `n` vectors: nlist ≈ nlistFactor × √n, an HNSW coarse quantizer for large nlist. */
export function ivfShape(t: VectorIndexTuning, n: number): { nlist: number; description: string; trainPoints: number } {
  const nlist = Math.max(4, Math.min(65_536, Math.round(t.nlistFactor * Math.sqrt(n)), Math.floor(n / 8)));
  const description = nlist >= t.hnswQuantizerFrom ? `IVF${nlist}_HNSW32,Flat` : `IVF${nlist},Flat`;
  return { nlist, description, trainPoints: Math.min(t.maxTrainPoints, t.trainPointsPerList * nlist) };
}

/** Why a background build should start now (grow, shrink, regrow, compact), or null. */
export function buildReason(
  t: VectorIndexTuning,
  index: { isIvf: boolean; live: number; builtLive: number; dead: number; positions: number },
): string | null {
  const { isIvf, live, builtLive, dead, positions } = index;
  if (!isIvf && live >= t.ivfThreshold) return 'grow';
  if (isIvf && live < t.flatBelow) return 'shrink';
  if (isIvf && live >= t.regrowFactor * builtLive) return 'regrow';
  if (dead >= t.minCompactDead && dead >= t.compactRatio * positions) return 'compact';
  return null;
}
