/**
 * Switching the embedding model: every memory's vector is computed with the new model in the background (with
 * progress) while stores and searches go on with the current one; then the models swap in one step.
 */
import type { SentenceEncoder } from '../embedding';
import { HubError } from '../errors';
import { vectorBlob } from './memory-rows';
import { openIndex } from './model-choice';
import { embedTexts, type StoreState } from './store-types';

/** Memories embedded per step of a model switch. */
const SWITCH_BATCH = 64;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the switch asks of the store around it. */
export interface SwitchWaits {
  closing(): boolean;
  /** A store group is being embedded or committed: the swap waits, so no group mixes models. */
  flushing(): boolean;
  searchesInFlight(): number;
}

/**
 * Re-embeds every memory with `encoder` into a new index, then makes them the active ones. Vectors of the old model
 * stay in SQLite, so switching back is quick.
 */
export async function switchModel(
  state: StoreState,
  encoder: SentenceEncoder,
  waits: SwitchWaits,
  onProgress?: (progress: { done: number; total: number }) => void,
): Promise<void> {
  const { db } = state;
  const storeVector = db.prepare('INSERT OR REPLACE INTO embeddings (memory_id, model, vector) VALUES (?, ?, ?)');
  try {
    const index = await openIndex(db, state.options.dataDir, encoder, undefined, state.options.index);
    state.next = { encoder, index };
    const missing = db.prepare(
      `SELECT m.id, m.text FROM memories m
       WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.model = @model AND e.memory_id = m.id) LIMIT @limit`,
    );
    const countMissing = db.prepare(
      'SELECT COUNT(*) FROM memories m WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.model = ? AND e.memory_id = m.id)',
    ).pluck();
    const total = countMissing.get(encoder.id) as number;
    let done = 0;
    onProgress?.({ done, total });
    for (;;) {
      if (waits.closing()) throw new HubError('closing', 'the memory engine closed during the model switch');
      const rows = missing.all({ model: encoder.id, limit: SWITCH_BATCH }) as Array<{ id: number; text: string }>;
      if (rows.length === 0) {
        // Swap only between store batches, so no batch mixes models; anything stored meanwhile is picked up first.
        while (waits.flushing()) await sleep(5);
        if ((countMissing.get(encoder.id) as number) > 0) continue;
        const previous = state.index;
        state.encoder = encoder;
        state.index = index;
        state.next = undefined;
        while (waits.searchesInFlight() > 0) await sleep(5);
        await previous.close();
        onProgress?.({ done: total, total });
        return;
      }
      // Bulk work: on 2 cores it keeps to one inference worker, leaving a core for the hub's stores and searches.
      const vectors = await embedTexts(state, rows.map((row) => row.text), encoder, { bulk: true });
      const present = db.prepare('SELECT 1 FROM memories WHERE id = ?').pluck();
      const kept = rows.map((row, i) => ({ id: row.id, vector: vectors[i]! })).filter((item) => present.get(item.id));
      db.transaction(() => kept.forEach((item) => storeVector.run(item.id, encoder.id, vectorBlob(item.vector))))();
      index.add(kept);
      done = Math.min(total, done + rows.length);
      onProgress?.({ done, total: Math.max(total, done) });
    }
  } catch (error) {
    if (state.next) await state.next.index.close().catch(() => undefined);
    state.next = undefined;
    throw error;
  }
}
