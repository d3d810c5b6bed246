// New memories enter the keyword index after their commit, in bulk (keyword-backlog.ts): real encoder, SQLite, FAISS.
import { describe, expect, it } from 'vitest';
import { ensureDefaultEncoder, OnnxSentenceEncoder } from '../../src/main/embedding';
import { MemoryStore, type ParsedMemoryInput } from '../../src/main/memory/store';
import { MemorySearchQuery } from '../../src/shared/memory-protocol';
import { resourcesDir } from '../embedding/helpers';
import { tempDir } from '../helpers';

const fact = (text: string, tags: string[] = []): ParsedMemoryInput => ({ text, kind: 'fact', tags, metadata: {}, shared: false });
const context = { project: 'shop', agent: null };
const query = (q: string) => MemorySearchQuery.parse({ q, k: 5 });

/** Rows the FTS5 index holds, and whether it agrees with the memories table for the rows it holds. */
function indexed(store: MemoryStore): number {
  return store.db.prepare('SELECT COUNT(*) FROM memories_fts_docsize').pluck().get() as number;
}
function integrityCheck(store: MemoryStore): void {
  store.db.prepare("INSERT INTO memories_fts (memories_fts, rank) VALUES ('integrity-check', 0)").run();
}

describe('the keyword index backlog', () => {
  it('indexes after the commit, yet every acknowledged memory is found by keyword, across deletes, reused ids and a restart', async () => {
    const encoder = await OnnxSentenceEncoder.load(await ensureDefaultEncoder(resourcesDir));
    const dataDir = tempDir();
    let store = await MemoryStore.open({ dataDir, encoder, halfLifeDays: 30, dedupeSimilarity: 0.95 });
    try {
      // One call: a lone text may embed on this thread at once while the inference workers still load the model, and a
      // store after it would then wait past the backlog's quiet period for them, letting the backlog be indexed.
      const [hash] = await store.store(
        [
          fact('Commit 9f3c2ab71e fixed the flaky upload retry in the mailbox.'),
          fact('Ticket OPS-4412 tracks the slow checkout page.'),
          fact('The payments service reads PAYMENTS_API_KEY at start.'),
        ],
        context,
      );
      // Stored and acknowledged, not yet in the keyword index (the commit no longer writes FTS5 rows one by one)…
      expect(indexed(store)).toBe(0);
      // …and a keyword search still finds them: it indexes the backlog first.
      const found = await store.search(query('9f3c2ab71e'), context);
      expect(found.hits[0]!.memory.id).toBe(hash!.memory.id);
      expect(found.hits[0]!.scores.exact).toBe(true);
      expect(indexed(store)).toBe(3);
      integrityCheck(store);

      // Deleting a memory the index does not hold yet, then storing another that takes its id over.
      const [gone] = await store.store([fact('The legacy exporter writes to /srv/export/legacy-4471.csv every hour.')], context);
      store.delete(gone!.memory.id);
      const [reused] = await store.store([fact('Feature flag CHECKOUT_V2_ROLLOUT is on for ten percent of users.')], context);
      expect((await store.search(query('CHECKOUT_V2_ROLLOUT'), context)).hits[0]!.memory.id).toBe(reused!.memory.id);
      expect((await store.search(query('legacy-4471.csv'), context)).hits.map((hit) => hit.memory.id)).not.toContain(gone!.memory.id);
      integrityCheck(store);

      // The newest memory, already indexed, deleted: its id given again is indexed at once (it is below the mark).
      store.delete(reused!.memory.id);
      const [again] = await store.store([fact('The nightly backup job BACKUP-7731 keeps fourteen snapshots.')], context);
      expect((await store.search(query('BACKUP-7731'), context)).hits[0]!.memory.id).toBe(again!.memory.id);
      // A reinforcement that adds a tag changes the indexed row; one that changes nothing leaves it.
      const [tagged] = await store.store([fact('Ticket OPS-4412 tracks the slow checkout page.', ['perf'])], context);
      expect(tagged!.outcome).toBe('reinforced');
      integrityCheck(store);

      // Stored, then closed before any search: the backlog is indexed at close, and found after the restart.
      const [late] = await store.store([fact('The staging hub certificate expires on 2027-03-14.')], context);
      await store.close();
      store = await MemoryStore.open({ dataDir, encoder, halfLifeDays: 30, dedupeSimilarity: 0.95 });
      expect(indexed(store)).toBe(store.stats().total);
      expect((await store.search(query('2027-03-14'), context)).hits[0]!.memory.id).toBe(late!.memory.id);
      integrityCheck(store);
    } finally {
      await store.close();
      await encoder.close();
    }
  }, 120_000);
});
