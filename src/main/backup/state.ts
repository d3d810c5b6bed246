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
/** Cache rows read or written between two yields to the event loop. */
const PAGE = 2000;
const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

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

  /**
   * The whole cache, keyed by absolute path (a Map lookup per file beats a statement per file), read a page at a
   * time with a yield to the event loop between pages: a tree of 100,000 files must not hold the hub up.
   */
  async loadHashes(): Promise<Map<string, CachedHash>> {
    const map = new Map<string, CachedHash>();
    const page = this.db.prepare('SELECT path, size, mtime, ctime, sha256, chunks FROM hash_cache WHERE path > ? ORDER BY path LIMIT ?');
    let after = '';
    for (;;) {
      const rows = page.all(after, PAGE) as Array<Omit<CachedHash, 'chunks'> & { path: string; chunks: string | null }>;
      for (const row of rows) {
        const cached: CachedHash = { size: row.size, mtime: row.mtime, ctime: row.ctime, sha256: row.sha256 };
        if (row.chunks) cached.chunks = JSON.parse(row.chunks) as Array<[string, number]>;
        map.set(row.path, cached);
      }
      if (rows.length < PAGE) return map;
      after = rows[rows.length - 1]!.path;
      await yieldToLoop();
    }
  }

  /** Learns hashes, a transaction per page with a yield between (the cache only speeds runs up: a page lost is re-read). */
  async putHashes(rows: ReadonlyArray<CachedHash & { path: string }>): Promise<void> {
    if (rows.length === 0) return;
    const upsert = this.db.prepare(
      `INSERT INTO hash_cache (path, size, mtime, ctime, sha256, chunks) VALUES (@path, @size, @mtime, @ctime, @sha256, @chunks)
       ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime = excluded.mtime, ctime = excluded.ctime, sha256 = excluded.sha256,
         chunks = excluded.chunks`,
    );
    const write = this.db.transaction((batch: ReadonlyArray<CachedHash & { path: string }>) => {
      for (const row of batch) upsert.run({ ...row, chunks: row.chunks ? JSON.stringify(row.chunks) : null });
    });
    for (let at = 0; at < rows.length; at += PAGE) {
      if (at > 0) await yieldToLoop();
      write(rows.slice(at, at + PAGE));
    }
  }

  /** Drops entries of files no longer backed up (deleted, renamed, excluded), so the cache stays the tree's size. */
  async forgetHashesExcept(keep: ReadonlySet<string>): Promise<number> {
    const stale: string[] = [];
    const page = this.db.prepare('SELECT path FROM hash_cache WHERE path > ? ORDER BY path LIMIT ?').pluck();
    for (let after = ''; ; ) {
      const paths = page.all(after, PAGE) as string[];
      for (const p of paths) if (!keep.has(p)) stale.push(p);
      if (paths.length < PAGE) break;
      after = paths[paths.length - 1]!;
      await yieldToLoop();
    }
    const del = this.db.prepare('DELETE FROM hash_cache WHERE path = ?');
    const drop = this.db.transaction((batch: string[]) => {
      for (const p of batch) del.run(p);
    });
    for (let at = 0; at < stale.length; at += PAGE) {
      if (at > 0) await yieldToLoop();
      drop(stale.slice(at, at + PAGE));
    }
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
