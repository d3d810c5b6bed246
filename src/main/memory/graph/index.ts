/**
 * The memory graph: topics per project (topics.ts) and links between memories (links.ts, entities.ts), kept up to
 * date behind the store. New memories are taken in order of their id from a cursor kept in memory.sqlite, in small
 * batches between other work: a memory's entities are recorded and, if it is current, it joins a topic. So nothing
 * is lost across restarts, and a store never waits for the graph. Re-balancing and labelling follow in slices,
 * paid for by the memories that arrived (a slice per so many memories), so their cost stays in proportion.
 */
import type { MemoryLink, MemoryLinkKind, MemoryLinks, MemoryNeighbourhood, MemoryTopic } from '../../../shared/memory-graph-protocol';
import { MEMORY_LINK_KINDS } from '../../../shared/memory-graph-protocol';
import type { Memory, MemoryKind, MemorySearchResult } from '../../../shared/memory-protocol';
import { foreground } from '../../api/foreground';
import { ulidGenerator } from '../../ids';
import type { CatalogEntry, MemoryStore, MemoryStoreWatcher, SearchContext } from '../store';
import { extractEntities } from './entities';
import { Links } from './links';
import { Topics, type TopicThresholds } from './topics';

/** Memories read per batch (one transaction, then a turn of the event loop for everyone else)... */
const BATCH = 128;
/** ...or fewer: a batch stops after this long, so the hub's other work never waits longer for the graph. */
const SLICE_MS = 8;
/** Kinds that are containers of other memories, not about one subject: they join no topic. */
const NOT_TOPICAL = new Set<MemoryKind>(['document', 'section']);
/**
 * Members re-balancing looks at again per memory that arrives: each visit costs about one assignment, so
 * re-balancing costs about twice the assignments, and every member is looked at again each time the project grows
 * by half.
 */
const VISITS_PER_MEMORY = 1;
/**
 * Members looked at per re-balancing slice (a millisecond or two): in the batch's own transaction when the batch left
 * time, else in one of their own. A commit costs about as much as a dozen visits.
 */
const VISITS_PER_SLICE = 64;
/** Topics labelled per turn in the background (a request labels what it shows at once). */
const LABELS_PER_TURN = 2;
/**
 * Each round of taking in new memories starts this long after the commit that asked for it, so that single stores
 * made one after another (an agent noting facts as it works, ~5 ms apart) are taken a few per batch: a batch's own
 * transaction and the topics' save cost ~0.6 ms of the main thread however few memories it holds, and a batch of
 * one, run right after each reply, delayed the agent's next store.
 */
const GATHER_MS = 25;
const CURSOR_KEY = 'graph_cursor';
const MODEL_KEY = 'graph_model';

/** Who may see a memory: true for the memories the caller may read. */
export type Visible = (entry: Pick<CatalogEntry, 'project' | 'shared'>) => boolean;

export interface NeighbourhoodOptions {
  depth: number;
  limit: number;
  kinds?: MemoryLinkKind[];
}

export class MemoryGraph implements MemoryStoreWatcher {
  readonly topics: Topics;
  private readonly links: Links;
  private readonly s;
  private running: Promise<void> | undefined;
  private wanted = false;
  private closed = false;
  private credits = 0;
  /** Memories current again after the memory that superseded them was deleted: they rejoin a topic. */
  private restored: number[] = [];

  constructor(
    private readonly store: MemoryStore,
    thresholds?: TopicThresholds,
  ) {
    const db = store.db;
    this.topics = new Topics(db, ulidGenerator(), (id) => store.vectorOf(id), thresholds);
    this.links = new Links(db, store);
    this.s = {
      meta: db.prepare('SELECT value FROM memory_meta WHERE key = ?').pluck(),
      setMeta: db.prepare('INSERT INTO memory_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      next: db.prepare('SELECT id, project, kind, text, supersedes, superseded_by AS supersededBy FROM memories WHERE id > ? ORDER BY id LIMIT ?'),
      isMember: db.prepare('SELECT 1 FROM topic_members WHERE memory_id = ?').pluck(),
      row: db.prepare('SELECT project, kind, text, superseded_by AS supersededBy FROM memories WHERE id = ?'),
    };
    store.watch(this);
    store.describeHits = (result, context) => this.describeHits(result, context);
    this.stored();
  }

  /** A commit added memories: take them in the background. */
  stored(): void {
    this.wanted = true;
    if (!this.running && !this.closed) {
      // A failure (SQLite busy past its timeout, say) must not take the hub down: the next commit starts it again.
      this.running = this.run()
        .catch((error: Error) => console.warn(`[memory] the memory graph paused: ${error.message}`))
        .finally(() => (this.running = undefined));
    }
  }

  /** Called before a memory is deleted: it leaves its topic now (its vector is still there); what it superseded rejoins. */
  deleting(id: number, restored: number[]): void {
    this.store.db.transaction(() => {
      this.topics.leave(id);
      this.topics.save();
    }).immediate();
    this.topics.forget(id);
    if (restored.length > 0) {
      this.restored.push(...restored);
      this.stored();
    }
  }

  /** Resolves once every memory stored so far has its entities and topic, and the re-balancing it paid for is done. */
  async whenIdle(): Promise<void> {
    while (this.running) await this.running;
  }

  close(): void {
    this.closed = true;
  }

  private async run(): Promise<void> {
    while (this.wanted && !this.closed) {
      // Never within the caller's turn (deleting() calls in before the row is gone), and a moment later: GATHER_MS.
      await new Promise((resolve) => setTimeout(resolve, GATHER_MS));
      await turn();
      this.wanted = false;
      for (;;) {
        if (this.closed || !this.store.db.open) return;
        const finished = this.processBatch();
        await turn();
        if (finished) break;
      }
      while (this.credits >= 1 && !this.closed && this.store.db.open) {
        const now = new Date().toISOString();
        this.store.db.transaction(() => {
          this.rebalance(now);
          this.topics.save();
        }).immediate();
        await turn();
      }
      while (!this.closed && this.store.db.open && this.topics.labelSome(LABELS_PER_TURN) > 0) await turn();
    }
  }

  /** Takes the next batch of new memories (and memories current again); returns whether none are left. */
  private processBatch(): boolean {
    const db = this.store.db;
    let taken = 0;
    let finished = false;
    db.transaction(() => {
      if (this.s.meta.get(MODEL_KEY) !== this.store.model) {
        // Centres of another model's vectors mean nothing in this one: every memory is placed again.
        this.topics.clear();
        this.s.setMeta.run(CURSOR_KEY, '0');
        this.s.setMeta.run(MODEL_KEY, this.store.model);
      }
      const cursor = Number(this.s.meta.get(CURSOR_KEY) ?? 0);
      const rows = this.s.next.all(cursor, BATCH) as Array<{
        id: number;
        project: string;
        kind: MemoryKind;
        text: string;
        supersedes: number | null;
        supersededBy: number | null;
      }>;
      const now = new Date().toISOString();
      const started = performance.now();
      for (const row of rows) {
        if (taken > 0 && performance.now() - started > SLICE_MS) break;
        taken++;
        this.links.record(row.id, extractEntities(row.text));
        if (row.supersedes !== null) this.topics.leave(row.supersedes);
        if (row.supersededBy === null && !NOT_TOPICAL.has(row.kind)) {
          const vector = this.store.vectorOf(row.id);
          if (vector) this.topics.assign(row.id, row.project, row.text, vector, now);
        }
      }
      for (const id of this.restored.splice(0)) {
        const row = this.s.row.get(id) as { project: string; kind: MemoryKind; text: string; supersededBy: number | null } | undefined;
        if (!row || row.supersededBy !== null || NOT_TOPICAL.has(row.kind) || this.s.isMember.get(id)) continue;
        const vector = this.store.vectorOf(id);
        if (vector) this.topics.assign(id, row.project, row.text, vector, now);
      }
      this.credits += taken * VISITS_PER_MEMORY;
      if (this.credits >= 1 && performance.now() - started < SLICE_MS / 2) this.rebalance(now);
      this.topics.save();
      if (taken > 0) this.s.setMeta.run(CURSOR_KEY, String(rows[taken - 1]!.id));
      finished = rows.length < BATCH && taken === rows.length;
    }).immediate();
    return finished;
  }

  /** One slice of the re-balancing paid for (inside the caller's transaction). */
  private rebalance(now: string): void {
    const visits = Math.min(VISITS_PER_SLICE, Math.floor(this.credits));
    this.credits -= visits;
    this.topics.rebalanceSlice(now, visits);
  }

  /**
   * Each hit says its topic. An agent's hit of another project's shared memory says none: that topic's label is made
   * of the other project's memories, private ones included.
   */
  describeHits(result: MemorySearchResult, context: SearchContext): MemorySearchResult {
    const ids = result.hits.map((hit) => this.store.idOf(hit.memory.id)!).filter((id) => id !== undefined);
    const topics = this.topics.topicsOf(ids);
    return {
      ...result,
      hits: result.hits.map((hit) => {
        const found = topics.get(this.store.idOf(hit.memory.id) ?? -1);
        const topic = found && (context.agent === null || found.project === context.project) ? found : undefined;
        return { ...hit, topic: topic ? { id: topic.uid, label: this.topics.labelOf(topic) } : null };
      }),
    };
  }

  /** A project's topics, largest first. */
  topicList(project: string, limit: number): MemoryTopic[] {
    return this.topics.list(project, limit);
  }

  /** A topic's current memories, nearest its centre first; undefined for an unknown topic. */
  topicMemories(uid: string, limit: number, offset: number): { project: string; memories: Memory[] } | undefined {
    const topic = this.topics.byPublicId(uid);
    if (!topic) return undefined;
    const ids = this.topics.memberIds(topic, limit, offset);
    const loaded = this.store.memories(ids);
    return { project: topic.project, memories: ids.map((id) => loaded.get(id)).filter((memory): memory is Memory => memory !== undefined) };
  }

  /** A memory's own links (by public id, which the caller has checked it may read) and the memories they reach. */
  linksOf(uid: string, kinds: MemoryLinkKind[] | undefined, visible: Visible): MemoryLinks {
    const id = this.store.idOf(uid)!;
    const found = this.links.of(id, new Set(kinds && kinds.length > 0 ? kinds : MEMORY_LINK_KINDS), (other) => {
      const entry = this.store.entry(other);
      return entry !== undefined && visible(entry);
    });
    const others = [...new Set(found.map((link) => (link.from === id ? link.to : link.from)))];
    const loaded = this.store.memories(others);
    const uidOf = (internal: number) => (internal === id ? uid : loaded.get(internal)?.id);
    return {
      id: uid,
      links: found.filter((link) => uidOf(link.from) && uidOf(link.to)).map((link) => ({ ...link, from: uidOf(link.from)!, to: uidOf(link.to)! })),
      memories: others.map((other) => loaded.get(other)).filter((memory): memory is Memory => memory !== undefined),
    };
  }

  /**
   * The graph around a memory (by public id, which the caller has checked it may read): the memories within `depth`
   * links, at most `limit` of them, and the links among them. Memories `visible` refuses are left out, and so are the
   * topics of projects it does not show whole (their labels and examples come from private memories too).
   */
  neighbourhood(uid: string, options: NeighbourhoodOptions, visible: Visible): MemoryNeighbourhood {
    const center = this.store.idOf(uid)!;
    const kinds = new Set<MemoryLinkKind>(options.kinds && options.kinds.length > 0 ? options.kinds : MEMORY_LINK_KINDS);
    const canSee = (id: number) => {
      const entry = this.store.entry(id);
      return entry !== undefined && visible(entry);
    };
    const included = new Set<number>([center]);
    const links = new Map<string, { from: number; to: number; kind: MemoryLinkKind; weight: number; entity?: MemoryLink['entity'] }>();
    const keep = (link: { from: number; to: number; kind: MemoryLinkKind; weight: number; entity?: MemoryLink['entity'] }) => {
      // Entity and similar links read both ways: one of each pair.
      const symmetric = link.kind === 'entity' || link.kind === 'similar';
      const [a, b] = symmetric && link.from > link.to ? [link.to, link.from] : [link.from, link.to];
      const key = `${link.kind}:${a}:${b}:${link.entity ? `${link.entity.kind}:${link.entity.value}` : ''}`;
      if (!links.has(key)) links.set(key, link);
    };
    let truncated = false;
    let frontier = [center];
    for (let level = 1; level <= options.depth && frontier.length > 0; level++) {
      const next: number[] = [];
      for (const id of frontier) {
        for (const link of this.links.of(id, kinds, canSee)) {
          const other = link.from === id ? link.to : link.from;
          if (!included.has(other)) {
            if (included.size >= options.limit) {
              truncated = true;
              continue;
            }
            included.add(other);
            next.push(other);
          }
          keep(link);
        }
      }
      frontier = next;
    }
    // The outermost ring was not expanded: the links among its memories (and to the rest) still belong to the picture.
    for (const id of frontier) for (const link of this.links.of(id, kinds, (other) => included.has(other))) keep(link);

    const ids = [...included];
    const loaded = this.store.memories(ids);
    const memories = ids.map((id) => loaded.get(id)).filter((memory): memory is Memory => memory !== undefined);
    const uidOf = new Map(memories.map((memory) => [this.store.idOf(memory.id)!, memory.id]));
    const topicOf: Record<string, string> = {};
    const topics = new Map<string, MemoryTopic>();
    for (const [id, topic] of this.topics.topicsOf(ids)) {
      const memoryUid = uidOf.get(id);
      if (memoryUid === undefined || !visible({ project: topic.project, shared: false })) continue;
      topicOf[memoryUid] = topic.uid;
      if (!topics.has(topic.uid)) topics.set(topic.uid, this.topics.describe(topic));
    }
    return {
      center: uid,
      memories,
      links: [...links.values()]
        .filter((link) => uidOf.has(link.from) && uidOf.has(link.to))
        .map((link) => ({ ...link, from: uidOf.get(link.from)!, to: uidOf.get(link.to)! })),
      topicOf,
      topics: [...topics.values()],
      truncated,
    };
  }
}

/** A turn of the event loop: timers and I/O of everyone else run before the next batch, and running requests finish. */
function turn(): Promise<void> {
  return foreground.turn();
}
