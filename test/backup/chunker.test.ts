/**
 * FastCDC (src/main/backup/chunker.ts) against the published reference behaviour of the `fastcdc` Rust crate's v2020
 * module (github.com/nlfiedler/fastcdc-rs, src/v2020/mod.rs and examples/table64.rs):
 *   - its Gear table (MD5 of 64 bytes of each value; first and last entries as listed in the crate),
 *   - `test_masks`: which masks each average size selects (checked through the cut points they produce),
 *   - `test_cut_all_zeros`: 10,240 zero bytes with sizes 64/256/1024 cut into ten 1,024-byte chunks, each with the
 *     hash 14169102344523991076.
 * The crate's other vectors need its fixture SekienAkashita.jpg, which this machine cannot fetch (only the npm and
 * Debian registries are reachable). In their place, the cut points and hashes are compared with a direct transcription
 * of the crate's `cut()` in 64-bit BigInt arithmetic over pseudo-random data, for several sizes and every
 * normalisation level: the chunker's 52-bit fast path must agree with it exactly.
 */
import { describe, expect, it } from 'vitest';
import { BACKUP_CHUNK_SIZES, chunkStream, FastCdc, gearValue, type ChunkSizes } from '../../src/main/backup/chunker';

const MASKS = [
  0n, 0n, 0n, 0n, 0n, 0x0000000001804110n, 0x0000000001803110n, 0x0000000018035100n, 0x0000001800035300n, 0x0000019000353000n,
  0x0000590003530000n, 0x0000d90003530000n, 0x0000d90103530000n, 0x0000d90303530000n, 0x0000d90313530000n, 0x0000d90f03530000n,
  0x0000d90303537000n, 0x0000d90703537000n, 0x0000d90707537000n, 0x0000d91707537000n, 0x0000d91747537000n, 0x0000d91767537000n,
  0x0000d93767537000n, 0x0000d93777537000n, 0x0000d93777577000n, 0x0000db3777577000n,
];
const U64 = (1n << 64n) - 1n;

/** The crate's `cut()` transcribed with 64-bit integers: (hash, cut point relative to the slice). */
function referenceCut(source: Uint8Array, sizes: ChunkSizes, level: number): [bigint, number] {
  const bits = Math.round(Math.log2(sizes.avg));
  const maskS = MASKS[bits + level]!;
  const maskL = MASKS[bits - level]!;
  const maskSLs = (maskS << 1n) & U64;
  const maskLLs = (maskL << 1n) & U64;
  let remaining = source.length;
  if (remaining <= sizes.min) return [0n, remaining];
  let center = sizes.avg;
  if (remaining > sizes.max) remaining = sizes.max;
  else if (remaining < center) center = remaining;
  let index = Math.floor(sizes.min / 2);
  let hash = 0n;
  const step = (limit: number, ms: bigint, msLs: bigint): [bigint, number] | null => {
    while (index < limit) {
      const a = index * 2;
      hash = ((hash << 2n) + ((gearValue(source[a]!) << 1n) & U64)) & U64;
      if ((hash & msLs) === 0n) return [hash, a];
      hash = (hash + gearValue(source[a + 1]!)) & U64;
      if ((hash & ms) === 0n) return [hash, a + 1];
      index++;
    }
    return null;
  };
  return step(Math.floor(center / 2), maskS, maskSLs) ?? step(Math.floor(remaining / 2), maskL, maskLLs) ?? [hash, remaining];
}

/** Deterministic bytes (xorshift32), with runs of zeros and repeats so both loops and the maximum get exercised. */
function pseudoRandom(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  out.fill(0, length >> 3, (length >> 3) + 5000);
  return out;
}

describe('FastCDC 2020 against the fastcdc crate', () => {
  it('builds the Gear table the crate lists', () => {
    expect(gearValue(0)).toBe(0x3b5d3c7d207e37dcn);
    expect(gearValue(1)).toBe(0x784d68ba91123086n);
    expect(gearValue(128)).toBe(0xc0ce47f889336346n);
    expect(gearValue(255)).toBe(0xaabd2b2a451504e1n);
  });

  it('cuts 10,240 zero bytes into ten maximum-size chunks with the published hash (test_cut_all_zeros)', () => {
    const zeros = new Uint8Array(10240);
    const chunker = new FastCdc({ min: 64, avg: 256, max: 1024 });
    let cursor = 0;
    for (let i = 0; i < 10; i++) {
      const cut = chunker.cut(zeros, cursor, zeros.length);
      expect(cut.hash()).toBe(14169102344523991076n);
      expect(cut.length).toBe(1024);
      cursor += cut.length;
    }
    expect(chunker.cut(zeros, cursor, zeros.length).length).toBe(0);
  });

  const settings: Array<[ChunkSizes, 0 | 1 | 2 | 3]> = [
    [{ min: 4096, avg: 16384, max: 65535 }, 1], // the crate's Sekien 16k settings
    [{ min: 8192, avg: 32768, max: 131072 }, 1],
    [{ min: 4096, avg: 16384, max: 65535 }, 0],
    [{ min: 8192, avg: 16384, max: 32768 }, 3],
    [{ min: 64, avg: 256, max: 1024 }, 2],
    [BACKUP_CHUNK_SIZES, 1],
  ];
  it.each(settings)('finds the same cut points and hashes as the 64-bit reference (%o, level %i)', (sizes, level) => {
    const data = pseudoRandom(sizes.max * 12 + 777, sizes.avg + level);
    const chunker = new FastCdc(sizes, level);
    let cursor = 0;
    let chunks = 0;
    while (cursor < data.length) {
      const [hash, length] = referenceCut(data.subarray(cursor), sizes, level);
      const cut = chunker.cut(data, cursor, data.length);
      expect([cut.length, cut.hash()]).toEqual([length, hash]);
      expect(cut.length).toBeLessThanOrEqual(sizes.max);
      if (cursor + cut.length < data.length) expect(cut.length).toBeGreaterThanOrEqual(sizes.min);
      cursor += cut.length;
      chunks++;
    }
    expect(chunks).toBeGreaterThan(8);
  });
});

describe('chunking a stream', () => {
  it('yields the same chunks as the in-memory cut, and an edit changes only the chunks around it', async () => {
    const sizes = { min: 2048, avg: 8192, max: 32768 };
    const chunker = new FastCdc(sizes);
    const data = Buffer.from(pseudoRandom(400_000, 7));
    const streamed = async (input: Buffer) => {
      const out: string[] = [];
      // Short reads (at most 10,000 bytes each) as a slow drive might give.
      const readAt = async (buffer: Buffer, offset: number, length: number, position: number) =>
        input.copy(buffer, offset, position, Math.min(input.length, position + Math.min(length, 10_000)));
      for await (const chunk of chunkStream(readAt, chunker)) out.push(chunk.toString('hex'));
      return out;
    };
    const before = await streamed(data);
    expect(before.map((hex) => hex.length / 2)).toEqual(chunker.lengths(data));
    expect(Buffer.from(before.join(''), 'hex').equals(data)).toBe(true);

    const edited = Buffer.concat([data.subarray(0, 200_000), Buffer.from('an insertion in the middle'), data.subarray(200_000)]);
    const after = await streamed(edited);
    const old = new Set(before);
    const changed = after.filter((chunk) => !old.has(chunk));
    expect(changed.length).toBeGreaterThan(0);
    expect(changed.length).toBeLessThanOrEqual(3);
    expect(changed.reduce((n, hex) => n + hex.length / 2, 0)).toBeLessThanOrEqual(3 * sizes.max);
  });
});
