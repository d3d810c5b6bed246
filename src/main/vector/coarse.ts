/**
 * The IVF index's coarse partition mirrored in JavaScript: its centroids (in a small exact FAISS index) and, per
 * inverted list, the positions it holds with an int8 copy of their vectors. It answers the question a store asks of
 * every new memory — "is anything almost identical to this already stored?" — by scanning only the few lists
 * nearest the new vector.
 *
 * Why not FAISS's own search: its nprobe is tuned for search recall (24-48 of ~570 lists at 100,000 vectors) and
 * faiss-node cannot lower it per call, so each check scanned 4,000-8,000 vectors (1-2 ms at 100,000, main thread).
 * A vector at cosine >= 0.95 to another almost always falls in one of the eight lists nearest it (the memory bench
 * measures how often). Scanning those lists' float vectors where they lie in the store is memory-bound (random 2 KiB
 * reads, ~0.5 µs each); their int8 codes, kept in list order, are read sequentially at a quarter of the bytes and
 * multiplied with WebAssembly SIMD. The best few are then scored exactly, so callers get true inner products.
 *
 * Positions come from the IVF part files (labels = positions) and, for vectors added after the build, from assigning
 * each to its nearest centroid as it is added. Dead positions stay listed; the scan skips them.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Index } from './faiss';
import { TopK, dot, type Hit } from './exact';
import { flatHeader } from './faiss-format';
import { CODE_ALIGN, Int8DotKernel, int8Dot, quantize } from './simd/dots';
import type { VectorStore } from './store';

/** Candidates scored exactly beyond the k asked for (int8 scores are within ~0.003 of the true ones). */
const RESCORE_EXTRA = 8;
/** Centroids scored exactly beyond the lists asked for (nearestLists). */
const CENTROID_RESCORE_EXTRA = 16;

interface InvertedList {
  size: number;
  positions: Int32Array;
  /** `stride` int8 codes per member, zero-padded. */
  codes: Int8Array;
  scales: Float32Array;
}

export class CoarseLists {
  private readonly lists: InvertedList[];
  /** Bytes per int8 code row: the dimension rounded up to the SIMD width. */
  private readonly stride: number;
  private readonly kernel = Int8DotKernel.create();
  private readonly queryBuffer: number[] = [];
  private readonly queryCodes: Int8Array;
  /** The nearest list of each vector search() was asked about: a store checks a vector, then adds it. */
  private readonly nearestOf = new WeakMap<Float32Array, number>();

  /**
   * The centroids' int8 codes, resident in a kernel of their own (rows 1..nlist; row 0 takes each query), with their
   * scales and float values: a few queries find their nearest lists there (nearestLists) instead of in FAISS, whose
   * flat search of one query over ~570 centroids of 512 floats took 0.3-1 ms of the main thread on every store and
   * search at 100,000 memories. Null without WebAssembly SIMD.
   */
  private readonly centroidCodes: { kernel: Int8DotKernel; scales: Float32Array; values: Float32Array } | null;

  private constructor(
    readonly nlist: number,
    readonly dimension: number,
    private readonly quantizer: Index,
    centroids: Float32Array,
  ) {
    this.stride = Math.ceil(dimension / CODE_ALIGN) * CODE_ALIGN;
    this.queryCodes = new Int8Array(this.stride);
    this.lists = Array.from({ length: nlist }, () => ({ size: 0, positions: new Int32Array(0), codes: new Int8Array(0), scales: new Float32Array(0) }));
    const kernel = this.kernel && Int8DotKernel.create();
    if (kernel) {
      const memory = kernel.reserve(nlist, this.stride);
      const scales = new Float32Array(nlist);
      for (let c = 0; c < nlist; c++) scales[c] = quantize(centroids, c * dimension, dimension, memory, this.stride * (1 + c));
      this.centroidCodes = { kernel, scales, values: centroids };
    } else this.centroidCodes = null;
  }

  /**
   * Lists around `centroids` (nlist × dimension float32). FAISS reads them from a flat index file written for the
   * purpose (at memcpy speed; faiss-node's add converts every float through a JavaScript array, and its fromBuffer
   * never frees its copy).
   */
  static async create(nlist: number, dimension: number, centroids: Uint8Array): Promise<CoarseLists> {
    if (centroids.byteLength !== nlist * dimension * 4) throw new Error(`expected ${nlist} centroids of ${dimension} floats`);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'devenviro-centroids-'));
    try {
      const file = path.join(dir, 'centroids.faiss');
      await writeFile(file, Buffer.concat([flatHeader(dimension, nlist), centroids]));
      // A copy: `centroids` may be a view into a part file's buffer, released after loading.
      const values = new Float32Array(nlist * dimension);
      new Uint8Array(values.buffer).set(centroids);
      return new CoarseLists(nlist, dimension, Index.read(file), values);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Positions held, dead ones included. */
  get size(): number {
    let n = 0;
    for (const list of this.lists) n += list.size;
    return n;
  }

  /** Bytes held (centroids, positions and codes). */
  get bytes(): number {
    let n = this.nlist * this.dimension * 4;
    for (const list of this.lists) n += list.positions.byteLength + list.codes.byteLength + list.scales.byteLength;
    return n;
  }

  /**
   * Records that list `list` holds `positions`, whose vectors are the rows of `vectors` in the same order: float32
   * rows, or their bytes as an IVF part stores them (read in order, where the store would be read at random, ~3x
   * slower at 100,000).
   */
  addToList(list: number, positions: ArrayLike<number>, vectors: Float32Array | Uint8Array): void {
    if (!Number.isInteger(list) || list < 0 || list >= this.nlist) throw new RangeError(`list ${list} out of range`);
    const floats = vectors instanceof Float32Array ? vectors.length : vectors.length / 4;
    if (floats !== positions.length * this.dimension) throw new RangeError(`expected ${positions.length} vectors for list ${list}`);
    const target = this.lists[list]!;
    this.reserve(target, target.size + positions.length);
    if (this.kernel && this.stride === this.dimension) {
      // All rows at once in WebAssembly (~10x the JavaScript loop: this is most of opening a saved IVF index).
      this.kernel.quantizeRows(vectors, positions.length, this.dimension, target.codes, target.size * this.stride, target.scales, target.size);
      target.positions.set(positions, target.size);
      target.size += positions.length;
      return;
    }
    // Without the kernel: floats from bytes (at any alignment) with one copy, then the JavaScript loop.
    const rows = vectors instanceof Float32Array ? vectors : new Float32Array(Uint8Array.from(vectors).buffer);
    for (let i = 0; i < positions.length; i++) this.push(list, positions[i]!, rows, i * this.dimension);
  }

  /**
   * Assigns positions [from, to) of `store` to their nearest lists (the rule FAISS's IVF add uses) and returns the
   * list of each. `vectors`, when given, are those positions' vectors: the ones a search was just asked about reuse
   * the list it found.
   */
  assign(store: VectorStore, from: number, to: number, vectors?: Float32Array[]): Int32Array {
    const lists = new Int32Array(to - from);
    const unknown: number[] = [];
    for (let pos = from; pos < to; pos++) {
      const known = vectors && this.nearestOf.get(vectors[pos - from]!);
      if (known === undefined) unknown.push(pos);
      else lists[pos - from] = known;
    }
    const BATCH = 256;
    for (let start = 0; start < unknown.length; start += BATCH) {
      const batch = unknown.slice(start, start + BATCH);
      const labels = this.nearestLists(batch.map((pos) => store.vector(pos)), 1);
      batch.forEach((pos, i) => (lists[pos - from] = labels[i]!));
    }
    for (let pos = from; pos < to; pos++) this.push(lists[pos - from]!, pos, store.vector(pos));
    return lists;
  }

  /**
   * For each query, the k best live positions (as memory ids and exact inner products) among the `probe` lists
   * whose centroids are nearest it. The best k + `extra` by int8 score are scored exactly.
   */
  search(store: VectorStore, queries: Float32Array[], k: number, probe: number, extra = RESCORE_EXTRA): Hit[][] {
    if (queries.length === 0) return [];
    const d = this.dimension;
    const lists = Math.min(this.nlist, Math.max(1, probe));
    const labels = this.nearestLists(queries, lists);
    // The queries probing each list: a list several queries of the batch probe is read once for all of them.
    const probers = new Map<number, number[]>();
    queries.forEach((query, qi) => {
      for (let j = qi * lists; j < (qi + 1) * lists; j++) {
        const list = labels[j]!;
        if (list < 0) continue;
        const those = probers.get(list);
        if (those) those.push(qi);
        else probers.set(list, [qi]);
      }
      if (labels[qi * lists]! >= 0) this.nearestOf.set(query, labels[qi * lists]!);
    });
    const approx = queries.map(() => new TopK(k + extra));
    if (this.kernel) this.scanBatch(queries, probers, store, approx);
    else {
      queries.forEach((query, qi) => {
        const probed: InvertedList[] = [];
        for (const [list, those] of probers) if (those.includes(qi)) probed.push(this.lists[list]!);
        this.scan(probed, store, quantize(query, 0, d, this.queryCodes, 0), approx[qi]!);
      });
    }
    return queries.map((query, qi) => {
      const exact = new TopK(k);
      for (const { id: pos } of approx[qi]!.sorted()) exact.push(store.id(pos), dot(query, store.vector(pos))); // approx is keyed by position
      return exact.sorted();
    });
  }

  /**
   * The `lists` centroids nearest each query by inner product, best first (queries.length × lists labels, as FAISS's
   * search gives them). Each query is scored against the centroids' int8 codes, and the best `lists` +
   * CENTROID_RESCORE_EXTRA of them again exactly, in float: the lists FAISS's exact search picks (int8 scores are
   * within ~0.003 of the true ones, far less than the spread of a query's centroid scores beyond its nearest few).
   * Batches too: 25-33 µs a query at 283-566 lists, where FAISS's BLAS search of a store's 300 took 42-45 µs a query
   * (faiss-node copying each float of the queries through a JavaScript array). FAISS serves machines without
   * WebAssembly SIMD.
   */
  nearestLists(queries: Float32Array[], lists: number): ArrayLike<number> {
    const d = this.dimension;
    const centroids = this.centroidCodes;
    if (!centroids) {
      const flat = this.queryBuffer;
      flat.length = queries.length * d;
      queries.forEach((query, qi) => {
        for (let i = 0; i < d; i++) flat[qi * d + i] = query[i]!;
      });
      return this.quantizer.search(flat, lists).labels;
    }
    const labels = new Int32Array(queries.length * lists);
    const { kernel, scales, values } = centroids;
    for (const [qi, query] of queries.entries()) {
      const memory = kernel.reserve(this.nlist, this.stride);
      const queryScale = quantize(query, 0, d, memory, 0);
      memory.fill(0, d, this.stride);
      const dots = kernel.dots(this.nlist, this.stride);
      const approx = new TopK(Math.min(this.nlist, lists + CENTROID_RESCORE_EXTRA));
      for (let c = 0; c < this.nlist; c++) approx.push(c, queryScale * scales[c]! * dots[c]!);
      const exact = new TopK(lists);
      for (const { id: c } of approx.sorted()) exact.push(c, dot(query, values.subarray(c * d, (c + 1) * d)));
      exact.sorted().forEach(({ id: c }, j) => (labels[qi * lists + j] = c));
    }
    return labels;
  }

  /**
   * Approximate (int8) scores of the live members of each probed list into the top of each query probing it, in
   * WebAssembly: every query's codes are written once, then each list's codes once, and scored against each of its
   * queries where they lie (a store's batch of a few hundred memories probes most lists several times over; copying
   * the lists per query was most of the check's time).
   */
  private scanBatch(queries: Float32Array[], probers: Map<number, number[]>, store: VectorStore, tops: TopK[]): void {
    const kernel = this.kernel!;
    const stride = this.stride;
    let rows = 0;
    for (const list of probers.keys()) rows = Math.max(rows, this.lists[list]!.size);
    let memory = kernel.reserveMany(queries.length, rows, stride);
    const scales = queries.map((query, qi) => {
      const scale = quantize(query, 0, this.dimension, this.queryCodes, 0);
      memory.set(this.queryCodes, qi * stride);
      return scale;
    });
    memory = kernel.reserveMany(queries.length, rows, stride);
    const listAt = queries.length * stride;
    for (const [index, those] of probers) {
      const list = this.lists[index]!;
      if (list.size === 0) continue;
      memory.set(list.codes.subarray(0, list.size * stride), listAt);
      for (const qi of those) {
        const dots = kernel.dotsOf(qi, queries.length, list.size, stride);
        const top = tops[qi]!;
        const scale = scales[qi]!;
        for (let m = 0; m < list.size; m++) {
          const pos = list.positions[m]!;
          if (!store.isDead(pos)) top.push(pos, scale * list.scales[m]! * dots[m]!);
        }
      }
    }
  }

  /** Approximate (int8) scores of every live member of `probed` into `top`, keyed by position. */
  private scan(probed: InvertedList[], store: VectorStore, queryScale: number, top: TopK): void {
    const stride = this.stride;
    if (!this.kernel) {
      for (const list of probed) {
        for (let m = 0; m < list.size; m++) {
          const pos = list.positions[m]!;
          if (store.isDead(pos)) continue;
          top.push(pos, queryScale * list.scales[m]! * int8Dot(this.queryCodes, 0, list.codes, m * stride, stride));
        }
      }
      return;
    }
    let rows = 0;
    for (const list of probed) rows += list.size;
    const memory = this.kernel.reserve(rows, stride);
    memory.set(this.queryCodes, 0);
    let at = stride;
    for (const list of probed) {
      memory.set(list.codes.subarray(0, list.size * stride), at);
      at += list.size * stride;
    }
    const dots = this.kernel.dots(rows, stride);
    let row = 0;
    for (const list of probed) {
      for (let m = 0; m < list.size; m++, row++) {
        const pos = list.positions[m]!;
        if (!store.isDead(pos)) top.push(pos, queryScale * list.scales[m]! * dots[row]!);
      }
    }
  }

  private push(index: number, pos: number, vector: Float32Array, from = 0): void {
    const list = this.lists[index]!;
    if (list.size === list.positions.length) this.reserve(list, Math.max(8, list.size * 2));
    list.positions[list.size] = pos;
    list.scales[list.size] = quantize(vector, from, this.dimension, list.codes, list.size * this.stride);
    list.size++;
  }

  /** Grows a list's arrays to hold at least `capacity` members. */
  private reserve(list: InvertedList, capacity: number): void {
    if (capacity <= list.positions.length) return;
    const positions = new Int32Array(capacity);
    positions.set(list.positions.subarray(0, list.size));
    const codes = new Int8Array(capacity * this.stride);
    codes.set(list.codes.subarray(0, list.size * this.stride));
    const scales = new Float32Array(capacity);
    scales.set(list.scales.subarray(0, list.size));
    Object.assign(list, { positions, codes, scales });
  }
}
