/**
 * The vector index: one per embedding model, FAISS underneath, keyed by memory id. This file holds its public
 * operations (add, remove, searches, stats, lifecycle); opening is load.ts, saving persistence.ts, background builds
 * background-build.ts, their policy tuning.ts, the shared state state.ts.
 *
 * - Positions: FAISS labels are positions 0, 1, 2, … in insertion order. The store (store.ts) keeps each
 *   position's vector and memory id, tombstones, and id → position. An update is tombstone + append; deletion is a
 *   tombstone (faiss-node's removeIds renumbers flat indexes and aborts the process on HNSW, so it is never used).
 *   Searches oversample to make up for tombstones and widen for `accept` filters.
 * - Kind: exact (IndexFlatIP) while small; past `ivfThreshold` live vectors an IVF-Flat index is trained and filled
 *   in a child process (builder.ts) from a snapshot, while the current index keeps answering. The new index is
 *   then loaded part by part, the vectors added meanwhile are replayed into it, and it is swapped in synchronously.
 *   Every such build also compacts (drops tombstones), and builds are triggered again when the index doubles, when
 *   tombstones pass `compactRatio`, or when it shrinks back below `flatBelow`.
 * - Disk: see files.ts. Saves append and are debounced (`saveDelayMs`, or at once after `saveAfterChanges`),
 *   and happen on close. A missing or damaged index is rebuilt from `loadAll` (SQLite); an index whose live count
 *   differs from `expectedCount` is reconciled against `loadAll` (differences applied; the trained IVF is kept).
 *
 * Everything FAISS does here is synchronous on the calling thread, so each step is kept short: big transfers go
 * through files FAISS reads at memcpy speed (faiss-node's add converts every float through a JS array), long work
 * happens in the child, and the rest is sliced with yields to the event loop.
 */
import { promises as fsp } from 'node:fs';
import { startBuild, maybeBuild } from './background-build';
import { TopK, dot, type Hit } from './exact';
import { FlatCodes } from './flat-codes';
import { load } from './load';
import { enqueueSave, scheduleSave } from './persistence';
import { IndexState } from './state';
import type { VectorIndexKind, VectorIndexOptions, VectorIndexStats, VectorItem } from './types';

/**
 * FAISS's flat search computes a batch of this many queries or more with BLAS, and a smaller one a query at a time, ~10x
 * slower per query (8,555 vectors of 512 floats: 14.5 ms per query in a batch of 4, 25 ms for a batch of 20). Smaller
 * batches of a flat index are searched by flat-codes.ts; without WebAssembly SIMD, a batch of PAD_FLAT_BATCH_FROM
 * queries or more is padded to FLAT_BLAS_QUERIES (a commit's near-duplicate check of 4 memories: 58 ms, padded 25 ms).
 */
export const FLAT_BLAS_QUERIES = 20;
export const PAD_FLAT_BATCH_FROM = 3;
/** Candidates an IVF search scores exactly beyond the k it wants (at least; as flat-codes.ts does). */
const RESCORE_EXTRA = 16;
/**
 * An IVF search probes this many times the lists the build tuned nprobe to. The build tunes on stored vectors as
 * queries (recall@10 0.975 there); questions are farther from every memory and were found less often: 0.929-0.942 at
 * the tuned 40 of 570 lists on the memory bench's questions at 100,000 memories, 0.957-0.965 at 1.5x (60 lists).
 * The int8 scan made the extra lists cheap (~0.3 ms).
 */
export const SEARCH_PROBE_FACTOR = 1.5;

export class VectorIndex {
  readonly dimension: number;
  readonly modelId: string;
  private readonly s: IndexState;
  private readonly queryBuffer: number[];
  /** Int8 codes of a flat index's vectors, searched in WebAssembly SIMD (flat-codes.ts); undefined while IVF. */
  private flatCodes: FlatCodes | null | undefined;

  private constructor(options: VectorIndexOptions) {
    this.s = new IndexState(options);
    this.dimension = options.dimension;
    this.modelId = options.modelId;
    this.queryBuffer = new Array<number>(this.dimension).fill(0);
  }

  static async open(options: VectorIndexOptions): Promise<VectorIndex> {
    if (!Number.isInteger(options.dimension) || options.dimension <= 0) throw new RangeError(`invalid dimension ${options.dimension}`);
    if (!options.modelId) throw new RangeError('modelId is required');
    await fsp.mkdir(options.dir, { recursive: true });
    const index = new VectorIndex(options);
    await load(index.s);
    index.s.loading = false;
    maybeBuild(index.s);
    return index;
  }

  get size(): number {
    return this.s.store.liveCount;
  }

  get kind(): VectorIndexKind {
    return this.s.kind;
  }

  has(id: number): boolean {
    return this.s.store.idToPos.has(id);
  }

  /** A copy of the vector stored for `id`, or undefined if the index does not hold it (cheaper than reading SQLite). */
  vectorOf(id: number): Float32Array | undefined {
    const pos = this.s.store.idToPos.get(id);
    return pos === undefined ? undefined : this.s.store.vector(pos).slice();
  }

  /** Adds vectors; an id already present is replaced. Validates everything before changing anything. */
  add(items: VectorItem[]): void {
    this.s.assertOpen();
    const added = this.s.addItems(items);
    if (added > 0) this.changed(added);
  }

  remove(ids: number[]): void {
    this.s.assertOpen();
    const removed = this.s.removeIds(ids);
    if (removed > 0) this.changed(removed);
  }

  /**
   * The k nearest by inner product, best first. With `accept`, only accepted ids count: the search widens until it
   * has k of them or has seen everything, switching to an exact scan when the filter is too selective for the ANN
   * candidates (and whenever an IVF index's probed lists run out).
   */
  search(query: Float32Array, k: number, accept?: (id: number) => boolean): Hit[] {
    this.s.assertOpen();
    this.checkQuery(query, k);
    const store = this.s.store;
    const n = store.count;
    const live = store.liveCount;
    if (k === 0 || live === 0) return [];
    const codes = this.flatSearch();
    if (codes) return codes.search(store, [query], k, accept)[0]!;
    if (this.s.ivf && this.s.coarse) return this.listSearch(query, k, accept);
    const q = this.queryBuffer;
    for (let i = 0; i < this.dimension; i++) q[i] = query[i]!;
    let want = accept ? Math.max(2 * k, k + 16) : store.deadCount > 0 ? Math.ceil((k * n) / live) + 8 : k;
    want = Math.min(n, want);
    for (;;) {
      const { distances, labels } = this.s.index.search(q, want);
      const hits: Hit[] = [];
      let valid = 0;
      for (let i = 0; i < want; i++) {
        const label = labels[i]!;
        if (label < 0) break;
        valid++;
        if (store.isDead(label)) continue;
        const id = store.id(label);
        if (accept && !accept(id)) continue;
        hits.push({ id, score: distances[i]! });
        if (hits.length === k) return hits;
      }
      if (valid < want) return this.s.ivf ? this.exactScan(query, k, accept) : hits;
      if (want >= n) return hits;
      if (want >= this.s.tuning.maxWidenK) return this.exactScan(query, k, accept);
      want = Math.min(n, want * 4);
    }
  }

  /**
   * Several queries in one FAISS call (much cheaper per query than single searches for flat indexes; see
   * FLAT_BLAS_QUERIES). With an IVF index FAISS first takes every vector added since its build (IndexState.index): a
   * reference search for benchmarks and tests, not for the hub's requests, which search the coarse lists.
   */
  searchBatch(queries: Float32Array[], k: number): Hit[][] {
    this.s.assertOpen();
    for (const query of queries) this.checkQuery(query, k);
    const store = this.s.store;
    const n = store.count;
    const live = store.liveCount;
    if (queries.length === 0) return [];
    if (k === 0 || live === 0) return queries.map(() => []);
    const codes = queries.length < FLAT_BLAS_QUERIES ? this.flatSearch() : undefined;
    if (codes) return codes.search(store, queries, k);
    const want = Math.min(n, store.deadCount > 0 ? Math.ceil((k * n) / live) + 8 : k);
    const d = this.dimension;
    const padded = !this.s.ivf && queries.length >= PAD_FLAT_BATCH_FROM && queries.length < FLAT_BLAS_QUERIES;
    const flat = padded ? new Array<number>(FLAT_BLAS_QUERIES * d).fill(0) : new Array<number>(queries.length * d);
    queries.forEach((query, qi) => {
      for (let i = 0; i < d; i++) flat[qi * d + i] = query[i]!;
    });
    const { distances, labels } = this.s.index.search(flat, want);
    return queries.map((query, qi) => {
      const hits: Hit[] = [];
      for (let i = qi * want; i < (qi + 1) * want && hits.length < k; i++) {
        const label = labels[i]!;
        if (label < 0) break;
        if (!store.isDead(label)) hits.push({ id: store.id(label), score: distances[i]! });
      }
      return hits.length < Math.min(k, live) ? this.search(query, k) : hits;
    });
  }

  /**
   * For near-duplicate checks: the k nearest of each query among the vectors that are close to it. With an IVF index
   * only the `closeProbeLists` inverted lists nearest each query are scanned (exactly), so neighbours at high
   * similarity are found as search() finds them, far ones may be missed; with a flat index it is searchBatch.
   */
  searchCloseBatch(queries: Float32Array[], k: number): Hit[][] {
    this.s.assertOpen();
    if (!this.s.coarse) return this.searchBatch(queries, k);
    for (const query of queries) this.checkQuery(query, k);
    if (k === 0 || this.s.store.liveCount === 0) return queries.map(() => []);
    return this.s.coarse.search(this.s.store, queries, k, this.s.tuning.closeProbeLists);
  }

  stats(): VectorIndexStats {
    const store = this.s.store;
    const ivf = this.s.ivf;
    const faissBytes = store.count * this.dimension * 4 + (ivf ? store.count * 8 + ivf.nlist * this.dimension * 4 : 0);
    return {
      kind: this.kind,
      size: store.liveCount,
      tombstones: store.deadCount,
      positions: store.count,
      ...(ivf
        ? {
            nlist: ivf.nlist,
            nprobe: ivf.nprobe,
            recall: ivf.recall,
            trainedAt: ivf.trainedAt,
            trainedOn: this.s.builtLive,
            ivfBuild: { description: ivf.description, trainPoints: ivf.trainPoints, trainMs: ivf.trainMs, addMs: ivf.addMs, tuneMs: ivf.tuneMs },
          }
        : {}),
      bytes: faissBytes + store.bytes + (this.s.coarse?.bytes ?? 0),
      generation: this.s.gen.generation,
      building: this.s.build
        ? {
            reason: this.s.build.reason,
            step: this.s.build.step,
            fraction: this.s.build.fraction,
            ...(this.s.build.child?.pid !== undefined ? { pid: this.s.build.child.pid } : {}),
          }
        : null,
      openedFrom: this.s.openedFrom,
    };
  }

  /** The build policy this index runs with (the parts a person configures). */
  tuning(): { ivfThreshold: number; autoBuild: boolean } {
    return { ivfThreshold: this.s.tuning.ivfThreshold, autoBuild: this.s.tuning.autoBuild };
  }

  /** Writes what changed since the last save (appends, then the header). Saves run one at a time. */
  save(): Promise<void> {
    if (this.s.closed) return Promise.resolve();
    return enqueueSave(this.s);
  }

  /** Starts a rebuild now (compaction, and IVF training if large enough) and waits for it. */
  async rebuild(): Promise<void> {
    this.s.assertOpen();
    if (this.s.build) await this.s.build.done;
    if (!this.s.build) startBuild(this.s, 'requested');
    await this.s.build?.done;
  }

  /** Resolves once no build is running and every save has finished (builds started meanwhile included). */
  async whenIdle(): Promise<void> {
    for (;;) {
      const build = this.s.build;
      if (build) await build.done;
      await this.s.saveChain;
      if (!this.s.build && !this.s.saveQueued) return;
    }
  }

  async close(): Promise<void> {
    if (this.s.closing) {
      await this.whenIdle();
      return;
    }
    this.s.closing = true;
    this.s.stopFaiss();
    if (this.s.saveTimer) clearTimeout(this.s.saveTimer);
    this.s.saveTimer = null;
    const build = this.s.build;
    if (build) {
      build.cancelled = true;
      build.child?.cancel();
      await build.done;
    }
    try {
      await enqueueSave(this.s);
    } finally {
      this.s.closed = true;
    }
  }

  /** Counts changes towards the next save, and lets the build policy look at the index again. */
  private changed(count: number): void {
    const s = this.s;
    s.changes += count;
    if (s.closing || s.loading) return;
    scheduleSave(s);
    maybeBuild(s);
  }

  /**
   * An IVF search over the nearest lists (SEARCH_PROBE_FACTOR × nprobe), through their int8 mirror (coarse.ts):
   * FAISS read the probed lists' float vectors (~7,000 × 2 KiB at nprobe 40 and 100,000 vectors: 5-10 ms on a
   * loaded 2-core machine), the mirror reads a quarter of the bytes with WebAssembly SIMD (~1.3 ms), then scores the
   * best 2k (k + 16 at least) exactly: over the same lists, FAISS's hits and scores (the same top 10 and top 50 on
   * the memory bench's 330 questions). Widens for `accept` as the FAISS path does.
   */
  private listSearch(query: Float32Array, k: number, accept?: (id: number) => boolean): Hit[] {
    const { store, coarse, ivf } = this.s;
    let want = Math.min(store.liveCount, accept ? Math.max(2 * k, k + 16) : k);
    for (;;) {
      const probe = Math.min(ivf!.nlist, Math.ceil(ivf!.nprobe * SEARCH_PROBE_FACTOR));
      const found = coarse!.search(store, [query], want, probe, Math.max(want, RESCORE_EXTRA))[0]!;
      const hits = accept ? found.filter((hit) => accept(hit.id)) : found;
      if (hits.length >= k) return hits.slice(0, k);
      // The probed lists held fewer live vectors than wanted, or the filter is too selective for them.
      if (found.length < want || want >= this.s.tuning.maxWidenK) return this.exactScan(query, k, accept);
      if (want >= store.liveCount) return hits;
      want = Math.min(store.liveCount, want * 4);
    }
  }

  /** Exact top-k over live, accepted vectors, in JavaScript (cheap when `accept` is selective). */
  /** The int8 search of a flat index (null without WebAssembly SIMD); undefined for an IVF index, whose codes it drops. */
  private flatSearch(): FlatCodes | null | undefined {
    if (this.s.ivf) return (this.flatCodes = undefined);
    if (this.flatCodes === undefined) this.flatCodes = FlatCodes.create(this.dimension);
    return this.flatCodes;
  }

  private exactScan(query: Float32Array, k: number, accept?: (id: number) => boolean): Hit[] {
    const store = this.s.store;
    const top = new TopK(k);
    for (let pos = 0; pos < store.count; pos++) {
      if (store.isDead(pos)) continue;
      const id = store.id(pos);
      if (accept && !accept(id)) continue;
      top.push(id, dot(query, store.vector(pos)));
    }
    return top.sorted();
  }

  private checkQuery(query: Float32Array, k: number): void {
    if (query.length !== this.dimension) throw new RangeError(`query must have ${this.dimension} dimensions, got ${query.length}`);
    if (!Number.isInteger(k) || k < 0) throw new RangeError(`k must be a non-negative integer, got ${k}`);
  }
}
