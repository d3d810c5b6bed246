/**
 * The memory engine, as the rest of the hub sees it: composes the memory store (store.ts: SQLite, with the vector
 * index beside it), the sentence encoder and extraction. Opens the store once the encoder is ready (requests made
 * meanwhile wait for it), turns text into stored memories through extraction, and switches the embedding model in the
 * background.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import type { SqliteDatabase } from '../db/database';
import { loadEncoderFromDir } from '../embedding/models';
import type { ExtractReport, ExtractRequest, MemoryModelState, ModelChoice } from '../../shared/memory-protocol';
import type { SentenceEncoder } from '../embedding';
import { HubError } from '../errors';
import type { ServiceRegistry } from '../monitor/service-registry';
import { ExtractRefused, checkExtractable, type ExtractResult } from '../extract';
import { EXTRACT_IN_WORKER_FROM, ExtractRunner } from './extract-runner';
import { storeDraftsInBatches } from './store-drafts';
import { MemoryGraph } from './graph';
import {
  MemoryStore,
  readModelChoice,
  writeModelChoice,
  type MemoryStoreOptions,
  type StoreContext,
} from './store';

export interface MemoryEngineOptions {
  dataDir: string;
  /** The built-in encoder (USE-lite, int8). */
  encoder: () => Promise<SentenceEncoder>;
  /**
   * Earlier built-in encoders by id (the fp32 USE-lite, the default before the int8 one). Memories indexed with one
   * of them are searched with it at start, and re-embedded with the built-in encoder in the background.
   */
  earlierEncoders?: Record<string, () => Promise<SentenceEncoder>>;
  /** A model folder to use instead (a sentence-transformers ONNX export); switched to in the background. */
  modelDir?: string | null;
  halfLifeDays: number;
  dedupeSimilarity: number;
  services: ServiceRegistry;
  observe?: MemoryStoreOptions['observe'];
  observeExtract?: (durationMs: number) => void;
  /** The vector index's build policy (config memory.index). */
  index?: MemoryStoreOptions['index'];
}

/** How often the memory service's detail is brought up to date. */
const DESCRIBE_EVERY_MS = 2000;

export class MemoryEngine {
  private opening: Promise<MemoryStore> | undefined;
  private opened: MemoryStore | undefined;
  private describeTimer: NodeJS.Timeout | undefined;
  private graphOf: MemoryGraph | undefined;
  private active: ModelChoice | undefined;
  private switching: MemoryModelState['switching'] = null;
  private lastError: string | null = null;
  /**
   * Encoders this engine loaded itself (user models, earlier built-in ones); the built-in one belongs to the app. One
   * switched away from is closed once no extraction holds it any more (search and stores let go of it before the
   * switch completes).
   */
  private readonly owned = new Set<SentenceEncoder>();
  /** Extractions under way per encoder: they embed with the encoder they started with, over several calls. */
  private readonly inUse = new Map<SentenceEncoder, number>();
  private readonly retired = new Set<SentenceEncoder>();
  private readonly closing = new Set<Promise<void>>();
  /** Large texts are extracted in a worker thread. */
  private readonly extractor = new ExtractRunner();

  constructor(private readonly options: MemoryEngineOptions) {}

  /**
   * The one way an encoder is resolved: a model folder, else an earlier built-in encoder by id (for memories still
   * indexed with it), else the built-in one.
   */
  private async loadEncoder(dir: string | null, id?: string): Promise<SentenceEncoder> {
    const earlier = id === undefined ? undefined : this.options.earlierEncoders?.[id];
    if (dir === null && !earlier) return this.options.encoder();
    const encoder = dir === null ? await earlier!() : await loadEncoderFromDir(dir);
    this.owned.add(encoder);
    return encoder;
  }

  /** Closes an encoder this engine owns and no longer uses, as soon as no extraction holds it. */
  private retire(encoder: SentenceEncoder): void {
    if (!this.owned.delete(encoder)) return;
    this.retired.add(encoder);
    this.closeIfIdle(encoder);
  }

  private closeIfIdle(encoder: SentenceEncoder): void {
    if (!this.retired.has(encoder) || (this.inUse.get(encoder) ?? 0) > 0) return;
    this.retired.delete(encoder);
    const closed = encoder.close().catch(() => undefined);
    this.closing.add(closed);
    void closed.finally(() => this.closing.delete(closed));
  }

  /** The store once open (the advisor reads its figures without waiting for it); undefined before. */
  openedStore(): MemoryStore | undefined {
    return this.opened;
  }

  /** The memory database once open, for consistent online backups; null before. */
  database(): SqliteDatabase | null {
    return this.opened?.db ?? null;
  }

  model(): MemoryModelState {
    return { active: this.active ?? { id: 'loading', dir: null }, switching: this.switching, lastError: this.lastError };
  }

  /**
   * Starts re-embedding every memory with the model in `dir` (null: the built-in encoder). Returns at once;
   * progress shows in the hub's status, and search keeps using the current model until the new one is complete.
   */
  async switchModel(dir: string | null): Promise<MemoryModelState> {
    const store = await this.store();
    if (this.switching) throw new HubError('conflict', `already switching to ${this.switching.to.id}`);
    const resolved = dir === null ? null : path.resolve(dir);
    const encoder = await this.loadEncoder(resolved).catch((error: Error) => {
      throw new HubError('invalid_model', `cannot use the model in ${resolved}: ${error.message}`);
    });
    const previous = store.encoder;
    if (encoder.id === store.model) {
      if (encoder !== previous) this.retire(encoder);
      return this.model();
    }
    const to = { id: encoder.id, dir: resolved };
    this.switching = { to, done: 0, total: 0 };
    const { services } = this.options;
    void store
      .switchModel(encoder, ({ done, total }) => {
        this.switching = { to, done, total };
        services.set('memory', 'up', `re-embedding ${total} memories with ${to.id}: ${done}/${total}`, total ? done / total : 0);
      })
      .then(
        () => {
          this.active = to;
          writeModelChoice(this.options.dataDir, to);
          this.lastError = null;
          services.set('memory', 'up', this.describe(store));
          this.retire(previous);
        },
        (error: Error) => {
          this.retire(encoder);
          this.lastError = error.message;
          services.set('memory', 'degraded', `the switch to ${to.id} failed (still on ${store.model}): ${error.message}`);
        },
      )
      .finally(() => (this.switching = null));
    return this.model();
  }

  private describe(store: MemoryStore): string {
    const size = store.size();
    return `${size} memor${size === 1 ? 'y' : 'ies'}, ${store.indexStats().kind} index, ${store.model}`;
  }

  /**
   * Keeps the memory service's detail ("22 memories, …") current as memories come and go, every few seconds and
   * only while it is plainly up (not starting, switching models or failing), so the Status view does not go stale.
   */
  private keepDescribed(store: MemoryStore): void {
    const { services } = this.options;
    this.describeTimer = setInterval(() => {
      const current = services.get('memory');
      if (current?.state !== 'up' || current.progress !== undefined || this.switching) return;
      const detail = this.describe(store);
      if (detail !== current.detail) services.set('memory', 'up', detail);
    }, DESCRIBE_EVERY_MS);
    this.describeTimer.unref();
  }

  /** The store, opened on first use once the encoder is ready; callers meanwhile wait for it. */
  store(): Promise<MemoryStore> {
    this.opening ??= (async () => {
      const { services } = this.options;
      services.set('memory', 'starting', 'waiting for the sentence encoder');
      try {
        const { dataDir } = this.options;
        // The model the memories are indexed with loads first; a different configured one is switched to after.
        const saved = readModelChoice(dataDir);
        const activeDir = saved?.dir && existsSync(saved.dir) ? saved.dir : null;
        let earlier = false;
        const store = await MemoryStore.open({
          dataDir,
          // Memories indexed with an earlier built-in encoder load it, so search works at once; the switch to the
          // current built-in one follows below. Without a recorded choice (data of an earlier version, or a new
          // install) the data says which.
          encoder: async (hasVectors) => {
            const earlierIds = Object.keys(this.options.earlierEncoders ?? {});
            const indexedWith = activeDir !== null ? undefined : saved ? saved.id : earlierIds.find(hasVectors);
            earlier = indexedWith !== undefined && earlierIds.includes(indexedWith);
            const encoder = await this.loadEncoder(activeDir, indexedWith);
            this.active = { id: encoder.id, dir: activeDir };
            return encoder;
          },
          halfLifeDays: this.options.halfLifeDays,
          dedupeSimilarity: this.options.dedupeSimilarity,
          observe: this.options.observe,
          index: this.options.index,
          onProgress: ({ step, fraction }) => services.set('memory', 'starting', `vector index: ${step}`, fraction),
        });
        // Recorded from the first start on, so later starts need not look at the data.
        if (!saved) writeModelChoice(dataDir, this.active!);
        services.set('memory', 'up', this.describe(store));
        this.keepDescribed(store);
        this.opened = store;
        this.graphOf = new MemoryGraph(store);
        const wanted = this.options.modelDir ? path.resolve(this.options.modelDir) : null;
        if (wanted !== activeDir || earlier) {
          queueMicrotask(() => {
            this.switchModel(wanted).catch((error: Error) => {
              this.lastError = error.message;
              services.set('memory', 'degraded', `memory.modelDir could not be used: ${error.message}`);
            });
          });
        }
        return store;
      } catch (error) {
        services.set('memory', 'down', `the memory engine could not open: ${(error as Error).message}`);
        throw new HubError('memory_unavailable', `the memory engine is not available: ${(error as Error).message}`);
      }
    })();
    return this.opening;
  }

  /** Topics and links of the memories (graph/), once the store is open. */
  async graph(): Promise<MemoryGraph> {
    await this.store();
    return this.graphOf!;
  }

  /** Extracts memories from text (structure, semantic chunks, salient items) and stores them as one batch. */
  async extract(input: z.output<typeof ExtractRequest>, context: StoreContext): Promise<ExtractReport> {
    try {
      checkExtractable(input.text);
    } catch (error) {
      throw error instanceof ExtractRefused ? new HubError(error.code, error.message) : error;
    }
    const store = await this.store();
    const encoder = store.encoder;
    const started = performance.now();
    this.inUse.set(encoder, (this.inUse.get(encoder) ?? 0) + 1);
    let extractedDrafts: ExtractResult;
    try {
      extractedDrafts = await this.extractor.extract(input.text, {
        // A large text's sentences are bulk work: other agents' stores and searches keep a worker and a core.
        embed: (texts) => encoder.embed(texts, { bulk: input.text.length >= EXTRACT_IN_WORKER_FROM }),
        title: input.title,
        project: context.project,
        // The source keeps the document's key stable when the same source is extracted again.
        source: input.source?.ref,
      });
    } finally {
      const left = this.inUse.get(encoder)! - 1;
      if (left > 0) this.inUse.set(encoder, left);
      else this.inUse.delete(encoder);
      this.closeIfIdle(encoder);
    }
    const { drafts, vectors: extracted, stats } = extractedDrafts;
    const extractedMs = performance.now() - started;
    // Vectors of a model that was switched away from meanwhile are not stored: the memories are embedded anew.
    const vectors = store.encoder === encoder ? extracted : new Map<string, Float32Array>();
    const stored = await storeDraftsInBatches(drafts, (inputs) => store.store(inputs, context), { source: input.source, shared: input.shared, vectors });
    this.options.observeExtract?.(performance.now() - started);
    return { stored, stats: { ...stats, extractMs: extractedMs, totalMs: performance.now() - started, memories: stored.length } };
  }

  async close(): Promise<void> {
    clearInterval(this.describeTimer);
    await this.extractor.close();
    if (!this.opening) return;
    const store = await this.opening.catch(() => undefined);
    this.graphOf?.close();
    await this.graphOf?.whenIdle();
    await store?.close();
    this.opened = undefined;
    await Promise.all([...this.owned, ...this.retired].map((encoder) => encoder.close()));
    await Promise.all(this.closing);
  }
}
