// A store whose commit (or the memory graph's batch) meets the write lock held by another connection (the WAL
// checkpoint worker's RESTART, say) waits for it instead of failing: the transaction takes the lock before its first read. A deferred transaction read first
// and asked for the lock later, and SQLite refuses that upgrade at once, without the busy timeout: a large extraction
// failed with "database is locked". Real SQLite file, a real second process holding the lock, real encoder.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureDefaultEncoder, OnnxSentenceEncoder } from '../../src/main/embedding';
import { MemoryGraph } from '../../src/main/memory/graph';
import { MemoryStore, type ParsedMemoryInput } from '../../src/main/memory/store';
import { resourcesDir } from '../embedding/helpers';
import { tempDir } from '../helpers';

const fact = (text: string): ParsedMemoryInput => ({ text, kind: 'fact', tags: [], metadata: {}, shared: false });
const context = { project: 'shop', agent: null };

/**
 * Another process that takes the database's write lock, says so, and lets go after `holdMs` (on its own: the hub's
 * thread blocks in SQLite's busy wait meanwhile), writing a row of its own in that transaction.
 */
function lockHolder(file: string, holdMs: number) {
  const script = `
    const Database = require('better-sqlite3');
    const db = new Database(${JSON.stringify(file)});
    db.exec('BEGIN IMMEDIATE');
    db.prepare("INSERT INTO memory_meta (key, value) VALUES ('lock-holder', 'was here')").run();
    process.stdout.write('locked\\n');
    setTimeout(() => { db.exec('COMMIT'); db.close(); }, ${holdMs});
  `;
  const child = spawn(process.execPath, ['-e', script], { cwd: path.resolve('.'), stdio: ['ignore', 'pipe', 'inherit'] });
  const locked = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('locked') && resolve());
    child.once('exit', (code) => reject(new Error(`the lock holder exited (${code})`)));
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { locked, exited };
}

describe('a store commit while another connection holds the write lock', () => {
  it('waits for the lock and stores, instead of failing with "database is locked"', async () => {
    const encoder = await OnnxSentenceEncoder.load(await ensureDefaultEncoder(resourcesDir));
    const dataDir = tempDir();
    const store = await MemoryStore.open({ dataDir, encoder, halfLifeDays: 30, dedupeSimilarity: 0.95 });
    try {
      // A memory first, so the next commit's first statement (the same-text lookup) reads a table with rows.
      await store.store([fact('The checkout service retries payment calls three times.')], context);
      const holder = lockHolder(path.join(dataDir, 'memory.sqlite'), 1000);
      await holder.locked;
      const [result] = await store.store([fact('Invoices are archived to cold storage after 90 days.')], context);
      expect(result!.outcome).toBe('created');
      expect(await holder.exited).toBe(0);
      // The holder's row is there too: its transaction committed first, then the store's.
      expect(store.db.prepare("SELECT value FROM memory_meta WHERE key = 'lock-holder'").pluck().get()).toBe('was here');
      expect(store.stats().total).toBe(2);
    } finally {
      await store.close();
      await encoder.close();
    }
  });

  it('lets the memory graph take new memories in after the lock is released, instead of stopping (it took the hub down)', async () => {
    const encoder = await OnnxSentenceEncoder.load(await ensureDefaultEncoder(resourcesDir));
    const dataDir = tempDir();
    const store = await MemoryStore.open({ dataDir, encoder, halfLifeDays: 30, dedupeSimilarity: 0.95 });
    let graph: MemoryGraph | undefined;
    try {
      const stored = await store.store([fact('The checkout service retries payment calls three times.'), fact('Invoices are archived after 90 days.')], context);
      const holder = lockHolder(path.join(dataDir, 'memory.sqlite'), 1000);
      await holder.locked;
      // The graph starts on the memories already stored: its first batch (reads, then writes) meets the lock.
      graph = new MemoryGraph(store);
      await graph.whenIdle();
      expect(await holder.exited).toBe(0);
      const cursor = store.db.prepare("SELECT value FROM memory_meta WHERE key = 'graph_cursor'").pluck().get();
      expect(Number(cursor)).toBe(store.db.prepare('SELECT MAX(id) FROM memories').pluck().get());
      expect(graph.topicList('shop', 10).length).toBeGreaterThan(0);
      expect(stored).toHaveLength(2);
    } finally {
      graph?.close();
      await graph?.whenIdle();
      await store.close();
      await encoder.close();
    }
  });
});

