/** The vector index's public types: items, options, events and stats. */
import type { VectorIndexTuning } from './tuning';
export type { Hit } from './exact';

export type VectorIndexKind = 'flat' | 'ivf';

export interface VectorItem {
  id: number;
  vector: Float32Array;
}

export type VectorIndexEvent =
  | { type: 'opened'; source: 'disk' | 'loader'; reason?: string; ms: number; reconciled?: { added: number; removed: number } }
  | { type: 'build-started'; reason: string; target: VectorIndexKind; live: number }
  | {
      type: 'build-finished';
      kind: VectorIndexKind;
      ms: number;
      live: number;
      nlist?: number;
      nprobe?: number;
      recall?: number;
      /** The longest stretch the build kept the event loop busy in one go (loading a part, the final swap…). */
      longestBlockMs: number;
    }
  | { type: 'build-failed'; error: Error }
  | { type: 'saved'; ms: number; positions: number }
  | { type: 'save-failed'; error: Error };

export interface VectorIndexOptions {
  dir: string;
  modelId: string;
  dimension: number;
  /** Live vectors SQLite holds for this model; a saved index with another count is reconciled. */
  expectedCount: number;
  /** Every vector of this model from SQLite. Drained synchronously (a better-sqlite3 iterator keeps its connection busy). */
  loadAll: () => Iterable<VectorItem>;
  onProgress?: (p: { step: string; fraction: number }) => void;
  onEvent?: (event: VectorIndexEvent) => void;
  tuning?: Partial<VectorIndexTuning>;
}

export interface VectorIndexStats {
  kind: VectorIndexKind;
  size: number;
  tombstones: number;
  positions: number;
  nlist?: number;
  nprobe?: number;
  /** Estimated recall@10 of the IVF index when it was built. */
  recall?: number;
  trainedAt?: string;
  /** Live vectors the IVF index was trained on (it is retrained by itself at regrowFactor times this). */
  trainedOn?: number;
  /** How the IVF index was built (in the child process). */
  ivfBuild?: { description: string; trainPoints: number; trainMs: number; addMs: number; tuneMs: number };
  /** Approximate memory held: FAISS index plus the JS-side copy of the vectors. */
  bytes: number;
  generation: number;
  /** The background build in progress, if any (`pid`: its child process, while training). */
  building: { reason: string; step: string; fraction: number; pid?: number } | null;
  openedFrom: 'disk' | 'loader';
}
