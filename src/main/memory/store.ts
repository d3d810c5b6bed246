/**
 * The memory store: memories in SQLite (text, metadata, keyword index and every vector) with the vector index of
 * the active model beside it, and search over them (vector nearest neighbours and keyword matches, ranked by
 * ranking.ts: cosine similarity plus IDF-weighted keyword coverage, exact identifiers first, weak matches flagged).
 * The engine (engine.ts) opens it and gives it its encoder.
 *
 * Stores are grouped like message sends: what arrives while a batch is being embedded joins the next batch, so one
 * ONNX run and one transaction serve many callers, and each caller hears back only after the commit.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ulidGenerator } from '../ids';
import type { z } from 'zod';
import type {
  Memory,
  MemoryInput,
  MemoryKind,
  MemorySearchQuery,
  MemorySearchResult,
  MemoryOverview,
  MemoryStats,
  ModelChoice,
  StoredMemory,
} from '../../shared/memory-protocol';
import { writeFileDurableSync } from '../../shared/node/durable-file';
import { migrate, openDatabase, type SqliteDatabase } from '../db/database';
import type { SentenceEncoder } from '../embedding';
import { badRequest, HubError, notFound } from '../errors';
import { memoryMigrations } from './migrations';
import { coverage, KeywordSearch } from './keyword';
import { crowdRelevance, isWeak, KIND_IMPORTANCE, scoreCandidate, type Candidate } from './ranking';
import { DEFAULT_SUPERSESSION, noteFacts, relateNotes, type NoteFacts, type SupersessionThresholds } from './supersession';
import { VectorIndex } from '../vector';

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
}

/** Which model the memories are indexed with (a ModelChoice): kept beside memory.sqlite so the right one loads at start. */
const MODEL_CHOICE_FILE = 'memory-model.json';

/** The recorded model choice of `dataDir`; null if none was recorded yet. */
export function readModelChoice(dataDir: string): ModelChoice | null {
  const file = path.join(dataDir, MODEL_CHOICE_FILE);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as ModelChoice) : null;
}

export function writeModelChoice(dataDir: string, choice: ModelChoice): void {
  writeFileDurableSync(path.join(dataDir, MODEL_CHOICE_FILE), JSON.stringify(choice, null, 2) + '\n');
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
interface CatalogEntry {
  project: string;
  kind: MemoryKind;
  agent: string | null;
  shared: boolean;
  createdAt: number;
  tags: string[];
  /** Replaced by a newer memory: history, skipped by searches unless asked for. */
  superseded: boolean;
}

interface PendingStore {
  inputs: Array<ParsedMemoryInput & { vector?: Float32Array }>;
  context: StoreContext;
  resolve(results: StoredMemory[]): void;
  reject(error: Error): void;
}

/** Stores taken from the queue together, and their vectors on the way (an Error if the encoder failed). */
interface EmbeddingGroup {
  batch: PendingStore[];
  toEmbed: Array<ParsedMemoryInput & { vector?: Float32Array }>;
  vectors: Promise<Float32Array[] | Error>;
}

type MemoryRow = {
  id: number;
  uid: string;
  project: string;
  agent: string | null;
  kind: MemoryKind;
  text: string;
  tags: string;
  metadata: string;
  importance: number;
  created_at: string;
  updated_at: string;
  last_accessed_at: string | null;
  access_count: number;
  reinforcements: number;
  source_type: string | null;
  source_ref: string | null;
  parent_uid: string | null;
  shared: number;
  supersedes_uid: string | null;
  superseded_by_uid: string | null;
};

const MEMORY_COLUMNS = `m.*, (SELECT p.uid FROM memories p WHERE p.id = m.parent_id) AS parent_uid,
  (SELECT o.uid FROM memories o WHERE o.id = m.supersedes) AS supersedes_uid,
  (SELECT n.uid FROM memories n WHERE n.id = m.superseded_by) AS superseded_by_uid`;
/** Nearest neighbours looked at per new memory when checking for near-duplicates. */
const DEDUPE_NEIGHBOURS = 10;
/** Memories embedded per step of a model switch. */
const SWITCH_BATCH = 64;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Vector and keyword lists are each this many times longer than k before fusion. */
const CANDIDATE_FACTOR = 5;
const MIN_CANDIDATES = 50;
/** Kinds that state one thing (a fact, a decision…): the ones a newer value can supersede. Passages are not compared. */
const STATEMENT_KINDS = new Set<MemoryKind>(['fact', 'decision', 'task', 'error', 'code', 'note']);
/** Close memories compared word by word with a new statement (the most similar first). */
const SUPERSESSION_CANDIDATES = 3;

/** What storeOne decided about a new memory and the close memories it was compared with. */
type Closest =
  | { relation: 'restatement'; id: number; score: number }
  | { relation: 'update'; id: number; score: number; because: 'value' | 'negation' };

export class MemoryStore {
  private queue: PendingStore[] = [];
  private flushing = false;
  private readonly catalog = new Map<number, CatalogEntry>();
  private readonly newId = ulidGenerator();
  private accessed = new Set<number>();
  private accessTimer: NodeJS.Timeout | undefined;
  private searchesInFlight = 0;
  private switching = false;
  private closing = false;
  /** The model being switched to, while its vectors are computed in the background. */
  private next: { encoder: SentenceEncoder; index: VectorIndex } | undefined;
  private readonly s;
  private readonly keyword: KeywordSearch;

  private constructor(
    readonly db: SqliteDatabase,
    private activeEncoder: SentenceEncoder,
    private index: VectorIndex,
    private readonly options: MemoryStoreOptions,
  ) {
    this.keyword = new KeywordSearch(db);
    this.s = {
      // Only a current memory is reinforced: restating a value that was replaced is compared with the current one.
      byHash: db.prepare('SELECT id FROM memories WHERE project = ? AND text_hash = ? AND superseded_by IS NULL').pluck(),
      textOf: db.prepare('SELECT text FROM memories WHERE id = ?').pluck(),
      uidAndText: db.prepare('SELECT uid, text FROM memories WHERE id = ?'),
      supersede: db.prepare('UPDATE memories SET superseded_by = ? WHERE id = ?'),
      supersededBy: db.prepare('SELECT id FROM memories WHERE superseded_by = ?').pluck(),
      idOfUid: db.prepare('SELECT id FROM memories WHERE uid = ?').pluck(),
      insert: db.prepare(
        `INSERT INTO memories (uid, project, agent, kind, text, text_hash, tags, metadata, importance, created_at, updated_at,
           source_type, source_ref, parent_id, shared, supersedes)
         VALUES (@uid, @project, @agent, @kind, @text, @hash, @tags, @metadata, @importance, @now, @now,
           @sourceType, @sourceRef, @parentId, @shared, @supersedes)`,
      ),
      reinforce: db.prepare(
        `UPDATE memories SET tags = @tags, metadata = @metadata,
           importance = MIN(1.0, MAX(importance, @importance) + 0.05), reinforcements = reinforcements + 1,
           updated_at = @now, last_accessed_at = @now, shared = MAX(shared, @shared)
         WHERE id = @id`,
      ),
      current: db.prepare('SELECT text, tags, metadata FROM memories WHERE id = ?'),
      vector: db.prepare('INSERT OR REPLACE INTO embeddings (memory_id, model, vector) VALUES (?, ?, ?)'),
      byIds: (count: number) => db.prepare(`SELECT ${MEMORY_COLUMNS} FROM memories m WHERE m.id IN (${'?,'.repeat(count).slice(0, -1)})`),
      touch: db.prepare('UPDATE memories SET access_count = access_count + 1, last_accessed_at = ? WHERE id = ?'),
      remove: db.prepare('DELETE FROM memories WHERE id = ?'),
      update: db.prepare(
        `UPDATE memories SET shared = COALESCE(@shared, shared), tags = COALESCE(@tags, tags),
           importance = COALESCE(@importance, importance), updated_at = @now WHERE id = @id`,
      ),
      ranking: (count: number) =>
        db.prepare(`SELECT id, text, importance, COALESCE(last_accessed_at, created_at) AS used FROM memories WHERE id IN (${'?,'.repeat(count).slice(0, -1)})`),
      storedVector: db.prepare('SELECT vector FROM embeddings WHERE model = ? AND memory_id = ?').pluck(),
    };
  }

  static async open(options: MemoryStoreOptions): Promise<MemoryStore> {
    const db = openDatabase(path.join(options.dataDir, 'memory.sqlite'));
    let store: MemoryStore;
    try {
      migrate(db, memoryMigrations);
      const hasVectors = db.prepare('SELECT 1 FROM embeddings WHERE model = ? LIMIT 1').pluck();
      const encoder =
        typeof options.encoder === 'function' ? await options.encoder((modelId) => hasVectors.get(modelId) !== undefined) : options.encoder;
      const index = await openIndex(db, options.dataDir, encoder, options.onProgress);
      store = new MemoryStore(db, encoder, index, options);
    } catch (error) {
      db.close();
      throw error;
    }
    for (const row of db.prepare('SELECT id, project, kind, agent, shared, created_at, tags, superseded_by FROM memories').iterate() as Iterable<{
      id: number;
      project: string;
      kind: MemoryKind;
      agent: string | null;
      shared: number;
      created_at: string;
      tags: string;
      superseded_by: number | null;
    }>) {
      store.catalog.set(row.id, {
        project: row.project,
        kind: row.kind,
        agent: row.agent,
        shared: row.shared === 1,
        createdAt: Date.parse(row.created_at),
        tags: JSON.parse(row.tags) as string[],
        superseded: row.superseded_by !== null,
      });
    }
    return store;
  }

  get model(): string {
    return this.activeEncoder.id;
  }

  /**
   * The model the memories in `dataDir` are indexed with, without opening the store: the recorded choice, else the
   * one most memories have vectors of (a scan of every vector: for inspection, not for the start path); null if none.
   */
  static indexedModel(dataDir: string): string | null {
    const recorded = readModelChoice(dataDir);
    if (recorded) return recorded.id;
    const file = path.join(dataDir, 'memory.sqlite');
    if (!existsSync(file)) return null;
    const db = openDatabase(file);
    try {
      migrate(db, memoryMigrations);
      return (db.prepare('SELECT model FROM embeddings GROUP BY model ORDER BY COUNT(*) DESC LIMIT 1').pluck().get() as string | undefined) ?? null;
    } finally {
      db.close();
    }
  }

  /** The encoder the memories are currently indexed with. */
  get encoder(): SentenceEncoder {
    return this.activeEncoder;
  }

  /** Stores memories (embedding, deduplicating, indexing); resolves after the commit. */
  store(inputs: Array<ParsedMemoryInput & { vector?: Float32Array }>, context: StoreContext): Promise<StoredMemory[]> {
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const done = (results: StoredMemory[]) => {
        this.options.observe?.('store', performance.now() - started, results.length);
        resolve(results);
      };
      this.queue.push({ inputs, context, resolve: done, reject });
      if (!this.flushing) void this.flush();
    });
  }

  async search(query: ParsedSearchQuery, context: SearchContext): Promise<MemorySearchResult> {
    this.searchesInFlight++;
    try {
      return await this.searchWith(this.activeEncoder, this.index, query, context);
    } finally {
      this.searchesInFlight--;
    }
  }

  private async searchWith(encoder: SentenceEncoder, index: VectorIndex, query: ParsedSearchQuery, context: SearchContext): Promise<MemorySearchResult> {
    const started = performance.now();
    const project = query.project ?? context.project;
    const since = query.since ? Date.parse(query.since) : undefined;
    const accept = (id: number): boolean => {
      const entry = this.catalog.get(id);
      if (!entry) return false;
      if (entry.superseded && !query.includeHistory) return false;
      if (query.scope === 'project' && entry.project !== project) return false;
      if (query.scope === 'shared' && entry.project !== project && !entry.shared) return false;
      if (query.agent && entry.agent !== query.agent) return false;
      if (query.kind && !query.kind.includes(entry.kind)) return false;
      if (query.tags && !query.tags.every((tag) => entry.tags.includes(tag))) return false;
      if (since !== undefined && entry.createdAt < since) return false;
      return true;
    };
    const wanted = Math.max(MIN_CANDIDATES, query.k * CANDIDATE_FACTOR);
    // The keyword side (~3 ms at 100,000 memories) runs on this thread while the query embeds in the worker. (One
    // microtask turn first: the encoder tokenises the query and posts it to its worker in the turn it queued.)
    const embedding = this.embed([query.q], encoder);
    await Promise.resolve();
    const keyword = this.keyword.search(query.q, accept, wanted);
    const [vector] = await embedding;
    const candidates = new Map<number, Candidate>();
    const candidate = (id: number): Candidate => {
      let found = candidates.get(id);
      if (!found) candidates.set(id, (found = { id, vectorSimilarity: 0, keywordCoverage: 0, exactMatches: 0, importance: 0, lastUsedAt: 0 }));
      return found;
    };
    index.search(vector!, wanted, accept).forEach((hit, rank) => {
      Object.assign(candidate(hit.id), { vectorRank: rank + 1, vectorSimilarity: hit.score });
    });
    for (const id of keyword.candidates) candidate(id);
    for (const [id, count] of keyword.exact) candidate(id).exactMatches = count;

    const now = Date.now();
    for (const row of this.s.ranking(candidates.size).all(...candidates.keys()) as Array<{ id: number; text: string; importance: number; used: string }>) {
      const entry = candidates.get(row.id)!;
      entry.importance = row.importance;
      entry.lastUsedAt = Date.parse(row.used);
      entry.keywordCoverage = coverage(row.text, keyword.words);
    }
    // Keyword-only candidates: the best covered few (and every exact match) get their similarity from their stored
    // vector, so every hit is scored alike; the rest (less similar than every vector candidate, less covered than
    // these) are dropped.
    const keywordOnly = [...candidates.values()].filter((entry) => entry.vectorRank === undefined).sort((a, b) => b.exactMatches - a.exactMatches || b.keywordCoverage - a.keywordCoverage);
    keywordOnly.forEach((entry, i) => {
      if (i < wanted || entry.exactMatches > 0) entry.vectorSimilarity = this.similarity(entry.id, encoder.id, vector!);
      else candidates.delete(entry.id);
    });
    [...candidates.values()]
      .filter((entry) => entry.keywordCoverage > 0)
      .sort((a, b) => b.keywordCoverage - a.keywordCoverage)
      .forEach((entry, rank) => (entry.keywordRank = rank + 1));
    const scored = [...candidates.values()]
      .map((entry) => ({ id: entry.id, scores: scoreCandidate(entry, now, { halfLifeDays: this.options.halfLifeDays }) }))
      .sort((a, b) => b.scores.final - a.scores.final);
    const crowd = crowdRelevance(scored.map((hit) => hit.scores));
    const ranked = scored.slice(0, query.k).map((hit) => ({ ...hit, weak: isWeak(hit.scores, crowd, keyword.identifiersOnly) }));
    const memories = this.load(ranked.map((hit) => hit.id));
    if (context.countsAsUse) this.recordAccess(ranked.map((hit) => hit.id));
    const tookMs = performance.now() - started;
    this.options.observe?.('search', tookMs, 1);
    return { hits: ranked.map((hit) => ({ memory: memories.get(hit.id)!, scores: hit.scores, weak: hit.weak })), tookMs, model: encoder.id };
  }

  /** Cosine similarity of a stored memory with the query (vectors are unit length); 0 without a vector. */
  private similarity(id: number, model: string, query: Float32Array): number {
    const blob = this.s.storedVector.get(model, id) as Buffer | undefined;
    if (!blob) return 0;
    const vector = blobVector(blob);
    let dot = 0;
    for (let i = 0; i < vector.length; i++) dot += vector[i]! * query[i]!;
    return dot;
  }

  get(uid: string): Memory {
    const id = this.s.idOfUid.get(uid) as number | undefined;
    if (id === undefined) throw notFound(`there is no memory with id ${uid}`);
    return this.load([id]).get(id)!;
  }

  delete(uid: string): void {
    const id = this.s.idOfUid.get(uid) as number | undefined;
    if (id === undefined) throw notFound(`there is no memory with id ${uid}`);
    // A memory it had superseded is current again (the foreign key clears superseded_by).
    const older = this.s.supersededBy.all(id) as number[];
    this.s.remove.run(id);
    for (const olderId of older) {
      const entry = this.catalog.get(olderId);
      if (entry) entry.superseded = false;
    }
    this.index.remove([id]);
    if (this.next?.index.has(id)) this.next.index.remove([id]);
    this.catalog.delete(id);
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
    const entry = this.catalog.get(id);
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
    const since = new Date(Date.now() - 30 * 86_400_000).toISOString();
    const growth = this.db
      .prepare('SELECT substr(created_at, 1, 10) AS day, COUNT(*) AS count FROM memories WHERE created_at >= ? GROUP BY day ORDER BY day')
      .all(since) as MemoryOverview['growth'];
    const importance = this.db
      .prepare(
        `SELECT printf('%.1f-%.1f', MIN(CAST(importance * 10 AS INTEGER), 9) / 10.0, MIN(CAST(importance * 10 AS INTEGER), 9) / 10.0 + 0.1) AS bucket,
           COUNT(*) AS count FROM memories GROUP BY bucket ORDER BY bucket`,
      )
      .all() as MemoryOverview['importance'];
    const ageRows = this.db.prepare('SELECT julianday(\'now\') - julianday(created_at) AS days FROM memories').pluck().all() as number[];
    const ageBuckets: Array<[string, number]> = [['< 1 day', 1], ['1-7 days', 7], ['1-4 weeks', 28], ['1-3 months', 91], ['3-12 months', 365], ['> 1 year', Infinity]];
    const age = ageBuckets.map(([bucket]) => ({ bucket, count: 0 }));
    for (const days of ageRows) age[ageBuckets.findIndex(([, upTo]) => days < upTo)]!.count++;
    return { ...this.stats(), growth, importance, age };
  }

  stats(): MemoryStats {
    const byProject = this.db.prepare('SELECT project, COUNT(*) AS count FROM memories GROUP BY project ORDER BY count DESC').all() as MemoryStats['byProject'];
    const byKind = this.db.prepare('SELECT kind, COUNT(*) AS count FROM memories GROUP BY kind ORDER BY count DESC').all() as MemoryStats['byKind'];
    const index = this.index.stats();
    return {
      total: this.catalog.size,
      byProject,
      byKind,
      index: { kind: index.kind, size: index.size, model: this.activeEncoder.id, dimension: this.activeEncoder.dimension, tombstones: index.tombstones },
    };
  }

  async close(): Promise<void> {
    this.closing = true;
    while (this.flushing || this.switching) await sleep(5);
    this.flushAccess();
    await this.index.close();
    this.db.close();
  }

  /**
   * Switches to another embedding model: computes every memory's vector with it in the background (reporting
   * progress), while stores and searches go on with the current model; then swaps models in one step. Vectors
   * of the old model stay in SQLite, so switching back is quick.
   */
  async switchModel(encoder: SentenceEncoder, onProgress?: (progress: { done: number; total: number }) => void): Promise<void> {
    if (this.switching) throw new HubError('conflict', 'a model switch is already under way');
    if (encoder.id === this.activeEncoder.id) return;
    this.switching = true;
    try {
      const index = await openIndex(this.db, this.options.dataDir, encoder);
      this.next = { encoder, index };
      const missing = this.db.prepare(
        `SELECT m.id, m.text FROM memories m
         WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.model = @model AND e.memory_id = m.id) LIMIT @limit`,
      );
      const countMissing = this.db.prepare(
        'SELECT COUNT(*) FROM memories m WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.model = ? AND e.memory_id = m.id)',
      ).pluck();
      const total = countMissing.get(encoder.id) as number;
      let done = 0;
      onProgress?.({ done, total });
      for (;;) {
        if (this.closing) throw new HubError('closing', 'the memory engine closed during the model switch');
        const rows = missing.all({ model: encoder.id, limit: SWITCH_BATCH }) as Array<{ id: number; text: string }>;
        if (rows.length === 0) {
          // Swap only between store batches, so no batch mixes models; anything stored meanwhile is picked up first.
          while (this.flushing) await sleep(5);
          if ((countMissing.get(encoder.id) as number) > 0) continue;
          const previous = this.index;
          this.activeEncoder = encoder;
          this.index = index;
          this.next = undefined;
          while (this.searchesInFlight > 0) await sleep(5);
          await previous.close();
          onProgress?.({ done: total, total });
          return;
        }
        const vectors = await this.embed(rows.map((row) => row.text), encoder);
        const present = this.db.prepare('SELECT 1 FROM memories WHERE id = ?').pluck();
        const kept = rows.map((row, i) => ({ id: row.id, vector: vectors[i]! })).filter((item) => present.get(item.id));
        this.db.transaction(() => kept.forEach((item) => this.s.vector.run(item.id, encoder.id, vectorBlob(item.vector))))();
        index.add(kept);
        done = Math.min(total, done + rows.length);
        onProgress?.({ done, total: Math.max(total, done) });
      }
    } catch (error) {
      if (this.next) await this.next.index.close().catch(() => undefined);
      this.next = undefined;
      throw error;
    } finally {
      this.switching = false;
    }
  }

  private async embed(texts: string[], encoder = this.activeEncoder): Promise<Float32Array[]> {
    const started = performance.now();
    const vectors = await encoder.embed(texts);
    this.options.observe?.('embed', performance.now() - started, texts.length);
    return vectors;
  }

  private load(ids: number[]): Map<number, Memory> {
    const result = new Map<number, Memory>();
    if (ids.length === 0) return result;
    for (const row of this.s.byIds(ids.length).all(...ids) as MemoryRow[]) result.set(row.id, toMemory(row));
    return result;
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

  /**
   * Stores queued groups one after another, pipelined: as soon as a group's vectors are back, the group queued
   * meanwhile starts embedding (in the inference worker) while this one is deduplicated and committed on this thread.
   * A group's near-duplicate check still sees every earlier group: it runs after their commits.
   */
  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      let next: EmbeddingGroup | undefined = this.takeQueued();
      while (next) {
        const current = next;
        const vectors = await current.vectors;
        next = this.queue.length > 0 ? this.takeQueued() : undefined;
        // The next group is already taken (and embedding): a failure here must answer this group's callers and
        // leave the loop running for the next one. (commitGroup is synchronous: nothing is queued meanwhile.)
        try {
          this.commitGroup(current, vectors);
        } catch (error) {
          const failure = new HubError('storage_failed', `the memory could not be stored: ${(error as Error).message}`);
          current.batch.forEach((pending) => pending.reject(failure));
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Takes every queued store as one group and starts embedding, in one encoder call, every text that needs it. */
  private takeQueued(): EmbeddingGroup {
    const batch = this.queue;
    this.queue = [];
    const items = batch.flatMap((pending) => pending.inputs);
    const toEmbed = items.filter((input) => !input.vector);
    const vectors: Promise<Float32Array[] | Error> =
      toEmbed.length === 0
        ? Promise.resolve([])
        : this.embed(toEmbed.map((input) => input.text)).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))));
    return { batch, toEmbed, vectors };
  }

  private commitGroup({ batch, toEmbed }: EmbeddingGroup, vectors: Float32Array[] | Error): void {
    if (vectors instanceof Error) {
      const failure = new HubError('embedding_failed', `the sentence encoder failed: ${vectors.message}`);
      batch.forEach((pending) => pending.reject(failure));
      return;
    }
    toEmbed.forEach((input, i) => (input.vector = vectors[i]));
    const items = batch.flatMap((pending) => pending.inputs.map((input) => ({ input, pending })));

    // 1. Near-duplicate candidates for the whole batch at once: in one FAISS call while the index is flat (one call
    // per memory cost ~2 ms each at 10k memories), then in the few IVF lists nearest each new memory.
    const dedupable = items.filter((item) => item.input.kind !== 'document' && item.input.kind !== 'section');
    const neighbours = new Map<ParsedMemoryInput, Array<{ id: number; score: number }>>();
    this.index
      .searchCloseBatch(dedupable.map((item) => item.input.vector!), DEDUPE_NEIGHBOURS)
      .forEach((hits, i) => neighbours.set(dedupable[i]!.input, hits));

    // 2. One transaction for the whole group; a savepoint per caller, so one caller's bad input fails alone.
    const now = new Date().toISOString();
    const added: Array<{ id: number; vector: Float32Array; entry: CatalogEntry }> = [];
    // Memories superseded in this group: no later memory of the group compares with them.
    const superseded = new Set<number>();
    const outcomes: Array<() => void> = [];
    try {
      this.db.transaction(() => {
        for (const pending of batch) {
          const supersededHere: number[] = [];
          try {
            const addedHere: typeof added = [];
            const results = this.db.transaction(() =>
              pending.inputs.map((input, position) =>
                this.storeOne(input as ParsedMemoryInput & { vector: Float32Array }, position, pending, now, addedHere, neighbours.get(input), {
                  all: superseded,
                  here: supersededHere,
                }),
              ),
            )();
            added.push(...addedHere);
            const memories = this.load(results.map((result) => result.id));
            outcomes.push(() =>
              pending.resolve(
                results.map(({ id, outcome, similarity, replaced }) => ({
                  memory: memories.get(id)!,
                  outcome,
                  ...(similarity === undefined ? {} : { similarity }),
                  ...(replaced === undefined ? {} : { superseded: replaced }),
                })),
              ),
            );
          } catch (error) {
            // Rolled back with its savepoint: what it superseded is current again.
            supersededHere.forEach((id) => superseded.delete(id));
            outcomes.push(() => pending.reject(error instanceof HubError ? error : badRequest((error as Error).message)));
          }
        }
      })();
    } catch (error) {
      const failure = new HubError('storage_failed', `the memory could not be stored: ${(error as Error).message}`);
      batch.forEach((pending) => pending.reject(failure));
      return;
    }
    // 3. Only committed memories enter the index and the catalog.
    if (added.length > 0) this.index.add(added.map(({ id, vector }) => ({ id, vector })));
    for (const { id, entry } of added) this.catalog.set(id, entry);
    for (const id of superseded) {
      const entry = this.catalog.get(id);
      if (entry) entry.superseded = true;
    }
    outcomes.forEach((settle) => settle());
  }

  private storeOne(
    input: ParsedMemoryInput & { vector: Float32Array },
    position: number,
    pending: PendingStore & { ids?: number[] },
    now: string,
    added: Array<{ id: number; vector: Float32Array; entry: CatalogEntry }>,
    neighbours: Array<{ id: number; score: number }> | undefined,
    superseded: { all: Set<number>; here: number[] },
  ): { id: number; outcome: StoredMemory['outcome']; similarity?: number; replaced?: StoredMemory['superseded'] } {
    const project = input.project ?? pending.context.project;
    const hash = textHash(input.text);
    const importance = input.importance ?? KIND_IMPORTANCE[input.kind] ?? 0.5;
    const ids = (pending.ids ??= []);

    // The same fact in the same project is reinforced, not duplicated; a newer value of it supersedes it.
    let existing = this.s.byHash.get(project, hash) as number | undefined;
    let similarity = existing === undefined ? undefined : 1;
    let closest: Closest | undefined;
    if (existing === undefined && input.kind !== 'document' && input.kind !== 'section') {
      closest = this.closest(input, project, neighbours, superseded.all);
      similarity = closest?.score;
      if (closest?.relation === 'restatement') existing = closest.id;
    }
    if (existing !== undefined) {
      const current = this.s.current.get(existing) as { text: string; tags: string; metadata: string };
      const tags = [...new Set([...(JSON.parse(current.tags) as string[]), ...input.tags])];
      const metadata = { ...(JSON.parse(current.metadata) as object), ...input.metadata };
      // The first wording and its vector stay, so repeated near-copies cannot drift a memory away from itself;
      // what is new (tags, metadata, importance, being said again) is folded in.
      this.s.reinforce.run({ id: existing, tags: JSON.stringify(tags), metadata: JSON.stringify(metadata), importance, now, shared: input.shared ? 1 : 0 });
      const entry = this.catalog.get(existing);
      if (entry) {
        entry.tags = tags;
        entry.shared ||= input.shared;
      }
      ids.push(existing);
      return { id: existing, outcome: 'reinforced', similarity };
    }

    let parentId: number | null = null;
    if (typeof input.parent === 'number') {
      if (input.parent >= position) throw badRequest(`memory ${position}: parent ${input.parent} must be an earlier memory of the batch`);
      parentId = ids[input.parent]!;
    } else if (typeof input.parent === 'string') {
      parentId = (this.s.idOfUid.get(input.parent) as number | undefined) ?? null;
      if (parentId === null) throw badRequest(`memory ${position}: parent ${input.parent} does not exist`);
    }
    const result = this.s.insert.run({
      uid: this.newId(),
      project,
      agent: pending.context.agent,
      kind: input.kind,
      text: input.text,
      hash,
      tags: JSON.stringify(input.tags),
      metadata: JSON.stringify(input.metadata),
      importance,
      now,
      sourceType: input.source?.type ?? null,
      sourceRef: input.source?.ref ?? null,
      parentId,
      shared: input.shared ? 1 : 0,
      supersedes: closest?.relation === 'update' ? closest.id : null,
    });
    const id = Number(result.lastInsertRowid);
    this.s.vector.run(id, this.activeEncoder.id, vectorBlob(input.vector));
    added.push({
      id,
      vector: input.vector,
      entry: { project, kind: input.kind, agent: pending.context.agent, shared: input.shared, createdAt: Date.parse(now), tags: input.tags, superseded: false },
    });
    ids.push(id);
    if (closest?.relation !== 'update') return { id, outcome: 'created' };
    this.s.supersede.run(id, closest.id);
    superseded.all.add(closest.id);
    superseded.here.push(closest.id);
    const old = this.s.uidAndText.get(closest.id) as { uid: string; text: string };
    return { id, outcome: 'supersedes', similarity: closest.score, replaced: { id: old.uid, text: old.text, because: closest.because } };
  }

  /**
   * The current memories of the project closest to a new one, and what the new one is to them: a restatement
   * (reinforces), an update (supersedes), or neither. Passages (chunks) are only reinforced by a near-identical
   * chunk; statements (facts, decisions, notes…) are compared word by word with the few most similar (supersession.ts).
   */
  private closest(
    input: ParsedMemoryInput & { vector: Float32Array },
    project: string,
    neighbours: Array<{ id: number; score: number }> | undefined,
    supersededInGroup: Set<number>,
  ): Closest | undefined {
    const statement = STATEMENT_KINDS.has(input.kind);
    const thresholds: SupersessionThresholds = { ...DEFAULT_SUPERSESSION, reinforce: this.options.dedupeSimilarity };
    const floor = statement ? Math.min(thresholds.update, thresholds.restate, thresholds.reinforce) : thresholds.reinforce;
    const eligible = (id: number): boolean => {
      const entry = this.catalog.get(id);
      if (!entry || entry.project !== project || entry.superseded || supersededInGroup.has(id)) return false;
      // A statement may supersede a statement of another kind ("use X" noted, "we will use Y" decided); it
      // reinforces only one of its own kind.
      return entry.kind === input.kind || (statement && STATEMENT_KINDS.has(entry.kind));
    };
    let close = (neighbours ?? []).filter((hit) => hit.score >= floor && eligible(hit.id));
    // The batch's neighbours are global; only when all of them are near-identical yet none is eligible could an
    // eligible near-identical one lie further down, and a filtered search settles it. (Not for the lower similarity
    // of updates: many memories have ten neighbours above it, and a filtered search per memory scans far.)
    const exhausted = !neighbours || (neighbours.length === DEDUPE_NEIGHBOURS && neighbours.at(-1)!.score >= thresholds.reinforce);
    if (close.length === 0 && exhausted) close = this.index.search(input.vector, SUPERSESSION_CANDIDATES, eligible).filter((hit) => hit.score >= floor);
    if (!statement) {
      const same = close.find((hit) => hit.score >= thresholds.reinforce);
      return same && { relation: 'restatement', id: same.id, score: same.score };
    }
    let facts: NoteFacts | undefined;
    for (const hit of close.slice(0, SUPERSESSION_CANDIDATES)) {
      facts ??= noteFacts(input.text);
      const found = relateNotes(facts, noteFacts(this.s.textOf.get(hit.id) as string), hit.score, thresholds);
      if (found.relation === 'update') return { relation: 'update', id: hit.id, score: hit.score, because: found.because };
      if (found.relation === 'restatement' && this.catalog.get(hit.id)!.kind === input.kind) return { relation: 'restatement', id: hit.id, score: hit.score };
    }
    return undefined;
  }
}

async function openIndex(
  db: SqliteDatabase,
  dataDir: string,
  encoder: SentenceEncoder,
  onProgress?: MemoryStoreOptions['onProgress'],
): Promise<VectorIndex> {
  const expectedCount = db.prepare('SELECT COUNT(*) FROM embeddings WHERE model = ?').pluck().get(encoder.id) as number;
  return VectorIndex.open({
    dir: path.join(dataDir, 'vectors'),
    modelId: encoder.id,
    dimension: encoder.dimension,
    expectedCount,
    onProgress,
    *loadAll() {
      const rows = db.prepare('SELECT memory_id AS id, vector FROM embeddings WHERE model = ?').iterate(encoder.id) as Iterable<{ id: number; vector: Buffer }>;
      for (const row of rows) yield { id: row.id, vector: blobVector(row.vector) };
    },
  });
}

/**
 * Case, whitespace and punctuation do not make a memory different ("port 5433." and "port 5433!" are one fact).
 * Vector similarity catches the near-identical wordings this misses.
 */
export function textHash(text: string): string {
  const normalised = text.normalize('NFKC').toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim();
  return createHash('sha256').update(normalised).digest('hex');
}

function vectorBlob(vector: Float32Array): Buffer {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
}

function blobVector(blob: Buffer): Float32Array {
  // Copy: SQLite's buffer may not be 4-byte aligned.
  const copy = new Float32Array(blob.byteLength / 4);
  new Uint8Array(copy.buffer).set(blob);
  return copy;
}

function toMemory(row: MemoryRow): Memory {
  return {
    id: row.uid,
    project: row.project,
    agent: row.agent,
    kind: row.kind,
    text: row.text,
    tags: JSON.parse(row.tags) as string[],
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    importance: row.importance,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    lastAccessedAt: row.last_accessed_at,
    accessCount: row.access_count,
    reinforcements: row.reinforcements,
    source: row.source_type ? { type: row.source_type, ref: row.source_ref } : null,
    parentId: row.parent_uid,
    shared: row.shared === 1,
    supersedes: row.supersedes_uid,
    supersededBy: row.superseded_by_uid,
  };
}
