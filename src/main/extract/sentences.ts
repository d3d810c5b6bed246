/**
 * Sentence splitting that survives technical text: abbreviations (e.g., Dr., etc.), decimals and versions (3.14,
 * v1.2.3), file paths (src/a.ts, ./x/y.py:12), URLs, inline code, list items, log lines and hard-wrapped prose.
 *
 * A boundary is terminal punctuation followed by whitespace and something that can start a sentence, or a line
 * break that does not look like the middle of a wrapped sentence. Punctuation without whitespace after it (file.ts,
 * 3.14, example.com/a.b) is never a boundary, so paths and URLs need no special handling except inside inline code
 * and URLs, which are masked.
 */

export interface SentenceSpan {
  text: string;
  /** Offsets into the text given to splitSentences (plus its `offset` argument). */
  start: number;
  end: number;
}

/** Never end a sentence (titles, Latin, "approx."). */
const ABBREVIATIONS = new Set([
  'mr', 'mrs', 'ms', 'dr', 'prof', 'sr', 'jr', 'st', 'mt', 'vs', 'cf', 'approx', 'incl', 'excl', 'resp', 'viz', 'ca', 'al',
  'dept', 'est', 'min', 'max', 'avg', 'misc', 'lit', 'jan', 'feb', 'mar', 'apr', 'jun', 'jul', 'aug', 'sep', 'sept', 'oct',
  'nov', 'dec', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun', 'co', 'corp', 'inc', 'ltd', 'gen', 'gov', 'rev', 'vol',
  'ed', 'eds', 'e.g', 'i.e', 'a.k.a', 'et', 'u.s', 'u.k', 'a.m', 'p.m', 'ph.d', 'esp', 'ver', 'pkg', 'config',
]);
/** End a sentence only when not followed by a number ("No. 5", "Fig. 3"). */
const NUMBER_ABBREVIATIONS = new Set(['no', 'nr', 'nos', 'fig', 'figs', 'eq', 'eqs', 'p', 'pp', 'ch', 'sec', 'art', 'ref', 'v', 'ver', 'line', 'step', 'issue', 'pr']);

/** Words after which a line break continues the sentence (hard-wrapped prose). */
const CONTINUATION_WORDS = new Set([
  'a', 'an', 'the', 'of', 'to', 'and', 'or', 'in', 'for', 'with', 'is', 'are', 'be', 'that', 'by', 'on', 'as', 'from', 'at',
  'but', 'if', 'this', 'these', 'its', 'their', 'our', 'your', 'not', 'was', 'were', 'into', 'than', 'so', 'which', 'when',
]);

/** A line that always starts a new sentence: list items, headings, tables, prompts, log records, speaker turns. */
const STARTS_UNIT =
  /^\s*(?:[-*+•]\s|\d{1,3}[.)]\s|#{1,6}\s|\||\$\s|>\s|```|~~~|\[?\d{4}-\d{2}-\d{2}|\[?\d{1,2}:\d{2}(?::\d{2})?\]?\s|\[?(?:TRACE|DEBUG|INFO|WARN|WARNING|ERROR|FATAL|CRITICAL)\b|[A-Z][\w .-]{0,30}:\s|(?:TODO|FIXME|NOTE|XXX)\b|⏺|●|⎿)/;

const MASKED = /`[^`\n]+`|\bhttps?:\/\/[^\s<>"'`]*[^\s<>"'`.,;:!?)\]]|\b[\w.+-]+@[\w-]+\.[\w-]+(?:\.[\w-]+)*/g;
const TERMINAL = /(?:[.!?]+|…)["'”’)\]*_]*(?=\s|$)/g;

/** Splits text into sentences; offsets are relative to `text` plus `offset`. */
export function splitSentences(text: string, offset = 0): SentenceSpan[] {
  const masked = maskProtected(text);
  const cuts = new Set<number>();
  addLineBreakCuts(text, cuts);
  addPunctuationCuts(text, masked, cuts);
  const sorted = [...cuts].sort((a, b) => a - b);
  const spans: SentenceSpan[] = [];
  let from = 0;
  for (const cut of [...sorted, text.length]) {
    pushSpan(text, from, cut, offset, spans);
    from = cut;
  }
  return spans;
}

function pushSpan(text: string, from: number, to: number, offset: number, out: SentenceSpan[]): void {
  let start = from;
  let end = to;
  while (start < end && /\s/.test(text[start]!)) start++;
  while (end > start && /\s/.test(text[end - 1]!)) end--;
  if (end > start) out.push({ text: text.slice(start, end), start: start + offset, end: end + offset });
}

/** Replaces the characters of inline code, URLs and e-mail addresses with 'x' so their punctuation is inert. */
function maskProtected(text: string): string {
  if (!text.includes('`') && !text.includes('://') && !text.includes('@')) return text;
  return text.replace(MASKED, (match) => 'x'.repeat(match.length));
}

function addLineBreakCuts(text: string, cuts: Set<number>): void {
  let lineStart = 0;
  while (lineStart < text.length) {
    const newline = text.indexOf('\n', lineStart);
    if (newline === -1) break;
    const line = text.slice(lineStart, newline);
    const nextStart = newline + 1;
    const nextEnd = text.indexOf('\n', nextStart);
    const next = text.slice(nextStart, nextEnd === -1 ? text.length : nextEnd);
    if (lineBreakEndsSentence(line, next)) cuts.add(nextStart);
    lineStart = nextStart;
  }
}

function lineBreakEndsSentence(line: string, next: string): boolean {
  const current = line.trimEnd();
  if (current.trim() === '' || next.trim() === '') return true;
  if (STARTS_UNIT.test(next) || /^\s*(?:#{1,6}\s|\||\$\s|```|~~~)/.test(line)) return true;
  if (/[.!?:;…]["'”’)\]*_]*$/.test(current)) return true;
  // An indented line after a list item continues it.
  if (/^\s{2,}\S/.test(next) && /^\s*(?:[-*+•]|\d{1,3}[.)])\s/.test(line)) return false;
  const lastWord = /([\p{L}']+)[^\p{L}']*$/u.exec(current)?.[1]?.toLowerCase();
  if (/[,(\-–—/]$/.test(current) || (lastWord !== undefined && CONTINUATION_WORDS.has(lastWord))) return false;
  // Wrapped prose continues in lower case; anything else (log lines, capitalised lines) is a new sentence.
  return !/^\s*[\p{Ll}(`"'“‘]/u.test(next);
}

function addPunctuationCuts(text: string, masked: string, cuts: Set<number>): void {
  TERMINAL.lastIndex = 0;
  for (let match = TERMINAL.exec(masked); match !== null; match = TERMINAL.exec(masked)) {
    const end = match.index + match[0].length;
    if (end >= text.length) continue;
    let next = end;
    while (next < text.length && /\s/.test(text[next]!)) next++;
    if (next >= text.length) continue;
    // A line break is judged by addLineBreakCuts.
    if (text.slice(end, next).includes('\n')) continue;
    const following = text[next]!;
    if (/\p{Ll}/u.test(following)) continue;
    if (match[0].startsWith('.') && !match[0].startsWith('..') && !isPeriodBoundary(masked, match.index, following)) continue;
    cuts.add(next);
  }
}

function isPeriodBoundary(text: string, periodAt: number, following: string): boolean {
  // The word before the period, including inner periods (e.g, i.e, U.S).
  let start = periodAt;
  while (start > 0 && /[\p{L}\p{N}.']/u.test(text[start - 1]!)) start--;
  const word = text.slice(start, periodAt).replace(/^\.+/, '');
  if (word === '') return true;
  const lower = word.toLowerCase();
  if (ABBREVIATIONS.has(lower)) return false;
  if (NUMBER_ABBREVIATIONS.has(lower) && /\d/.test(following)) return false;
  // Initials ("J. Smith") and dotted abbreviations ("U.S.A", "e.g").
  if (/^\p{Lu}$/u.test(word) && /\p{Lu}/u.test(following)) return false;
  if (/^(?:\p{L}\.)+\p{L}$/u.test(word)) return false;
  // A list number at the start of a line ("1. Install"), not the end of a sentence.
  if (/^\d{1,3}$/.test(word)) {
    let k = start - 1;
    while (k >= 0 && (text[k] === ' ' || text[k] === '\t')) k--;
    if (k < 0 || text[k] === '\n') return false;
  }
  return true;
}
