// A store of one memory while nothing else is embedding embeds on the hub's main thread (no inference worker round
// trip); its outcomes are those of the same stores embedded in a worker: created, superseded by a newer value,
// reinforced by a restatement, with the same similarities. Real encoder and workers, real SQLite file, real FAISS.
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { ensureDefaultEncoder, OnnxSentenceEncoder } from '../../src/main/embedding';
import { MemoryStore, type ParsedMemoryInput } from '../../src/main/memory/store';
import { resourcesDir } from '../embedding/helpers';
import { tempDir } from '../helpers';

const decision = (text: string): ParsedMemoryInput => ({ text, kind: 'decision', tags: [], metadata: {}, shared: false });
const shop = { project: 'shop', agent: null };
const texts = ['Use Node 18 for the build.', 'Use Node 22 for the build.', 'Use Node 22 for the build!'];

describe('a lone store', () => {
  let encoder: OnnxSentenceEncoder;
  beforeAll(async () => {
    encoder = await OnnxSentenceEncoder.load(await ensureDefaultEncoder(resourcesDir), { threads: 2 });
  }, 60_000);
  afterAll(async () => {
    await encoder?.close();
  });

  async function openStore(): Promise<MemoryStore> {
    const store = await MemoryStore.open({ dataDir: tempDir(), encoder, halfLifeDays: 30, dedupeSimilarity: 0.95 });
    onTestFinished(() => store.close());
    return store;
  }

  /** Stores the texts one after another; `busy`: with another embed call under way each time (so in a worker). */
  async function outcomes(busy: boolean) {
    const store = await openStore();
    const before = encoder.ranHere;
    const results = [];
    for (const text of texts) {
      const other = busy ? encoder.embed(['an unrelated call under way', 'of two texts']) : undefined;
      const [stored] = await store.store([decision(text)], shop);
      await other;
      results.push({ outcome: stored!.outcome, similarity: stored!.similarity, superseded: stored!.superseded?.text });
    }
    return { results, ranHere: encoder.ranHere - before };
  }

  it('embeds on the main thread, with the outcomes of a store embedded in a worker', async () => {
    const here = await outcomes(false);
    const inWorker = await outcomes(true);
    expect(here.ranHere).toBe(texts.length);
    expect(inWorker.ranHere).toBe(0);
    expect(here.results.map((r) => r.outcome)).toEqual(['created', 'supersedes', 'reinforced']);
    expect(here.results[1]!.superseded).toBe('Use Node 18 for the build.');
    expect(inWorker.results.map(({ outcome, superseded }) => ({ outcome, superseded }))).toEqual(
      here.results.map(({ outcome, superseded }) => ({ outcome, superseded })),
    );
    here.results.forEach((result, i) => {
      if (result.similarity === undefined) expect(inWorker.results[i]!.similarity).toBeUndefined();
      else expect(inWorker.results[i]!.similarity).toBeCloseTo(result.similarity, 5);
    });
  });
});
