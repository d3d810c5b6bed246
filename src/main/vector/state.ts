/**
 * The state of one open vector index, shared by the files that work on it (vector-index.ts, load.ts,
 * persistence.ts, background-build.ts): what is in memory (store, FAISS index, coarse mirror), what is on disk
 * (generation), and what is under way (saves, a build). Also the small helpers they all use.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import type { RunningBuild } from './builder';
import type { CoarseLists } from './coarse';
import { ADD_BATCH, Index } from './faiss';
import { METRIC_INNER_PRODUCT } from './faiss-format';
import { IndexFiles, type IvfMeta } from './files';
import { VectorStore } from './store';
import { resolveTuning, type VectorIndexTuning } from './tuning';
import type { VectorIndexEvent, VectorIndexKind, VectorIndexOptions, VectorItem } from './types';

export interface GenerationState {
  generation: number;
  /** Positions durably in this generation's files, and their checksums. */
  count: number;
  vectorsCrc32: number;
  idsCrc32: number;
}

export interface BuildState {
  reason: string;
  step: string;
  fraction: number;
  /** Positions (current numbering) tombstoned since the snapshot was taken. */
  killed: number[];
  cancelled: boolean;
  child: RunningBuild | null;
  done: Promise<void>;
}

export class BuildCancelled extends Error {}

/** How long after the last add FAISS takes the vectors added (see IndexState.index). */
const FAISS_CATCH_UP_MS = 200;

export class IndexState {
  readonly dimension: number;
  readonly modelId: string;
  readonly files: IndexFiles;
  readonly tuning: VectorIndexTuning;
  store: VectorStore;
  /** The FAISS index; positions [faissHas, store.count) are still to be added to it (see `index`). */
  private faiss: Index;
  private faissHas = 0;
  private faissTimer: NodeJS.Timeout | null = null;
  ivf: IvfMeta | null = null;
  /** The IVF index's lists mirrored for near-duplicate checks (null while the index is flat). */
  coarse: CoarseLists | null = null;
  /** Live count the current IVF was built from (the regrow policy compares against it). */
  builtLive = 0;
  gen: GenerationState = { generation: 0, count: 0, vectorsCrc32: 0, idsCrc32: 0 };
  maxGeneration = 0;
  changes = 0;
  committed = false;
  saveChain: Promise<void> = Promise.resolve();
  saveQueued = false;
  saveTimer: NodeJS.Timeout | null = null;
  build: BuildState | null = null;
  buildRetryAt = 0;
  loading = true;
  closing = false;
  closed = false;
  openedFrom: 'disk' | 'loader' = 'loader';

  constructor(readonly options: VectorIndexOptions) {
    this.dimension = options.dimension;
    this.modelId = options.modelId;
    this.files = new IndexFiles(options.dir, options.modelId);
    this.tuning = resolveTuning(options.tuning);
    this.store = new VectorStore(this.dimension);
    this.faiss = newFlatIndex(this.dimension);
  }

  /**
   * The FAISS index, holding every position of the store (labels = positions). New vectors reach it later than the
   * store: searches read the store's vectors through their int8 mirrors (coarse.ts, flat-codes.ts), so a vector is
   * searchable as soon as addItems returns, and FAISS only serves large flat batches (and machines without WebAssembly
   * SIMD). Its add (~0.3-0.5 ms a vector at 100,000: faiss-node copies every float through a JavaScript array, and an IVF
   * add looks for the nearest centroid again) would otherwise sit on every store's reply; deferred, it runs for many
   * vectors at once, after the replies. Reading it here first adds whatever is pending, so no reader sees it behind.
   */
  get index(): Index {
    this.catchUpFaiss();
    return this.faiss;
  }

  /** A new FAISS index (opened, rebuilt or swapped in) holding the store's positions 0..ntotal-1. */
  set index(next: Index) {
    this.faiss = next;
    this.faissHas = next.ntotal();
    if (this.faissHas >= this.store.count && this.faissTimer) {
      clearTimeout(this.faissTimer);
      this.faissTimer = null;
    }
  }

  /** Positions of the store not yet in the FAISS index. */
  get faissPending(): number {
    return this.store.count - this.faissHas;
  }

  /** Adds the pending positions to FAISS now. */
  catchUpFaiss(): void {
    if (this.faissTimer) {
      clearTimeout(this.faissTimer);
      this.faissTimer = null;
    }
    const to = this.store.count;
    if (this.faissHas >= to) return;
    addRange(this.faiss, null, this.store, this.faissHas, to);
    this.faissHas = to;
  }

  /**
   * A flat index's FAISS catches up a moment after the last add, or at once once a full batch is pending: it serves
   * large batch searches. An IVF index is searched through its coarse lists only (search, searchCloseBatch), so its
   * FAISS copy takes pending vectors only when something reads it (searchBatch): during a bulk load its adds (~40% of
   * the main thread's index work per memory at 100,000, faiss-node converting every float through a JavaScript array)
   * mostly never happen, since the next build's index replaces it.
   */
  private scheduleFaiss(): void {
    if (this.coarse) return;
    if (this.faissPending >= ADD_BATCH) this.catchUpFaiss();
    else if (!this.faissTimer && this.faissPending > 0 && !this.closing) {
      this.faissTimer = setTimeout(() => {
        this.faissTimer = null;
        if (!this.closing) this.catchUpFaiss();
      }, FAISS_CATCH_UP_MS);
      this.faissTimer.unref();
    }
  }

  /** Stops the deferred FAISS add (closing: nothing reads the index any more). */
  stopFaiss(): void {
    if (this.faissTimer) clearTimeout(this.faissTimer);
    this.faissTimer = null;
  }

  get kind(): VectorIndexKind {
    return this.ivf ? 'ivf' : 'flat';
  }

  /**
   * Adds vectors (an id already present is replaced); validates everything before changing anything. Returns how
   * many ids changed.
   */
  addItems(items: VectorItem[]): number {
    const latest = new Map<number, Float32Array>();
    for (const item of items) {
      this.checkItem(item);
      latest.delete(item.id);
      latest.set(item.id, item.vector);
    }
    if (latest.size === 0) return 0;
    const first = this.store.count;
    for (const [id, vector] of latest) {
      const old = this.store.idToPos.get(id);
      if (old !== undefined) this.killPosition(old);
      this.store.idToPos.set(id, this.store.append(id, vector));
    }
    // The coarse lists are what an IVF index is searched through: they take the new positions now.
    this.coarse?.assign(this.store, first, this.store.count, [...latest.values()]);
    this.scheduleFaiss();
    return latest.size;
  }

  /** Tombstones the ids present; returns how many were. */
  removeIds(ids: number[]): number {
    let removed = 0;
    for (const id of ids) {
      const pos = this.store.idToPos.get(id);
      if (pos === undefined) continue;
      this.store.idToPos.delete(id);
      this.killPosition(pos);
      removed++;
    }
    return removed;
  }

  killPosition(pos: number): void {
    if (this.store.kill(pos)) this.build?.killed.push(pos);
  }

  checkItem(item: VectorItem): void {
    if (!isValidId(item.id)) throw new RangeError(`memory id must be a positive integer, got ${item.id}`);
    if (!(item.vector instanceof Float32Array) || item.vector.length !== this.dimension) {
      throw new RangeError(`vector for id ${item.id} must be a Float32Array of length ${this.dimension}`);
    }
    for (let i = 0; i < item.vector.length; i++) {
      if (!Number.isFinite(item.vector[i])) throw new RangeError(`vector for id ${item.id} has a non-finite value at ${i}`);
    }
  }

  validItem(item: VectorItem): boolean {
    try {
      this.checkItem(item);
      return true;
    } catch {
      return false;
    }
  }

  assertOpen(): void {
    if (this.closing) throw new Error('the vector index is closed');
  }

  progress(step: string, fraction: number): void {
    this.options.onProgress?.({ step, fraction });
  }

  emit(event: VectorIndexEvent): void {
    if (this.options.onEvent) this.options.onEvent(event);
    else if (event.type === 'build-failed' || event.type === 'save-failed') {
      console.warn(`[vector-index ${this.modelId}] ${event.type}: ${event.error.message}`);
    }
  }
}

export function isValidId(id: number): boolean {
  return Number.isSafeInteger(id) && id > 0;
}

function newFlatIndex(dimension: number): Index {
  return Index.fromFactory(dimension, 'Flat', METRIC_INNER_PRODUCT);
}

/** Live positions below `count`, ascending. */
export function liveSnapshot(store: VectorStore, count: number): Int32Array {
  const out = new Int32Array(count - Math.min(count, store.deadCount));
  let n = 0;
  for (let pos = 0; pos < count; pos++) if (!store.isDead(pos)) out[n++] = pos;
  return out.subarray(0, n);
}

/**
 * Indexes positions [from, to) of `store`. An IVF index's coarse lists assign them their lists (`vectors`: those
 * positions' vectors, whose lists a near-duplicate check may just have found); its FAISS copy takes them only when read
 * (IndexState.index). A flat index (`coarse` null) adds them to FAISS now (labels = positions) with faiss-node's add.
 */
export function addRange(index: Index, coarse: CoarseLists | null, store: VectorStore, from: number, to: number, vectors?: Float32Array[]): void {
  if (coarse) {
    coarse.assign(store, from, to, vectors);
    return;
  }
  const d = store.dimension;
  for (let start = from; start < to; start += ADD_BATCH) {
    const end = Math.min(to, start + ADD_BATCH);
    const values = new Array<number>((end - start) * d);
    store.copyToArray(start, end, values);
    index.add(values);
  }
}

export const tick = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

let gcFunction: (() => void) | null | undefined;
/**
 * FAISS indexes live outside the V8 heap, which does not know their size, so a dropped index can wait long for a
 * major GC. After a swap (rare) we ask for one. Uses global.gc when Node runs with --expose-gc, else the flag set at
 * run time (the way Jest does it).
 */
export function collectGarbage(): void {
  if (gcFunction === undefined) {
    gcFunction = (globalThis as { gc?: () => void }).gc ?? null;
    if (!gcFunction) {
      try {
        v8.setFlagsFromString('--expose-gc');
        gcFunction = vm.runInNewContext('gc') as () => void;
      } catch {
        gcFunction = null;
      }
    }
  }
  gcFunction?.();
}
