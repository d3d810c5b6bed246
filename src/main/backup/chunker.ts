/**
 * Content-defined chunking: FastCDC as described by Xia et al. in 2020 ("The Design of Fast Content-Defined Chunking
 * for Data Deduplication Based Storage Systems"), with the Gear table, the mask values, normalised chunking (level 1)
 * and the "roll two bytes each time" step of the reference implementations, so the cut points are those of the
 * `fastcdc` Rust crate's v2020 module for the same sizes (test/backup/chunker.test.ts checks the crate's published
 * Gear table and all-zeros vector, and compares cut points and hashes with a 64-bit transcription of its `cut()`).
 *
 * A cut point depends only on the bytes just before it, so an edit inside a large file moves the boundaries of the
 * chunks around the edit and no others: the chunks before and after it are the same as last time and are not stored
 * again. JavaScript has no 64-bit integer arithmetic short of BigInt (far too slow per byte), so the hot loop keeps
 * the low 52 bits of the 64-bit Gear hash (all the masks look at) as two 26-bit halves; the full 64-bit hash of a
 * cut is computed from its last 64 bytes when asked for.
 */
import { createHash } from 'node:crypto';

export interface ChunkSizes {
  /** No chunk is shorter (except a file's last one); no cut point is looked for before it. */
  min: number;
  /** The chunk size the masks aim at. */
  avg: number;
  /** No chunk is longer. */
  max: number;
}

/** What backups use: 64 KiB to 1 MiB, about 256 KiB on average (a 1 MB edit stores about 1.5 MB again). */
export const BACKUP_CHUNK_SIZES: ChunkSizes = Object.freeze({ min: 64 * 1024, avg: 256 * 1024, max: 1024 * 1024 });

/**
 * The masks for each number of bits (index), spread over the hash as the paper recommends: the values of the C
 * reference implementation (destor) up to 128 KiB and of restic-FastCDC above, as the Rust crate has them.
 */
const MASKS: readonly bigint[] = [
  0n, 0n, 0n, 0n, 0n,
  0x0000000001804110n, 0x0000000001803110n, 0x0000000018035100n, 0x0000001800035300n, 0x0000019000353000n,
  0x0000590003530000n, 0x0000d90003530000n, 0x0000d90103530000n, 0x0000d90303530000n, 0x0000d90313530000n,
  0x0000d90f03530000n, 0x0000d90303537000n, 0x0000d90703537000n, 0x0000d90707537000n, 0x0000d91707537000n,
  0x0000d91747537000n, 0x0000d91767537000n, 0x0000d93767537000n, 0x0000d93777537000n, 0x0000d93777577000n,
  0x0000db3777577000n,
];

/**
 * The Gear table: for each byte value b, the first 8 bytes (big-endian) of the MD5 digest of 64 bytes of value b —
 * how the reference implementations made theirs, so computing it here gives the very same numbers.
 */
const GEAR: readonly bigint[] = Array.from({ length: 256 }, (_, b) => createHash('md5').update(Buffer.alloc(64, b)).digest().readBigUInt64BE(0));

/**
 * The hot loop keeps the low 52 bits of the 64-bit hash (every mask lies in the low 49) as two 26-bit halves: small
 * integers V8 computes with directly (unsigned 32-bit halves would turn into floating point, five times slower).
 * GEAR_LS is the table shifted left by one bit, for the first of the two bytes rolled per step.
 */
const LIMB = 26;
const LIMB_MASK = (1 << LIMB) - 1;
const limbs = (value: bigint): [number, number] => [Number(value & BigInt(LIMB_MASK)), Number((value >> BigInt(LIMB)) & BigInt(LIMB_MASK))];
const GEAR_LO = new Int32Array(256);
const GEAR_HI = new Int32Array(256);
const GEAR_LS_LO = new Int32Array(256);
const GEAR_LS_HI = new Int32Array(256);
for (let b = 0; b < 256; b++) {
  [GEAR_LO[b], GEAR_HI[b]] = limbs(GEAR[b]!);
  [GEAR_LS_LO[b], GEAR_LS_HI[b]] = limbs(GEAR[b]! << 1n);
}
const U64 = (1n << 64n) - 1n;

/** The Gear table entry for a byte value, as the 64-bit number the reference implementations list. */
export function gearValue(byte: number): bigint {
  return GEAR[byte]!;
}

export interface Cut {
  /** Bytes from the start of the chunk to the cut point. */
  length: number;
  /**
   * The 64-bit Gear hash at the cut point (0 for a chunk shorter than the minimum), as the reference implementations
   * report it: each hashed byte's table entry shifted left by its distance from the last step's end, summed mod 2^64.
   */
  hash(): bigint;
}

interface Mask {
  hi: number;
  lo: number;
}

const split = (value: bigint): Mask => {
  if (value >> BigInt(2 * LIMB) !== 0n) throw new RangeError('mask beyond the bits the chunker keeps');
  const [lo, hi] = limbs(value);
  return { hi, lo };
};

/** FastCDC (2020) over chunk sizes; `cut` finds the next cut point in a buffer. */
export class FastCdc {
  readonly sizes: ChunkSizes;
  private readonly maskS: Mask;
  private readonly maskL: Mask;
  private readonly maskSLs: Mask;
  private readonly maskLLs: Mask;

  constructor(sizes: ChunkSizes = BACKUP_CHUNK_SIZES, normalization: 0 | 1 | 2 | 3 = 1) {
    const { min, avg, max } = sizes;
    if (!(min >= 64 && min <= 1 << 20 && avg >= 256 && avg <= 1 << 22 && max >= 1024 && max <= 1 << 24 && min <= avg && avg <= max)) {
      throw new RangeError(`chunk sizes out of range: ${min}/${avg}/${max}`);
    }
    this.sizes = { min, avg, max };
    const bits = Math.round(Math.log2(avg));
    const s = MASKS[bits + normalization]!;
    const l = MASKS[bits - normalization]!;
    const wrap = (v: bigint) => v & 0xffffffffffffffffn;
    this.maskS = split(s);
    this.maskL = split(l);
    this.maskSLs = split(wrap(s << 1n));
    this.maskLLs = split(wrap(l << 1n));
  }

  /**
   * The next cut point in `source[start, end)`, the rest of the input (or, while streaming, at least `max` bytes of
   * it): the first position after `min` where the hash matches the (stricter, then looser) mask, else `max`.
   */
  cut(source: Uint8Array, start: number, end: number): Cut {
    const { min, avg, max } = this.sizes;
    let remaining = end - start;
    if (remaining <= min) return { length: remaining, hash: () => 0n };
    let center = avg;
    if (remaining > max) remaining = max;
    else if (remaining < center) center = remaining;
    const gearHi = GEAR_HI;
    const gearLo = GEAR_LO;
    const gearLsHi = GEAR_LS_HI;
    const gearLsLo = GEAR_LS_LO;
    const from = start + Math.floor(min / 2) * 2;
    let hi = 0;
    let lo = 0;
    let a = from;
    // Two loops, stricter mask then looser (normalised chunking); the masks in locals: this is the hot loop.
    for (let phase = 0; phase < 2; phase++) {
      const stop = start + (phase === 0 ? Math.floor(center / 2) : Math.floor(remaining / 2)) * 2;
      const mHi = phase === 0 ? this.maskS.hi : this.maskL.hi;
      const mLo = phase === 0 ? this.maskS.lo : this.maskL.lo;
      const mLsHi = phase === 0 ? this.maskSLs.hi : this.maskLLs.hi;
      const mLsLo = phase === 0 ? this.maskSLs.lo : this.maskLLs.lo;
      for (; a < stop; a += 2) {
        // hash = (hash << 2) + GEAR_LS[source[a]]; the low half's overflow carries into the high one.
        let byte = source[a]!;
        lo = (lo << 2) + gearLsLo[byte]!;
        hi = ((hi << 2) + gearLsHi[byte]! + (lo >> LIMB)) & LIMB_MASK;
        lo &= LIMB_MASK;
        if (((hi & mLsHi) | (lo & mLsLo)) === 0) return cutAt(source, from, a, a, start);
        // hash = hash + GEAR[source[a + 1]]
        byte = source[a + 1]!;
        lo += gearLo[byte]!;
        hi = (hi + gearHi[byte]! + (lo >> LIMB)) & LIMB_MASK;
        lo &= LIMB_MASK;
        if (((hi & mHi) | (lo & mLo)) === 0) return cutAt(source, from, a + 1, a, start);
      }
    }
    // No cut point before the maximum (all-zero data, for one): the longest chunk allowed.
    return { length: remaining, hash: () => (a > from ? gearHash(source, from, a - 1, a - 2) : 0n) };
  }

  /** Every chunk length of an in-memory input, in order. */
  lengths(source: Uint8Array): number[] {
    const out: number[] = [];
    for (let at = 0; at < source.length; ) {
      const { length } = this.cut(source, at, source.length);
      out.push(length);
      at += length;
    }
    return out;
  }
}

/**
 * A cut found when the hash matched at byte `last` (in the two-byte step that began at `step`). As in the reference
 * implementations, that byte is the first of the next chunk.
 */
function cutAt(source: Uint8Array, from: number, last: number, step: number, start: number): Cut {
  return { length: last - start, hash: () => gearHash(source, from, last, step) };
}

/** The exact 64-bit hash after the step starting at `step` hashed bytes from..last: only the last 64 bytes count. */
function gearHash(source: Uint8Array, from: number, last: number, step: number): bigint {
  let hash = 0n;
  for (let j = Math.max(from, step + 1 - 63); j <= last; j++) hash = (hash + (GEAR[source[j]!]! << BigInt(step + 1 - j))) & U64;
  return hash;
}

/** Reads up to `length` bytes into `buffer` at `offset` from the source's `position`; 0 at the end. */
export type ReadAt = (buffer: Buffer, offset: number, length: number, position: number) => Promise<number>;

/** Time spent chunking between two yields to the event loop. */
const SLICE_MS = 10;
const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Splits a stream of bytes into chunks as it reads: a buffer of 4 × `max` bytes is all it holds, so a 500 MB file
 * costs 4 MiB of memory. Each chunk yielded is a view into that buffer, valid until the next one is asked for.
 * Yields to the event loop every few milliseconds of chunking, so the hub keeps answering.
 */
export async function* chunkStream(readAt: ReadAt, chunker: FastCdc): AsyncGenerator<Buffer> {
  const { max } = chunker.sizes;
  const buffer = Buffer.allocUnsafe(max * 4);
  let pos = 0;
  let len = 0;
  let read = 0;
  let eof = false;
  let sliceStart = performance.now();
  for (;;) {
    if (!eof && len - pos < max) {
      if (pos > 0) {
        buffer.copyWithin(0, pos, len);
        len -= pos;
        pos = 0;
      }
      while (!eof && len < buffer.length) {
        const n = await readAt(buffer, len, buffer.length - len, read);
        if (n === 0) eof = true;
        len += n;
        read += n;
      }
      sliceStart = performance.now();
    }
    if (len - pos === 0) return;
    const { length } = chunker.cut(buffer, pos, len);
    const chunk = buffer.subarray(pos, pos + length);
    pos += length;
    yield chunk;
    if (performance.now() - sliceStart > SLICE_MS) {
      await yieldToLoop();
      sliceStart = performance.now();
    }
  }
}
