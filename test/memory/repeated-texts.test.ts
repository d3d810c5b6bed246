// A text said again costs no run of the encoder: the store reuses the vector of a text it embedded lately or of the
// project's current memory of the very same words, and embeds each distinct text of a group once (real encoder,
// SQLite, FAISS; the encoder is wrapped only to record which texts reach it).
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { ensureDefaultEncoder, OnnxSentenceEncoder, type SentenceEncoder } from '../../src/main/embedding';
import { MemoryStore, type ParsedMemoryInput } from '../../src/main/memory/store';
import { MemorySearchQuery } from '../../src/shared/memory-protocol';
import { dot, resourcesDir } from '../embedding/helpers';
import { tempDir } from '../helpers';

const fact = (text: string): ParsedMemoryInput => ({ text, kind: 'fact', tags: [], metadata: {}, shared: false });
const shop = { project: 'shop', agent: null };

describe('repeated texts', () => {
  let encoder: OnnxSentenceEncoder;
  beforeAll(async () => {
    encoder = await OnnxSentenceEncoder.load(await ensureDefaultEncoder(resourcesDir), { threads: 1 });
  }, 60_000);
  afterAll(async () => {
    await encoder?.close();
  });

  /** A store on a fresh folder whose encoder notes every text it is given. */
  async function openStore(dataDir = tempDir()): Promise<{ store: MemoryStore; embedded: string[] }> {
    const embedded: string[] = [];
    const recording: SentenceEncoder = {
      id: encoder.id,
      dimension: encoder.dimension,
      embed: (texts, options) => {
        embedded.push(...texts);
        return encoder.embed(texts, options);
      },
      close: () => Promise.resolve(),
    };
    const store = await MemoryStore.open({ dataDir, encoder: recording, halfLifeDays: 30, dedupeSimilarity: 0.95 });
    onTestFinished(() => store.close());
    return { store, embedded };
  }

  it('reinforces a text said again without embedding it again, also after a restart', async () => {
    const dataDir = tempDir();
    const { store, embedded } = await openStore(dataDir);
    const [first] = await store.store([fact('The staging database listens on port 5433.')], shop);
    const [again] = await store.store([fact('The staging database listens on port 5433.')], shop);
    expect(first!.outcome).toBe('created');
    expect(again).toMatchObject({ outcome: 'reinforced', memory: { id: first!.memory.id } });
    expect(embedded).toEqual(['The staging database listens on port 5433.']);
    await store.close();

    // After a restart (nothing embedded lately) the stored memory's vector serves.
    const reopened = await openStore(dataDir);
    const [third] = await reopened.store.store([fact('The staging database listens on port 5433.')], shop);
    expect(third).toMatchObject({ outcome: 'reinforced', memory: { id: first!.memory.id } });
    expect(reopened.embedded).toEqual([]);
  });

  it('embeds each distinct text of a group once, whoever sends it', async () => {
    const { store, embedded } = await openStore();
    const text = 'Release builds are signed with the key in the hardware token.';
    const [one, two] = await Promise.all([
      store.store([fact(text), fact(text), fact('Nightly builds are not signed.')], shop),
      store.store([fact(text)], shop),
    ]);
    expect([...one!, ...two!].map((stored) => stored.outcome)).toEqual(['created', 'reinforced', 'created', 'reinforced']);
    expect(embedded.filter((t) => t === text)).toHaveLength(1);
  });

  it('embeds another wording with the same hash; the same words in another project take the vector just made', async () => {
    const { store, embedded } = await openStore();
    await store.store([fact('The staging database listens on port 5433.')], shop);
    embedded.length = 0;
    const [loud] = await store.store([fact('the staging database listens on port 5433!')], shop);
    expect(loud!.outcome).toBe('reinforced');
    const [elsewhere] = await store.store([fact('The staging database listens on port 5433.')], { project: 'ledger', agent: null });
    expect(elsewhere!.outcome).toBe('created');
    expect(embedded).toEqual(['the staging database listens on port 5433!']);
    const { hits } = await store.search(MemorySearchQuery.parse({ q: 'which port does the staging database use', k: 3 }), { project: 'ledger', agent: null });
    expect(hits[0]!.memory.id).toBe(elsewhere!.memory.id);
  });

  it('stores the text with the borrowed vector when the memory it repeats is deleted before the commit', async () => {
    const { store, embedded } = await openStore();
    const text = 'The CDN cache is purged on every deploy of the docs site.';
    const [first] = await store.store([fact(text)], shop);
    const firstVector = store.vectorOf(Number(store.db.prepare('SELECT id FROM memories WHERE uid = ?').pluck().get(first!.memory.id)))!;
    embedded.length = 0;
    // The group is taken (and the stored vector borrowed) at once; the delete lands before its commit.
    const again = store.store([fact(text)], shop);
    store.delete(first!.memory.id);
    const [stored] = await again;
    expect(stored).toMatchObject({ outcome: 'created', memory: { text } });
    expect(stored!.memory.id).not.toBe(first!.memory.id);
    expect(embedded).toEqual([]);
    const id = Number(store.db.prepare('SELECT id FROM memories WHERE uid = ?').pluck().get(stored!.memory.id));
    expect(dot(store.vectorOf(id)!, firstVector)).toBeCloseTo(1, 6);
    // Found by meaning like any other memory.
    const { hits } = await store.search(MemorySearchQuery.parse({ q: 'when is the CDN cache purged', k: 3 }), shop);
    expect(hits[0]!.memory.id).toBe(stored!.memory.id);
  });
});
