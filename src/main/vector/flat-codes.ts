/**
 * Exact search of a flat index without FAISS's one-query-at-a-time scan. faiss-node's flat search of fewer than 20
 * queries (FLAT_BLAS_QUERIES) scores them one at a time in scalar code: ~13 ms per query at 8,555 vectors of 512 floats
 * on a loaded 2-core machine, all on the event loop (a search, or a store's near-duplicate check, held other agents'
 * requests that long). Here every position's vector is kept as int8 codes in a WebAssembly SIMD kernel's memory
 * (simd/dots.ts; a quarter of the bytes, ~10x JavaScript's scalar loop), a query is scored against all of them, and
 * the best few (k plus a margin, int8 scores being within ~0.003 of the true ones) are scored again exactly: callers
 * get true inner products, best first, as from FAISS.
 *
 * Codes follow the store lazily: positions are append-only within one VectorStore, so each search first codes the
 * positions added since the last one; a new store (a load, a compaction, a swap) starts over.
 */
import { TopK, dot, type Hit } from './exact';
import { CODE_ALIGN, Int8DotKernel, quantize } from './simd/dots';
import type { VectorStore } from './store';

/** Candidates scored exactly beyond the k asked for: at least this many, and at least k more. */
const RESCORE_EXTRA = 16;

export class FlatCodes {
  private readonly stride: number;
  private store: VectorStore | undefined;
  private coded = 0;
  private scales = new Float32Array(1024);

  private constructor(
    private readonly dimension: number,
    private readonly kernel: Int8DotKernel,
  ) {
    this.stride = Math.ceil(dimension / CODE_ALIGN) * CODE_ALIGN;
  }

  /** Null where WebAssembly SIMD is unavailable (FAISS then searches). */
  static create(dimension: number): FlatCodes | null {
    const kernel = Int8DotKernel.create();
    return kernel ? new FlatCodes(dimension, kernel) : null;
  }

  /** The k best live positions of `store` (as ids, with exact inner products) for each query, accepted ones only. */
  search(store: VectorStore, queries: Float32Array[], k: number, accept?: (id: number) => boolean): Hit[][] {
    this.follow(store);
    const rows = store.count;
    const approxK = k + Math.max(k, RESCORE_EXTRA);
    return queries.map((query) => {
      const memory = this.kernel.reserve(rows, this.stride);
      const queryScale = quantize(query, 0, this.dimension, memory, 0);
      memory.fill(0, this.dimension, this.stride);
      const dots = this.kernel.dots(rows, this.stride);
      const approx = new TopK(approxK);
      for (let pos = 0; pos < rows; pos++) {
        if (store.isDead(pos)) continue;
        const score = queryScale * this.scales[pos]! * dots[pos]!;
        if (score <= approx.threshold) continue;
        if (accept && !accept(store.id(pos))) continue;
        approx.push(pos, score);
      }
      const exact = new TopK(k);
      for (const { id: pos } of approx.sorted()) exact.push(store.id(pos), dot(query, store.vector(pos)));
      return exact.sorted();
    });
  }

  /** Codes the positions added since the last call (all of them for a new store). */
  private follow(store: VectorStore): void {
    if (store !== this.store || store.count < this.coded) {
      this.store = store;
      this.coded = 0;
    }
    const rows = store.count;
    if (rows === this.coded) return;
    if (rows > this.scales.length) {
      const scales = new Float32Array(Math.max(rows, this.scales.length * 2));
      scales.set(this.scales.subarray(0, this.coded));
      this.scales = scales;
    }
    const memory = this.kernel.reserve(rows, this.stride);
    for (let pos = this.coded; pos < rows; pos++) {
      const at = this.stride * (1 + pos);
      this.scales[pos] = quantize(store.vector(pos), 0, this.dimension, memory, at);
      // Padding to the SIMD width is zero (the bytes may hold an earlier search's dot products).
      memory.fill(0, at + this.dimension, at + this.stride);
    }
    this.coded = rows;
  }
}
