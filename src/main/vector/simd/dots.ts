/**
 * Many int8 inner products with one int8 query, in WebAssembly SIMD (dots.wat): what a near-duplicate scan spends
 * its time on, ~10x JavaScript's scalar loop. The codes are copied into the kernel's memory first (WebAssembly can
 * only read its own), one sequential copy per inverted list.
 */
import { DOTS_WASM_BASE64 } from './dots-wasm';

const PAGE_BYTES = 65_536;

let compiled: WebAssembly.Module | null | undefined;

function compile(): WebAssembly.Module | null {
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(Buffer.from(DOTS_WASM_BASE64, 'base64'));
    } catch {
      compiled = null; // No WebAssembly SIMD in this runtime: callers use the JavaScript loop.
    }
  }
  return compiled;
}

/** Rows of int8 codes are padded with zeros to a multiple of this many bytes. */
export const CODE_ALIGN = 16;

export class Int8DotKernel {
  private readonly memory: WebAssembly.Memory;
  private readonly run: (query: number, codes: number, count: number, stride: number, out: number) => void;
  private readonly quantizeRun: (src: number, rows: number, dimension: number, dst: number, scales: number) => void;
  private bytes: Int8Array;
  private ints: Int32Array;
  private floats: Float32Array;
  private unsigned: Uint8Array;

  private constructor(instance: WebAssembly.Instance) {
    this.memory = instance.exports.memory as WebAssembly.Memory;
    this.run = instance.exports.dots as Int8DotKernel['run'];
    this.quantizeRun = instance.exports.quantize as Int8DotKernel['quantizeRun'];
    this.bytes = new Int8Array(this.memory.buffer);
    this.ints = new Int32Array(this.memory.buffer);
    this.floats = new Float32Array(this.memory.buffer);
    this.unsigned = new Uint8Array(this.memory.buffer);
  }

  /** A kernel, or null where WebAssembly SIMD is unavailable. */
  static create(): Int8DotKernel | null {
    const module = compile();
    return module ? new Int8DotKernel(new WebAssembly.Instance(module, {})) : null;
  }

  /**
   * Makes room for a query and `rows` rows of `stride` bytes, and returns the memory to fill: the query at byte 0,
   * row r at byte stride × (1 + r). (Growing replaces the views: take them again after every reserve.)
   */
  reserve(rows: number, stride: number): Int8Array {
    this.reserveBytes(stride * (1 + rows) + rows * 4);
    return this.bytes;
  }

  /**
   * Quantises `rows` rows of `dimension` floats (a multiple of CODE_ALIGN) as quantize() does, writing each row's
   * codes to `codes` from `codesAt` (dimension bytes per row) and its scale to `scales` from `scalesAt`. (Rounds
   * halves to even where quantize() rounds them up: a code can differ by one at exactly .5.)
   */
  quantizeRows(vectors: Float32Array | Uint8Array, rows: number, dimension: number, codes: Int8Array, codesAt: number, scales: Float32Array, scalesAt: number): void {
    if (dimension % CODE_ALIGN !== 0) throw new RangeError(`dimension ${dimension} is not a multiple of ${CODE_ALIGN}`);
    const floatBytes = rows * dimension * 4;
    this.reserveBytes(floatBytes + rows * dimension + rows * 4);
    // Float32 rows, or their little-endian bytes at any alignment (a slice of a FAISS file): one memcpy either way.
    if (vectors instanceof Float32Array) this.floats.set(vectors.subarray(0, rows * dimension), 0);
    else this.unsigned.set(vectors.subarray(0, floatBytes), 0);
    this.quantizeRun(0, rows, dimension, floatBytes, floatBytes + rows * dimension);
    codes.set(this.bytes.subarray(floatBytes, floatBytes + rows * dimension), codesAt);
    scales.set(this.floats.subarray((floatBytes + rows * dimension) / 4, (floatBytes + rows * dimension) / 4 + rows), scalesAt);
  }

  private reserveBytes(needed: number): void {
    const have = this.memory.buffer.byteLength;
    if (needed <= have) return;
    this.memory.grow(Math.ceil((needed - have) / PAGE_BYTES));
    this.bytes = new Int8Array(this.memory.buffer);
    this.ints = new Int32Array(this.memory.buffer);
    this.floats = new Float32Array(this.memory.buffer);
    this.unsigned = new Uint8Array(this.memory.buffer);
  }

  /**
   * Makes room for `queries` query rows followed by `rows` rows (all of `stride` bytes) and their dot products, for
   * dotsOf(); returns the memory to fill (query q at byte stride × q, row r at stride × (queries + r)). (Growing
   * replaces the views: take them again after every reserve.)
   */
  reserveMany(queries: number, rows: number, stride: number): Int8Array {
    this.reserveBytes(stride * (queries + rows) + rows * 4);
    return this.bytes;
  }

  /**
   * Dot products of query row `query` with `rows` rows from row `from`, in the layout of reserveMany(); a view, valid
   * until the next call.
   */
  dotsOf(query: number, from: number, rows: number, stride: number): Int32Array {
    const out = stride * (from + rows);
    this.run(query * stride, from * stride, rows, stride, out);
    return this.ints.subarray(out / 4, out / 4 + rows);
  }

  /** Runs the rows written after reserve(rows, stride); returns their dot products (a view, valid until the next call). */
  dots(rows: number, stride: number): Int32Array {
    const out = stride * (1 + rows);
    this.run(0, stride, rows, stride, out);
    return this.ints.subarray(out / 4, out / 4 + rows);
  }
}

/** Writes `vector` as int8 codes (symmetric, one scale per vector) at `at`; returns the scale (value = code × scale). */
export function quantize(vector: ArrayLike<number>, from: number, dimension: number, codes: Int8Array, at: number): number {
  let max = 0;
  for (let i = 0; i < dimension; i++) {
    const x = Math.abs(vector[from + i]!);
    if (x > max) max = x;
  }
  if (max === 0) {
    codes.fill(0, at, at + dimension);
    return 0;
  }
  const toCode = 127 / max;
  // floor(x + 0.5) is Math.round for every x here (|x| <= 127) but 0.5 - 2^-54, and about 5x faster in V8.
  for (let i = 0; i < dimension; i++) codes[at + i] = Math.floor(vector[from + i]! * toCode + 0.5);
  return max / 127;
}

/** The JavaScript loop, where WebAssembly SIMD is unavailable. */
export function int8Dot(a: Int8Array, aAt: number, b: Int8Array, bAt: number, length: number): number {
  let sum = 0;
  for (let i = 0; i < length; i++) sum += a[aAt + i]! * b[bAt + i]!;
  return sum;
}
