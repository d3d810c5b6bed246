// The WAL checkpoint worker against a real SQLite file under steady writes: the log is checkpointed into the
// database and truncated, so it stays bounded however long the writes go on.
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

const walBytes = (file: string) => {
  try {
    return statSync(`${file}-wal`).size;
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
    // 256 frames of 4 KiB: 1 MiB.
    const checkpointer = startCheckpointer(db, file, { intervalMs: 20, truncateFrames: 256 });
    let commits = 0;
    let last = 0;
    let firstTruncation: number | null = null;
    let commitsSince = 0;
    let maxWalSince = 0;
    const deadline = performance.now() + 15_000;
    // Small transactions in quick bursts, as the hub commits under steady load (here a few thousand a second, the
    // writer busy about half the time): the worker's passive checkpoints always find commits landing while they
    // copy, so only a truncation resets the log. After the first one (the worker takes a moment to start), 3 s of
    // writes must not grow the WAL past a bound.
    while (performance.now() < deadline && (firstTruncation === null || performance.now() < firstTruncation + 3000)) {
      for (let i = 0; i < 10; i++, commits++) insert.run(body);
      const size = walBytes(file);
      if (firstTruncation === null && size < last) firstTruncation = performance.now();
      else if (firstTruncation !== null) {
        commitsSince += 10;
        maxWalSince = Math.max(maxWalSince, size);
      }
      last = size;
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await checkpointer.stop();
    expect(firstTruncation).not.toBeNull();
    // At least one 4 KiB page per commit went through the WAL: far more than the bound below.
    expect(commitsSince * 4096).toBeGreaterThan(16 * 2 ** 20);
    // The threshold plus what commits add while a truncation waits its turn.
    expect(maxWalSince).toBeLessThan(8 * 2 ** 20);
    expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: commits });
    db.close();
  }, 30_000);
});
