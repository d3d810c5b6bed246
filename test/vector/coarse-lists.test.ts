// The near-duplicate scan's parts: the WebAssembly SIMD kernel (against plain JavaScript and its .wat source), int8
// quantisation, and reading IVF part files. Real WebAssembly, real wabt, real FAISS files.
import { describe, expect, it } from 'vitest';
import { CoarseLists } from '../../src/main/vector/coarse';
import { parseIvfPart } from '../../src/main/vector/faiss-format';
import { DOTS_WASM_BASE64 } from '../../src/main/vector/simd/dots-wasm';
import { CODE_ALIGN, Int8DotKernel, int8Dot, quantize } from '../../src/main/vector/simd/dots';
import { IndexFlatIP } from '../../src/main/vector/faiss';
import { VectorStore } from '../../src/main/vector/store';
import { mulberry32 } from '../support/seeded-random';

describe('int8 dot kernel', () => {
  it('is what dots.wat assembles to', async () => {
    const { assemble, render } = await import('../../scripts/wasm/build.mjs');
    const bytes = await assemble();
    expect(bytes.toString('base64')).toBe(DOTS_WASM_BASE64);
    expect(render(bytes)).toContain(DOTS_WASM_BASE64);
  });

  it('computes exactly the integer dot products JavaScript computes, at every stride and extreme value', () => {
    const kernel = Int8DotKernel.create();
    expect(kernel).not.toBeNull(); // Node 20 and Electron have WebAssembly SIMD
    const random = mulberry32(3);
    // Every remainder of the kernel's four-row blocks, at every stride.
    for (const [stride, rows] of [16, 32, 384, 512, 1024].flatMap((stride) => [1, 2, 3, 4, 5, 8, 37].map((rows) => [stride, rows] as const))) {
      const query = Int8Array.from({ length: stride }, () => Math.floor(random() * 256) - 128);
      const codes = Int8Array.from({ length: rows * stride }, () => Math.floor(random() * 256) - 128);
      codes.fill(-128, 0, stride); // the largest products: -128 × -128 must not overflow int16 lanes
      query.fill(-128);
      const memory = kernel!.reserve(rows, stride);
      memory.set(query, 0);
      memory.set(codes, stride);
      const got = Array.from(kernel!.dots(rows, stride));
      const want = Array.from({ length: rows }, (_, r) => int8Dot(query, 0, codes, r * stride, stride));
      expect(got).toEqual(want);
      expect(got[0]).toBe(128 * 128 * stride);
    }
  });

  it('grows its memory for large scans and keeps answering', () => {
    const kernel = Int8DotKernel.create()!;
    const stride = 512;
    const rows = 20_000; // 10 MiB of codes
    const memory = kernel.reserve(rows, stride);
    memory.fill(1, 0, stride);
    memory.fill(2, stride, stride * (1 + rows));
    const dots = kernel.dots(rows, stride);
    expect(dots.length).toBe(rows);
    expect(dots.every((v) => v === 2 * stride)).toBe(true);
  });

  it('quantises rows in WebAssembly as the JavaScript quantize does', () => {
    const kernel = Int8DotKernel.create()!;
    const random = mulberry32(6);
    const d = 48;
    const rows = 9;
    const vectors = Float32Array.from({ length: rows * d }, () => random() * 0.6 - 0.3);
    vectors.fill(0, 2 * d, 3 * d); // a zero row: scale 0, all-zero codes
    const codes = new Int8Array(3 + rows * d);
    const scales = new Float32Array(1 + rows);
    kernel.quantizeRows(vectors, rows, d, codes, 3, scales, 1);
    const want = new Int8Array(d);
    for (let r = 0; r < rows; r++) {
      const scale = quantize(vectors, r * d, d, want, 0);
      expect(scales[1 + r]).toBeCloseTo(scale, 7);
      for (let i = 0; i < d; i++) expect(Math.abs(codes[3 + r * d + i]! - want[i]!)).toBeLessThanOrEqual(1);
    }
    expect(Array.from(codes.subarray(3 + 2 * d, 3 + 3 * d)).every((c) => c === 0)).toBe(true);
    expect(() => kernel.quantizeRows(vectors, 1, 20, codes, 0, scales, 0)).toThrow(/multiple of 16/);
  });

  it('quantises a vector to int8 with one scale, within half a step per component', () => {
    const random = mulberry32(4);
    const vector = Float32Array.from({ length: 100 }, () => random() * 2 - 1);
    const codes = new Int8Array(112);
    const scale = quantize(vector, 0, 100, codes, 0);
    const max = Math.max(...Array.from(vector, Math.abs));
    expect(scale).toBeCloseTo(max / 127, 7);
    for (let i = 0; i < 100; i++) expect(Math.abs(codes[i]! * scale - vector[i]!)).toBeLessThanOrEqual(scale / 2 + 1e-7);
    expect(Array.from(codes.subarray(100))).toEqual(new Array(12).fill(0));
    expect(quantize(new Float32Array(8), 0, 8, codes, 0)).toBe(0);
    expect(CODE_ALIGN).toBe(16);
  });
});

describe('IVF part files', () => {
  it('rejects bytes that are not an IVF part with a clear error', () => {
    expect(() => parseIvfPart(Buffer.alloc(4096), 4, 16)).toThrow(/no inverted lists/);
    // The marker alone, without the quantizer in front of it.
    const marker = Buffer.alloc(4096);
    const at = 3000;
    marker.write('ilar', at, 'latin1');
    marker.writeBigUInt64LE(4n, at + 4);
    marker.writeBigUInt64LE(64n, at + 12);
    expect(() => parseIvfPart(marker, 4, 16)).toThrow(/unexpected coarse quantizer layout/);
  });

  it('refuses centroids of the wrong size and lists out of range', async () => {
    await expect(CoarseLists.create(4, 16, new Uint8Array(10))).rejects.toThrow(/expected 4 centroids/);
    const lists = await CoarseLists.create(2, 4, new Uint8Array(2 * 4 * 4));
    expect(() => lists.addToList(2, [0], new Float32Array(4))).toThrow(/out of range/);
    expect(() => lists.addToList(1, [0, 1], new Float32Array(4))).toThrow(/expected 2 vectors/);
  });

  it("finds the lists nearest a few queries as FAISS's exact search of the centroids does", async () => {
    const d = 512;
    const nlist = 570;
    const random = mulberry32(41);
    const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    const unitOf = (v: Float32Array) => {
      const norm = Math.hypot(...v);
      return v.map((x) => x / norm);
    };
    // Centroids around 30 themes, as k-means leaves them on embeddings; queries near a centroid or anywhere.
    const themes = Array.from({ length: 30 }, () => unitOf(Float32Array.from({ length: d }, normal)));
    const centroids = new Float32Array(nlist * d);
    for (let c = 0; c < nlist; c++) centroids.set(unitOf(themes[c % 30]!.map((x) => x + 0.06 * normal())), c * d);
    const lists = await CoarseLists.create(nlist, d, new Uint8Array(centroids.buffer));
    const faiss = new IndexFlatIP(d);
    faiss.add([...centroids]);
    const queries = Array.from({ length: 60 }, (_, i) =>
      unitOf(i % 2 === 0 ? centroids.slice((i % nlist) * d, (i % nlist + 1) * d).map((x) => x + 0.05 * normal()) : Float32Array.from({ length: d }, normal)),
    );
    for (const probe of [1, 8, 60]) {
      for (const query of queries) {
        const want = faiss.search([...query], probe).labels;
        expect(Array.from(lists.nearestLists([query], probe))).toEqual(want);
      }
      // A batch of them: the same lists.
      const batch = Array.from(lists.nearestLists(queries, probe));
      expect(batch).toEqual(faiss.search(queries.flatMap((query) => [...query]), probe).labels);
    }
  });

  it('scans the nearest lists exactly, skipping dead positions', async () => {
    // Two centroids on the axes of a 16-d space; members near each.
    const d = 16;
    const centroids = new Float32Array(2 * d);
    centroids[0] = 1;
    centroids[d + 1] = 1;
    const lists = await CoarseLists.create(2, d, new Uint8Array(centroids.buffer));
    const store = new VectorStore(d);
    const unit = (i: number, j: number, w: number) => {
      const v = new Float32Array(d);
      v[i] = 1;
      v[j] = w;
      const norm = Math.hypot(1, w);
      return v.map((x) => x / norm);
    };
    const vectors = [unit(0, 5, 0.1), unit(0, 6, 0.3), unit(1, 7, 0.2), unit(1, 8, 0.05)];
    vectors.forEach((v, i) => store.append(100 + i, v));
    expect(Array.from(lists.assign(store, 0, 4))).toEqual([0, 0, 1, 1]);
    const query = unit(0, 5, 0.12);
    const [hits] = lists.search(store, [query], 2, 1);
    expect(hits!.map((h) => h.id)).toEqual([100, 101]);
    const exact = (v: Float32Array) => v.reduce((sum, x, i) => sum + x * query[i]!, 0);
    expect(hits![0]!.score).toBeCloseTo(exact(vectors[0]!), 6);
    store.kill(0);
    expect(lists.search(store, [query], 2, 1)[0]!.map((h) => h.id)).toEqual([101]);
    expect(lists.search(store, [query], 4, 2)[0]!.map((h) => h.id)).toEqual([101, 102, 103]);

    // The same members given as a part file gives them: float32 bytes at an odd offset, in list order.
    const fromPart = await CoarseLists.create(2, d, new Uint8Array(centroids.buffer));
    const bytes = new Uint8Array(3 + 2 * d * 4);
    bytes.set(new Uint8Array(vectors[2]!.buffer), 3);
    bytes.set(new Uint8Array(vectors[3]!.buffer), 3 + d * 4);
    fromPart.addToList(1, [2, 3], bytes.subarray(3));
    const other = unit(1, 7, 0.25);
    expect(fromPart.search(store, [other], 2, 1)[0]).toEqual(lists.search(store, [other], 2, 2)[0]);
  });

  it('answers a batch of queries as it answers each alone (lists shared by several queries read once)', async () => {
    const random = mulberry32(77);
    const d = 32;
    const nlist = 6;
    const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    const normalised = (v: Float32Array) => {
      const norm = Math.hypot(...v);
      return v.map((x) => x / norm);
    };
    const centroids = new Float32Array(nlist * d);
    for (let c = 0; c < nlist; c++) centroids.set(normalised(Float32Array.from({ length: d }, gaussian)), c * d);
    const lists = await CoarseLists.create(nlist, d, new Uint8Array(centroids.buffer));
    const store = new VectorStore(d);
    for (let i = 0; i < 400; i++) {
      const c = i % nlist;
      store.append(1000 + i, normalised(Float32Array.from({ length: d }, (_, j) => centroids[c * d + j]! + 0.4 * gaussian())));
    }
    lists.assign(store, 0, 400);
    for (let pos = 0; pos < 400; pos += 7) store.kill(pos);
    const queries = Array.from({ length: 40 }, () => normalised(Float32Array.from({ length: d }, gaussian)));
    const batch = lists.search(store, queries, 5, 3);
    expect(batch).toEqual(queries.map((query) => lists.search(store, [query], 5, 3)[0]));
    expect(batch.every((hits) => hits.length === 5)).toBe(true);
  });
});
