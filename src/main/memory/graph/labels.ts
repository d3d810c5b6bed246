/**
 * Topic labels without an LLM: a topic's distinctive words by class-based TF-IDF (c-TF-IDF) — how many of the
 * topic's memories use a word, weighed by how rare the word is among all of the project's memories. "database" in
 * every topic of a project labels none of them; "migration" in most memories of one topic labels it.
 */
import { STOPWORDS } from '../../extract/text';

/** Words a label never shows: common in developer notes, about nothing in particular. */
const GENERIC = new Set(
  ('use uses used using make makes made need needs needed must always never should new old also via per see set sets run runs ' +
    'work works working want wants way ways without within instead still even every each other another first last next ' +
    'time times thing things something nothing good bad better best true false yes note notes done fix fixed fixes ' +
    'add added adds remove removed change changed changes update updated updates keep kept call calls called take takes ' +
    'decided decide chose choose agreed agree recommend recommended will shall may can cannot could would after before ' +
    'because since until when then than into onto over under about across between today yesterday tomorrow week day').split(' '),
);

/** The words of a text a label may use: lowercased, at least three letters, no stop words, plurals folded. */
export function labelTerms(text: string): Set<string> {
  const terms = new Set<string>();
  // A long memory's first 20,000 characters say what it is about.
  for (const [raw] of text.slice(0, 20_000).toLowerCase().matchAll(/[\p{L}][\p{L}\p{N}]*(?:[-'][\p{L}\p{N}]+)*/gu)) {
    if (raw.length < 3 || raw.length > 30 || STOPWORDS.has(raw) || GENERIC.has(raw) || raw.includes("'")) continue;
    terms.add(singular(raw));
  }
  return terms;
}

function singular(word: string): string {
  if (word.length > 4 && word.endsWith('ies')) return `${word.slice(0, -3)}y`;
  if (word.length > 4 && word.endsWith('s') && !/(?:ss|us|is|os|as|ys|es)$/.test(word)) return word.slice(0, -1);
  return word;
}

/** Words shown per label, at most and (when the topic has that many words) at least. */
export const LABEL_WORDS = 4;
const MIN_LABEL_WORDS = 3;

/**
 * The most distinctive words of a topic. `members` are its memories' term sets; `documentFrequency` says in how many
 * of the project's `projectSize` memories a word occurs. A word needs at least two of the topic's memories (of a
 * larger topic) to label it, so one memory's incidental word does not.
 */
export function distinctiveWords(members: Array<Set<string>>, documentFrequency: (term: string) => number, projectSize: number): string[] {
  const counts = new Map<string, number>();
  for (const terms of members) for (const term of terms) counts.set(term, (counts.get(term) ?? 0) + 1);
  const needed = members.length >= 3 ? 2 : 1;
  const scored: Array<{ term: string; score: number; shared: boolean }> = [];
  for (const [term, count] of counts) {
    const df = Math.max(count, documentFrequency(term));
    // tf of the class (share of its memories) times the word's rarity in the project.
    const score = (count / members.length) * Math.log(1 + Math.max(projectSize, members.length) / df);
    scored.push({ term, score, shared: count >= needed });
  }
  // Words several memories share first; one memory's words only fill a label that would be shorter than three.
  scored.sort((a, b) => Number(b.shared) - Number(a.shared) || b.score - a.score || a.term.localeCompare(b.term));
  const shared = scored.filter((entry) => entry.shared).length;
  return scored.slice(0, Math.max(Math.min(shared, LABEL_WORDS), Math.min(MIN_LABEL_WORDS, scored.length))).map((entry) => entry.term);
}
