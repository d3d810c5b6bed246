/** The catalog: what search filters need of every memory (project, kind, agent, sharing, date, tags, history), held in memory. */
import type { MemoryKind } from '../../shared/memory-protocol';
import type { SqliteDatabase } from '../db/database';
import type { CatalogEntry, ParsedSearchQuery, SearchContext } from './store-types';

/** Reads every memory's catalog entry (at open). */
export function loadCatalog(db: SqliteDatabase, catalog: Map<number, CatalogEntry>): void {
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
    catalog.set(row.id, {
      project: row.project,
      kind: row.kind,
      agent: row.agent,
      shared: row.shared === 1,
      createdAt: Date.parse(row.created_at),
      tags: JSON.parse(row.tags) as string[],
      superseded: row.superseded_by !== null,
    });
  }
}

/** The filter of a search: whether a memory (by row id) may be a hit of `query` asked by `context`. */
export function searchFilter(catalog: Map<number, CatalogEntry>, query: ParsedSearchQuery, context: SearchContext): (id: number) => boolean {
  const project = query.project ?? context.project;
  const since = query.since ? Date.parse(query.since) : undefined;
  return (id: number): boolean => {
    const entry = catalog.get(id);
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
}
