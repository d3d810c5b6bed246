/**
 * Writing memories: stores are grouped like message sends (what arrives while a batch is being embedded joins the next
 * batch, so one ONNX run and one transaction serve many callers, and each caller hears back only after the commit);
 * each new memory is checked against its close neighbours (reinforces a restatement, supersedes an older value).
 */
import type { MemoryKind, StoredMemory } from '../../shared/memory-protocol';
import { ulidGenerator } from '../ids';
import { badRequest, HubError } from '../errors';
import { loadMemories, textHash, vectorBlob } from './memory-rows';
import { KIND_IMPORTANCE } from './ranking';
import { DEFAULT_SUPERSESSION, noteFacts, relateNotes, type NoteFacts, type SupersessionThresholds } from './supersession';
import { embedTexts, type CatalogEntry, type ParsedMemoryInput, type StoreContext, type StoreState } from './store-types';

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
  /** Texts of the group said again in it, each with the input whose vector it copies. */
  repeats: Array<[ParsedMemoryInput & { vector?: Float32Array }, ParsedMemoryInput & { vector?: Float32Array }]>;
  vectors: Promise<Float32Array[] | Error>;
}

/** Nearest neighbours looked at per new memory when checking for near-duplicates. */
const DEDUPE_NEIGHBOURS = 10;
/** Kinds that state one thing (a fact, a decision…): the ones a newer value can supersede. Passages are not compared. */
const STATEMENT_KINDS = new Set<MemoryKind>(['fact', 'decision', 'task', 'error', 'code', 'note']);
/** Close memories compared word by word with a new statement (the most similar first). */
const SUPERSESSION_CANDIDATES = 3;

/**
 * Word-level facts (supersession.ts) of stored memories, kept for the ones compared recently: close memories are
 * compared again and again as related notes arrive, and a memory's text never changes.
 */
const FACTS_CACHE = 10_000;
/**
 * Vectors of the texts embedded last, by text (~2 KB each): a text sent again while the memory it repeats is not yet
 * committed (the next group is taken while one commits), or in another project, is not embedded again.
 */
const RECENT_TEXTS = 1000;

/**
 * Texts queued from which a group is taken at once, while the group before it is still embedding, instead of when
 * its vectors are back. Batched stores (100-500 texts a request, two requests in flight) otherwise left the
 * inference workers idle while a group committed whenever the next request had not arrived by the time the group's
 * vectors were back: the encoder and the commit took turns instead of overlapping. Small groups (concurrent single
 * stores) still wait, so they keep gathering into shared ONNX runs: 64 texts fill 8 batches, 4 on each worker.
 */
const TAKE_EARLY_FROM_TEXTS = 64;
/** Groups taken and not yet committed: the one whose vectors are awaited, and one more queued in the encoder behind it. */
const GROUPS_AHEAD = 2;

/** What storeOne decided about a new memory and the close memories it was compared with. */
type Closest =
  | { relation: 'restatement'; id: number; score: number }
  | { relation: 'update'; id: number; score: number; because: 'value' | 'negation' };

export class StoreWriter {
  private queue: PendingStore[] = [];
  /** Texts in `queue`. */
  private queuedTexts = 0;
  /** Groups taken, in order, not yet committed: each embedding, or waiting in the encoder for the one before. */
  private readonly ahead: EmbeddingGroup[] = [];
  /** Each text of the groups ahead that is embedded, by text: a later group's same text takes its vector. */
  private readonly embedding = new Map<string, ParsedMemoryInput & { vector?: Float32Array }>();
  private flushingNow = false;
  private readonly newId = ulidGenerator();
  private readonly facts = new Map<number, NoteFacts>();
  /** textHash of each input, computed once for the encoder's skip and the store's exact-duplicate check. */
  private readonly hashes = new WeakMap<ParsedMemoryInput, string>();
  private readonly recent = new Map<string, Float32Array>();
  /** The encoder the recent vectors are of (a model switch empties them). */
  private recentModel = '';
  private readonly s;
  /** Told after each commit that added memories (store.ts passes it on to its watchers). */
  onStored: (() => void) | undefined;

  constructor(
    private readonly state: StoreState,
    /** Told after each commit that added memories (the keyword index takes them in after the commit). */
    private readonly onAdded: () => void,
  ) {
    const { db } = state;
    this.s = {
      // Only a current memory is reinforced: restating a value that was replaced is compared with the current one.
      byHash: db.prepare('SELECT id FROM memories WHERE project = ? AND text_hash = ? AND superseded_by IS NULL').pluck(),
      textOf: db.prepare('SELECT text FROM memories WHERE id = ?').pluck(),
      uidAndText: db.prepare('SELECT uid, text FROM memories WHERE id = ?'),
      supersede: db.prepare('UPDATE memories SET superseded_by = ? WHERE id = ?'),
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
    };
  }

  /** Whether a group is being embedded or committed (a model switch and close wait for it to end). */
  get flushing(): boolean {
    return this.flushingNow;
  }

  /** Stores memories (embedding, deduplicating, indexing); resolves after the commit. */
  store(inputs: Array<ParsedMemoryInput & { vector?: Float32Array }>, context: StoreContext): Promise<StoredMemory[]> {
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const done = (results: StoredMemory[]) => {
        this.state.options.observe?.('store', performance.now() - started, results.length);
        resolve(results);
      };
      this.queue.push({ inputs, context, resolve: done, reject });
      this.queuedTexts += inputs.length;
      if (!this.flushingNow) void this.flush();
      else if (this.ahead.length < GROUPS_AHEAD && this.queuedTexts >= TAKE_EARLY_FROM_TEXTS) this.ahead.push(this.takeQueued());
    });
  }

  /**
   * Stores queued groups one after another, pipelined: the group queued meanwhile starts embedding (in the inference
   * workers) as soon as a group's vectors are back, or at once when it is large (TAKE_EARLY_FROM_TEXTS), while this
   * one is deduplicated and committed on this thread. A group's near-duplicate check still sees every earlier group:
   * groups commit in the order they were taken, each after the ones before.
   */
  private async flush(): Promise<void> {
    this.flushingNow = true;
    try {
      this.ahead.push(this.takeQueued());
      while (this.ahead.length > 0) {
        const current = this.ahead[0]!;
        const vectors = await current.vectors;
        if (!(vectors instanceof Error)) this.remember(current.toEmbed, vectors);
        for (const input of current.toEmbed) if (this.embedding.get(input.text) === input) this.embedding.delete(input.text);
        this.ahead.shift();
        if (this.ahead.length < GROUPS_AHEAD && this.queue.length > 0) this.ahead.push(this.takeQueued());
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
      this.flushingNow = false;
    }
  }

  /**
   * Takes every queued store as one group and starts embedding, in one encoder call, every text that needs it: each
   * distinct text once, and not a text embedded lately (remember) or held word for word by a current memory of the
   * project (it will be reinforced; that memory's vector stands in should it be gone by the commit). An agent saying
   * a fact again costs no run of the encoder (~1.4 ms of CPU per text). A text of a group ahead still embedding
   * takes that group's vector at the commit (groups commit in order).
   */
  private takeQueued(): EmbeddingGroup {
    const batch = this.queue;
    this.queue = [];
    this.queuedTexts = 0;
    const toEmbed: EmbeddingGroup['toEmbed'] = [];
    const repeats: EmbeddingGroup['repeats'] = [];
    const firstOf = new Map<string, ParsedMemoryInput & { vector?: Float32Array }>();
    for (const pending of batch) {
      for (const input of pending.inputs) {
        if (input.vector) continue;
        const first = firstOf.get(input.text);
        if (first) {
          repeats.push([input, first]);
          continue;
        }
        firstOf.set(input.text, input);
        input.vector = this.recentVectorOf(input.text) ?? this.storedVectorOf(input.project ?? pending.context.project, input);
        if (input.vector) continue;
        const ahead = this.embedding.get(input.text);
        if (ahead) {
          repeats.push([input, ahead]);
          continue;
        }
        toEmbed.push(input);
        this.embedding.set(input.text, input);
      }
    }
    const vectors: Promise<Float32Array[] | Error> =
      toEmbed.length === 0
        ? Promise.resolve([])
        : embedTexts(this.state, toEmbed.map((input) => input.text)).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))));
    return { batch, toEmbed, repeats, vectors };
  }

  /** Keeps the vectors of texts just embedded (copies: the inputs' own vectors go on into the index). */
  private remember(inputs: Array<{ text: string }>, vectors: Float32Array[]): void {
    if (this.recentModel !== this.state.encoder.id) {
      this.recent.clear();
      this.recentModel = this.state.encoder.id;
    }
    inputs.forEach((input, i) => {
      this.recent.delete(input.text);
      this.recent.set(input.text, new Float32Array(vectors[i]!));
    });
    // Oldest first in a Map's order.
    for (const text of this.recent.keys()) {
      if (this.recent.size <= RECENT_TEXTS) break;
      this.recent.delete(text);
    }
  }

  private recentVectorOf(text: string): Float32Array | undefined {
    const vector = this.recentModel === this.state.encoder.id ? this.recent.get(text) : undefined;
    return vector && new Float32Array(vector);
  }

  /** The vector of the project's current memory of exactly this text, if the active index holds it. */
  private storedVectorOf(project: string, input: ParsedMemoryInput): Float32Array | undefined {
    const { index, encoder } = this.state;
    if (index.modelId !== encoder.id) return undefined;
    const id = this.s.byHash.get(project, this.hashOf(input)) as number | undefined;
    // The hash is of a normalised text; only the very same words have the very same vector.
    if (id === undefined || this.s.textOf.get(id) !== input.text) return undefined;
    return index.vectorOf(id);
  }

  private hashOf(input: ParsedMemoryInput): string {
    let hash = this.hashes.get(input);
    if (hash === undefined) {
      hash = textHash(input.text);
      this.hashes.set(input, hash);
    }
    return hash;
  }

  private commitGroup({ batch, toEmbed, repeats }: EmbeddingGroup, vectors: Float32Array[] | Error): void {
    if (vectors instanceof Error) {
      const failure = new HubError('embedding_failed', `the sentence encoder failed: ${vectors.message}`);
      batch.forEach((pending) => pending.reject(failure));
      return;
    }
    toEmbed.forEach((input, i) => (input.vector = vectors[i]));
    // A text of an earlier group whose encoder call failed has no vector: the group fails as that one did.
    if (repeats.some(([, first]) => !first.vector)) {
      const failure = new HubError('embedding_failed', 'the sentence encoder failed on an earlier group holding the same text');
      batch.forEach((pending) => pending.reject(failure));
      return;
    }
    for (const [repeat, first] of repeats) repeat.vector = new Float32Array(first.vector!);
    const items = batch.flatMap((pending) => pending.inputs.map((input) => ({ input, pending })));

    // 1. Near-duplicate candidates for the whole batch at once: in one FAISS call while the index is flat (one call
    // per memory cost ~2 ms each at 10k memories), then in the few IVF lists nearest each new memory.
    const dedupable = items.filter((item) => item.input.kind !== 'document' && item.input.kind !== 'section');
    const neighbours = new Map<ParsedMemoryInput, Array<{ id: number; score: number }>>();
    this.state.index
      .searchCloseBatch(dedupable.map((item) => item.input.vector!), DEDUPE_NEIGHBOURS)
      .forEach((hits, i) => neighbours.set(dedupable[i]!.input, hits));

    // 2. One transaction for the whole group; a savepoint per caller, so one caller's bad input fails alone.
    const now = new Date().toISOString();
    const added: Array<{ id: number; vector: Float32Array; entry: CatalogEntry }> = [];
    // Memories superseded in this group: no later memory of the group compares with them.
    const superseded = new Set<number>();
    const outcomes: Array<() => void> = [];
    try {
      // IMMEDIATE: the write lock is taken (waiting up to the busy timeout) before the first read. A deferred
      // transaction reads first and upgrades later, and SQLite refuses that upgrade at once, without waiting, while
      // the checkpoint worker's connection holds the lock: an extraction failed with "database is locked".
      this.state.db.transaction(() => {
        for (const pending of batch) {
          const supersededHere: number[] = [];
          try {
            const addedHere: typeof added = [];
            const results = this.state.db.transaction(() =>
              pending.inputs.map((input, position) =>
                this.storeOne(input as ParsedMemoryInput & { vector: Float32Array }, position, pending, now, addedHere, neighbours.get(input), {
                  all: superseded,
                  here: supersededHere,
                }),
              ),
            )();
            added.push(...addedHere);
            const memories = loadMemories(this.state.db, results.map((result) => result.id));
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
      }).immediate();
    } catch (error) {
      const failure = new HubError('storage_failed', `the memory could not be stored: ${(error as Error).message}`);
      batch.forEach((pending) => pending.reject(failure));
      return;
    }
    // 3. Only committed memories enter the index and the catalog.
    if (added.length > 0) this.state.index.add(added.map(({ id, vector }) => ({ id, vector })));
    for (const { id, entry } of added) this.state.catalog.set(id, entry);
    for (const id of superseded) {
      const entry = this.state.catalog.get(id);
      if (entry) entry.superseded = true;
    }
    outcomes.forEach((settle) => settle());
    if (added.length > 0) {
      this.onAdded();
      this.onStored?.();
    }
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
    const hash = this.hashOf(input);
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
      const entry = this.state.catalog.get(existing);
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
    this.s.vector.run(id, this.state.encoder.id, vectorBlob(input.vector));
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

  /** Forgets what is kept of a deleted memory (its id may be given again to a new one). */
  forget(id: number): void {
    this.facts.delete(id);
  }

  private factsOf(id: number): NoteFacts {
    let found = this.facts.get(id);
    if (!found) {
      if (this.facts.size >= FACTS_CACHE) this.facts.clear();
      found = noteFacts(this.s.textOf.get(id) as string);
      this.facts.set(id, found);
    }
    return found;
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
    const thresholds: SupersessionThresholds = { ...DEFAULT_SUPERSESSION, reinforce: this.state.options.dedupeSimilarity };
    const floor = statement ? Math.min(thresholds.update, thresholds.restate, thresholds.reinforce) : thresholds.reinforce;
    const eligible = (id: number): boolean => {
      const entry = this.state.catalog.get(id);
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
    if (close.length === 0 && exhausted) close = this.state.index.search(input.vector, SUPERSESSION_CANDIDATES, eligible).filter((hit) => hit.score >= floor);
    if (!statement) {
      const same = close.find((hit) => hit.score >= thresholds.reinforce);
      return same && { relation: 'restatement', id: same.id, score: same.score };
    }
    let facts: NoteFacts | undefined;
    for (const hit of close.slice(0, SUPERSESSION_CANDIDATES)) {
      facts ??= noteFacts(input.text);
      const found = relateNotes(facts, this.factsOf(hit.id), hit.score, thresholds);
      if (found.relation === 'update') return { relation: 'update', id: hit.id, score: hit.score, because: found.because };
      if (found.relation === 'restatement' && this.state.catalog.get(hit.id)!.kind === input.kind) return { relation: 'restatement', id: hit.id, score: hit.score };
    }
    return undefined;
  }
}
