/**
 * The few bytes of FAISS's on-disk format (faiss 1.7.x `write_index`) that the vector index reads or writes itself,
 * because faiss-node 0.5.1 exposes no other way to do these things:
 *
 * - A flat inner-product index (`IxFI`) is a 45-byte header followed by the raw float32 vectors. Our vectors file
 *   is written in exactly that format, so `Index.read` turns it into a FAISS index at memcpy speed, where
 *   faiss-node's `add` converts every number through a JS array (~60-200 ns per float).
 * - An IVF-Flat index (`IwFl`) stores `nprobe` at a fixed offset. faiss-node has no nprobe setter (nor
 *   ParameterSpace), so nprobe is set by patching those 8 bytes in a (small, untrained-list) template before
 *   vectors are added; `mergeFrom` then moves inverted lists between two indexes with different nprobe.
 * - `ntotal` sits at a fixed offset in every index: patching it lets an IVF part index hand out labels starting at
 *   a given position (IVF `add` labels vectors ntotal, ntotal + 1, …), and then record only its own count so that
 *   merging parts adds up to the right total.
 *
 * Layout (little-endian): fourcc u32 @0 | d i32 @4 | ntotal i64 @8 | dummy i64 @16 | dummy i64 @24 |
 * is_trained u8 @32 | metric_type i32 @33 | (flat) code count u64 @37, floats @45 | (IVF) nlist u64 @37,
 * nprobe u64 @45, then the quantizer, direct map and inverted lists.
 */

export const FLAT_HEADER_BYTES = 45;
export const NTOTAL_OFFSET = 8;
export const IVF_NLIST_OFFSET = 37;
export const IVF_NPROBE_OFFSET = 45;
export const METRIC_INNER_PRODUCT = 0;

const DUMMY = 1n << 20n;

/** The header of a flat inner-product index holding `count` vectors of `dimension` floats. */
export function flatHeader(dimension: number, count: number): Buffer {
  const h = Buffer.alloc(FLAT_HEADER_BYTES);
  h.write('IxFI', 0, 'latin1');
  h.writeInt32LE(dimension, 4);
  h.writeBigInt64LE(BigInt(count), NTOTAL_OFFSET);
  h.writeBigInt64LE(DUMMY, 16);
  h.writeBigInt64LE(DUMMY, 24);
  h.writeUInt8(1, 32);
  h.writeInt32LE(METRIC_INNER_PRODUCT, 33);
  h.writeBigUInt64LE(BigInt(count) * BigInt(dimension), 37);
  return h;
}

export interface FlatHeader {
  dimension: number;
  count: number;
}

/** Parses a flat inner-product header; null if the bytes are not one. */
export function parseFlatHeader(bytes: Uint8Array): FlatHeader | null {
  if (bytes.length < FLAT_HEADER_BYTES) return null;
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.toString('latin1', 0, 4) !== 'IxFI') return null;
  const dimension = b.readInt32LE(4);
  const count = Number(b.readBigInt64LE(NTOTAL_OFFSET));
  if (b.readInt32LE(33) !== METRIC_INNER_PRODUCT) return null;
  if (b.readBigUInt64LE(37) !== BigInt(count) * BigInt(dimension)) return null;
  return { dimension, count };
}

export interface IvfHeader {
  dimension: number;
  ntotal: number;
  nlist: number;
  nprobe: number;
}

/** Parses the start of an IVF-Flat inner-product index; null if the bytes are not one. */
export function parseIvfHeader(bytes: Uint8Array): IvfHeader | null {
  if (bytes.length < IVF_NPROBE_OFFSET + 8) return null;
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.toString('latin1', 0, 4) !== 'IwFl') return null;
  if (b.readInt32LE(33) !== METRIC_INNER_PRODUCT) return null;
  return {
    dimension: b.readInt32LE(4),
    ntotal: Number(b.readBigInt64LE(NTOTAL_OFFSET)),
    nlist: Number(b.readBigUInt64LE(IVF_NLIST_OFFSET)),
    nprobe: Number(b.readBigUInt64LE(IVF_NPROBE_OFFSET)),
  };
}

/**
 * Bytes at the end of a trained, empty IVF-Flat file that hold its (sparse, empty) inverted lists: 'ilar', nlist u64,
 * code_size u64, 'sprs', pair count u64. Everything before them is the prefix every part file repeats.
 */
export const IVF_EMPTY_LISTS_BYTES = 32;

/**
 * What an IVF part file (faiss 1.7.x `IwFl`, as vector/builder.ts splits it) holds besides what FAISS loads: the
 * coarse centroids and, per inverted list, the labels (positions) stored in it.
 *
 * Layout: header and nlist/nprobe, then the quantizer (a flat `IxFI` or an HNSW `IHNf` index; either way its vectors
 * are the last thing it writes: a 45-byte flat header and nlist × d floats), the direct map (a type byte and an
 * empty u64-sized vector), then `ilar` nlist code_size `sprs` count pairs, and per non-empty list its codes followed
 * by its ids (int64).
 */
export interface IvfPartContents {
  /** A view into the file. */
  centroids: Uint8Array;
  /** Each list held, with its labels and the byte offset of its vectors (float32 rows) in the file. */
  lists: Array<{ list: number; positions: Int32Array; vectorsAt: number }>;
}

const DIRECT_MAP_BYTES = 9;
/** Where an IVF file's quantizer starts: after the index header (37 bytes), nlist and nprobe. */
const IVF_QUANTIZER_AT = 53;

export function parseIvfPart(file: Buffer, nlist: number, dimension: number): IvfPartContents {
  const codeSize = dimension * 4;
  const marker = Buffer.alloc(20);
  marker.write('ilar', 0, 'latin1');
  marker.writeBigUInt64LE(BigInt(nlist), 4);
  marker.writeBigUInt64LE(BigInt(codeSize), 12);
  const centroidBytes = nlist * codeSize;
  const listsAt = file.indexOf(marker, IVF_QUANTIZER_AT + FLAT_HEADER_BYTES + centroidBytes);
  if (listsAt < 0) throw new Error('no inverted lists found in the IVF part');
  const centroidsAt = listsAt - DIRECT_MAP_BYTES - centroidBytes;
  const storageAt = centroidsAt - FLAT_HEADER_BYTES;
  if (
    file.toString('latin1', storageAt, storageAt + 4) !== 'IxFI' ||
    Number(file.readBigInt64LE(storageAt + NTOTAL_OFFSET)) !== nlist ||
    file.readBigUInt64LE(listsAt - 8) !== 0n
  ) {
    throw new Error('unexpected coarse quantizer layout in the IVF part');
  }
  if (file.toString('latin1', listsAt + 20, listsAt + 24) !== 'sprs') throw new Error('the IVF part is not in sparse list form');
  let at = listsAt + 24;
  const count = Number(file.readBigUInt64LE(at));
  at += 8;
  const pairs: Array<[number, number]> = [];
  for (let j = 0; j < count; j += 2) pairs.push([Number(file.readBigUInt64LE(at + j * 8)), Number(file.readBigUInt64LE(at + j * 8 + 8))]);
  at += count * 8;
  const lists: IvfPartContents['lists'] = [];
  for (const [list, size] of pairs) {
    if (list >= nlist) throw new Error(`the IVF part names list ${list} of ${nlist}`);
    const vectorsAt = at;
    at += size * codeSize;
    if (at + size * 8 > file.length) throw new Error('the IVF part is truncated');
    const positions = new Int32Array(size);
    for (let i = 0; i < size; i++) {
      // Labels are positions: int64 values below 2^31 (low word, then a zero high word).
      const low = file.readUInt32LE(at + i * 8);
      if (low > 0x7fffffff || file.readUInt32LE(at + i * 8 + 4) !== 0) throw new Error(`the IVF part holds label ${file.readBigInt64LE(at + i * 8)}`);
      positions[i] = low;
    }
    at += size * 8;
    lists.push({ list, positions, vectorsAt });
  }
  return { centroids: file.subarray(centroidsAt, listsAt - DIRECT_MAP_BYTES), lists };
}
