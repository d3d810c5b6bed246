/**
 * The memory store: memories in SQLite (text, metadata, keyword index and every vector) with the vector index of
 * the active model beside it. The engine (engine.ts) opens it and gives it its encoder. Its parts:
 * store-writer.ts (batched stores, near-duplicates and supersession), store-search.ts (vector + keyword search),
 * keyword-backlog.ts (new memories enter the keyword index after their commit),
 * catalog.ts (what filters need, in memory), model-choice.ts (the recorded model, opening its index),
 * model-switch.ts (re-embedding in the background), store-overview.ts (stats), memory-rows.ts (rows as memories).
 * This file opens them and answers reads, edits and deletes.
 */
import path from 'node:path';
import type { Memory, MemorySearchResult, MemoryOverview, MemoryStats, StoredMemory } from '../../shared/memory-protocol';
import { startCheckpointer, type Checkpointer } from '../db/checkpointer';
import { migrate, openDatabase, type SqliteDatabase } from '../db/database';
import type { SentenceEncoder } from '../embedding';
import { HubError, notFound } from '../errors';
import { loadCatalog } from './catalog';
import { KeywordBacklog } from './keyword-backlog';
import { blobVector, loadMemories, MEMORY_COLUMNS, toMemory, type MemoryRow } from './memory-rows';
import type { VectorIndexStats } from '../vector';
import { memoryMigrations } from './migrations';
import { indexedModel, openIndex } from './model-choice';
import { switchModel } from './model-switch';
import { storeOverview, storeStats } from './store-overview';
import { MemorySearch } from './store-search';
import { StoreReplica } from './store-replica';
import type { CatalogEntry, MemoryStoreOptions, ParsedMemoryInput, ParsedSearchQuery, SearchContext, StoreContext, StoreState } from './store-types';
import { StoreWriter } from './store-writer';

export type { CatalogEntry, MemoryStoreOptions, ParsedMemoryInput, ParsedSearchQuery, SearchContext, StoreContext } from './store-types';

/**
 * Told of the store's changes (the topics and links of graph/ follow them): after each commit of new memories, and
 * before a memory is deleted (with the memories it had superseded, current again once it is gone).
 */
export interface MemoryStoreWatcher {
  stored(): void;
  deleting(id: number, restored: number[]): void;
}
export { readModelChoice, writeModelChoice } from './model-choice';
export { textHash } from './memory-rows';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** SQLite's page cache for the memory database (KiB; SQLite's default is 2,000). */
const MEMORY_DB_CACHE_KIB = 65_536;

export class MemoryStore {
  private readonly state: StoreState;
  private readonly writer: StoreWriter;
  private readonly searcher: MemorySearch;
  private readonly backlog: KeywordBacklog;
  private accessed = new Set<number>();
  private accessTimer: NodeJS.Timeout | undefined;
  private searchesInFlight = 0;
  private switching = false;
  private closing = false;
  private readonly s;
  private readonly watchers: MemoryStoreWatcher[] = [];
  private replicaOf: StoreReplica | undefined;
  /**
   * WAL checkpoints in a worker thread (db/checkpointer.ts): a batched load writes a page or more per memory, and each
   * checkpoint SQLite ran inside a commit (every ~1,000 pages, with an fsync) held the event loop.
   */
  private checkpointer: Checkpointer | undefined;
  /** Adds to each search result what the store does not know (each hit's topic). */
  describeHits: ((result: MemorySearchResult, context: SearchContext) => MemorySearchResult) | undefined;

  private constructor(
    readonly db: SqliteDatabase,
    encoder: SentenceEncoder,
    index: StoreState['index'],
    options: MemoryStoreOptions,
  ) {
    this.state = { db, options, catalog: new Map<number, CatalogEntry>(), encoder, index, next: undefined };
    this.backlog = new KeywordBacklog(db);
    this.writer = new StoreWriter(this.state, () => this.backlog.stored());
    this.searcher = new MemorySearch(this.state, (ids) => this.recordAccess(ids), this.backlog);
    this.s = {
      supersededBy: db.prepare('SELECT id FROM memories WHERE superseded_by = ?').pluck(),
      idOfUid: db.prepare('SELECT id FROM memories WHERE uid = ?').pluck(),
      touch: db.prepare('UPDATE memories SET access_count = access_count + 1, last_accessed_at = ? WHERE id = ?'),
      remove: db.prepare('DELETE FROM memories WHERE id = ?'),
      storedVector: db.prepare('SELECT vector FROM embeddings WHERE model = ? AND memory_id = ?').pluck(),
      update: db.prepare(
        `UPDATE memories SET shared = COALESCE(@shared, shared), tags = COALESCE(@tags, tags),
           importance = COALESCE(@importance, importance), updated_at = @now WHERE id = @id`,
      ),
    };
  }

  static async open(options: MemoryStoreOptions): Promise<MemoryStore> {
    const file = path.join(options.dataDir, 'memory.sqlite');
    const db = openDatabase(file);
    let store: MemoryStore;
    try {
      db.pragma(`cache_size = -${MEMORY_DB_CACHE_KIB}`);
      migrate(db, memoryMigrations);
      const hasVectors = db.prepare('SELECT 1 FROM embeddings WHERE model = ? LIMIT 1').pluck();
      const encoder =
        typeof options.encoder === 'function' ? await options.encoder((modelId) => hasVectors.get(modelId) !== undefined) : options.encoder;
      const index = await openIndex(db, options.dataDir, encoder, options.onProgress, options.index);
      store = new MemoryStore(db, encoder, index, options);
    } catch (error) {
      db.close();
      throw error;
    }
    loadCatalog(db, store.state.catalog);
    store.checkpointer = startCheckpointer(db, file);
    return store;
  }

  get model(): string {
    return this.state.encoder.id;
  }

  /**
   * The model the memories in `dataDir` are indexed with, without opening the store: the recorded choice, else the
   * one most memories have vectors of (a scan of every vector: for inspection, not for the start path); null if none.
   */
  static indexedModel(dataDir: string): string | null {
    return indexedModel(dataDir);
  }

  /** The encoder the memories are currently indexed with. */
  get encoder(): SentenceEncoder {
    return this.state.encoder;
  }

  /** Stores memories (embedding, deduplicating, indexing); resolves after the commit. */
  store(inputs: Array<ParsedMemoryInput & { vector?: Float32Array }>, context: StoreContext): Promise<StoredMemory[]> {
    return this.writer.store(inputs, context);
  }

  async search(query: ParsedSearchQuery, context: SearchContext): Promise<MemorySearchResult> {
    this.searchesInFlight++;
    try {
      const result = await this.searcher.search(this.state.encoder, this.state.index, query, context);
      return this.describeHits ? this.describeHits(result, context) : result;
    } finally {
      this.searchesInFlight--;
    }
  }

  watch(watcher: MemoryStoreWatcher): void {
    this.watchers.push(watcher);
    this.writer.onStored ??= () => this.watchers.forEach((each) => each.stored());
  }

  /**
   * This store's side of replication across a cluster's hubs (store-replica.ts): the changes made here waiting to be
   * sent, and changes made elsewhere applied with their uid and vector.
   */
  replica(): StoreReplica {
    this.replicaOf ??= new StoreReplica(this.state, {
      added: () => {
        this.backlog.stored();
        this.writer.onStored?.();
      },
      deleteLocal: (uid) => this.delete(uid),
    });
    return this.replicaOf;
  }

  /** What the store keeps in memory about a memory (project, kind, sharing, history); undefined for an unknown id. */
  entry(id: number): Readonly<CatalogEntry> | undefined {
    return this.state.catalog.get(id);
  }

  /** The internal id of a public one; undefined if there is no such memory. */
  idOf(uid: string): number | undefined {
    return this.s.idOfUid.get(uid) as number | undefined;
  }

  /** Memories by internal id (those that exist). */
  memories(ids: number[]): Map<number, Memory> {
    return loadMemories(this.db, ids);
  }

  /** A memory's vector of the active model; undefined without one. */
  vectorOf(id: number): Float32Array | undefined {
    // The index holds every memory's vector of the active model in memory; SQLite is read only for what it lacks.
    const { index } = this.state;
    const held = index.modelId === this.state.encoder.id ? index.vectorOf(id) : undefined;
    if (held) return held;
    const blob = this.s.storedVector.get(this.state.encoder.id, id) as Buffer | undefined;
    return blob && blobVector(blob);
  }

  /** The nearest memories to a vector in the active index, of those `accept` lets through. */
  nearest(vector: Float32Array, k: number, accept?: (id: number) => boolean): Array<{ id: number; score: number }> {
    return this.state.index.search(vector, k, accept);
  }

  get(uid: string): Memory {
    const id = this.s.idOfUid.get(uid) as number | undefined;
    if (id === undefined) throw notFound(`there is no memory with id ${uid}`);
    return loadMemories(this.db, [id]).get(id)!;
  }

  delete(uid: string): void {
    const id = this.s.idOfUid.get(uid) as number | undefined;
    if (id === undefined) throw notFound(`there is no memory with id ${uid}`);
    // A memory it had superseded is current again (the foreign key clears superseded_by).
    const older = this.s.supersededBy.all(id) as number[];
    this.watchers.forEach((watcher) => watcher.deleting(id, older));
    this.s.remove.run(id);
    const { catalog } = this.state;
    for (const olderId of older) {
      const entry = catalog.get(olderId);
      if (entry) entry.superseded = false;
    }
    this.writer.forget(id);
    this.state.index.remove([id]);
    if (this.state.next?.index.has(id)) this.state.next.index.remove([id]);
    catalog.delete(id);
  }

  setShared(uid: string, shared: boolean): Memory {
    return this.update(uid, { shared });
  }

  /** Changes what a person may edit of a memory (sharing, tags, importance) in one statement; the rest stays. */
  update(uid: string, update: { shared?: boolean; tags?: string[]; importance?: number }): Memory {
    const id = this.s.idOfUid.get(uid) as number | undefined;
    if (id === undefined) throw notFound(`there is no memory with id ${uid}`);
    const tags = update.tags === undefined ? undefined : [...new Set(update.tags)];
    this.s.update.run({
      id,
      now: new Date().toISOString(),
      shared: update.shared === undefined ? null : update.shared ? 1 : 0,
      tags: tags === undefined ? null : JSON.stringify(tags),
      importance: update.importance ?? null,
    });
    const entry = this.state.catalog.get(id);
    if (entry && update.shared !== undefined) entry.shared = update.shared;
    if (entry && tags !== undefined) entry.tags = tags;
    return this.get(uid);
  }

  /** Newest memories first, optionally of one agent or project. */
  recent({ agent, project, limit }: { agent?: string; project?: string; limit: number }): Memory[] {
    const rows = this.db
      .prepare(
        `SELECT ${MEMORY_COLUMNS} FROM memories m
         WHERE (@agent IS NULL OR m.agent = @agent) AND (@project IS NULL OR m.project = @project)
         ORDER BY m.id DESC LIMIT @limit`,
      )
      .all({ agent: agent ?? null, project: project ?? null, limit }) as MemoryRow[];
    return rows.map(toMemory);
  }

  /** Counts, growth, and the importance and age distributions the cockpit charts. */
  overview(): MemoryOverview {
    return storeOverview(this.state);
  }

  /** How many memories are stored (the catalog's size: no query). */
  size(): number {
    return this.state.catalog.size;
  }

  stats(): MemoryStats {
    return storeStats(this.state);
  }

  /** The vector index's own figures (kind, size, tombstones, IVF training), for the advisor. */
  indexStats(): VectorIndexStats {
    return this.state.index.stats();
  }

  /** The index's build policy as configured (the advisor compares against it). */
  indexTuning(): { ivfThreshold: number; autoBuild: boolean } {
    return this.state.index.tuning();
  }

  /**
   * Rebuilds the vector index in the background (IVF retrained and nprobe re-tuned when large enough; tombstones
   * dropped) and resolves once the new one is in use.
   */
  rebuildIndex(): Promise<void> {
    return this.state.index.rebuild();
  }

  /**
   * Times `queries` searches of the vector index alone, with stored vectors as queries (the advisor's before/after
   * figure for an index fix): the median, in ms. Each search is one FAISS call, so this holds the loop only briefly.
   */
  probeIndexSearchMs(queries = 20): number {
    const ids = [...this.state.catalog.keys()];
    const stored = this.db.prepare('SELECT vector FROM embeddings WHERE model = ? AND memory_id = ?').pluck();
    const times: number[] = [];
    for (let i = 0; i < queries && ids.length > 0; i++) {
      const blob = stored.get(this.state.encoder.id, ids[Math.floor((i * ids.length) / queries)]!) as Buffer | undefined;
      if (!blob) continue;
      const vector = blobVector(blob);
      const t0 = performance.now();
      this.state.index.search(vector, 10);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length / 2)] ?? 0;
  }

  async close(): Promise<void> {
    this.closing = true;
    while (this.writer.flushing || this.switching) await sleep(5);
    this.flushAccess();
    this.backlog.close();
    await this.state.index.close();
    await this.checkpointer?.stop();
    this.db.close();
  }

  /**
   * Switches to another embedding model (model-switch.ts): stores and searches go on with the current model until
   * the new one has every vector.
   */
  async switchModel(encoder: SentenceEncoder, onProgress?: (progress: { done: number; total: number }) => void): Promise<void> {
    if (this.switching) throw new HubError('conflict', 'a model switch is already under way');
    if (encoder.id === this.state.encoder.id) return;
    this.switching = true;
    try {
      await switchModel(
        this.state,
        encoder,
        { closing: () => this.closing, flushing: () => this.writer.flushing, searchesInFlight: () => this.searchesInFlight },
        onProgress,
      );
    } finally {
      this.switching = false;
    }
  }

  /** Each hit is a use: it makes the memory count as recent again. Written in the background, in batches. */
  private recordAccess(ids: number[]): void {
    ids.forEach((id) => this.accessed.add(id));
    this.accessTimer ??= setTimeout(() => this.flushAccess(), 200);
  }

  private flushAccess(): void {
    clearTimeout(this.accessTimer);
    this.accessTimer = undefined;
    if (this.accessed.size === 0 || !this.db.open) return;
    const ids = [...this.accessed];
    this.accessed = new Set();
    const now = new Date().toISOString();
    this.db.transaction(() => ids.forEach((id) => this.s.touch.run(now, id)))();
  }
}
