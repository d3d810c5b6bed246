// Real faiss-node (the addon scripts/install/faiss.mjs provides). Nothing mocked.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Index, IndexFlatIP, MetricType } from '../../src/main/vector/faiss';
import { mulberry32 } from '../support/seeded-random';

const DIM = 512;
const COUNT = 3000;
const QUERIES = 40;
const K = 10;

const rng = mulberry32;

/** `n` random unit vectors (Gaussian directions), rounded to float32 like faiss stores them. */
function randomUnitVectors(n: number, seed: number): Float32Array {
  const random = rng(seed);
  const out = new Float32Array(n * DIM);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let j = 0; j < DIM; j++) {
      const g = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
      out[i * DIM + j] = g;
      norm += g * g;
    }
    norm = Math.sqrt(norm);
    for (let j = 0; j < DIM; j++) out[i * DIM + j] = out[i * DIM + j]! / norm;
  }
  return out;
}

function dot(a: Float32Array, ai: number, b: Float32Array, bi: number): number {
  let s = 0;
  for (let j = 0; j < DIM; j++) s += a[ai * DIM + j]! * b[bi * DIM + j]!;
  return s;
}

/** Exact top-k by inner product, in JS. */
function bruteForce(base: Float32Array, n: number, queries: Float32Array, q: number, k: number) {
  const results: { labels: number[]; scores: number[] }[] = [];
  for (let i = 0; i < q; i++) {
    const scored = Array.from({ length: n }, (_, id) => ({ id, score: dot(queries, i, base, id) }));
    scored.sort((x, y) => y.score - x.score);
    const top = scored.slice(0, k + 1);
    results.push({ labels: top.map((s) => s.id), scores: top.map((s) => s.score) });
  }
  return results;
}

const EPS = 1e-5;
let base: Float32Array;
let queries: Float32Array;
let index: IndexFlatIP;
let tmp: string;

beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'devenviro-native-faiss-'));
  base = randomUnitVectors(COUNT, 1);
  queries = randomUnitVectors(QUERIES, 2);
  index = new IndexFlatIP(DIM);
  index.add(Array.from(base));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function expectExact(result: { labels: number[]; distances: number[] }, expected: ReturnType<typeof bruteForce>) {
  expected.forEach((want, qi) => {
    for (let r = 0; r < K; r++) {
      const got = result.labels[qi * K + r]!;
      const score = result.distances[qi * K + r]!;
      expect(score).toBeCloseTo(want.scores[r]!, 4);
      // Same label at each rank, unless two candidates tie within float32 rounding.
      const tiedWithNext = Math.abs(want.scores[r]! - want.scores[r + 1]!) < EPS;
      const tiedWithPrev = r > 0 && Math.abs(want.scores[r]! - want.scores[r - 1]!) < EPS;
      if (!tiedWithNext && !tiedWithPrev) expect(got, `query ${qi} rank ${r}`).toBe(want.labels[r]);
    }
  });
}

describe('faiss IndexFlatIP', () => {
  it('holds the vectors', () => {
    expect(index.ntotal()).toBe(COUNT);
    expect(index.getDimension()).toBe(DIM);
    expect(index.isTrained()).toBe(true);
  });

  it(`returns the exact top-${K} inner-product neighbours (checked against brute force)`, () => {
    const expected = bruteForce(base, COUNT, queries, QUERIES, K);
    const started = performance.now();
    const result = index.search(Array.from(queries), K);
    console.log(`faiss IndexFlatIP ${COUNT}x${DIM}: batch of ${QUERIES} queries in ${(performance.now() - started).toFixed(1)} ms`);
    expect(result.labels).toHaveLength(QUERIES * K);
    expectExact(result, expected);
  });

  it('finds a stored vector itself first with score 1', () => {
    const id = 1234;
    const { labels, distances } = index.search(Array.from(base.subarray(id * DIM, (id + 1) * DIM)), 1);
    expect(labels[0]).toBe(id);
    expect(distances[0]).toBeCloseTo(1, 5);
  });

  it('round-trips through a file and a buffer with identical results', () => {
    const file = path.join(tmp, 'flat-ip.faiss');
    index.write(file);
    const fromFile = IndexFlatIP.read(file);
    const fromBuffer = Index.fromBuffer(index.toBuffer());
    const q = Array.from(queries);
    const original = index.search(q, K);
    for (const copy of [fromFile, fromBuffer]) {
      expect(copy.ntotal()).toBe(COUNT);
      expect(copy.getDimension()).toBe(DIM);
      expect(copy.search(q, K)).toEqual(original);
    }
  });

  it('removeIds removes vectors from a Flat index and renumbers the ones after them', () => {
    const small = Index.fromFactory(DIM, 'Flat', MetricType.METRIC_INNER_PRODUCT);
    const n = 200;
    small.add(Array.from(base.subarray(0, n * DIM)));
    expect(small.removeIds([0, 5, 10])).toBe(3);
    expect(small.ntotal()).toBe(n - 3);
    const vector = (id: number) => Array.from(base.subarray(id * DIM, (id + 1) * DIM));
    // Flat indexes compact on removal: old id 7 (two removed ids before it) is now label 5.
    expect(small.search(vector(7), 1).labels[0]).toBe(5);
    expect(small.search(vector(150), 1).labels[0]).toBe(147);
    // A removed vector no longer finds itself.
    const removed = small.search(vector(5), 1);
    expect(removed.distances[0]!).toBeLessThan(0.5);
    expect(small.removeIds([10_000])).toBe(0);
  });
});
