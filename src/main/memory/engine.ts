/**
 * The memory engine as the rest of the hub sees it: opens the memory service once the sentence encoder is ready
 * (requests made meanwhile wait for it), and turns text into stored memories through extraction.
 */
import type { z } from 'zod';
import type { ExtractRequest, StoredMemory } from '../../shared/memory-protocol';
import type { SentenceEncoder } from '../embedding';
import { HubError } from '../errors';
import type { ServiceRegistry } from '../monitor/service-registry';
import { extractMemories } from './extract';
import { MemoryService, type MemoryServiceOptions, type ParsedMemoryInput, type StoreContext } from './service';

export interface MemoryEngineOptions {
  dataDir: string;
  encoder: () => Promise<SentenceEncoder>;
  halfLifeDays: number;
  dedupeSimilarity: number;
  services: ServiceRegistry;
  observe?: MemoryServiceOptions['observe'];
  observeExtract?: (durationMs: number) => void;
}

export interface ExtractResult {
  stored: StoredMemory[];
  stats: Record<string, unknown>;
}

export class MemoryEngine {
  private opening: Promise<MemoryService> | undefined;

  constructor(private readonly options: MemoryEngineOptions) {}

  service(): Promise<MemoryService> {
    this.opening ??= (async () => {
      const { services } = this.options;
      services.set('memory', 'starting', 'waiting for the sentence encoder');
      try {
        const encoder = await this.options.encoder();
        const service = await MemoryService.open({
          dataDir: this.options.dataDir,
          encoder,
          halfLifeDays: this.options.halfLifeDays,
          dedupeSimilarity: this.options.dedupeSimilarity,
          observe: this.options.observe,
          onProgress: ({ step, fraction }) => services.set('memory', 'starting', `vector index: ${step}`, fraction),
        });
        const stats = service.stats();
        services.set('memory', 'up', `${stats.total} memories, ${stats.index.kind} index, ${encoder.id}`);
        return service;
      } catch (error) {
        services.set('memory', 'down', `the memory engine could not open: ${(error as Error).message}`);
        throw new HubError(503, 'memory_unavailable', `the memory engine is not available: ${(error as Error).message}`);
      }
    })();
    return this.opening;
  }

  /** Extracts memories from text (structure, semantic chunks, salient items) and stores them as one batch. */
  async extract(input: z.output<typeof ExtractRequest>, context: StoreContext): Promise<ExtractResult> {
    const service = await this.service();
    const encoder = await this.options.encoder();
    const started = performance.now();
    const { drafts, vectors, stats } = await extractMemories(input.text, { embed: (texts) => encoder.embed(texts), title: input.title });
    const extractedMs = performance.now() - started;

    // Parents are stored before their children, and referred to by their place in the batch.
    const position = new Map<string, number>();
    const ordered = orderParentsFirst(drafts);
    const inputs: Array<ParsedMemoryInput & { vector?: Float32Array }> = ordered.map((draft, i) => {
      position.set(draft.key, i);
      return {
        text: draft.text,
        kind: draft.kind,
        tags: draft.tags,
        metadata: draft.metadata,
        importance: draft.importance,
        source: input.source,
        shared: input.shared,
        parent: draft.parentKey === null ? undefined : position.get(draft.parentKey),
        vector: vectors.get(draft.key),
      };
    });
    const stored = await service.store(inputs, context);
    this.options.observeExtract?.(performance.now() - started);
    return { stored, stats: { ...stats, extractMs: extractedMs, totalMs: performance.now() - started, memories: stored.length } };
  }

  async close(): Promise<void> {
    if (!this.opening) return;
    const service = await this.opening.catch(() => undefined);
    await service?.close();
  }
}

function orderParentsFirst<T extends { key: string; parentKey: string | null }>(drafts: T[]): T[] {
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
