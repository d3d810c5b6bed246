/**
 * The JavaScript side of the vector index: every vector by position (the FAISS label), the memory id of each
 * position, the tombstones, and id → position. FAISS only searches; this store is what snapshots, saves,
 * compaction and the exact filtered fallback read, so none of them needs to get vectors back out of FAISS (which
 * faiss-node cannot do without a blocking write of the whole index).
 *
 * Vectors live in fixed-size chunks of Float32Array (off the V8 heap), so growing never copies what is stored and
 * a chunk can be handed to an asynchronous file write as it is.
 */

/** Positions per chunk: 4096 × 512-d × 4 bytes = 8 MiB per chunk. */
export const CHUNK_POSITIONS = 4096;
const CHUNK_SHIFT = 12;
const CHUNK_MASK = CHUNK_POSITIONS - 1;

export class VectorStore {
  private readonly chunks: Float32Array[] = [];
  private idArray: Float64Array;
  private deadBits: Uint8Array;
  private positions = 0;
  private dead = 0;
  /** Live memory id → position. */
  readonly idToPos = new Map<number, number>();

  constructor(
    readonly dimension: number,
    capacity = CHUNK_POSITIONS,
  ) {
    const initial = Math.max(16, capacity);
    this.idArray = new Float64Array(initial);
    this.deadBits = new Uint8Array(Math.ceil(initial / 8));
  }

  /** Positions used, dead ones included (= the FAISS index's ntotal). */
  get count(): number {
    return this.positions;
  }

  get deadCount(): number {
    return this.dead;
  }

  get liveCount(): number {
    return this.positions - this.dead;
  }

  /** Bytes held by vectors, ids and tombstones. */
  get bytes(): number {
    return this.chunks.length * CHUNK_POSITIONS * this.dimension * 4 + this.idArray.byteLength + this.deadBits.byteLength;
  }

  /** Appends a vector (copied) for `id` and returns its position. Does not touch idToPos or older positions. */
  append(id: number, vector: ArrayLike<number>, offset = 0): number {
    const pos = this.positions;
    const chunkIndex = pos >>> CHUNK_SHIFT;
    if (chunkIndex === this.chunks.length) this.chunks.push(new Float32Array(CHUNK_POSITIONS * this.dimension));
    if (pos === this.idArray.length) this.grow(pos * 2);
    const chunk = this.chunks[chunkIndex]!;
    const base = (pos & CHUNK_MASK) * this.dimension;
    if (vector instanceof Float32Array) {
      chunk.set(offset === 0 && vector.length === this.dimension ? vector : vector.subarray(offset, offset + this.dimension), base);
    } else {
      for (let i = 0; i < this.dimension; i++) chunk[base + i] = vector[offset + i]!;
    }
    this.idArray[pos] = id;
    this.positions = pos + 1;
    return pos;
  }

  /** A view (not a copy) of the vector at `pos`. */
  vector(pos: number): Float32Array {
    const chunk = this.chunks[pos >>> CHUNK_SHIFT]!;
    const base = (pos & CHUNK_MASK) * this.dimension;
    return chunk.subarray(base, base + this.dimension);
  }

  id(pos: number): number {
    return this.idArray[pos]!;
  }

  isDead(pos: number): boolean {
    return (this.deadBits[pos >>> 3]! & (1 << (pos & 7))) !== 0;
  }

  /** Marks a position dead; returns false if it already was. Does not touch idToPos. */
  kill(pos: number): boolean {
    const byte = pos >>> 3;
    const bit = 1 << (pos & 7);
    if (this.deadBits[byte]! & bit) return false;
    this.deadBits[byte] = this.deadBits[byte]! | bit;
    this.dead++;
    return true;
  }

  /**
   * The bytes of positions [from, to) as views over the chunks (at most one view per chunk), for writing to a file
   * without copying.
   */
  vectorBytes(from: number, to: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    const rowBytes = this.dimension * 4;
    for (let pos = from; pos < to; ) {
      const chunk = this.chunks[pos >>> CHUNK_SHIFT]!;
      const start = pos & CHUNK_MASK;
      const end = Math.min(CHUNK_POSITIONS, start + (to - pos));
      out.push(new Uint8Array(chunk.buffer, chunk.byteOffset + start * rowBytes, (end - start) * rowBytes));
      pos += end - start;
    }
    return out;
  }

  /** The ids of positions [from, to) as little-endian float64 bytes (a copy). */
  idBytes(from: number, to: number): Uint8Array {
    return new Uint8Array(this.idArray.slice(from, to).buffer);
  }

  /** A copy of the tombstone bitmap covering the first `count` positions. */
  deadBitmap(count = this.positions): Uint8Array {
    return this.deadBits.slice(0, Math.ceil(count / 8));
  }

  /**
   * Restores tombstones from a bitmap (as written by deadBitmap) for the positions stored so far; returns how
   * many positions it marked dead.
   */
  loadDeadBitmap(bitmap: Uint8Array): number {
    let marked = 0;
    for (let pos = 0; pos < this.positions; pos++) {
      if ((bitmap[pos >>> 3]! & (1 << (pos & 7))) !== 0 && this.kill(pos)) marked++;
    }
    return marked;
  }

  /** Fills the vectors of positions [from, to) into `out` (a plain array, as faiss-node wants) from index `at`. */
  copyToArray(from: number, to: number, out: number[], at = 0): void {
    const d = this.dimension;
    let o = at;
    for (let pos = from; pos < to; pos++) {
      const chunk = this.chunks[pos >>> CHUNK_SHIFT]!;
      const base = (pos & CHUNK_MASK) * d;
      for (let i = 0; i < d; i++) out[o++] = chunk[base + i]!;
    }
  }

  private grow(capacity: number): void {
    const ids = new Float64Array(capacity);
    ids.set(this.idArray);
    this.idArray = ids;
    const bits = new Uint8Array(Math.ceil(capacity / 8));
    bits.set(this.deadBits);
    this.deadBits = bits;
  }
}
