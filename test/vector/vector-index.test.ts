// The memory engine's vector index against real faiss-node (and a real build child process). Nothing mocked.
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { VectorIndex, type VectorIndexEvent, type VectorIndexOptions, type VectorItem } from '../../src/main/vector';
import { fileBase } from '../../src/main/vector/files';
import { FLAT_BLAS_QUERIES, PAD_FLAT_BATCH_FROM } from '../../src/main/vector/vector-index';
import { tempDir } from '../helpers';
import { mulberry32 } from '../support/seeded-random';

const DIM = 32;

/** FAISS's search as the test reads it from an index's private state. */
interface FaissSearch {
  search(query: number[], k: number): { labels: number[]; distances: number[] };
}

const rng = mulberry32;

function gauss(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

function normalize(v: Float32Array): Float32Array {
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm);
  for (let i = 0; i < v.length; i++) v[i] = v[i]! / norm;
  return v;
}

/**
 * Unit vectors around 40 fixed random centres (like embeddings: structured, not uniform noise). Every call draws
 * from the same mixture, so queries come from the distribution the index was built on.
 */
function clustered(n: number, seed: number, clusters = 40, spread = 0.6): Float32Array[] {
  const centreRandom = rng(12345);
  const centres = Array.from({ length: clusters }, () => normalize(Float32Array.from({ length: DIM }, () => gauss(centreRandom))));
  const random = rng(seed);
  const sigma = spread / Math.sqrt(DIM);
  return Array.from({ length: n }, () => {
    const c = centres[Math.floor(random() * clusters)]!;
    return normalize(Float32Array.from(c, (x) => x + sigma * gauss(random)));
  });
}

function items(vectors: Float32Array[], firstId = 1): VectorItem[] {
  return vectors.map((vector, i) => ({ id: firstId + i, vector }));
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Brute force over a map id → vector. */
function exact(data: Map<number, Float32Array>, query: Float32Array, k: number, accept?: (id: number) => boolean): number[] {
  return [...data]
    .filter(([id]) => !accept || accept(id))
    .map(([id, v]) => ({ id, score: dot(query, v) }))
    .sort((a, b) => b.score - a.score)
    .slice(0, k)
    .map((h) => h.id);
}

/** A unit vector at inner product `similarity` with unit vector `v`, in a random direction. */
function nearCopy(v: Float32Array, similarity: number, random: () => number): Float32Array {
  const u = Float32Array.from(v, () => gauss(random));
  const along = dot(u, v);
  for (let i = 0; i < u.length; i++) u[i] = u[i]! - along * v[i]!;
  normalize(u);
  const across = Math.sqrt(1 - similarity * similarity);
  return Float32Array.from(v, (x, i) => similarity * x + across * u[i]!);
}

/**
 * Near-duplicate checks (searchCloseBatch) against exact search: of the neighbours at inner product >= 0.95 to
 * near copies of stored vectors, the share found. Every hit must be live and carry its true score.
 */
function closeRecall(index: VectorIndex, data: Map<number, Float32Array>, of: number[], random: () => number): number {
  const queries = of.map((id) => nearCopy(data.get(id)!, 0.96 + 0.03 * random(), random));
  const close = index.searchCloseBatch(queries, 10);
  let wanted = 0;
  let found = 0;
  queries.forEach((q, i) => {
    for (const hit of close[i]!) {
      expect(data.has(hit.id)).toBe(true);
      expect(hit.score).toBeCloseTo(dot(q, data.get(hit.id)!), 4);
    }
    const truth = exact(data, q, 10).filter((id) => dot(q, data.get(id)!) >= 0.95);
    wanted += truth.length;
    found += truth.filter((id) => close[i]!.some((h) => h.id === id)).length;
  });
  expect(wanted).toBeGreaterThanOrEqual(of.length);
  return found / wanted;
}

function recallAt(index: VectorIndex, data: Map<number, Float32Array>, queries: Float32Array[], k = 10): number {
  let hits = 0;
  for (const q of queries) {
    const want = new Set(exact(data, q, k));
    for (const h of index.search(q, k)) if (want.has(h.id)) hits++;
  }
  return hits / (queries.length * k);
}

function options(dir: string, data: Map<number, Float32Array>, extra: Partial<VectorIndexOptions> = {}): VectorIndexOptions {
  return {
    dir,
    modelId: 'use-lite/test',
    dimension: DIM,
    expectedCount: data.size,
    loadAll: () => [...data].map(([id, vector]) => ({ id, vector })),
    ...extra,
    tuning: { autoBuild: false, saveDelayMs: 60_000, ...extra.tuning },
  };
}

function throwingLoader(): Iterable<VectorItem> {
  throw new Error('the loader must not be called');
}

describe('VectorIndex (flat)', () => {
  it('returns exactly the brute-force neighbours, with inner-product scores', async () => {
    const dir = tempDir();
    const index = await VectorIndex.open(options(dir, new Map()));
    const vectors = clustered(3000, 1);
    index.add(items(vectors));
    const data = new Map(items(vectors).map((it) => [it.id, it.vector]));
    expect(index.size).toBe(3000);
    expect(index.kind).toBe('flat');
    for (const q of clustered(25, 2)) {
      const hits = index.search(q, 10);
      expect(hits.map((h) => h.id)).toEqual(exact(data, q, 10));
      for (const h of hits) expect(h.score).toBeCloseTo(dot(q, data.get(h.id)!), 4);
      for (let i = 1; i < hits.length; i++) expect(hits[i - 1]!.score).toBeGreaterThanOrEqual(hits[i]!.score);
    }
    const queries = clustered(30, 3);
    const batch = index.searchBatch(queries, 7);
    queries.forEach((q, i) => expect(batch[i]!.map((h) => h.id)).toEqual(index.search(q, 7).map((h) => h.id)));
    // Batches under FAISS's BLAS threshold (padded with zero queries from 3) answer as single searches do.
    for (const size of [1, 2, PAD_FLAT_BATCH_FROM, 4, FLAT_BLAS_QUERIES - 1]) {
      const few = queries.slice(0, size);
      const answers = index.searchBatch(few, 7);
      expect(answers).toHaveLength(size);
      few.forEach((q, i) => expect(answers[i]!.map((h) => h.id)).toEqual(index.search(q, 7).map((h) => h.id)));
    }
    expect(index.search(queries[0]!, 0)).toEqual([]);
    expect(index.search(queries[0]!, 5000)).toHaveLength(3000);
    await index.close();
  });

  it('replaces an id on add, deletes on remove, and never returns a dead vector', async () => {
    const dir = tempDir();
    const index = await VectorIndex.open(options(dir, new Map()));
    const vectors = clustered(500, 4);
    index.add(items(vectors));
    // Replace id 7 by the exact query vector: it must come first, once.
    const q = clustered(1, 5)[0]!;
    index.add([{ id: 7, vector: q }]);
    expect(index.size).toBe(500);
    const hits = index.search(q, 10);
    expect(hits[0]!.id).toBe(7);
    expect(hits[0]!.score).toBeCloseTo(1, 5);
    expect(hits.filter((h) => h.id === 7)).toHaveLength(1);
    // The same id twice in one call: the last vector wins.
    index.add([
      { id: 8, vector: vectors[100]! },
      { id: 8, vector: q },
    ]);
    expect(index.search(q, 2).map((h) => h.id).sort()).toEqual([7, 8]);
    index.remove([7, 8, 9999]);
    expect(index.has(7)).toBe(false);
    expect(index.has(8)).toBe(false);
    expect(index.has(9)).toBe(true);
    expect(index.size).toBe(498);
    const data = new Map(items(vectors).map((it) => [it.id, it.vector]));
    data.delete(7);
    data.delete(8);
    for (const query of clustered(20, 6)) expect(index.search(query, 10).map((h) => h.id)).toEqual(exact(data, query, 10));
    expect(index.search(q, 1000)).toHaveLength(498);
    expect(index.stats()).toMatchObject({ kind: 'flat', size: 498, tombstones: 4, positions: 502 });
    // Removing everything leaves an empty, working index.
    index.remove([...data.keys()]);
    expect(index.size).toBe(0);
    expect(index.search(q, 5)).toEqual([]);
    await index.close();
  });

  it('filters with accept: widens until k accepted hits, exact even for very selective filters', async () => {
    const dir = tempDir();
    const index = await VectorIndex.open(options(dir, new Map()));
    const vectors = clustered(4000, 7);
    index.add(items(vectors));
    const data = new Map(items(vectors).map((it) => [it.id, it.vector]));
    let calls = 0;
    const every13 = (id: number) => {
      calls++;
      return id % 13 === 0;
    };
    const rare = (id: number) => id === 17 || id === 3999 || id === 2500;
    for (const q of clustered(10, 8)) {
      expect(index.search(q, 10, every13).map((h) => h.id)).toEqual(exact(data, q, 10, every13));
      expect(index.search(q, 10, rare).map((h) => h.id)).toEqual(exact(data, q, 10, rare));
      expect(index.search(q, 10, () => false)).toEqual([]);
    }
    expect(calls).toBeGreaterThan(0);
    await index.close();
  });

  it('rejects bad input without changing anything', async () => {
    const dir = tempDir();
    const index = await VectorIndex.open(options(dir, new Map()));
    index.add(items(clustered(10, 9)));
    const good = clustered(1, 10)[0]!;
    expect(() => index.add([{ id: 100, vector: good }, { id: 0, vector: good }])).toThrow(RangeError);
    expect(() => index.add([{ id: 1.5, vector: good }])).toThrow(RangeError);
    expect(() => index.add([{ id: 101, vector: new Float32Array(DIM + 1) }])).toThrow(RangeError);
    expect(() => index.add([{ id: 102, vector: new Float32Array(DIM).fill(NaN) }])).toThrow(RangeError);
    expect(() => index.search(new Float32Array(3), 1)).toThrow(RangeError);
    expect(() => index.search(good, -1)).toThrow(RangeError);
    expect(index.size).toBe(10);
    expect(index.has(100)).toBe(false);
    await index.close();
    expect(() => index.search(good, 1)).toThrow(/closed/);
  });
});

describe('VectorIndex persistence', () => {
  async function saved(dir: string, n = 2000) {
    const vectors = clustered(n, 11);
    const index = await VectorIndex.open(options(dir, new Map()));
    index.add(items(vectors));
    index.remove([3, 5, 8]);
    index.add([{ id: 10, vector: vectors[1500]! }]);
    const data = new Map(items(vectors).map((it) => [it.id, it.vector]));
    data.delete(3);
    data.delete(5);
    data.delete(8);
    data.set(10, vectors[1500]!);
    await index.close();
    return data;
  }

  it('round-trips through disk without calling the loader', async () => {
    const dir = tempDir();
    const data = await saved(dir);
    const events: VectorIndexEvent[] = [];
    const index = await VectorIndex.open(options(dir, data, { loadAll: throwingLoader, onEvent: (e) => events.push(e) }));
    expect(events.find((e) => e.type === 'opened')).toMatchObject({ type: 'opened', source: 'disk' });
    expect(index.size).toBe(data.size);
    expect(index.has(3)).toBe(false);
    for (const q of clustered(20, 12)) expect(index.search(q, 10).map((h) => h.id)).toEqual(exact(data, q, 10));
    // Appends after reopening are saved too (the generation's files grow; the header moves).
    index.add([{ id: 50_000, vector: clustered(1, 13)[0]! }]);
    await index.close();
    const again = await VectorIndex.open(options(dir, data, { expectedCount: data.size + 1, loadAll: throwingLoader }));
    expect(again.has(50_000)).toBe(true);
    expect(again.stats().openedFrom).toBe('disk');
    await again.close();
  });

  const damage: Array<[string, (dir: string) => void]> = [
    ['the files are missing', (dir) => readdirSync(dir).forEach((f) => rmSync(path.join(dir, f)))],
    ['the header is missing', (dir) => rmSync(findFile(dir, '.json'))],
    ['the vectors file is truncated', (dir) => truncate(findFile(dir, '.vectors.faiss'), 0.5)],
    ['a vector byte is flipped', (dir) => flip(findFile(dir, '.vectors.faiss'), 0.7)],
    ['an id byte is flipped', (dir) => flip(findFile(dir, '.ids'), 0.3)],
    ['the header is corrupted', (dir) => flip(findFile(dir, '.json'), 0.5)],
    ['the header is truncated', (dir) => truncate(findFile(dir, '.json'), 0.5)],
  ];
  for (const [what, hurt] of damage) {
    it(`rebuilds from the loader when ${what}`, async () => {
      const dir = tempDir();
      const data = await saved(dir);
      hurt(dir);
      let loaderCalls = 0;
      const events: VectorIndexEvent[] = [];
      const index = await VectorIndex.open(
        options(dir, data, {
          loadAll: () => {
            loaderCalls++;
            return [...data].map(([id, vector]) => ({ id, vector }));
          },
          onEvent: (e) => events.push(e),
        }),
      );
      expect(loaderCalls).toBe(1);
      expect(events.find((e) => e.type === 'opened')).toMatchObject({ type: 'opened', source: 'loader' });
      expect(index.size).toBe(data.size);
      for (const q of clustered(10, 14)) expect(index.search(q, 10).map((h) => h.id)).toEqual(exact(data, q, 10));
      await index.close();
      // …and the rebuilt index is saved: the next open needs no loader.
      const again = await VectorIndex.open(options(dir, data, { loadAll: throwingLoader }));
      expect(again.stats().openedFrom).toBe('disk');
      await again.close();
    });
  }

  it('reconciles with the loader when the counts differ (a crash lost the last changes)', async () => {
    const dir = tempDir();
    const data = await saved(dir);
    // SQLite moved on after the last save: one memory deleted, one added, one re-embedded.
    const truth = new Map(data);
    truth.delete(20);
    truth.set(70_000, clustered(1, 15)[0]!);
    truth.delete(21);
    truth.set(22, clustered(1, 16)[0]!);
    const events: VectorIndexEvent[] = [];
    const index = await VectorIndex.open(options(dir, truth, { onEvent: (e) => events.push(e) }));
    expect(events.find((e) => e.type === 'opened')).toMatchObject({ type: 'opened', source: 'disk', reconciled: { added: 2, removed: 2 } });
    expect(index.size).toBe(truth.size);
    expect(index.has(20)).toBe(false);
    expect(index.has(70_000)).toBe(true);
    for (const q of [...clustered(10, 17), truth.get(22)!]) expect(index.search(q, 10).map((h) => h.id)).toEqual(exact(truth, q, 10));
    await index.close();
  });

  it('ignores bytes a save appended but never committed', async () => {
    const dir = tempDir();
    const data = await saved(dir);
    const vectorsFile = findFile(dir, '.vectors.faiss');
    const size = statSync(vectorsFile).size;
    appendFileSync(vectorsFile, Buffer.alloc(DIM * 4 * 3, 7));
    const index = await VectorIndex.open(options(dir, data, { loadAll: throwingLoader }));
    expect(index.size).toBe(data.size);
    expect(statSync(vectorsFile).size).toBe(size);
    await index.close();
  });

  it('writes nothing but its own files, and cleans its leftovers', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'other-model.json'), '{}');
    writeFileSync(path.join(dir, fileBase('use-lite/test') + '.g99.vectors.faiss'), 'leftover');
    // Temporary headers a crash left mid-write: durable-file's name, and the older `<model>.json.tmp`; not another model's.
    writeFileSync(path.join(dir, `.${fileBase('use-lite/test')}.json.4242.tmp`), '{"half');
    writeFileSync(path.join(dir, `${fileBase('use-lite/test')}.json.tmp`), '{"half');
    writeFileSync(path.join(dir, '.other-model.json.4242.tmp'), '{"half');
    const data = await saved(dir);
    const index = await VectorIndex.open(options(dir, data, { loadAll: throwingLoader }));
    await index.close();
    const names = readdirSync(dir).sort();
    expect(names).toContain('other-model.json');
    expect(names.some((n) => n.includes('.g99.'))).toBe(false);
    expect(names.filter((n) => n.includes('.tmp'))).toEqual(['.other-model.json.4242.tmp']);
    expect(names.filter((n) => n.startsWith('use-lite_test-'))).toHaveLength(3);
  });
});

describe('VectorIndex growth and compaction', () => {
  it('trains an IVF index in the background past the threshold; requests keep answering meanwhile', { timeout: 120_000 }, async () => {
    const dir = tempDir();
    const events: VectorIndexEvent[] = [];
    const index = await VectorIndex.open(
      options(dir, new Map(), {
        onEvent: (e) => events.push(e),
        tuning: { autoBuild: true, ivfThreshold: 5000, partBytes: 64 * 1024, buildThreads: 1, targetRecall: 0.95 },
      }),
    );
    const data = new Map<number, Float32Array>();
    const vectors = clustered(6000, 21);
    for (let i = 0; i < 6000; i += 500) {
      const batch = items(vectors.slice(i, i + 500), i + 1);
      index.add(batch);
      for (const it of batch) data.set(it.id, it.vector);
    }
    expect(events.some((e) => e.type === 'build-started')).toBe(true);
    expect(index.stats().building).not.toBeNull();
    // While the child trains: exact answers from the flat index, and changes are accepted.
    const queries = clustered(40, 22);
    let duringBuild = 0;
    let nextId = 100_000;
    const removed: number[] = [];
    while (index.stats().building) {
      const q = queries[duringBuild % queries.length]!;
      if (index.kind === 'flat') expect(index.search(q, 10).map((h) => h.id)).toEqual(exact(data, q, 10));
      const extra = clustered(5, 1000 + duringBuild).map((vector) => ({ id: nextId++, vector }));
      index.add(extra);
      for (const it of extra) data.set(it.id, it.vector);
      const victim = 1 + ((duringBuild * 37) % 6000);
      if (data.delete(victim)) removed.push(victim);
      index.remove([victim]);
      duringBuild++;
      await new Promise((r) => setTimeout(r, 5));
    }
    await index.whenIdle();
    expect(duringBuild).toBeGreaterThan(0);
    expect(index.kind).toBe('ivf');
    const stats = index.stats();
    expect(stats.nlist).toBeGreaterThan(0);
    expect(stats.nprobe).toBeGreaterThanOrEqual(1);
    expect(stats.size).toBe(data.size);
    expect(stats.tombstones).toBeLessThan(removed.length + 1);
    const finished = events.find((e) => e.type === 'build-finished');
    expect(finished).toMatchObject({ kind: 'ivf' });
    // Everything added during training is findable, nothing removed comes back.
    for (let id = 100_000; id < nextId; id++) expect(index.search(data.get(id)!, 1)[0]!.id).toBe(id);
    const removedSet = new Set(removed);
    for (const q of queries) for (const h of index.search(q, 50)) expect(removedSet.has(h.id)).toBe(false);
    // Near-duplicate checks scan the two lists nearest each query, and still find close neighbours, those added
    // while the child trained included (assigned to their lists as they were added).
    const closeRandom = rng(24);
    const stored = [...data.keys()];
    const sampleIds = [...stored.filter((id) => id >= 100_000), ...Array.from({ length: 200 }, () => stored[Math.floor(closeRandom() * stored.length)]!)];
    expect(closeRecall(index, data, sampleIds, closeRandom)).toBeGreaterThanOrEqual(0.98);
    expect(index.searchCloseBatch(clustered(3, 25), 0)).toEqual([[], [], []]);
    expect(recallAt(index, data, clustered(100, 23))).toBeGreaterThanOrEqual(0.9);
    // Searches scan the int8 mirror of more lists than FAISS's nprobe (SEARCH_PROBE_FACTOR) and score the best
    // exactly: true scores, best first, and every hit of FAISS's own IVF search (its index, read here from the
    // private state, skipping tombstones) that scores above the last hit is among the hits.
    const own = (index as unknown as { s: { index: FaissSearch; coarse: unknown; store: { isDead(pos: number): boolean; id(pos: number): number } } }).s;
    expect(own.coarse).not.toBeNull();
    let foundByFaiss = 0;
    let foundBySearch = 0;
    for (const q of clustered(50, 28)) {
      for (const k of [10, 50]) {
        const { labels } = own.index.search([...q], k + 200);
        const faiss = labels.filter((pos) => pos >= 0 && !own.store.isDead(pos)).slice(0, k).map((pos) => own.store.id(pos));
        const hits = index.search(q, k);
        expect(hits).toHaveLength(k);
        hits.forEach((hit, i) => {
          expect(hit.score).toBeCloseTo(dot(q, data.get(hit.id)!), 5);
          if (i > 0) expect(hit.score).toBeLessThanOrEqual(hits[i - 1]!.score);
        });
        const ids = new Set(hits.map((hit) => hit.id));
        for (const id of faiss) if (dot(q, data.get(id)!) > hits[k - 1]!.score + 1e-6) expect(ids.has(id)).toBe(true);
        const truth = new Set(exact(data, q, k));
        foundByFaiss += faiss.filter((id) => truth.has(id)).length;
        foundBySearch += hits.filter((hit) => truth.has(hit.id)).length;
      }
    }
    expect(foundBySearch).toBeGreaterThanOrEqual(foundByFaiss);
    // Filters still exact-or-better: selective ones go to the exact scan.
    const rare = (id: number) => id % 101 === 0;
    for (const q of queries.slice(0, 5)) expect(index.search(q, 10, rare).map((h) => h.id)).toEqual(exact(data, q, 10, rare));
    await index.close();
    // Saved as several part files (each whole inverted lists), loaded one by one on open.
    expect(readdirSync(dir).filter((n) => /\.ivf\.\d+\.faiss$/.test(n)).length).toBeGreaterThan(1);

    // It reopens as IVF from disk, without the loader and without retraining.
    const reopened = await VectorIndex.open(options(dir, data, { loadAll: throwingLoader, tuning: { ivfThreshold: 5000 } }));
    expect(reopened.kind).toBe('ivf');
    expect(reopened.stats().nprobe).toBe(stats.nprobe);
    expect(recallAt(reopened, data, clustered(100, 23))).toBeGreaterThanOrEqual(0.9);
    expect(closeRecall(reopened, data, sampleIds, rng(26))).toBeGreaterThanOrEqual(0.98);
    // Added after reopening: assigned to its list at once.
    const fresh = nearCopy(data.get(sampleIds[0]!)!, 0.5, rng(27));
    reopened.add([{ id: 500_000, vector: fresh }]);
    data.set(500_000, fresh);
    expect(reopened.searchCloseBatch([fresh], 1)[0]).toEqual([{ id: 500_000, score: expect.closeTo(1, 4) }]);
    expect(reopened.search(fresh, 1)[0]).toEqual({ id: 500_000, score: expect.closeTo(1, 4) });
    data.delete(500_000);
    reopened.remove([500_000]);
    expect(reopened.searchCloseBatch([fresh], 1)[0]![0]?.id).not.toBe(500_000);
    await reopened.close();

    // A damaged IVF part: the vectors are still good, so it serves exactly (flat) at once and retrains.
    flip(findFile(dir, '.ivf.0.faiss'), 0.6);
    const fallback = await VectorIndex.open(options(dir, data, { loadAll: throwingLoader, tuning: { ivfThreshold: 5000, autoBuild: true, buildThreads: 1 } }));
    expect(fallback.kind).toBe('flat');
    for (const q of queries.slice(0, 5)) expect(fallback.search(q, 10).map((h) => h.id)).toEqual(exact(data, q, 10));
    await fallback.whenIdle();
    expect(fallback.kind).toBe('ivf');
    await fallback.close();
  });

  it('finishes a build while vectors keep arriving faster than a fixed catch-up slice would take them', { timeout: 120_000 }, async () => {
    const dir = tempDir();
    const events: VectorIndexEvent[] = [];
    const index = await VectorIndex.open(
      options(dir, new Map(), { onEvent: (e) => events.push(e), tuning: { autoBuild: true, ivfThreshold: 5000, buildThreads: 1, partBytes: 64 * 1024 } }),
    );
    const vectors = clustered(5000, 41);
    index.add(items(vectors));
    expect(index.stats().building).not.toBeNull();
    // 300 new vectors every turn of the event loop, the build's catch-up included (it used to take 256 per turn, and
    // then stopped just short of its finish line every turn).
    let nextId = 10_000;
    let turns = 0;
    while (!events.some((e) => e.type === 'build-finished') && turns < 3_000) {
      index.add(clustered(300, 50_000 + turns).map((vector) => ({ id: nextId++, vector })));
      await new Promise((resolve) => setImmediate(resolve));
      turns++;
    }
    expect(events.find((e) => e.type === 'build-finished')).toMatchObject({ kind: 'ivf' });
    await index.whenIdle();
    expect(index.kind).toBe('ivf');
    expect(index.size).toBe(5000 + (nextId - 10_000));
    const last = clustered(300, 50_000 + turns - 1);
    expect(index.search(last[0]!, 1)[0]!.id).toBe(nextId - 300);
    await index.close();
  });

  it('compacts after many deletes, in the background', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    const events: VectorIndexEvent[] = [];
    const index = await VectorIndex.open(
      options(dir, new Map(), { onEvent: (e) => events.push(e), tuning: { autoBuild: true, minCompactDead: 100, compactRatio: 0.2 } }),
    );
    const vectors = clustered(2000, 31);
    index.add(items(vectors));
    const data = new Map(items(vectors).map((it) => [it.id, it.vector]));
    const doomed = [...data.keys()].filter((id) => id % 3 === 0);
    index.remove(doomed);
    for (const id of doomed) data.delete(id);
    expect(index.stats().building).toMatchObject({ reason: 'compact' });
    // Replace a few while it compacts.
    const q = clustered(1, 32)[0]!;
    index.add([{ id: 1, vector: q }]);
    data.set(1, q);
    await index.whenIdle();
    expect(events.find((e) => e.type === 'build-finished')).toMatchObject({ kind: 'flat' });
    // Compaction dropped what was dead when it started; the replacement made meanwhile left one tombstone.
    expect(index.stats()).toMatchObject({ kind: 'flat', tombstones: 1, positions: data.size + 1, size: data.size });
    expect(index.search(q, 1)[0]!.id).toBe(1);
    for (const query of clustered(20, 33)) expect(index.search(query, 10).map((h) => h.id)).toEqual(exact(data, query, 10));
    await index.close();
    // Only the new generation's files remain.
    const generations = new Set(readdirSync(dir).map((n) => /\.g(\d+)\./.exec(n)?.[1]).filter(Boolean));
    expect(generations.size).toBe(1);
    const again = await VectorIndex.open(options(dir, data, { loadAll: throwingLoader }));
    expect(again.size).toBe(data.size);
    await again.close();
  });
});

function findFile(dir: string, suffix: string): string {
  const name = readdirSync(dir).find((n) => n.endsWith(suffix));
  if (!name) throw new Error(`no *${suffix} in ${dir}: ${readdirSync(dir).join(', ')}`);
  return path.join(dir, name);
}

function truncate(file: string, fraction: number): void {
  const bytes = readFileSync(file);
  writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length * fraction)));
}

function flip(file: string, at: number): void {
  const bytes = readFileSync(file);
  const i = Math.min(bytes.length - 1, Math.floor(bytes.length * at));
  bytes[i] = bytes[i]! ^ 0x5a;
  writeFileSync(file, bytes);
  expect(existsSync(file)).toBe(true);
}
