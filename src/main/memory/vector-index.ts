/**
 * The memory engine's vector index: one per embedding model, FAISS underneath, keyed by memory id.
 *
 * - Positions: FAISS labels are positions 0, 1, 2, … in insertion order. The store (vector/store.ts) keeps each
 *   position's vector and memory id, tombstones, and id → position. An update is tombstone + append; deletion is a
 *   tombstone (faiss-node's removeIds renumbers flat indexes and aborts the process on HNSW, so it is never used).
 *   Searches oversample to make up for tombstones and widen for `accept` filters.
 * - Kind: exact (IndexFlatIP) while small; past `ivfThreshold` live vectors an IVF-Flat index is trained and filled
 *   in a child process (vector/builder.ts) from a snapshot, while the current index keeps answering. The new index is
 *   then loaded part by part, the vectors added meanwhile are replayed into it, and it is swapped in synchronously.
 *   Every such build also compacts (drops tombstones), and builds are triggered again when the index doubles, when
 *   tombstones pass `compactRatio`, or when it shrinks back below `flatBelow`.
 * - Disk: see vector/files.ts. Saves append and are debounced (`saveDelayMs`, or at once after `saveAfterChanges`),
 *   and happen on close. A missing or damaged index is rebuilt from `loadAll` (SQLite); an index whose live count
 *   differs from `expectedCount` is reconciled against `loadAll` (differences applied; the trained IVF is kept).
 *
 * Everything FAISS does here is synchronous on the calling thread, so each step is kept short: big transfers go
 * through files FAISS reads at memcpy speed (faiss-node's add converts every float through a JS array), long work
 * happens in the child, and the rest is sliced with yields to the event loop.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { ADD_BATCH, Index } from '../vector/faiss';
import { defaultBuildThreads, runIvfBuild, type IvfBuildResult, type RunningBuild } from './vector/builder';
import { CoarseLists, parseIvfPart, type IvfPartContents } from './vector/coarse';
import { TopK, dot, type Hit } from './vector/exact';
import { FLAT_HEADER_BYTES, METRIC_INNER_PRODUCT, flatHeader, parseFlatHeader, parseIvfHeader } from './vector/faiss-format';
import { IndexFiles, crc32, readExactly, writeAt, type IndexHeader, type IvfMeta, type IvfPartMeta } from './vector/files';
import { CHUNK_POSITIONS, VectorStore } from './vector/store';

export type { Hit } from './vector/exact';

export type VectorIndexKind = 'flat' | 'ivf';

export interface VectorItem {
  id: number;
  vector: Float32Array;
}

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
  /** How the IVF index was built (in the child process). */
  ivfBuild?: { description: string; trainPoints: number; trainMs: number; addMs: number; tuneMs: number };
  /** Approximate memory held: FAISS index plus the JS-side copy of the vectors. */
  bytes: number;
  generation: number;
  /** The background build in progress, if any (`pid`: its child process, while training). */
  building: { reason: string; step: string; fraction: number; pid?: number } | null;
  openedFrom: 'disk' | 'loader';
}

interface GenerationState {
  generation: number;
  /** Positions durably in this generation's files, and their checksums. */
  count: number;
  vectorsCrc32: number;
  idsCrc32: number;
}

interface BuildState {
  reason: string;
  step: string;
  fraction: number;
  /** Positions (current numbering) tombstoned since the snapshot was taken. */
  killed: number[];
  cancelled: boolean;
  child: RunningBuild | null;
  done: Promise<void>;
}

class BuildCancelled extends Error {}

/** How long one step of mirroring a loaded IVF part's lists for near-duplicate checks may hold the event loop. */
const MIRROR_STEP_MS = 4;
/** How long one step of a build's catch-up may hold the event loop at first (it doubles if stores outpace it). */
const CATCH_UP_STEP_MS = 8;
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

export class VectorIndex {
  readonly dimension: number;
  readonly modelId: string;
  private readonly files: IndexFiles;
  private readonly tuning: VectorIndexTuning;
  private store: VectorStore;
  private index: Index;
  private ivf: IvfMeta | null = null;
  /** The IVF index's lists mirrored for near-duplicate checks (null while the index is flat). */
  private coarse: CoarseLists | null = null;
  /** Live count the current IVF was built from (the regrow policy compares against it). */
  private builtLive = 0;
  private gen: GenerationState = { generation: 0, count: 0, vectorsCrc32: 0, idsCrc32: 0 };
  private maxGeneration = 0;
  private changes = 0;
  private committed = false;
  private saveChain: Promise<void> = Promise.resolve();
  private saveQueued = false;
  private saveTimer: NodeJS.Timeout | null = null;
  private build: BuildState | null = null;
  private buildRetryAt = 0;
  private loading = true;
  private closing = false;
  private closed = false;
  private openedFrom: 'disk' | 'loader' = 'loader';
  private readonly queryBuffer: number[];

  private constructor(private readonly options: VectorIndexOptions) {
    this.dimension = options.dimension;
    this.modelId = options.modelId;
    this.files = new IndexFiles(options.dir, options.modelId);
    this.tuning = { ...DEFAULT_TUNING, ...options.tuning };
    if (options.tuning?.ivfThreshold !== undefined && options.tuning.flatBelow === undefined) {
      this.tuning.flatBelow = Math.floor(this.tuning.ivfThreshold / 2);
    }
    this.store = new VectorStore(this.dimension);
    this.index = newFlatIndex(this.dimension);
    this.queryBuffer = new Array<number>(this.dimension).fill(0);
  }

  static async open(options: VectorIndexOptions): Promise<VectorIndex> {
    if (!Number.isInteger(options.dimension) || options.dimension <= 0) throw new RangeError(`invalid dimension ${options.dimension}`);
    if (!options.modelId) throw new RangeError('modelId is required');
    await fsp.mkdir(options.dir, { recursive: true });
    const index = new VectorIndex(options);
    await index.load();
    index.loading = false;
    index.maybeBuild();
    return index;
  }

  /** Live vectors. */
  get size(): number {
    return this.store.liveCount;
  }

  get kind(): VectorIndexKind {
    return this.ivf ? 'ivf' : 'flat';
  }

  has(id: number): boolean {
    return this.store.idToPos.has(id);
  }

  /** Adds vectors; an id already present is replaced. Validates everything before changing anything. */
  add(items: VectorItem[]): void {
    this.assertOpen();
    const latest = new Map<number, Float32Array>();
    for (const item of items) {
      this.checkItem(item);
      latest.delete(item.id);
      latest.set(item.id, item.vector);
    }
    if (latest.size === 0) return;
    const first = this.store.count;
    for (const [id, vector] of latest) {
      const old = this.store.idToPos.get(id);
      if (old !== undefined) this.killPosition(old);
      this.store.idToPos.set(id, this.store.append(id, vector));
    }
    addRange(this.index, this.coarse, this.store, first, this.store.count, [...latest.values()]);
    this.changed(latest.size);
  }

  remove(ids: number[]): void {
    this.assertOpen();
    let removed = 0;
    for (const id of ids) {
      const pos = this.store.idToPos.get(id);
      if (pos === undefined) continue;
      this.store.idToPos.delete(id);
      this.killPosition(pos);
      removed++;
    }
    if (removed > 0) this.changed(removed);
  }

  /**
   * The k nearest by inner product, best first. With `accept`, only accepted ids count: the search widens until it
   * has k of them or has seen everything, switching to an exact scan when the filter is too selective for the ANN
   * candidates (and whenever an IVF index's probed lists run out).
   */
  search(query: Float32Array, k: number, accept?: (id: number) => boolean): Hit[] {
    this.assertOpen();
    this.checkQuery(query, k);
    const store = this.store;
    const n = store.count;
    const live = store.liveCount;
    if (k === 0 || live === 0) return [];
    const q = this.queryBuffer;
    for (let i = 0; i < this.dimension; i++) q[i] = query[i]!;
    let want = accept ? Math.max(2 * k, k + 16) : store.deadCount > 0 ? Math.ceil((k * n) / live) + 8 : k;
    want = Math.min(n, want);
    for (;;) {
      const { distances, labels } = this.index.search(q, want);
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
      if (valid < want) return this.ivf ? this.exactScan(query, k, accept) : hits;
      if (want >= n) return hits;
      if (want >= this.tuning.maxWidenK) return this.exactScan(query, k, accept);
      want = Math.min(n, want * 4);
    }
  }

  /** Several queries in one FAISS call (much cheaper per query than single searches for flat indexes). */
  searchBatch(queries: Float32Array[], k: number): Hit[][] {
    this.assertOpen();
    for (const query of queries) this.checkQuery(query, k);
    const store = this.store;
    const n = store.count;
    const live = store.liveCount;
    if (queries.length === 0) return [];
    if (k === 0 || live === 0) return queries.map(() => []);
    const want = Math.min(n, store.deadCount > 0 ? Math.ceil((k * n) / live) + 8 : k);
    const d = this.dimension;
    const flat = new Array<number>(queries.length * d);
    queries.forEach((query, qi) => {
      for (let i = 0; i < d; i++) flat[qi * d + i] = query[i]!;
    });
    const { distances, labels } = this.index.search(flat, want);
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
    this.assertOpen();
    if (!this.coarse) return this.searchBatch(queries, k);
    for (const query of queries) this.checkQuery(query, k);
    if (k === 0 || this.store.liveCount === 0) return queries.map(() => []);
    return this.coarse.search(this.store, queries, k, this.tuning.closeProbeLists);
  }

  stats(): VectorIndexStats {
    const store = this.store;
    const ivf = this.ivf;
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
            ivfBuild: { description: ivf.description, trainPoints: ivf.trainPoints, trainMs: ivf.trainMs, addMs: ivf.addMs, tuneMs: ivf.tuneMs },
          }
        : {}),
      bytes: faissBytes + store.bytes + (this.coarse?.bytes ?? 0),
      generation: this.gen.generation,
      building: this.build
        ? {
            reason: this.build.reason,
            step: this.build.step,
            fraction: this.build.fraction,
            ...(this.build.child?.pid !== undefined ? { pid: this.build.child.pid } : {}),
          }
        : null,
      openedFrom: this.openedFrom,
    };
  }

  /** Writes what changed since the last save (appends, then the header). Saves run one at a time. */
  save(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return this.enqueueSave();
  }

  /** Starts a rebuild now (compaction, and IVF training if large enough) and waits for it. */
  async rebuild(): Promise<void> {
    this.assertOpen();
    if (this.build) await this.build.done;
    if (!this.build) this.startBuild('requested');
    await this.build?.done;
  }

  /** Resolves once no build is running and every save has finished (builds started meanwhile included). */
  async whenIdle(): Promise<void> {
    for (;;) {
      const build = this.build;
      if (build) await build.done;
      await this.saveChain;
      if (!this.build && !this.saveQueued) return;
    }
  }

  async close(): Promise<void> {
    if (this.closing) {
      await this.whenIdle();
      return;
    }
    this.closing = true;
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = null;
    const build = this.build;
    if (build) {
      build.cancelled = true;
      build.child?.cancel();
      await build.done;
    }
    try {
      await this.enqueueSave();
    } finally {
      this.closed = true;
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Opening

  private async load(): Promise<void> {
    const started = performance.now();
    const existing = await this.files.list();
    for (const file of existing) if (file.generation !== null) this.maxGeneration = Math.max(this.maxGeneration, file.generation);
    const read = await this.files.readHeader();
    let reason: string | null = read.header ? null : read.reason;
    if (read.header) {
      this.maxGeneration = Math.max(this.maxGeneration, read.header.generation);
      try {
        await this.loadFromDisk(read.header);
      } catch (error) {
        reason = `saved index unusable: ${(error as Error).message}`;
      }
    }
    let reconciled: { added: number; removed: number } | undefined;
    if (reason === null) {
      this.openedFrom = 'disk';
      if (this.tuning.reconcile === 'always' || this.store.liveCount !== this.options.expectedCount) {
        reconciled = await this.reconcile();
      }
    } else {
      this.openedFrom = 'loader';
      await this.rebuildFromLoader();
    }
    // A failed save is reported (save-failed) but does not stop the index from serving.
    if (!this.committed || this.changes > 0) await this.enqueueSave().catch(() => undefined);
    // Leftovers: older generations, and newer ones from builds a crash or close interrupted.
    await this.files.remove((file) => file.generation === this.gen.generation);
    this.emit({
      type: 'opened',
      source: this.openedFrom,
      ...(reason !== null ? { reason } : {}),
      ms: performance.now() - started,
      ...(reconciled ? { reconciled } : {}),
    });
  }

  private async loadFromDisk(header: IndexHeader): Promise<void> {
    if (header.format !== 1) throw new Error(`unknown format ${header.format}`);
    if (header.modelId !== this.modelId) throw new Error(`header is for model ${header.modelId}`);
    if (header.dimension !== this.dimension) throw new Error(`header dimension ${header.dimension} ≠ ${this.dimension}`);
    const d = this.dimension;
    const count = header.count;
    const generation = header.generation;

    const idBytes = new Uint8Array(count * 8);
    const idHandle = await fsp.open(this.files.ids(generation), 'r');
    try {
      await readExactly(idHandle, idBytes, 0);
    } finally {
      await idHandle.close();
    }
    const idsCrc = crc32(idBytes);
    if (idsCrc !== header.idsCrc32) throw new Error('ids checksum mismatch (damaged)');
    const ids = new Float64Array(idBytes.buffer);
    const dead = Buffer.from(header.dead, 'base64');
    if (dead.length !== Math.ceil(count / 8)) throw new Error('tombstone bitmap has the wrong size');

    // Vectors: the committed prefix, checksummed; trailing bytes (a save that never committed) are cut off.
    const store = new VectorStore(d, count);
    const vectorsFile = this.files.vectors(generation);
    const handle = await fsp.open(vectorsFile, 'r+');
    let vectorsCrc = 0;
    try {
      const head = new Uint8Array(FLAT_HEADER_BYTES);
      await readExactly(handle, head, 0);
      const flat = parseFlatHeader(head);
      if (!flat || flat.dimension !== d) throw new Error('vectors file header damaged');
      const block = new Float32Array(CHUNK_POSITIONS * d);
      for (let pos = 0; pos < count; pos += CHUNK_POSITIONS) {
        const rows = Math.min(CHUNK_POSITIONS, count - pos);
        const bytes = new Uint8Array(block.buffer, 0, rows * d * 4);
        await readExactly(handle, bytes, FLAT_HEADER_BYTES + pos * d * 4);
        vectorsCrc = crc32(bytes, vectorsCrc);
        for (let r = 0; r < rows; r++) store.append(ids[pos + r]!, block, r * d);
        this.progress('read', (pos + rows) / Math.max(1, count));
      }
      if (vectorsCrc !== header.vectorsCrc32) throw new Error('vectors checksum mismatch (damaged)');
      const exact = FLAT_HEADER_BYTES + count * d * 4;
      if (flat.count !== count || (await handle.stat()).size !== exact) {
        await handle.write(flatHeader(d, count), 0, FLAT_HEADER_BYTES, 0);
        await handle.truncate(exact);
        await handle.sync();
      }
    } finally {
      await handle.close();
    }
    store.loadDeadBitmap(dead);
    for (let pos = 0; pos < count; pos++) {
      if (store.isDead(pos)) continue;
      const id = ids[pos]!;
      if (!isValidId(id) || store.idToPos.has(id)) throw new Error(`ids file damaged at position ${pos}`);
      store.idToPos.set(id, pos);
    }
    if (store.liveCount !== header.live) throw new Error('live count does not match the header');

    let index: Index;
    let coarse: CoarseLists | null = null;
    let ivf: IvfMeta | null = header.ivf;
    let replayFrom: number;
    if (ivf) {
      try {
        ({ index, coarse } = await this.loadIvfParts(ivf, store));
        replayFrom = ivf.covered;
      } catch (error) {
        // The vectors are fine: serve exactly now, and the build policy retrains in the background.
        this.emit({ type: 'build-failed', error: new Error(`saved IVF index unusable (${(error as Error).message}); using flat`) });
        ivf = null;
        coarse = null;
        index = Index.read(vectorsFile);
        replayFrom = count;
      }
    } else {
      index = Index.read(vectorsFile);
      replayFrom = count;
    }
    for (let pos = replayFrom; pos < count; pos += ADD_BATCH) {
      addRange(index, coarse, store, pos, Math.min(count, pos + ADD_BATCH));
      this.progress('index', (pos - replayFrom) / Math.max(1, count - replayFrom));
      await tick();
    }
    if (index.ntotal() !== count) throw new Error(`index holds ${index.ntotal()} vectors, expected ${count}`);

    this.store = store;
    this.index = index;
    this.ivf = ivf;
    this.coarse = coarse;
    this.builtLive = ivf ? ivf.covered : 0;
    this.gen = { generation, count, vectorsCrc32: vectorsCrc, idsCrc32: idsCrc };
    this.committed = ivf === header.ivf;
  }

  private async loadIvfParts(ivf: IvfMeta, store: VectorStore): Promise<{ index: Index; coarse: CoarseLists }> {
    const loaded: LoadedParts = { index: null, coarse: null };
    let covered = 0;
    let nextList = 0;
    for (const [i, part] of ivf.parts.entries()) {
      if (part.firstList !== nextList || part.endList <= part.firstList) throw new Error(`${part.file} holds lists out of order`);
      nextList = part.endList;
      const file = path.join(this.options.dir, part.file);
      const bytes = await readPart(file, part, ivf, this.dimension);
      const lists = await loadPart(loaded, file, bytes, store, ivf.nlist);
      await mirrorLists(loaded.coarse!, lists, bytes);
      covered += part.count;
      this.progress('index', (i + 1) / ivf.parts.length);
      await this.releasePart();
    }
    if (!loaded.index || !loaded.coarse || covered !== ivf.covered || nextList !== ivf.nlist) throw new Error('IVF parts do not cover the header');
    return { index: loaded.index, coarse: loaded.coarse };
  }

  /** Fills the index from loadAll (SQLite), into a new generation. */
  private async rebuildFromLoader(): Promise<void> {
    const d = this.dimension;
    const expected = Math.max(1, this.options.expectedCount);
    const store = new VectorStore(d, this.options.expectedCount);
    let seen = 0;
    for (const item of this.options.loadAll()) {
      if (!this.validItem(item)) continue;
      const old = store.idToPos.get(item.id);
      if (old !== undefined) store.kill(old);
      store.idToPos.set(item.id, store.append(item.id, item.vector));
      if (++seen % 8192 === 0) this.progress('load', Math.min(1, seen / expected));
    }
    this.progress('load', 1);
    const generation = ++this.maxGeneration;
    const live = liveSnapshot(store, store.count);
    const { store: compacted, vectorsCrc32, idsCrc32 } = await this.writeGeneration(generation, store, live, null);
    this.store = compacted;
    this.index = Index.read(this.files.vectors(generation));
    this.ivf = null;
    this.coarse = null;
    this.builtLive = 0;
    this.gen = { generation, count: compacted.count, vectorsCrc32, idsCrc32 };
    this.committed = false;
  }

  /** Applies to the loaded index whatever differs from loadAll. */
  private async reconcile(): Promise<{ added: number; removed: number }> {
    const seen = new Set<number>();
    const toAdd: VectorItem[] = [];
    let n = 0;
    const expected = Math.max(1, this.options.expectedCount);
    for (const item of this.options.loadAll()) {
      if (!this.validItem(item)) continue;
      seen.add(item.id);
      const pos = this.store.idToPos.get(item.id);
      if (pos === undefined || !sameVector(this.store.vector(pos), item.vector)) toAdd.push({ id: item.id, vector: Float32Array.from(item.vector) });
      if (++n % 8192 === 0) this.progress('reconcile', Math.min(1, n / expected));
    }
    const toRemove: number[] = [];
    for (const id of this.store.idToPos.keys()) if (!seen.has(id)) toRemove.push(id);
    this.remove(toRemove);
    for (let i = 0; i < toAdd.length; i += ADD_BATCH) {
      this.add(toAdd.slice(i, i + ADD_BATCH));
      if (i % (ADD_BATCH * 16) === 0) await tick();
    }
    this.progress('reconcile', 1);
    return { added: toAdd.length, removed: toRemove.length };
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Background builds (IVF training, compaction)

  private maybeBuild(): void {
    if (this.loading || this.closing || this.build || !this.tuning.autoBuild || Date.now() < this.buildRetryAt) return;
    const reason = this.buildReason();
    if (reason) this.startBuild(reason);
  }

  private buildReason(): string | null {
    const t = this.tuning;
    const store = this.store;
    const live = store.liveCount;
    if (!this.ivf && live >= t.ivfThreshold) return 'grow';
    if (this.ivf && live < t.flatBelow) return 'shrink';
    if (this.ivf && live >= t.regrowFactor * this.builtLive) return 'regrow';
    if (store.deadCount >= t.minCompactDead && store.deadCount >= t.compactRatio * store.count) return 'compact';
    return null;
  }

  private startBuild(reason: string): void {
    const state: BuildState = { reason, step: 'snapshot', fraction: 0, killed: [], cancelled: false, child: null, done: Promise.resolve() };
    this.build = state;
    state.done = this.runBuild(state).then(
      () => {
        if (this.build === state) this.build = null;
        // The old index and store are unreachable once runBuild's frame is gone: release their memory now.
        if (this.tuning.releaseMemory) setImmediate(collectGarbage);
        this.maybeBuild();
      },
      (error: unknown) => {
        if (this.build === state) this.build = null;
        if (error instanceof BuildCancelled || state.cancelled) return;
        this.buildRetryAt = Date.now() + this.tuning.buildRetryMs;
        this.emit({ type: 'build-failed', error: error instanceof Error ? error : new Error(String(error)) });
      },
    );
  }

  private async runBuild(state: BuildState): Promise<void> {
    const started = performance.now();
    const t = this.tuning;
    const oldStore = this.store;
    const snapshotCount = oldStore.count;
    const live = liveSnapshot(oldStore, snapshotCount);
    const target: VectorIndexKind = live.length >= (this.ivf ? t.flatBelow : t.ivfThreshold) && live.length >= 64 ? 'ivf' : 'flat';
    this.emit({ type: 'build-started', reason: state.reason, target, live: live.length });
    const generation = ++this.maxGeneration;
    const check = () => {
      if (state.cancelled || this.closing) throw new BuildCancelled('build cancelled');
    };
    const step = (name: string, fraction: number) => {
      state.step = name;
      state.fraction = fraction;
      this.progress(`build:${name}`, fraction);
    };
    let newIndex: Index | null = null;
    let newCoarse: CoarseLists | null = null;
    let swapped = false;
    let longest = 0;
    const blocking = <T>(fn: () => T): T => {
      const t0 = performance.now();
      try {
        return fn();
      } finally {
        longest = Math.max(longest, performance.now() - t0);
      }
    };
    try {
      const written = await this.writeGeneration(generation, oldStore, live, (f, ms) => {
        longest = Math.max(longest, ms);
        check();
        step('snapshot', f);
      });
      const newStore = written.store;
      check();
      let ivf: IvfMeta | null = null;
      if (target === 'ivf') {
        const n = live.length;
        const nlist = Math.max(4, Math.min(65_536, Math.round(t.nlistFactor * Math.sqrt(n)), Math.floor(n / 8)));
        const description = nlist >= t.hnswQuantizerFrom ? `IVF${nlist}_HNSW32,Flat` : `IVF${nlist},Flat`;
        const child = runIvfBuild(
          {
            vectorsFile: this.files.vectors(generation),
            count: n,
            dimension: this.dimension,
            nlist,
            description,
            trainPoints: Math.min(t.maxTrainPoints, t.trainPointsPerList * nlist),
            partBytes: t.partBytes,
            outPrefix: this.files.ivfPrefix(generation),
            targetRecall: t.targetRecall,
            maxNprobe: t.maxNprobe,
            tuneQueries: t.tuneQueries,
            seed: generation,
          },
          { threads: t.buildThreads, niceness: t.buildNiceness, onProgress: (name, fraction) => step(name, fraction) },
        );
        state.child = child;
        if (state.cancelled) child.cancel();
        const result: IvfBuildResult = await child.result;
        state.child = null;
        check();
        ivf = {
          description,
          nlist: result.nlist,
          nprobe: result.nprobe,
          recall: result.recall,
          covered: n,
          parts: result.parts.map((p) => ({ ...p, file: path.basename(p.file) })),
          trainedAt: new Date().toISOString(),
          trainPoints: result.trainPoints,
          trainMs: result.trainMs,
          addMs: result.addMs,
          tuneMs: result.tuneMs,
        };
        const loaded: LoadedParts = { index: null, coarse: null };
        for (const [i, part] of result.parts.entries()) {
          const bytes = await readPart(part.file, part, ivf, this.dimension);
          const lists = await loadPart(loaded, part.file, bytes, newStore, ivf!.nlist, blocking);
          await mirrorLists(loaded.coarse!, lists, bytes, (ms) => (longest = Math.max(longest, ms)));
          check();
          step('load', (i + 1) / result.parts.length);
          await this.releasePart();
          check();
        }
        newIndex = loaded.index;
        newCoarse = loaded.coarse;
      } else {
        newIndex = blocking(() => Index.read(this.files.vectors(generation)));
      }
      if (!newIndex || newIndex.ntotal() !== live.length) throw new Error(`built index holds ${newIndex?.ntotal()} vectors, expected ${live.length}`);

      // Catch up with what was added meanwhile: in slices while there is much, then the rest and the swap at once.
      // (When nothing was compacted the store is the same object: positions, tombstones and ids already agree, and
      // only the index needs the positions added since the snapshot, dead or not, to keep labels = positions.)
      const reused = newStore === oldStore;
      const replayed: number[] = [];
      const catchUp = (from: number, to: number) => {
        const first = reused ? from : newStore.count;
        if (!reused) replay(oldStore, newStore, from, to, replayed);
        addRange(newIndex!, newCoarse, newStore, first, reused ? to : newStore.count);
      };
      // Each step runs for a time budget between yields; when stores add faster than a step catches up, the budget
      // doubles, so the catch-up always converges (a fixed slice per yield never did under sustained load). Once a
      // step leaves little behind, the rest and the swap follow without yielding, before more can arrive.
      let cursor = snapshotCount;
      let budgetMs = CATCH_UP_STEP_MS;
      let behind = Infinity;
      const littleLeft = () => oldStore.count - cursor <= ADD_BATCH * 4;
      while (!littleLeft()) {
        blocking(() => {
          const started = performance.now();
          do {
            catchUp(cursor, cursor + ADD_BATCH);
            cursor += ADD_BATCH;
          } while (!littleLeft() && performance.now() - started < budgetMs);
        });
        if (littleLeft()) break;
        if (oldStore.count - cursor >= behind) budgetMs *= 2;
        behind = oldStore.count - cursor;
        step('catch-up', 0);
        await tick();
        check();
      }
      const swapStarted = performance.now();
      catchUp(cursor, oldStore.count);
      if (!reused) {
        const oldToNew = new Int32Array(snapshotCount).fill(-1);
        live.forEach((oldPos, newPos) => (oldToNew[oldPos] = newPos));
        for (const oldPos of state.killed) {
          const newPos = oldPos < snapshotCount ? oldToNew[oldPos]! : replayed[oldPos - snapshotCount]!;
          if (newPos < 0 || !newStore.kill(newPos)) continue;
          const id = newStore.id(newPos);
          if (newStore.idToPos.get(id) === newPos) newStore.idToPos.delete(id);
        }
      }
      this.store = newStore;
      this.index = newIndex;
      this.ivf = ivf;
      this.coarse = newCoarse;
      this.builtLive = ivf ? live.length : 0;
      this.gen = { generation, count: live.length, vectorsCrc32: written.vectorsCrc32, idsCrc32: written.idsCrc32 };
      this.committed = false;
      swapped = true;
      longest = Math.max(longest, performance.now() - swapStarted);
      this.emit({
        type: 'build-finished',
        kind: this.kind,
        ms: performance.now() - started,
        live: newStore.liveCount,
        ...(ivf ? { nlist: ivf.nlist, nprobe: ivf.nprobe, recall: ivf.recall } : {}),
        longestBlockMs: longest,
      });
    } catch (error) {
      if (!swapped) await this.files.remove((file) => file.generation !== generation);
      throw error;
    }
    // Committing the new generation also deletes the old one's files (save-failed is reported by the save itself).
    this.changes++;
    await this.enqueueSave().catch(() => undefined);
  }

  /**
   * Writes positions `live` of `from` as generation `generation`'s vectors and ids files, and returns a store
   * holding exactly them (positions 0..live.length-1, in order). When `live` is every position from 0 (nothing to
   * compact), `from` itself is written and returned: no copy (2 GiB saved at 1M vectors).
   */
  private async writeGeneration(
    generation: number,
    from: VectorStore,
    live: Int32Array,
    onSlice: ((fraction: number, syncMs: number) => void) | null,
  ): Promise<{ store: VectorStore; vectorsCrc32: number; idsCrc32: number }> {
    const d = this.dimension;
    const reuse = live.length === 0 || live[live.length - 1] === live.length - 1;
    const store = reuse ? from : new VectorStore(d, live.length);
    const vectors = await fsp.open(this.files.vectors(generation), 'w');
    const ids = await fsp.open(this.files.ids(generation), 'w');
    let vectorsCrc32 = 0;
    let idsCrc32 = 0;
    try {
      await writeAt(vectors, 0, [flatHeader(d, live.length)], 0);
      for (let start = 0; start < live.length; start += CHUNK_POSITIONS) {
        const end = Math.min(live.length, start + CHUNK_POSITIONS);
        const copyStarted = performance.now();
        if (!reuse) {
          for (let i = start; i < end; i++) {
            const oldPos = live[i]!;
            const id = from.id(oldPos);
            store.idToPos.set(id, store.append(id, from.vector(oldPos)));
          }
        }
        const copyMs = performance.now() - copyStarted;
        vectorsCrc32 = await writeAt(vectors, FLAT_HEADER_BYTES + start * d * 4, store.vectorBytes(start, end), vectorsCrc32);
        idsCrc32 = await writeAt(ids, start * 8, [store.idBytes(start, end)], idsCrc32);
        onSlice?.(end / Math.max(1, live.length), copyMs);
      }
      await vectors.sync();
      await ids.sync();
    } finally {
      await vectors.close();
      await ids.close();
    }
    return { store, vectorsCrc32, idsCrc32 };
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Saving

  private changed(count: number): void {
    this.changes += count;
    if (this.closing || this.loading) return;
    if (this.changes >= this.tuning.saveAfterChanges) {
      if (!this.saveQueued) void this.enqueueSave().catch(() => undefined);
    } else if (!this.saveTimer) {
      this.saveTimer = setTimeout(() => {
        this.saveTimer = null;
        void this.enqueueSave().catch(() => undefined);
      }, this.tuning.saveDelayMs);
      this.saveTimer.unref();
    }
    this.maybeBuild();
  }

  private enqueueSave(): Promise<void> {
    if (this.saveQueued) return this.saveChain;
    this.saveQueued = true;
    const run = this.saveChain.then(async () => {
      this.saveQueued = false;
      await this.saveNow();
    });
    this.saveChain = run.catch((error: unknown) => {
      this.emit({ type: 'save-failed', error: error instanceof Error ? error : new Error(String(error)) });
    });
    return run;
  }

  private async saveNow(): Promise<void> {
    if (this.committed && this.changes === 0) return;
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      this.saveTimer = null;
    }
    const started = performance.now();
    // Everything captured now; positions below `count` never change, so the slow writes below can run while
    // requests keep changing the index (even swapping it: `gen` is this generation's record).
    const store = this.store;
    const gen = this.gen;
    const ivf = this.ivf;
    const count = store.count;
    const dead = Buffer.from(store.deadBitmap(count)).toString('base64');
    const live = store.liveCount;
    const changes = this.changes;
    const d = this.dimension;
    if (count > gen.count) {
      const vectors = await fsp.open(this.files.vectors(gen.generation), 'r+');
      const ids = await fsp.open(this.files.ids(gen.generation), 'r+');
      try {
        const vectorsCrc32 = await writeAt(vectors, FLAT_HEADER_BYTES + gen.count * d * 4, store.vectorBytes(gen.count, count), gen.vectorsCrc32);
        const idsCrc32 = await writeAt(ids, gen.count * 8, [store.idBytes(gen.count, count)], gen.idsCrc32);
        await writeAt(vectors, 0, [flatHeader(d, count)], 0);
        await vectors.sync();
        await ids.sync();
        gen.count = count;
        gen.vectorsCrc32 = vectorsCrc32;
        gen.idsCrc32 = idsCrc32;
      } finally {
        await vectors.close();
        await ids.close();
      }
    }
    await this.files.writeHeader({
      format: 1,
      modelId: this.modelId,
      dimension: d,
      generation: gen.generation,
      count,
      live,
      vectorsCrc32: gen.vectorsCrc32,
      idsCrc32: gen.idsCrc32,
      dead,
      ivf,
      savedAt: new Date().toISOString(),
    });
    if (this.gen === gen) {
      this.changes -= changes;
      this.committed = true;
    }
    // Older generations are unreferenced now; a build in progress writes a newer one, which stays.
    await this.files.remove((file) => file.generation === null || file.generation >= gen.generation);
    this.emit({ type: 'saved', ms: performance.now() - started, positions: count });
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Helpers

  /**
   * After merging a part: the part's index object still holds its (now empty) lists' memory until it is collected,
   * so collect now rather than holding a second copy of the whole index by the end. Then yield.
   */
  private async releasePart(): Promise<void> {
    if (this.tuning.releaseMemory) collectGarbage();
    await tick();
  }

  private killPosition(pos: number): void {
    if (this.store.kill(pos)) this.build?.killed.push(pos);
  }

  /** Exact top-k over live, accepted vectors, in JavaScript (cheap when `accept` is selective). */
  private exactScan(query: Float32Array, k: number, accept?: (id: number) => boolean): Hit[] {
    const store = this.store;
    const top = new TopK(k);
    for (let pos = 0; pos < store.count; pos++) {
      if (store.isDead(pos)) continue;
      const id = store.id(pos);
      if (accept && !accept(id)) continue;
      top.push(id, dot(query, store.vector(pos)));
    }
    return top.sorted();
  }

  private checkItem(item: VectorItem): void {
    if (!isValidId(item.id)) throw new RangeError(`memory id must be a positive integer, got ${item.id}`);
    if (!(item.vector instanceof Float32Array) || item.vector.length !== this.dimension) {
      throw new RangeError(`vector for id ${item.id} must be a Float32Array of length ${this.dimension}`);
    }
    for (let i = 0; i < item.vector.length; i++) {
      if (!Number.isFinite(item.vector[i])) throw new RangeError(`vector for id ${item.id} has a non-finite value at ${i}`);
    }
  }

  private validItem(item: VectorItem): boolean {
    try {
      this.checkItem(item);
      return true;
    } catch {
      return false;
    }
  }

  private checkQuery(query: Float32Array, k: number): void {
    if (query.length !== this.dimension) throw new RangeError(`query must have ${this.dimension} dimensions, got ${query.length}`);
    if (!Number.isInteger(k) || k < 0) throw new RangeError(`k must be a non-negative integer, got ${k}`);
  }

  private assertOpen(): void {
    if (this.closing) throw new Error('the vector index is closed');
  }

  private progress(step: string, fraction: number): void {
    this.options.onProgress?.({ step, fraction });
  }

  private emit(event: VectorIndexEvent): void {
    if (this.options.onEvent) this.options.onEvent(event);
    else if (event.type === 'build-failed' || event.type === 'save-failed') {
      console.warn(`[vector-index ${this.modelId}] ${event.type}: ${event.error.message}`);
    }
  }
}

/** Reads an IVF part file whole and checks it against its record (checksum, size, counts). */
async function readPart(file: string, part: IvfPartMeta, ivf: Pick<IvfMeta, 'nlist' | 'nprobe'>, dimension: number): Promise<Buffer> {
  const name = path.basename(file);
  const bytes = await fsp.readFile(file);
  if (bytes.length !== part.bytes || crc32(bytes) !== part.crc32) throw new Error(`${name} checksum mismatch (damaged)`);
  const head = parseIvfHeader(bytes);
  if (!head || head.dimension !== dimension || head.ntotal !== part.count || head.nlist !== ivf.nlist || head.nprobe !== ivf.nprobe) {
    throw new Error(`${name} does not match the header`);
  }
  return bytes;
}

interface LoadedParts {
  index: Index | null;
  coarse: CoarseLists | null;
}

/**
 * Merges a part into the index being assembled (or makes it the index), makes the coarse mirror from the first part's
 * centroids, and returns the part's lists for mirrorLists. FAISS reads the part from its file: faiss-node's fromBuffer
 * copies the bytes twice and never frees one copy. The part's own index object is left unreferenced.
 */
async function loadPart(
  loaded: LoadedParts,
  file: string,
  bytes: Buffer,
  store: VectorStore,
  nlist: number,
  blocking: <T>(fn: () => T) => T = (fn) => fn(),
): Promise<IvfPartContents['lists']> {
  const contents = parseIvfPart(bytes, nlist, store.dimension);
  loaded.coarse ??= await CoarseLists.create(nlist, store.dimension, contents.centroids);
  blocking(() => {
    const part = Index.read(file);
    if (!loaded.index) loaded.index = part;
    else loaded.index.mergeFrom(part);
  });
  return contents.lists;
}

/**
 * Records a part's lists in the coarse mirror (quantising each vector), yielding to the event loop every few
 * milliseconds: a whole part at once (~8,000 vectors) held it for ~60 ms. `onStep` hears how long each step ran.
 */
async function mirrorLists(coarse: CoarseLists, lists: IvfPartContents['lists'], part: Buffer, onStep?: (ms: number) => void): Promise<void> {
  await tick(); // the part was just merged, synchronously: let the event loop run first
  let started = performance.now();
  for (const { list, positions, vectorsAt } of lists) {
    coarse.addToList(list, positions, part.subarray(vectorsAt, vectorsAt + positions.length * coarse.dimension * 4));
    const ran = performance.now() - started;
    if (ran >= MIRROR_STEP_MS) {
      onStep?.(ran);
      await tick();
      started = performance.now();
    }
  }
  onStep?.(performance.now() - started);
}

function isValidId(id: number): boolean {
  return Number.isSafeInteger(id) && id > 0;
}

function newFlatIndex(dimension: number): Index {
  return Index.fromFactory(dimension, 'Flat', METRIC_INNER_PRODUCT);
}

/** Live positions below `count`, ascending. */
function liveSnapshot(store: VectorStore, count: number): Int32Array {
  const out = new Int32Array(count - Math.min(count, store.deadCount));
  let n = 0;
  for (let pos = 0; pos < count; pos++) if (!store.isDead(pos)) out[n++] = pos;
  return out.subarray(0, n);
}

/**
 * Adds positions [from, to) of `store` to `index` (labels = positions) with faiss-node's add, after `coarse` (if the
 * index is IVF) has assigned them their lists (`vectors`: those positions' vectors, whose lists a near-duplicate check
 * may just have found).
 */
function addRange(index: Index, coarse: CoarseLists | null, store: VectorStore, from: number, to: number, vectors?: Float32Array[]): void {
  coarse?.assign(store, from, to, vectors);
  const d = store.dimension;
  for (let start = from; start < to; start += ADD_BATCH) {
    const end = Math.min(to, start + ADD_BATCH);
    const values = new Array<number>((end - start) * d);
    store.copyToArray(start, end, values);
    index.add(values);
  }
}

/** Copies live positions [from, to) of `oldStore` into `newStore`; records old → new in `map`. */
function replay(oldStore: VectorStore, newStore: VectorStore, from: number, to: number, map: number[]): void {
  for (let pos = from; pos < to; pos++) {
    if (oldStore.isDead(pos)) {
      map.push(-1);
      continue;
    }
    const id = oldStore.id(pos);
    const newPos = newStore.append(id, oldStore.vector(pos));
    newStore.idToPos.set(id, newPos);
    map.push(newPos);
  }
}

function sameVector(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

let gcFunction: (() => void) | null | undefined;
/**
 * FAISS indexes live outside the V8 heap, which does not know their size, so a dropped index can wait long for a
 * major GC. After a swap (rare) we ask for one. Uses global.gc when Node runs with --expose-gc, else the flag set at
 * run time (the way Jest does it).
 */
function collectGarbage(): void {
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
