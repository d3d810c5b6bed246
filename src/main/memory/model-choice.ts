/** Which model the memories are indexed with: the choice file beside memory.sqlite, and opening that model's vector index. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ModelChoice } from '../../shared/memory-protocol';
import { writeFileDurableSync } from '../../shared/node/durable-file';
import { migrate, openDatabase, type SqliteDatabase } from '../db/database';
import type { SentenceEncoder } from '../embedding';
import { VectorIndex } from '../vector';
import { memoryMigrations } from './migrations';
import { blobVector } from './memory-rows';
import type { MemoryStoreOptions } from './store-types';

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

/**
 * The model the memories in `dataDir` are indexed with, without opening the store: the recorded choice, else the
 * one most memories have vectors of (a scan of every vector: for inspection, not for the start path); null if none.
 */
export function indexedModel(dataDir: string): string | null {
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

/** Opens (or builds from the vectors in SQLite) the vector index of `encoder`'s model. */
export async function openIndex(
  db: SqliteDatabase,
  dataDir: string,
  encoder: SentenceEncoder,
  onProgress?: MemoryStoreOptions['onProgress'],
  tuning?: MemoryStoreOptions['index'],
): Promise<VectorIndex> {
  const expectedCount = db.prepare('SELECT COUNT(*) FROM embeddings WHERE model = ?').pluck().get(encoder.id) as number;
  return VectorIndex.open({
    dir: path.join(dataDir, 'vectors'),
    modelId: encoder.id,
    dimension: encoder.dimension,
    expectedCount,
    onProgress,
    // Only the settings given: an absent one keeps the index's default.
    tuning: Object.fromEntries(Object.entries(tuning ?? {}).filter(([, value]) => value !== undefined)),
    *loadAll() {
      const rows = db.prepare('SELECT memory_id AS id, vector FROM embeddings WHERE model = ?').iterate(encoder.id) as Iterable<{ id: number; vector: Buffer }>;
      for (const row of rows) yield { id: row.id, vector: blobVector(row.vector) };
    },
  });
}
