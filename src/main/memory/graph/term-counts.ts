/**
 * The words labels are made of (labels.ts), counted per project: in how many current memories each occurs (memory_terms,
 * the document frequency of c-TF-IDF), and each memory's own words. Both are kept in memory so that placing a memory
 * and labelling a topic read no SQLite: a project's counts are read once, at its first use, and the counts changed
 * since are written in one statement per word at save(). A memory's words are kept for the memories seen recently
 * (new ones, the members labelling samples), since a topic is labelled again as it grows and its text never changes.
 */
import type { SqliteDatabase } from '../../db/database';
import { labelTerms } from './labels';

/** Memories whose words are kept (a few hundred bytes each). */
const WORDS_CACHE = 50_000;

export class TermCounts {
  private readonly counts = new Map<string, Map<string, number>>();
  private readonly unsaved = new Map<string, Set<string>>();
  /** A memory's words, joined by spaces (one flat string: no slice of the memory's text is kept alive). */
  private readonly words = new Map<number, string>();
  private readonly s;

  constructor(db: SqliteDatabase) {
    this.s = {
      textOf: db.prepare('SELECT text FROM memories WHERE id = ?').pluck(),
      ofProject: db.prepare('SELECT term, df FROM memory_terms WHERE project = ?'),
      set: db.prepare('INSERT INTO memory_terms (project, term, df) VALUES (?, ?, ?) ON CONFLICT (project, term) DO UPDATE SET df = excluded.df'),
    };
  }

  /** The label words of a memory (`text` when the caller has it; else read). Empty for a memory that is gone. */
  termsOf(memoryId: number, text?: string): string[] {
    let joined = this.words.get(memoryId);
    if (joined === undefined) {
      text ??= this.s.textOf.get(memoryId) as string | undefined;
      if (text === undefined) return [];
      joined = [...labelTerms(text)].join(' ');
      if (this.words.size >= WORDS_CACHE) this.words.clear();
      this.words.set(memoryId, joined);
    }
    return joined === '' ? [] : joined.split(' ');
  }

  /** A memory joined the project's current memories: its words count once more. */
  up(project: string, terms: string[]): void {
    this.change(project, terms, 1);
  }

  /** A memory left them (superseded, deleted). */
  down(project: string, terms: string[]): void {
    this.change(project, terms, -1);
  }

  /** In how many of the project's current memories a word occurs. */
  df(project: string, term: string): number {
    return this.of(project).get(term) ?? 0;
  }

  /** Forgets a deleted memory's words (its id may be given to another). */
  forget(memoryId: number): void {
    this.words.delete(memoryId);
  }

  /** Writes the counts changed since the last save (inside the caller's transaction). */
  save(): void {
    for (const [project, terms] of this.unsaved) {
      const counts = this.of(project);
      for (const term of terms) this.s.set.run(project, term, counts.get(term) ?? 0);
    }
    this.unsaved.clear();
  }

  /** After the table was emptied. */
  clear(): void {
    this.counts.clear();
    this.unsaved.clear();
    this.words.clear();
  }

  private change(project: string, terms: string[], by: number): void {
    const counts = this.of(project);
    let unsaved = this.unsaved.get(project);
    if (!unsaved) this.unsaved.set(project, (unsaved = new Set()));
    for (const term of terms) {
      const now = (counts.get(term) ?? 0) + by;
      // As the table did: a count going below zero is not created (UPDATE of a missing row).
      if (now < 0 && !counts.has(term)) continue;
      counts.set(term, now);
      unsaved.add(term);
    }
  }

  private of(project: string): Map<string, number> {
    let counts = this.counts.get(project);
    if (!counts) {
      counts = new Map();
      for (const row of this.s.ofProject.iterate(project) as Iterable<{ term: string; df: number }>) counts.set(row.term, row.df);
      this.counts.set(project, counts);
    }
    return counts;
  }
}
