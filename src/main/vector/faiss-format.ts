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
