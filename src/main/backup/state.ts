/**
 * The backup's own bookkeeping, in `<dataDir>/backup/state.sqlite` (left out of backups: it is rebuilt by use):
 *
 *   hash_cache  (path, size, mtime, ctime) → sha256 (and, for a chunked file, its chunk list), so unchanged files
 *               are not read again on the next run;
 *   runs        the history of runs, with their outcome and, for failures, the message shown to the person.
 *
 * SQLite rather than a JSON-lines file: the cache holds one row per backed-up file (100,000 for a large tree) and is
 * updated in bulk after every run, which needs indexed upserts and crash-safe transactions; once that file exists,
 * the history is one more table in it — transactional, queryable ("the last 20 runs", "the last good one"), and
 * with no half-written last line to repair after a crash.
 */
import path from 'node:path';
import { migrate, openDatabase, type Migration, type SqliteDatabase } from '../db/database';
import type { BackupRunRecord, RunStatus, RunTrigger } from '../../shared/backup-protocol';
export type { BackupRunRecord, RunStatus, RunTrigger };

export const STATE_DIR = 'backup';

const migrations: Migration[] = [
  {
    version: 1,
    name: 'hash cache and run history',
    up: `
      CREATE TABLE hash_cache (
        path TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        mtime REAL NOT NULL,
        ctime REAL NOT NULL,
        sha256 TEXT NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        trigger TEXT NOT NULL,
        status TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        target TEXT,
        snapshot_id TEXT,
        files INTEGER NOT NULL DEFAULT 0,
        bytes INTEGER NOT NULL DEFAULT 0,
        hashed INTEGER NOT NULL DEFAULT 0,
        new_objects INTEGER NOT NULL DEFAULT 0,
        new_bytes INTEGER NOT NULL DEFAULT 0,
        pruned INTEGER NOT NULL DEFAULT 0,
        error_code TEXT,
        error TEXT,
        warnings TEXT NOT NULL DEFAULT '[]'
      );
      CREATE INDEX runs_started ON runs (started_at);
    `,
  },
  {
    version: 2,
    name: 'chunk lists of large files',
    // JSON [[sha256, size], …] of a file stored in chunks; NULL for a file stored as one object.
    up: `ALTER TABLE hash_cache ADD COLUMN chunks TEXT;`,
  },
];

export interface CachedHash {
  size: number;
  mtime: number;
  ctime: number;
  sha256: string;
  /** A file stored in content-defined chunks: each chunk's object and size, in order. */
  chunks?: Array<[string, number]>;
}

interface RunRow {
  id: string;
  trigger: RunTrigger;
  status: RunStatus;
  started_at: string;
  finished_at: string | null;
  target: string | null;
  snapshot_id: string | null;
  files: number;
  bytes: number;
  hashed: number;
  new_objects: number;
  new_bytes: number;
  pruned: number;
  error_code: string | null;
  error: string | null;
  warnings: string;
}

const toRecord = (row: RunRow): BackupRunRecord => ({
  id: row.id,
  trigger: row.trigger,
  status: row.status,
  startedAt: row.started_at,
  finishedAt: row.finished_at,
  target: row.target,
  snapshotId: row.snapshot_id,
  files: row.files,
  bytes: row.bytes,
  hashed: row.hashed,
  newObjects: row.new_objects,
  newBytes: row.new_bytes,
  pruned: row.pruned,
  errorCode: row.error_code,
  error: row.error,
  warnings: JSON.parse(row.warnings) as string[],
});

export class BackupState {
  private constructor(readonly db: SqliteDatabase) {}

  static open(dataDir: string): BackupState {
    // openDatabase creates the folder.
    const db = openDatabase(path.join(dataDir, STATE_DIR, 'state.sqlite'));
    try {
      migrate(db, migrations);
    } catch (error) {
      db.close();
      throw error;
    }
    const state = new BackupState(db);
    // A run still "running" in a fresh process was cut short by a crash or a kill.
    db.prepare(
      `UPDATE runs SET status = 'failed', finished_at = COALESCE(finished_at, ?), error_code = 'interrupted',
         error = 'The hub stopped during this backup. Earlier backups are untouched.' WHERE status = 'running'`,
    ).run(new Date().toISOString());
    return state;
  }

  /** The whole cache, keyed by absolute path (one query; a Map lookup per file beats a statement per file). */
  loadHashes(): Map<string, CachedHash> {
    const map = new Map<string, CachedHash>();
    const rows = this.db.prepare('SELECT path, size, mtime, ctime, sha256, chunks FROM hash_cache').iterate() as Iterable<
      Omit<CachedHash, 'chunks'> & { path: string; chunks: string | null }
    >;
    for (const row of rows) {
      const cached: CachedHash = { size: row.size, mtime: row.mtime, ctime: row.ctime, sha256: row.sha256 };
      if (row.chunks) cached.chunks = JSON.parse(row.chunks) as Array<[string, number]>;
      map.set(row.path, cached);
    }
    return map;
  }

  putHashes(rows: ReadonlyArray<CachedHash & { path: string }>): void {
    if (rows.length === 0) return;
    const upsert = this.db.prepare(
      `INSERT INTO hash_cache (path, size, mtime, ctime, sha256, chunks) VALUES (@path, @size, @mtime, @ctime, @sha256, @chunks)
       ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime = excluded.mtime, ctime = excluded.ctime, sha256 = excluded.sha256,
         chunks = excluded.chunks`,
    );
    this.db.transaction(() => {
      for (const row of rows) upsert.run({ ...row, chunks: row.chunks ? JSON.stringify(row.chunks) : null });
    })();
  }

  /** Drops entries of files no longer backed up (deleted, renamed, excluded), so the cache stays the tree's size. */
  forgetHashesExcept(keep: ReadonlySet<string>): number {
    const stale: string[] = [];
    for (const p of this.db.prepare('SELECT path FROM hash_cache').pluck().iterate() as Iterable<string>) if (!keep.has(p)) stale.push(p);
    const del = this.db.prepare('DELETE FROM hash_cache WHERE path = ?');
    this.db.transaction(() => {
      for (const p of stale) del.run(p);
    })();
    return stale.length;
  }

  startRun(id: string, trigger: RunTrigger, target: string | null, startedAt: Date): BackupRunRecord {
    this.db
      .prepare(`INSERT INTO runs (id, trigger, status, started_at, target) VALUES (?, ?, 'running', ?, ?)`)
      .run(id, trigger, startedAt.toISOString(), target);
    return this.run(id)!;
  }

  finishRun(
    id: string,
    outcome: Partial<Omit<BackupRunRecord, 'id' | 'trigger' | 'startedAt' | 'target'>> & { status: Exclude<RunStatus, 'running'> },
  ): BackupRunRecord {
    this.db
      .prepare(
        `UPDATE runs SET status = @status, finished_at = @finishedAt, snapshot_id = @snapshotId, files = @files, bytes = @bytes, hashed = @hashed,
           new_objects = @newObjects, new_bytes = @newBytes, pruned = @pruned, error_code = @errorCode, error = @error,
           warnings = @warnings WHERE id = @id`,
      )
      .run({
        id,
        status: outcome.status,
        finishedAt: outcome.finishedAt ?? new Date().toISOString(),
        snapshotId: outcome.snapshotId ?? null,
        files: outcome.files ?? 0,
        bytes: outcome.bytes ?? 0,
        hashed: outcome.hashed ?? 0,
        newObjects: outcome.newObjects ?? 0,
        newBytes: outcome.newBytes ?? 0,
        pruned: outcome.pruned ?? 0,
        errorCode: outcome.errorCode ?? null,
        error: outcome.error ?? null,
        warnings: JSON.stringify(outcome.warnings ?? []),
      });
    return this.run(id)!;
  }

  run(id: string): BackupRunRecord | undefined {
    const row = this.db.prepare('SELECT * FROM runs WHERE id = ?').get(id) as RunRow | undefined;
    return row && toRecord(row);
  }

  recentRuns(limit = 20): BackupRunRecord[] {
    return (this.db.prepare('SELECT * FROM runs ORDER BY started_at DESC, rowid DESC LIMIT ?').all(limit) as RunRow[]).map(toRecord);
  }

  lastSuccess(): BackupRunRecord | undefined {
    const row = this.db.prepare(`SELECT * FROM runs WHERE status = 'ok' ORDER BY started_at DESC, rowid DESC LIMIT 1`).get() as RunRow | undefined;
    return row && toRecord(row);
  }

  /** Keeps the history small: the newest `keep` runs. */
  trimHistory(keep = 1000): void {
    this.db.prepare('DELETE FROM runs WHERE id NOT IN (SELECT id FROM runs ORDER BY started_at DESC, rowid DESC LIMIT ?)').run(keep);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
