/**
 * Stores an extraction's drafts in batches, parents first, letting the event loop run between batches: a 2 MB
 * document makes thousands of memories, and one commit of all of them held the hub for seconds. A draft whose
 * parent went in an earlier batch names it by id.
 */
import type { MemoryDraft } from '../extract';
import type { MemorySource, StoredMemory } from '../../shared/memory-protocol';
import type { z } from 'zod';
import { foreground } from '../api/foreground';
import type { ParsedMemoryInput } from './store';

/**
 * Memories per store call. Each commit checks every new memory against the vector index on the event loop (near
 * duplicates, supersession: an exact scan while the index is flat, a few ms per memory at 10,000 memories), so a
 * commit of 16 held other agents' requests for 40-60 ms on a loaded machine; 4 keeps a message's p99 near 2x idle.
 */
export const STORE_BATCH = 4;

export interface DraftBatchOptions {
  source: z.output<typeof MemorySource> | undefined;
  shared: boolean;
  /** Vectors that came with the extraction, by draft key. */
  vectors: Map<string, Float32Array>;
  batchSize?: number;
}

export async function storeDraftsInBatches(
  drafts: MemoryDraft[],
  store: (inputs: Array<ParsedMemoryInput & { vector?: Float32Array }>) => Promise<StoredMemory[]>,
  options: DraftBatchOptions,
): Promise<StoredMemory[]> {
  const ordered = orderParentsFirst(drafts);
  const size = Math.max(1, options.batchSize ?? STORE_BATCH);
  const storedIds = new Map<string, string>();
  const results: StoredMemory[] = [];
  for (let from = 0; from < ordered.length; from += size) {
    // Other agents' requests first: a commit waits until none is running (or BULK_MAX_WAIT_MS).
    if (from > 0) await foreground.turn();
    const batch = ordered.slice(from, from + size);
    const position = new Map<string, number>();
    const inputs = batch.map((draft, i) => {
      position.set(draft.key, i);
      const parent = draft.parentKey === null ? undefined : (position.get(draft.parentKey) ?? storedIds.get(draft.parentKey));
      return {
        text: draft.text,
        kind: draft.kind,
        tags: draft.tags,
        metadata: draft.metadata,
        importance: draft.importance,
        source: options.source,
        shared: options.shared,
        parent,
        vector: options.vectors.get(draft.key),
      } satisfies ParsedMemoryInput & { vector?: Float32Array };
    });
    const stored = await store(inputs);
    stored.forEach((result, i) => storedIds.set(batch[i]!.key, result.memory.id));
    results.push(...stored);
  }
  return results;
}

/** Parents before their children (extraction gives them so; a cycle or a missing parent leaves a draft as is). */
export function orderParentsFirst<T extends { key: string; parentKey: string | null }>(drafts: T[]): T[] {
  const byKey = new Map(drafts.map((draft) => [draft.key, draft]));
  const placed = new Set<string>();
  const ordered: T[] = [];
  const place = (draft: T, path: Set<string>) => {
    if (placed.has(draft.key) || path.has(draft.key)) return;
    path.add(draft.key);
    const parent = draft.parentKey === null ? undefined : byKey.get(draft.parentKey);
    if (parent) place(parent, path);
    placed.add(draft.key);
    ordered.push(draft);
  };
  drafts.forEach((draft) => place(draft, new Set()));
  return ordered;
}
