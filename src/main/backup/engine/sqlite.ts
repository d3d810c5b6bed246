/** SQLite databases in a backup: recognising them, copying them consistently, checking restored ones. */
import { closeSync, openSync, promises as fsp, readSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { openDatabase, type SqliteDatabase } from '../../db/database';

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');
export const SQLITE_NAME = /\.(sqlite3?|db)$/i;

export function canonical(file: string): string {
  let resolved = path.resolve(file);
  try {
    resolved = realpathSync.native(resolved);
  } catch {
    // Not there (yet): the resolved path will do.
  }
  return process.platform === 'win32' || process.platform === 'darwin' ? resolved.toLowerCase() : resolved;
}

export function hasSqliteHeader(file: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const head = Buffer.alloc(16);
    return readSync(fd, head, 0, 16, 0) === 16 && head.equals(SQLITE_MAGIC);
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Copies a database with SQLite's online backup API. Through the hub's own connection the copy is updated as that
 * connection writes, so it is a consistent state even under load; through a separate connection it is copied in
 * one step (a write by another connection between steps would restart it).
 */
export async function snapshotDatabase(file: string, copy: string, live: SqliteDatabase | undefined): Promise<void> {
  await fsp.rm(copy, { force: true });
  if (live) {
    await live.backup(copy);
    return;
  }
  const db = openDatabase(file, { fileMustExist: true });
  try {
    await db.backup(copy, { progress: () => 0x7fffffff });
  } finally {
    db.close();
  }
}

export function integrityCheck(file: string): string {
  const db = openDatabase(file, { fileMustExist: true });
  try {
    const rows = db.pragma('integrity_check') as Array<{ integrity_check: string }>;
    return rows.map((r) => r.integrity_check).join('; ');
  } finally {
    db.close();
  }
}
