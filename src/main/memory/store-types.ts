/** The memory store's shared shapes: inputs, callers, options, and the state its parts (writer, search, switch) share. */
import type { z } from 'zod';
import type { MemoryInput, MemoryKind, MemorySearchQuery } from '../../shared/memory-protocol';
import type { SqliteDatabase } from '../db/database';
import type { EmbedOptions, SentenceEncoder } from '../embedding';
import type { VectorIndex, VectorIndexTuning } from '../vector';

export type ParsedMemoryInput = z.output<typeof MemoryInput>;
export type ParsedSearchQuery = z.output<typeof MemorySearchQuery>;

export interface MemoryStoreOptions {
  dataDir: string;
  /**
   * The encoder, or a function that chooses it once the database is open, told whether any memory has vectors of a
   * given model (a primary-key seek, so the choice costs nothing however many memories there are).
   */
  encoder: SentenceEncoder | ((hasVectors: (modelId: string) => boolean) => Promise<SentenceEncoder>);
  /** Days after which an unused memory weighs half as much in ranking. */
  halfLifeDays: number;
  /** Cosine similarity above which a new memory reinforces an existing one of the same project instead. */
  dedupeSimilarity: number;
  onProgress?: (progress: { step: string; fraction: number }) => void;
  /** Told each operation's duration (and, for stores, how many memories). */
  observe?: (op: 'store' | 'search' | 'embed', durationMs: number, count: number) => void;
  /** The vector index's build policy (config memory.index). */
  index?: Pick<Partial<VectorIndexTuning>, 'ivfThreshold' | 'autoBuild'>;
}

/** Who is storing: memories default to the caller's project and remember the agent. */
export interface StoreContext {
  project: string;
  agent: string | null;
}

/** Who is searching. */
export interface SearchContext extends StoreContext {
  /**
   * An agent's search is a use of what it finds (access count, last use: recency in later ranking); the cockpit's
   * is a person looking, and changes nothing. Not a use unless said.
   */
  countsAsUse?: boolean;
}

/** What filters need of each memory, kept in memory so vector hits are filtered without a query each. */
export interface CatalogEntry {
  project: string;
  kind: MemoryKind;
  agent: string | null;
  shared: boolean;
  createdAt: number;
  tags: string[];
  /** Replaced by a newer memory: history, skipped by searches unless asked for. */
  superseded: boolean;
}

/**
 * What the store's parts share: the database, the catalog, and the active model with its index (both swapped in one
 * step by a model switch, so each part reads them from here at the moment it needs them).
 */
export interface StoreState {
  readonly db: SqliteDatabase;
  readonly options: MemoryStoreOptions;
  readonly catalog: Map<number, CatalogEntry>;
  encoder: SentenceEncoder;
  index: VectorIndex;
  /** The model being switched to, while its vectors are computed in the background. */
  next: { encoder: SentenceEncoder; index: VectorIndex } | undefined;
}

/** Embeds texts with `encoder` (the active one unless said), reporting the duration to `observe`. */
export async function embedTexts(state: StoreState, texts: string[], encoder = state.encoder, options?: EmbedOptions): Promise<Float32Array[]> {
  const started = performance.now();
  const vectors = await encoder.embed(texts, options);
  state.options.observe?.('embed', performance.now() - started, texts.length);
  return vectors;
}
