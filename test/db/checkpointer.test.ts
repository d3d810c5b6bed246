// The WAL checkpoint worker against a real SQLite file under steady writes: the log is checkpointed into the
// database and started over, so the WAL file stays bounded however long the writes go on.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startCheckpointer } from '../../src/main/db/checkpointer';
import { openDatabase } from '../../src/main/db/database';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'devenviro-checkpointer-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const sizeOf = (file: string) => {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
};

describe('checkpointer', () => {
  it('keeps the WAL bounded under steady writes', async () => {
    const file = path.join(dir, 'hub.sqlite');
    const db = openDatabase(file);
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)');
    const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
    const body = 'x'.repeat(3000);
    const emptyDatabase = sizeOf(file);
    // 256 frames of 4 KiB: 1 MiB.
    const checkpointer = startCheckpointer(db, file, { intervalMs: 20, restartFrames: 256 });
    let commits = 0;
    let walAtStart: number | null = null;
    let commitsSince = 0;
    const deadline = performance.now() + 20_000;
    // Small transactions in quick bursts, as the hub commits under steady load (here a few thousand a second, the
    // writer busy about half the time): the worker's passive checkpoints always find commits landing while they
    // copy. Measured from the worker's first checkpoint (the database file grows; the worker takes a moment to
    // start) until at least 32 MiB more went through the WAL (one 4 KiB page per commit at least).
    while (performance.now() < deadline && commitsSince * 4096 < 32 * 2 ** 20) {
      for (let i = 0; i < 10; i++, commits++) insert.run(body);
      if (walAtStart !== null) commitsSince += 10;
      else if (sizeOf(file) > emptyDatabase) walAtStart = sizeOf(`${file}-wal`);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    const walAtEnd = sizeOf(`${file}-wal`);
    await checkpointer.stop();
    expect(walAtStart).not.toBeNull();
    expect(commitsSince * 4096).toBeGreaterThanOrEqual(32 * 2 ** 20);
    // The file grows only to the restart threshold plus what commits add while a restart waits its turn.
    expect(walAtEnd - walAtStart!).toBeLessThan(8 * 2 ** 20);
    expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: commits });
    db.close();
  }, 40_000);
});
