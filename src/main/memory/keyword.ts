/**
 * The keyword side of memory search, over the FTS5 index: exact lookups of identifiers (commit hashes, ticket ids,
 * error codes, paths, CONSTANT_NAMES, camelCase symbols) and IDF-weighted word matching, scored as the share of the
 * query's information a memory contains, so one common word weighs little and a rare one a lot.
 */
import type { SqliteDatabase } from '../db/database';

/**
 * Words that carry no topic: a question's "how do we" must not rank every memory containing "we". (The keyword side
 * exists for names, ids, paths and rare terms; the vector side understands the question.)
 */
const STOP_WORDS = new Set(
  ('a an and are as at be by can could did do does for from had has have how i if in into is it its me my no not of on ' +
    'or our should so that the their them then there these they this to up us was we were what when where which who ' +
    'why will with would you your now still any all get got use used using about whats what\'s i\'m it\'s don\'t').split(' '),
);
/** Query words scored against memories: the rarest ones. */
const KEYWORD_TERMS = 4;
/** Matches counted per word before it is simply "common" (and not worth scoring memory by memory). */
const COMMON_WORD_MATCHES = 2000;
/**
 * An identifier found in at most this many memories is an exact lookup: those memories rank above every other hit.
 * More matches mean the token is not a reference to one thing (a version number, a file extension).
 */
export const RARE_IDENTIFIER_MATCHES = 5;
/** Memories fetched per identifier (to tell a rare one from a common one). */
const IDENTIFIER_FETCH = RARE_IDENTIFIER_MATCHES * 4;

export interface QueryTerms {
  /** Tokens that name one thing: an exact match of one of them is what the query asks for. */
  identifiers: string[];
  /** The other words, lowercased, without stop words. */
  words: string[];
}

/**
 * Identifiers: a token with a digit (hashes, ticket ids, versions), an underscore (CONSTANT_NAMES, snake_case), a path
 * separator or an inner dot between letters (file names, packages), or a capital after a lowercase letter
 * (camelCase). Plain hyphenated words ("sign-off") are words.
 */
export function queryTerms(query: string): QueryTerms {
  const identifiers: string[] = [];
  const words: string[] = [];
  for (const raw of query.split(/\s+/)) {
    const token = raw.replace(/^[^\p{L}\p{N}_./~-]+|[^\p{L}\p{N}_]+$/gu, '').replace(/^[.~-]+(?=[\p{L}\p{N}])/u, (lead) => (lead === '.' ? lead : ''));
    if (token.length === 0) continue;
    const core = token.replace(/^\.+/, '');
    const identifier =
      core.length >= 4 &&
      /[\p{L}\p{N}]/u.test(core) &&
      (/\p{N}/u.test(core) || /_/.test(core) || /[\p{L}\p{N}]\/[\p{L}\p{N}]/u.test(core) || /\p{L}\.\p{L}/u.test(core) || /\p{Ll}\p{Lu}/u.test(core));
    if (identifier && !/^\d{1,3}(\.\d+)?$/.test(core)) identifiers.push(token);
    for (const word of token.match(/[\p{L}\p{N}]+/gu) ?? []) {
      const lower = word.toLowerCase();
      if (!STOP_WORDS.has(lower) && !identifier) words.push(lower);
    }
  }
  return { identifiers: [...new Set(identifiers)], words: [...new Set(words)] };
}

/** Short commit hashes (7-9 hex digits with a digit and a letter) also match the full hash they start. */
function looksLikeShortHash(token: string): boolean {
  return /^[0-9a-f]{7,9}$/i.test(token) && /\d/.test(token) && /[a-f]/i.test(token);
}

function ftsPhrase(text: string): string {
  return `"${text.replace(/"/g, '""')}"`;
}

/** A query word as the keyword side weighs it: its stem and its inverse document frequency. */
export interface WeightedWord {
  stem: string;
  idf: number;
}

export interface KeywordResult {
  /** Memories holding a rare identifier of the query, with how many of its identifiers each holds. */
  exact: Map<number, number>;
  /** Whether the query consists of identifiers only (then a hit without one of them is a weak match). */
  identifiersOnly: boolean;
  /** Memories holding one of the query's rare words: candidates the vector side may have missed. */
  candidates: number[];
  /** Every query word with its weight, to score any memory's text with `coverage`. */
  words: WeightedWord[];
}

/**
 * A crude stem (common English suffixes off), matched as the start of a word: close enough to FTS5's porter
 * stemmer to score a memory's text without another query per memory.
 */
export function stem(word: string): string {
  const lower = word.toLowerCase().replace(/'s$/, '');
  if (lower.length <= 4) return lower;
  const suffix = /(ing|ed|es|s|ly)$/.exec(lower);
  return suffix && lower.length - suffix[1]!.length >= 4 ? lower.slice(0, -suffix[1]!.length) : lower;
}

/** The IDF-weighted share (0-1) of the query's words that `text` contains. */
export function coverage(text: string, words: WeightedWord[]): number {
  const whole = words.reduce((sum, word) => sum + word.idf, 0);
  if (whole <= 0) return 0;
  const tokens = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  let found = 0;
  for (const word of words) {
    const short = word.stem.length < 4;
    if (tokens.some((token) => (short ? token === word.stem : token.startsWith(word.stem)))) found += word.idf;
  }
  return found / whole;
}

/** Words in fewer memories than this are searched for candidates; commoner ones only weigh candidates found otherwise. */
const CANDIDATE_WORD_MATCHES = 300;

/**
 * Counts of common words (at least CANDIDATE_WORD_MATCHES matches) are reused until the store has grown or shrunk by
 * 2%: counting one costs up to COMMON_WORD_MATCHES index entries, and a question has several, while the count of a
 * common word barely moves its weight. Rare words are counted afresh each time (cheap, and a new memory may hold one).
 */
const COUNT_CACHE_DRIFT = 0.02;
const COUNT_CACHE_WORDS = 50_000;

export class KeywordSearch {
  private readonly s;
  private readonly commonCounts = new Map<string, number>();
  private countsAtTotal = 0;

  constructor(db: SqliteDatabase) {
    this.s = {
      match: db.prepare('SELECT rowid AS id FROM memories_fts WHERE memories_fts MATCH ? LIMIT ?').pluck(),
      count: db.prepare('SELECT COUNT(*) FROM (SELECT 1 FROM memories_fts WHERE memories_fts MATCH ? LIMIT ?)').pluck(),
      text: db.prepare('SELECT text FROM memories WHERE id = ?').pluck(),
      total: db.prepare('SELECT MAX(id) FROM memories').pluck(),
    };
  }

  /**
   * `accept` filters memories (project, kind, ...); `limit` caps the word candidates returned. Identifiers are
   * checked against the stored text too, so "redact.ts" does not match "redact ts" in prose.
   */
  search(query: string, accept: (id: number) => boolean, limit: number): KeywordResult {
    const { identifiers, words } = queryTerms(query);
    const exact = new Map<number, number>();
    for (const identifier of identifiers) {
      const bare = identifier.replace(/^\.+/, '');
      const match = looksLikeShortHash(bare) ? `${ftsPhrase(bare)}*` : ftsPhrase(bare);
      const ids = (this.s.match.all(match, IDENTIFIER_FETCH) as number[]).filter((id) => {
        if (!accept(id)) return false;
        const text = ((this.s.text.get(id) as string | undefined) ?? '').toLowerCase();
        return text.includes(bare.toLowerCase());
      });
      if (ids.length === 0 || ids.length > RARE_IDENTIFIER_MATCHES) continue;
      ids.forEach((id) => exact.set(id, (exact.get(id) ?? 0) + 1));
    }
    if (words.length === 0) return { exact, identifiersOnly: identifiers.length > 0, candidates: [], words: [] };

    // BM25's IDF, with matches counted up to a cap (a word at the cap is common whatever its true count). A word in
    // no memory weighs most: a question about "bitcoin" is not answered by a memory sharing only "payment" with it.
    const total = Math.max(1, (this.s.total.get() as number | null) ?? 1);
    const counted = words.map((word) => {
      const count = this.count(word, total);
      return { word, count, idf: Math.log(1 + (total - count + 0.5) / (count + 0.5)) };
    });
    const candidates = new Set<number>();
    for (const entry of counted.filter((e) => e.count > 0 && e.count < CANDIDATE_WORD_MATCHES).sort((a, b) => a.count - b.count).slice(0, KEYWORD_TERMS)) {
      for (const id of this.s.match.all(ftsPhrase(entry.word), CANDIDATE_WORD_MATCHES) as number[]) {
        if (candidates.size >= limit * 4) break;
        if (accept(id)) candidates.add(id);
      }
    }
    return { exact, identifiersOnly: false, candidates: [...candidates], words: counted.map((entry) => ({ stem: stem(entry.word), idf: entry.idf })) };
  }

  /** Memories matching `word`, counted up to COMMON_WORD_MATCHES (common words from the cache). */
  private count(word: string, total: number): number {
    if (Math.abs(total - this.countsAtTotal) > total * COUNT_CACHE_DRIFT || this.commonCounts.size >= COUNT_CACHE_WORDS) {
      this.commonCounts.clear();
      this.countsAtTotal = total;
    }
    const cached = this.commonCounts.get(word);
    if (cached !== undefined) return cached;
    const count = this.s.count.get(ftsPhrase(word), COMMON_WORD_MATCHES) as number;
    if (count >= CANDIDATE_WORD_MATCHES) this.commonCounts.set(word, count);
    return count;
  }
}
