/** Read-only summaries of the store: counts by project and kind, the index, growth and the importance and age distributions. */
import type { MemoryOverview, MemoryStats } from '../../shared/memory-protocol';
import type { StoreState } from './store-types';

export function storeStats(state: StoreState): MemoryStats {
  const { db } = state;
  const byProject = db.prepare('SELECT project, COUNT(*) AS count FROM memories GROUP BY project ORDER BY count DESC').all() as MemoryStats['byProject'];
  const byKind = db.prepare('SELECT kind, COUNT(*) AS count FROM memories GROUP BY kind ORDER BY count DESC').all() as MemoryStats['byKind'];
  const index = state.index.stats();
  return {
    total: state.catalog.size,
    byProject,
    byKind,
    index: { kind: index.kind, size: index.size, model: state.encoder.id, dimension: state.encoder.dimension, tombstones: index.tombstones },
  };
}

/** Counts, growth, and the importance and age distributions the cockpit charts. */
export function storeOverview(state: StoreState): MemoryOverview {
  const { db } = state;
  const since = new Date(Date.now() - 30 * 86_400_000).toISOString();
  const growth = db
    .prepare('SELECT substr(created_at, 1, 10) AS day, COUNT(*) AS count FROM memories WHERE created_at >= ? GROUP BY day ORDER BY day')
    .all(since) as MemoryOverview['growth'];
  const importance = db
    .prepare(
      `SELECT printf('%.1f-%.1f', MIN(CAST(importance * 10 AS INTEGER), 9) / 10.0, MIN(CAST(importance * 10 AS INTEGER), 9) / 10.0 + 0.1) AS bucket,
         COUNT(*) AS count FROM memories GROUP BY bucket ORDER BY bucket`,
    )
    .all() as MemoryOverview['importance'];
  const ageRows = db.prepare('SELECT julianday(\'now\') - julianday(created_at) AS days FROM memories').pluck().all() as number[];
  const ageBuckets: Array<[string, number]> = [['< 1 day', 1], ['1-7 days', 7], ['1-4 weeks', 28], ['1-3 months', 91], ['3-12 months', 365], ['> 1 year', Infinity]];
  const age = ageBuckets.map(([bucket]) => ({ bucket, count: 0 }));
  for (const days of ageRows) age[ageBuckets.findIndex(([, upTo]) => days < upTo)]!.count++;
  return { ...storeStats(state), growth, importance, age };
}
