/**
 * The memory search's keyword side alone: `npm run bench -- memory-keyword [--memories N]`. Fills a memory database
 * (schema, FTS5 index; no vectors) with the memory suite's generated notes and times KeywordSearch.search, plus
 * reading and scoring its candidates' texts, for the memory suite's 1,000 questions: with the common-word count
 * cache as searches use it, and with every count made afresh (the first search after the store grew by 2%).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { migrate, openDatabase } from '../src/main/db/database';
import { coverage, KeywordSearch } from '../src/main/memory/keyword';
import { memoryMigrations } from '../src/main/memory/migrations';
import { machineFacts, machineLine } from './lib/machine';
import { writeResults } from './lib/results';
import { summarize } from './lib/stats';
import { printTable } from './lib/table';
import { makeQueries, NoteGenerator } from './memory/notes';

export const description = 'the memory search keyword side alone at 100,000 generated notes (no encoder): p50/p90/p99';

export const suite = {
  description,
  async run(argv: string[]): Promise<number> {
    if (argv.includes('--help') || argv.includes('-h')) {
      console.log(`memory-keyword: ${description}\n  --memories N   notes in the database (100000)`);
      return 0;
    }
    const i = argv.indexOf('--memories');
    const memories = i >= 0 ? Number(argv[i + 1]) : 100_000;
    const machine = machineFacts();
    console.log(`Memory keyword side — ${machineLine(machine)}`);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'memory-keyword-'));
    const db = openDatabase(path.join(dir, 'memory.sqlite'));
    try {
      migrate(db, memoryMigrations);
      const insert = db.prepare(
        `INSERT INTO memories (uid, project, kind, text, text_hash, importance, created_at, updated_at)
         VALUES (?, 'bench', ?, ?, ?, 0.5, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')`,
      );
      const notes = new NoteGenerator();
      db.transaction(() => {
        for (let n = 0; n < memories; n++) {
          const note = notes.next();
          insert.run(`m${n}`, note.kind, note.text, `h${n}`);
        }
      })();
      const texts = (count: number) => db.prepare(`SELECT text FROM memories WHERE id IN (${'?,'.repeat(count).slice(0, -1)})`).pluck();
      const queries = makeQueries(1000);
      const cached = new KeywordSearch(db);
      const measure = (search: (q: string) => KeywordSearch) => {
        const one = (q: string) => {
          const result = search(q).search(q, () => true, 50);
          const ids = result.candidates.slice(0, 200);
          if (ids.length > 0) for (const text of texts(ids.length).all(...ids) as string[]) coverage(text, result.words);
        };
        queries.slice(0, 50).forEach(one);
        const ms = queries.map((q) => {
          const started = performance.now();
          one(q);
          return performance.now() - started;
        });
        return summarize(ms);
      };
      const rows = { cached: measure(() => cached), fresh: measure(() => new KeywordSearch(db)) };
      printTable(`Keyword side at ${memories.toLocaleString('en-US')} notes, 1,000 questions (ms)`, ['counts of common words', 'p50', 'p90', 'p99', 'max'], [
        ['cached (as searches run)', rows.cached.p50, rows.cached.p90, rows.cached.p99, rows.cached.max],
        ['made afresh', rows.fresh.p50, rows.fresh.p90, rows.fresh.p99, rows.fresh.max],
      ]);
      console.log(`results: ${writeResults('memory-keyword', { machine, memories, ...rows })}`);
      return 0;
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
