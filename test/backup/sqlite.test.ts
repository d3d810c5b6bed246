/** Backing up the hub's data while agents write: SQLite through the online backup API, the rest as files. */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase, type SqliteDatabase } from '../../src/main/db/database';
import { tempDir } from '../helpers';
import { makeFixture, readTree, writeTree } from './harness';

function createSchema(db: SqliteDatabase): void {
  db.exec(`
    CREATE TABLE parent (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
    CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent(id), n INTEGER NOT NULL);
  `);
}

/** One parent and three children per row, in one transaction: a consistent copy always has children = 3 × parents. */
function inserter(db: SqliteDatabase) {
  const parent = db.prepare('INSERT INTO parent (body) VALUES (?)');
  const child = db.prepare('INSERT INTO child (parent_id, n) VALUES (?, ?)');
  return db.transaction((rows: number) => {
    for (let i = 0; i < rows; i++) {
      const id = Number(parent.run('x'.repeat(200 + (i % 50))).lastInsertRowid);
      for (let n = 0; n < 3; n++) child.run(id, n);
    }
  });
}

const count = (db: SqliteDatabase, table: string) => db.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get() as number;

describe('backing up the hub data directory', () => {
  it('copies a database consistently while rows are being written, and restores it intact', async () => {
    const live: SqliteDatabase[] = [];
    const fx = makeFixture({ engine: { databases: () => live } });
    const db = openDatabase(path.join(fx.dataDir, 'hub.sqlite'));
    live.push(db);
    createSchema(db);
    const insert = inserter(db);
    insert(40_000); // ~12 MB: the backup API needs many steps, with writes landing between them
    // A second database the hub has no live connection to (copied through a connection of its own).
    const other = openDatabase(path.join(fx.dataDir, 'memory.sqlite'));
    other.exec('CREATE TABLE m (id INTEGER PRIMARY KEY, t TEXT); INSERT INTO m (t) VALUES (\'a\'), (\'b\');');
    other.close();
    writeTree(fx.dataDir, {
      'config.json': '{"api":{}}\n',
      'cockpit-token': 'secret-token-value-that-is-long-enough\n',
      'hub.json': '{"url":"http://127.0.0.1:1"}\n',
      'config.json.123.tmp': 'half-written',
      'vectors/index.faiss': Buffer.alloc(4096, 7),
      'mailbox/proj/agent/inbox/01.json': '{"body":"hi"}\n',
    });
    const before = count(db, 'parent');
    let writes = 0;
    const timer = setInterval(() => {
      insert(25);
      writes++;
    }, 1);
    let run;
    try {
      run = await fx.engine.run();
    } finally {
      clearInterval(timer);
    }
    const after = count(db, 'parent');
    expect(writes).toBeGreaterThan(5);
    expect(after).toBeGreaterThan(before);
    expect(run.status).toBe('ok');

    const manifest = await fx.engine.manifest(run.snapshotId!);
    expect(manifest.files.map((f) => f.path).sort()).toEqual([
      'cockpit-token',
      'config.json',
      'hub.sqlite',
      'mailbox/proj/agent/inbox/01.json',
      'memory.sqlite',
      'vectors/index.faiss',
    ]);
    expect(manifest.sources).toEqual([expect.objectContaining({ name: 'hub', kind: 'hub', files: 6 })]);

    const dest = path.join(tempDir(), 'restored');
    const report = await fx.engine.restore(run.snapshotId!, { source: 'hub', destination: dest });
    expect(report).toMatchObject({ ok: true, files: 6, failed: [] });
    const restored = openDatabase(path.join(dest, 'hub.sqlite'), { fileMustExist: true });
    try {
      expect(restored.pragma('integrity_check', { simple: true })).toBe('ok');
      const parents = count(restored, 'parent');
      expect(parents).toBeGreaterThanOrEqual(before);
      expect(parents).toBeLessThanOrEqual(after);
      expect(count(restored, 'child')).toBe(parents * 3);
      expect(restored.prepare('SELECT MAX(id) FROM parent').pluck().get()).toBe(parents);
      expect(restored.prepare('SELECT COUNT(*) FROM child WHERE parent_id NOT IN (SELECT id FROM parent)').pluck().get()).toBe(0);
    } finally {
      restored.close();
    }
    const memory = openDatabase(path.join(dest, 'memory.sqlite'), { fileMustExist: true });
    expect(memory.prepare('SELECT t FROM m ORDER BY id').pluck().all()).toEqual(['a', 'b']);
    memory.close();
    expect(readFileSync(path.join(dest, 'vectors/index.faiss'))).toEqual(Buffer.alloc(4096, 7));
    expect(existsSync(path.join(dest, 'hub.json'))).toBe(false);
    db.close();
  });

  it('restoreHubData writes beside the data folder and checks every database', async () => {
    const live: SqliteDatabase[] = [];
    const fx = makeFixture({ engine: { databases: () => live } });
    const db = openDatabase(path.join(fx.dataDir, 'hub.sqlite'));
    live.push(db);
    createSchema(db);
    inserter(db)(100);
    writeTree(fx.dataDir, { 'config.json': '{}\n' });
    const run = await fx.engine.run();
    inserter(db)(5); // the live data moves on; the restore is of the snapshot
    const folder = await fx.engine.restoreHubData(run.snapshotId!, fx.dataDir);
    expect(path.dirname(folder)).toBe(path.dirname(fx.dataDir));
    expect(path.basename(folder)).toMatch(/^data\.restore-\d{8}T\d{9}Z$/);
    expect(Object.keys(readTree(folder)).sort()).toEqual(['config.json', 'hub.sqlite']);
    const restored = openDatabase(path.join(folder, 'hub.sqlite'), { fileMustExist: true, readonly: true });
    expect(count(restored, 'parent')).toBe(100);
    restored.close();
    // The live folder is untouched.
    expect(count(db, 'parent')).toBe(105);
    db.close();
    rmSync(folder, { recursive: true, force: true });
  });

  it('restoreHubData refuses a snapshot whose database is damaged, and leaves no folder behind', async () => {
    const fx = makeFixture();
    const db = openDatabase(path.join(fx.dataDir, 'hub.sqlite'));
    createSchema(db);
    inserter(db)(50);
    db.close();
    const run = await fx.engine.run();
    const manifest = await fx.engine.manifest(run.snapshotId!);
    const sha = manifest.files.find((f) => f.path === 'hub.sqlite')!.sha256;
    const object = path.join(fx.repoDir, 'objects', sha.slice(0, 2), sha);
    const bytes = readFileSync(object);
    bytes[bytes.length - 100] = bytes[bytes.length - 100]! ^ 0xff;
    writeFileSync(object, bytes);
    await expect(fx.engine.restoreHubData(run.snapshotId!, fx.dataDir)).rejects.toMatchObject({ code: 'restore_failed' });
    const siblings = Object.keys(readTree(fx.root)).filter((p) => p.startsWith('data.restore-'));
    expect(siblings).toEqual([]);
  });
});
