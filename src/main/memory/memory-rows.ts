/** Memory rows as SQLite holds them and as the wire shows them: the row shape, loading by id, vectors as blobs, text hashes. */
import { createHash } from 'node:crypto';
import type { Memory, MemoryKind } from '../../shared/memory-protocol';
import type { SqliteDatabase } from '../db/database';

export type MemoryRow = {
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

export const MEMORY_COLUMNS = `m.*, (SELECT p.uid FROM memories p WHERE p.id = m.parent_id) AS parent_uid,
  (SELECT o.uid FROM memories o WHERE o.id = m.supersedes) AS supersedes_uid,
  (SELECT n.uid FROM memories n WHERE n.id = m.superseded_by) AS superseded_by_uid`;

/** Prepared loads by database and id count (up to LOAD_STATEMENT_SIZES ids): a group of single stores loads each caller's. */
const loadStatements = new WeakMap<SqliteDatabase, Map<number, { all(...ids: number[]): unknown[] }>>();
const LOAD_STATEMENT_SIZES = 64;

/** The memories of these row ids, by id. */
export function loadMemories(db: SqliteDatabase, ids: number[]): Map<number, Memory> {
  const result = new Map<number, Memory>();
  if (ids.length === 0) return result;
  let statements = loadStatements.get(db);
  if (!statements) loadStatements.set(db, (statements = new Map()));
  let statement = statements.get(ids.length);
  if (!statement) {
    statement = db.prepare(`SELECT ${MEMORY_COLUMNS} FROM memories m WHERE m.id IN (${'?,'.repeat(ids.length).slice(0, -1)})`);
    if (ids.length <= LOAD_STATEMENT_SIZES) statements.set(ids.length, statement);
  }
  for (const row of statement.all(...ids) as MemoryRow[]) result.set(row.id, toMemory(row));
  return result;
}

/**
 * Case, whitespace and punctuation do not make a memory different ("port 5433." and "port 5433!" are one fact).
 * Vector similarity catches the near-identical wordings this misses.
 */
export function textHash(text: string): string {
  const normalised = text.normalize('NFKC').toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim();
  return createHash('sha256').update(normalised).digest('hex');
}

export function vectorBlob(vector: Float32Array): Buffer {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
}

export function blobVector(blob: Buffer): Float32Array {
  // Copy: SQLite's buffer may not be 4-byte aligned.
  const copy = new Float32Array(blob.byteLength / 4);
  new Uint8Array(copy.buffer).set(blob);
  return copy;
}

export function toMemory(row: MemoryRow): Memory {
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
