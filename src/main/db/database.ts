// Opens SQLite databases the way the whole app uses them, plus a numbered-migrations runner.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { sqliteNativeBinding } from './native-binding';

export type SqliteDatabase = Database.Database;

export interface OpenDatabaseOptions {
  /** Open read-only (WAL mode is then left as the file has it). Default false. */
  readonly?: boolean;
  /** Fail if the file does not exist instead of creating it. Default false. */
  fileMustExist?: boolean;
  /** How long a statement waits for another connection's lock before SQLITE_BUSY. Default 5000 ms. */
  busyTimeoutMs?: number;
  /** Explicit path of a better_sqlite3.node; default: sqliteNativeBinding(appRoot). */
  nativeBinding?: string;
  /** Where `native/` is, for finding the Electron build; default: see defaultAppRoot(). */
  appRoot?: string;
}

export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

const isInMemory = (file: string): boolean => file === ':memory:' || file === '';

/**
 * Opens (creating it and its directory if needed) a SQLite database with WAL journaling, synchronous=NORMAL,
 * foreign keys enforced and a busy timeout.
 */
export function openDatabase(file: string, options: OpenDatabaseOptions = {}): SqliteDatabase {
  const readonly = options.readonly ?? false;
  const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw new RangeError(`busyTimeoutMs must be a non-negative integer, got ${busyTimeoutMs}`);
  }
  const nativeBinding = options.nativeBinding ?? sqliteNativeBinding(options.appRoot);
  if (!isInMemory(file) && !readonly && !options.fileMustExist) {
    mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  }
  const db = new Database(file, {
    readonly,
    fileMustExist: options.fileMustExist ?? false,
    // Sets SQLite's busy timeout (sqlite3_busy_timeout, what PRAGMA busy_timeout reads).
    timeout: busyTimeoutMs,
    ...(nativeBinding ? { nativeBinding } : {}),
  });
  try {
    if (!readonly && !isInMemory(file)) {
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (String(mode).toLowerCase() !== 'wal') throw new Error(`could not enable WAL on ${file} (journal_mode=${String(mode)})`);
    }
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

export interface Migration {
  /** Positive integer; applied in ascending order; stored in PRAGMA user_version once applied. */
  version: number;
  name: string;
  /** SQL (may hold several statements) or a function; runs inside the migration's transaction. */
  up: string | ((db: SqliteDatabase) => void);
}

export interface MigrationResult {
  from: number;
  to: number;
  applied: { version: number; name: string }[];
}

function userVersion(db: SqliteDatabase): number {
  return Number(db.pragma('user_version', { simple: true }));
}

/**
 * Brings the database to the highest migration version. PRAGMA user_version records the last applied version (one
 * counter per database file: all migrations of one file form one sequence). Each migration runs in its own
 * IMMEDIATE transaction together with the user_version bump, so a failing migration leaves no trace and another
 * connection migrating at the same time cannot apply it twice. Note: `PRAGMA foreign_keys` cannot be changed
 * inside a transaction, so a migration cannot switch foreign keys off.
 */
export function migrate(db: SqliteDatabase, migrations: readonly Migration[]): MigrationResult {
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  sorted.forEach((m, i) => {
    if (!Number.isInteger(m.version) || m.version < 1) {
      throw new RangeError(`migration "${m.name}": version must be a positive integer, got ${m.version}`);
    }
    const previous = sorted[i - 1];
    if (previous && previous.version === m.version) {
      throw new Error(`migrations "${previous.name}" and "${m.name}" share version ${m.version}`);
    }
  });
  const from = userVersion(db);
  const latest = sorted.at(-1)?.version ?? 0;
  if (from > latest) {
    throw new Error(
      `database schema version ${from} is newer than this app's latest migration (${latest}); was it opened by a newer version?`,
    );
  }
  const applied: MigrationResult['applied'] = [];
  for (const m of sorted) {
    if (m.version <= userVersion(db)) continue;
    const step = db.transaction(() => {
      if (userVersion(db) >= m.version) return false; // applied meanwhile by another connection
      if (typeof m.up === 'string') db.exec(m.up);
      else m.up(db);
      db.pragma(`user_version = ${m.version}`);
      return true;
    });
    try {
      if (step.immediate()) applied.push({ version: m.version, name: m.name });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`migration ${m.version} "${m.name}" failed: ${reason}`, { cause: error });
    }
  }
  return { from, to: userVersion(db), applied };
}
