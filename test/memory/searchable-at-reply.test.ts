// A lone store into an IVF-indexed memory store is searchable the moment its reply is given, although FAISS takes the
// vector only later (vector/state.ts): the search right after finds it, supersession still sees it, and it is there
// after a restart. Real encoder (ONNX), real SQLite file, real FAISS and IVF build. Nothing mocked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDefaultEncoder, OnnxSentenceEncoder } from '../../src/main/embedding';
import { MemoryStore, type ParsedMemoryInput } from '../../src/main/memory/store';
import { MemorySearchQuery } from '../../src/shared/memory-protocol';
import { resourcesDir } from '../embedding/helpers';
import { tempDir } from '../helpers';
import { mulberry32 } from '../support/seeded-random';

const shop = { project: 'shop', agent: null };
const decision = (text: string): ParsedMemoryInput => ({ text, kind: 'decision', tags: [], metadata: {}, shared: false });
const query = (q: string) => MemorySearchQuery.parse({ q, k: 5, project: 'shop', scope: 'project' });
/** FAISS's share of the store's vector index: positions the store holds that FAISS has not taken yet. */
const faissPending = (store: MemoryStore) => (store as unknown as { state: { index: { s: { faissPending: number } } } }).state.index.s.faissPending;

describe('searchable when the reply comes', () => {
  let encoder: OnnxSentenceEncoder;
  beforeAll(async () => {
    encoder = await OnnxSentenceEncoder.load(await ensureDefaultEncoder(resourcesDir), { threads: 2 });
  }, 60_000);
  afterAll(async () => {
    await encoder?.close();
  });

  it('finds a lone store at once in an IVF index, supersedes through it, and keeps it across a restart', { timeout: 180_000 }, async () => {
    const dataDir = tempDir();
    const open = () => MemoryStore.open({ dataDir, encoder, halfLifeDays: 30, dedupeSimilarity: 0.95, index: { ivfThreshold: 2000, autoBuild: false } });
    let store = await open();
    // 2,400 filler memories in another project, with random unit vectors (no encoder run), then an IVF index.
    const random = mulberry32(5);
    for (let batch = 0; batch < 6; batch++) {
      const inputs = Array.from({ length: 400 }, (_, i) => {
        const vector = Float32Array.from({ length: encoder.dimension }, () => random() - 0.5);
        const norm = Math.hypot(...vector);
        return { ...decision(`filler note ${batch}-${i}`), vector: vector.map((x) => x / norm) };
      });
      await store.store(inputs, { project: 'filler', agent: null });
    }
    await store.rebuildIndex();
    expect(store.indexStats().kind).toBe('ivf');

    const [created] = await store.store([decision('Use Node 18 for the build.')], shop);
    expect(created!.outcome).toBe('created');
    // The reply is out; FAISS has not taken the vector yet, and the search finds it first all the same.
    expect(faissPending(store)).toBe(1);
    const found = await store.search(query('which Node version does the build use?'), shop);
    expect(found.hits[0]!.memory.id).toBe(created!.memory.id);
    const id = store.idOf(created!.memory.id)!;
    expect(store.nearest(store.vectorOf(id)!, 1)[0]!.id).toBe(id);

    // The next value supersedes it (the near-duplicate check saw it), and the search returns the current one.
    const [newer] = await store.store([decision('Use Node 22 for the build.')], shop);
    expect(newer!.outcome).toBe('supersedes');
    expect(newer!.superseded?.id).toBe(created!.memory.id);
    expect((await store.search(query('which Node version does the build use?'), shop)).hits[0]!.memory.id).toBe(newer!.memory.id);
    const [again] = await store.store([decision('Use Node 22 for the build!')], shop);
    expect(again).toMatchObject({ outcome: 'reinforced', memory: { id: newer!.memory.id } });

    await store.close();
    store = await open();
    try {
      expect(store.indexStats().kind).toBe('ivf');
      expect((await store.search(query('which Node version does the build use?'), shop)).hits[0]!.memory.id).toBe(newer!.memory.id);
      const newerId = store.idOf(newer!.memory.id)!;
      expect(store.nearest(store.vectorOf(newerId)!, 1)[0]!.id).toBe(newerId);
    } finally {
      await store.close();
    }
  });
});
