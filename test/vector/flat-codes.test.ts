// The flat index's int8 search (flat-codes.ts): the same hits and exact scores as a brute-force float scan, as the
// store grows, loses positions, is replaced, and under a filter; at a dimension that needs SIMD padding too.
import { describe, expect, it } from 'vitest';
import { dot } from '../../src/main/vector/exact';
import { FlatCodes } from '../../src/main/vector/flat-codes';
import { VectorStore } from '../../src/main/vector/store';
import { mulberry32 } from '../support/seeded-random';

function unitVectors(count: number, dimension: number, seed: number): Float32Array[] {
  const random = mulberry32(seed);
  // Clustered, so many neighbours are close in score: int8 rounding alone would reorder them.
  const centres = Array.from({ length: 8 }, () => Float32Array.from({ length: dimension }, () => random() - 0.5));
  return Array.from({ length: count }, (_, i) => {
    const centre = centres[i % centres.length]!;
    const v = Float32Array.from({ length: dimension }, (_, j) => centre[j]! + 0.15 * (random() - 0.5));
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  });
}

function bruteForce(store: VectorStore, query: Float32Array, k: number, accept?: (id: number) => boolean): Array<{ id: number; score: number }> {
  const all: Array<{ id: number; score: number }> = [];
  for (let pos = 0; pos < store.count; pos++) {
    if (store.isDead(pos) || (accept && !accept(store.id(pos)))) continue;
    all.push({ id: store.id(pos), score: dot(query, store.vector(pos)) });
  }
  return all.sort((a, b) => b.score - a.score).slice(0, k);
}

describe('flat int8 search', () => {
  for (const dimension of [512, 100]) {
    it(`finds what a float scan finds, with exact scores (dimension ${dimension})`, () => {
      const codes = FlatCodes.create(dimension);
      expect(codes).not.toBeNull(); // Node 20 and Electron have WebAssembly SIMD
      const vectors = unitVectors(3000, dimension, dimension);
      const queries = unitVectors(20, dimension, dimension + 1);
      let store = new VectorStore(dimension);
      const check = (k: number, accept?: (id: number) => boolean) => {
        const answers = codes!.search(store, queries, k, accept);
        queries.forEach((query, i) => {
          const want = bruteForce(store, query, k, accept);
          expect(answers[i]!.map((hit) => hit.id)).toEqual(want.map((hit) => hit.id));
          answers[i]!.forEach((hit, j) => expect(hit.score).toBeCloseTo(want[j]!.score, 5));
        });
      };
      vectors.slice(0, 1000).forEach((v, i) => store.append(i + 1, v));
      check(10);
      // Positions added after a search are coded at the next one; dead ones never come back.
      vectors.slice(1000).forEach((v, i) => store.append(1001 + i, v));
      for (let pos = 0; pos < 3000; pos += 3) store.kill(pos);
      check(10);
      check(50, (id) => id % 7 === 0);
      expect(codes!.search(store, queries.slice(0, 1), 5000)[0]).toHaveLength(2000);
      // A new store (a compaction or a load) is coded afresh.
      store = new VectorStore(dimension);
      vectors.slice(0, 500).forEach((v, i) => store.append(10_000 + i, v));
      check(10);
    });
  }
});
