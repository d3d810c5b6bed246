// Real SQLite files through openDatabase/migrate (better-sqlite3's Node build). Nothing mocked.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrate, openDatabase, type Migration, type SqliteDatabase } from '../../src/main/db/database';
import { electronBindingFileName, sqliteNativeBinding } from '../../src/main/db/native-binding';

let dir: string;
const open: SqliteDatabase[] = [];
const track = (db: SqliteDatabase): SqliteDatabase => {
  open.push(db);
  return db;
};

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'devenviro-native-sqlite-'));
});
afterEach(() => {
  for (const db of open.splice(0)) if (db.open) db.close();
  rmSync(dir, { recursive: true, force: true });
});

const migrations: Migration[] = [
  {
    version: 1,
    name: 'projects',
    up: 'CREATE TABLE project (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);',
  },
  {
    version: 2,
    name: 'tasks',
    up: `CREATE TABLE task (
           id INTEGER PRIMARY KEY,
           project_id INTEGER NOT NULL REFERENCES project(id),
           title TEXT NOT NULL);
         CREATE INDEX task_project ON task(project_id);`,
  },
  {
    version: 3,
    name: 'seed default project',
    up: (db) => {
      db.prepare('INSERT INTO project (name) VALUES (?)').run('default');
    },
  },
];

describe('openDatabase', () => {
  it('creates the file (and its directory) in WAL mode with the app pragmas', () => {
    const file = path.join(dir, 'nested', 'deeper', 'app.db');
    const db = track(openDatabase(file, { busyTimeoutMs: 1234 }));
    expect(existsSync(file)).toBe(true);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(1234);
    db.exec('CREATE TABLE t (x)');
    expect(existsSync(`${file}-wal`)).toBe(true);
    db.close();
    // WAL mode is persistent in the file: a plain reopen still reports it.
    const again = track(openDatabase(file, { readonly: true }));
    expect(again.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(again.pragma('busy_timeout', { simple: true })).toBe(5000);
  });

  it('enforces foreign keys', () => {
    const db = track(openDatabase(path.join(dir, 'fk.db')));
    migrate(db, migrations);
    expect(() => db.prepare('INSERT INTO task (project_id, title) VALUES (?, ?)').run(999, 'orphan')).toThrow(
      /FOREIGN KEY constraint failed/,
    );
  });

  it('commits 10k inserts in one transaction and reads them back after reopening', () => {
    const file = path.join(dir, 'bulk.db');
    const db = track(openDatabase(file));
    migrate(db, migrations);
    const projectId = Number(db.prepare("SELECT id FROM project WHERE name = 'default'").pluck().get());
    const insert = db.prepare('INSERT INTO task (project_id, title) VALUES (?, ?)');
    const insertAll = db.transaction((n: number) => {
      for (let i = 0; i < n; i++) insert.run(projectId, `task ${i}`);
    });
    const started = performance.now();
    insertAll(10_000);
    const ms = performance.now() - started;
    console.log(`10k inserts in one transaction: ${ms.toFixed(1)} ms (${Math.round(10_000 / (ms / 1000))} rows/s)`);
    db.close();

    const reopened = track(openDatabase(file, { fileMustExist: true }));
    expect(reopened.pragma('user_version', { simple: true })).toBe(3);
    expect(reopened.prepare('SELECT count(*) FROM task').pluck().get()).toBe(10_000);
    expect(reopened.prepare('SELECT title FROM task ORDER BY id LIMIT 1 OFFSET 9999').pluck().get()).toBe('task 9999');
    expect(reopened.prepare('SELECT count(DISTINCT title) FROM task').pluck().get()).toBe(10_000);
  });

  it('rolls back a transaction that throws', () => {
    const db = track(openDatabase(path.join(dir, 'rollback.db')));
    migrate(db, migrations);
    const insert = db.prepare("INSERT INTO project (name) VALUES (?)");
    const failing = db.transaction(() => {
      insert.run('a');
      insert.run('a'); // UNIQUE violation
    });
    expect(() => failing()).toThrow(/UNIQUE/);
    expect(db.prepare('SELECT count(*) FROM project').pluck().get()).toBe(1);
  });
});

describe('migrate', () => {
  it('applies each migration once, in order, and is idempotent across reopen', () => {
    const file = path.join(dir, 'migrate.db');
    const db = track(openDatabase(file));
    const shuffled = [migrations[2]!, migrations[0]!, migrations[1]!];
    const first = migrate(db, shuffled);
    expect(first).toEqual({
      from: 0,
      to: 3,
      applied: [
        { version: 1, name: 'projects' },
        { version: 2, name: 'tasks' },
        { version: 3, name: 'seed default project' },
      ],
    });
    expect(migrate(db, migrations)).toEqual({ from: 3, to: 3, applied: [] });
    db.close();

    const reopened = track(openDatabase(file));
    expect(migrate(reopened, migrations)).toEqual({ from: 3, to: 3, applied: [] });
    expect(reopened.prepare('SELECT count(*) FROM project').pluck().get()).toBe(1); // seed ran once

    const more: Migration[] = [...migrations, { version: 4, name: 'task done', up: 'ALTER TABLE task ADD COLUMN done INTEGER NOT NULL DEFAULT 0' }];
    expect(migrate(reopened, more)).toEqual({ from: 3, to: 4, applied: [{ version: 4, name: 'task done' }] });
    expect(reopened.pragma('user_version', { simple: true })).toBe(4);
  });

  it('rolls a failing migration back completely and keeps the earlier ones', () => {
    const db = track(openDatabase(path.join(dir, 'broken.db')));
    const broken: Migration[] = [
      migrations[0]!,
      { version: 2, name: 'half done', up: 'CREATE TABLE half (x); INSERT INTO no_such_table VALUES (1);' },
    ];
    expect(() => migrate(db, broken)).toThrow(/migration 2 "half done" failed: no such table: no_such_table/);
    expect(db.pragma('user_version', { simple: true })).toBe(1);
    expect(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'half'").pluck().get()).toBe(0);
    expect(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'project'").pluck().get()).toBe(1);
  });

  it('rejects duplicate or invalid versions and databases newer than the migrations', () => {
    const db = track(openDatabase(path.join(dir, 'invalid.db')));
    expect(() => migrate(db, [migrations[0]!, { ...migrations[1]!, version: 1 }])).toThrow(/share version 1/);
    expect(() => migrate(db, [{ version: 0, name: 'zero', up: '' }])).toThrow(/positive integer/);
    expect(db.pragma('user_version', { simple: true })).toBe(0);
    migrate(db, migrations);
    expect(() => migrate(db, migrations.slice(0, 2))).toThrow(/newer than this app's latest migration \(2\)/);
  });
});

describe('sqliteNativeBinding', () => {
  it('uses the default (Node) build under plain Node', () => {
    expect(process.versions.electron).toBeUndefined();
    expect(sqliteNativeBinding()).toBeUndefined();
  });

  it('under Electron names the per-version build, or the command to make it', () => {
    const root = path.join(dir, 'app');
    expect(() => sqliteNativeBinding(root, '99.1.0')).toThrow(/better_sqlite3-99\.1\.0\.node is missing.*npm run rebuild:electron/);
    // Stand the Node build in for an "Electron" build, then really load it through the nativeBinding option.
    const nodeBuild = path.join(
      path.dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json')),
      'build',
      'Release',
      'better_sqlite3.node',
    );
    const target = path.join(root, 'native', 'electron', electronBindingFileName('99.1.0'));
    mkdirSync(path.dirname(target), { recursive: true });
    copyFileSync(nodeBuild, target);
    const binding = sqliteNativeBinding(root, '99.1.0');
    expect(binding).toBe(target);
    const db = track(openDatabase(path.join(dir, 'binding.db'), { nativeBinding: binding }));
    expect(db.prepare('SELECT 40 + 2').pluck().get()).toBe(42);
  });
});
