/**
 * The links of a memory, found when asked: shared entities (memory_entities), derivation (parent_id), supersession
 * (supersedes / superseded_by) and near neighbours (the vector index). Near neighbours are computed on demand, not
 * stored: a stored list goes stale with every memory stored or deleted after it, while one search of the index costs
 * about a millisecond, and a neighbourhood asks for at most its `limit` of them.
 */
import type { MemoryEntity, MemoryEntityKind, MemoryLink, MemoryLinkKind } from '../../../shared/memory-graph-protocol';
import type { SqliteDatabase } from '../../db/database';
import type { MemoryStore } from '../store';

/** Cosine similarity from which two memories are near neighbours. */
export const SIMILAR_THRESHOLD = 0.6;
/** Near neighbours per memory. */
export const SIMILAR_LINKS = 5;
/** Memories linked through one entity, per memory: an entity every memory names links little. */
const PER_ENTITY = 12;

export class Links {
  private readonly s;

  constructor(
    db: SqliteDatabase,
    private readonly store: MemoryStore,
  ) {
    this.s = {
      entities: db.prepare('SELECT kind, value FROM memory_entities WHERE memory_id = ?'),
      sharing: db.prepare(`SELECT memory_id FROM memory_entities WHERE kind = ? AND value = ? AND memory_id != ? ORDER BY memory_id DESC LIMIT ${PER_ENTITY * 4}`).pluck(),
      family: db.prepare('SELECT parent_id AS parent, supersedes, superseded_by AS supersededBy FROM memories WHERE id = ?'),
      children: db.prepare('SELECT id FROM memories WHERE parent_id = ? ORDER BY id LIMIT 200').pluck(),
      insertEntity: db.prepare('INSERT OR IGNORE INTO memory_entities (memory_id, kind, value) VALUES (?, ?, ?)'),
    };
  }

  record(memoryId: number, entities: MemoryEntity[]): void {
    for (const entity of entities) this.s.insertEntity.run(memoryId, entity.kind, entity.value);
  }

  /**
   * The links of one memory to memories `visible` lets through (internal ids; `from`/`to` are mapped to public
   * ids by the caller). Each kind is asked only if wanted.
   */
  of(id: number, kinds: ReadonlySet<MemoryLinkKind>, visible: (id: number) => boolean): Array<Omit<MemoryLink, 'from' | 'to'> & { from: number; to: number }> {
    const links: Array<Omit<MemoryLink, 'from' | 'to'> & { from: number; to: number }> = [];
    const family = this.s.family.get(id) as { parent: number | null; supersedes: number | null; supersededBy: number | null } | undefined;
    if (!family) return links;
    if (kinds.has('derived')) {
      if (family.parent !== null && visible(family.parent)) links.push({ from: id, to: family.parent, kind: 'derived', weight: 1 });
      for (const child of this.s.children.all(id) as number[]) if (visible(child)) links.push({ from: child, to: id, kind: 'derived', weight: 1 });
    }
    if (kinds.has('supersedes')) {
      if (family.supersedes !== null && visible(family.supersedes)) links.push({ from: id, to: family.supersedes, kind: 'supersedes', weight: 1 });
      if (family.supersededBy !== null && visible(family.supersededBy)) links.push({ from: family.supersededBy, to: id, kind: 'supersedes', weight: 1 });
    }
    if (kinds.has('entity')) {
      for (const { kind, value } of this.s.entities.all(id) as Array<{ kind: MemoryEntityKind; value: string }>) {
        let taken = 0;
        for (const other of this.s.sharing.all(kind, value, id) as number[]) {
          if (!visible(other)) continue;
          links.push({ from: id, to: other, kind: 'entity', weight: 1, entity: { kind, value } });
          if (++taken >= PER_ENTITY) break;
        }
      }
    }
    if (kinds.has('similar')) {
      const vector = this.store.vectorOf(id);
      const entry = this.store.entry(id);
      if (vector && entry) {
        // Among current memories: history has its supersedes link. (A history memory's neighbours are still shown.)
        const hits = this.store.nearest(vector, SIMILAR_LINKS + 1, (other) => other !== id && visible(other) && this.store.entry(other)?.superseded === false);
        for (const hit of hits) {
          if (hit.score >= SIMILAR_THRESHOLD && links.length < 10_000) links.push({ from: id, to: hit.id, kind: 'similar', weight: Math.min(1, hit.score) });
        }
      }
    }
    return links;
  }
}
