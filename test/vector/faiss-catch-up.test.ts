// New vectors reach FAISS after the store: a vector is searchable (search, near-duplicate checks) as soon as add()
// returns; a flat index's FAISS takes it a moment later, an IVF index's only when read; nothing is lost across a reopen. Real faiss-node,
// a real IVF build in a child process, files on disk. Nothing mocked.
import { describe, expect, it } from 'vitest';
import { VectorIndex, type VectorIndexOptions } from '../../src/main/vector';
import { FLAT_BLAS_QUERIES } from '../../src/main/vector/vector-index';
import { ADD_BATCH } from '../../src/main/vector/faiss';
import { tempDir } from '../helpers';
import { mulberry32 } from '../support/seeded-random';

const DIM = 32;

function unit(random: () => number): Float32Array {
  const v = Float32Array.from({ length: DIM }, () => random() - 0.5);
  let norm = 0;
  for (const x of v) norm += x * x;
  return v.map((x) => x / Math.sqrt(norm));
}

/** The index's private state as the test reads it: FAISS itself and what it still lacks. */
interface Own {
  faissPending: number;
  index: { ntotal(): number; search(query: number[], k: number): { labels: number[]; distances: number[] } };
  store: { count: number; id(pos: number): number };
}
const own = (index: VectorIndex) => (index as unknown as { s: Own }).s;
/** FAISS's size without the catch-up that reading `index` makes. */
const faissSize = (index: VectorIndex) => (index as unknown as { s: { faiss: { ntotal(): number } } }).s.faiss.ntotal();

function options(dir: string, data: Map<number, Float32Array>, tuning: VectorIndexOptions['tuning'] = {}): VectorIndexOptions {
  return {
    dir,
    modelId: 'use-lite/test',
    dimension: DIM,
    expectedCount: data.size,
    loadAll: () => [...data].map(([id, vector]) => ({ id, vector })),
    tuning: { autoBuild: false, saveDelayMs: 60_000, ...tuning },
  };
}

describe('FAISS catching up behind the store', () => {
  it('an IVF index: a new vector is found at once, FAISS takes it only when read, and it survives a reopen', { timeout: 120_000 }, async () => {
    const dir = tempDir();
    const random = mulberry32(7);
    const data = new Map<number, Float32Array>();
    const index = await VectorIndex.open(options(dir, data, { ivfThreshold: 3000, buildThreads: 1 }));
    const first = Array.from({ length: 4000 }, (_, i) => ({ id: i + 1, vector: unit(random) }));
    for (const item of first) data.set(item.id, item.vector);
    index.add(first);
    await index.rebuild();
    expect(index.kind).toBe('ivf');
    expect(own(index).faissPending).toBe(0);

    const fresh = unit(random);
    index.add([{ id: 9001, vector: fresh }]);
    data.set(9001, fresh);
    // Not in FAISS yet, yet found by a search and by a near-duplicate check right away.
    expect(own(index).faissPending).toBe(1);
    expect(faissSize(index)).toBe(4000);
    expect(index.search(fresh, 1)[0]).toEqual({ id: 9001, score: expect.closeTo(1, 4) });
    expect(index.searchCloseBatch([fresh], 1)[0]).toEqual([{ id: 9001, score: expect.closeTo(1, 4) }]);
    expect(own(index).faissPending).toBe(1);

    // Reading FAISS brings it up to date first: its own search finds the new vector under its position.
    const { labels } = own(index).index.search([...fresh], 1);
    expect(own(index).faissPending).toBe(0);
    expect(own(index).store.id(labels[0]!)).toBe(9001);

    // Left alone, an IVF index's FAISS copy stays behind: nothing on the hub's paths reads it (searches go through the
    // coarse lists), and the next build replaces it. A full batch pending stays pending too.
    const later = unit(random);
    index.add([{ id: 9002, vector: later }]);
    data.set(9002, later);
    const many = Array.from({ length: ADD_BATCH }, (_, i) => ({ id: 10_000 + i, vector: unit(random) }));
    for (const item of many) data.set(item.id, item.vector);
    index.add(many);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(own(index).faissPending).toBe(1 + ADD_BATCH);
    expect(faissSize(index)).toBe(4001);
    expect(index.search(later, 1)[0]!.id).toBe(9002);
    expect(index.searchCloseBatch([many[7]!.vector], 1)[0]![0]!.id).toBe(many[7]!.id);
    // A FAISS batch search takes them all first, and finds each under its id.
    const viaFaiss = index.searchBatch([later, many[0]!.vector, many[ADD_BATCH - 1]!.vector], 1);
    expect(viaFaiss.map((hits) => hits[0]!.id)).toEqual([9002, many[0]!.id, many[ADD_BATCH - 1]!.id]);
    expect(own(index).faissPending).toBe(0);
    expect(faissSize(index)).toBe(4002 + ADD_BATCH);

    const last = unit(random);
    index.add([{ id: 9003, vector: last }]);
    data.set(9003, last);
    await index.close();
    // Saved with the store's vectors (FAISS is never written): a reopen from disk finds all of them.
    const reopened = await VectorIndex.open(
      options(dir, data, { ivfThreshold: 3000 }),
    );
    expect(reopened.kind).toBe('ivf');
    expect(reopened.size).toBe(data.size);
    for (const [id, vector] of [[9001, fresh], [9002, later], [9003, last]] as const) expect(reopened.search(vector, 1)[0]!.id).toBe(id);
    await reopened.close();
  });

  it('a flat index: FAISS-served batch searches see vectors added just before', async () => {
    const random = mulberry32(11);
    const data = new Map<number, Float32Array>();
    const index = await VectorIndex.open(options(tempDir(), data));
    const items = Array.from({ length: 500 }, (_, i) => ({ id: i + 1, vector: unit(random) }));
    index.add(items);
    const fresh = Array.from({ length: 3 }, (_, i) => ({ id: 1000 + i, vector: unit(random) }));
    index.add(fresh);
    expect(own(index).faissPending).toBe(3);
    // A batch this large is searched by FAISS (BLAS): each new vector finds itself first.
    const queries = Array.from({ length: FLAT_BLAS_QUERIES }, (_, i) => fresh[i % fresh.length]!.vector);
    const hits = index.searchBatch(queries, 1);
    hits.forEach((found, i) => expect(found[0]).toEqual({ id: fresh[i % fresh.length]!.id, score: expect.closeTo(1, 4) }));
    expect(own(index).faissPending).toBe(0);
    expect(faissSize(index)).toBe(503);

    // Left alone, a flat index's FAISS catches up by itself a moment after the last add...
    index.add([{ id: 2000, vector: unit(random) }]);
    expect(own(index).faissPending).toBe(1);
    await expect.poll(() => faissSize(index), { timeout: 5000, interval: 20 }).toBe(504);
    // ...and a full batch pending goes in at once.
    index.add(Array.from({ length: ADD_BATCH }, (_, i) => ({ id: 3000 + i, vector: unit(random) })));
    expect(own(index).faissPending).toBe(0);
    expect(faissSize(index)).toBe(504 + ADD_BATCH);
    await index.close();
  });
});
