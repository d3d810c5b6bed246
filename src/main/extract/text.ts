/** Small text helpers shared by the extraction passes. */
import { createHash } from 'node:crypto';
import { MEMORY_TEXT_MAX_CHARS } from '../../shared/memory-protocol';

/** The longest text a draft may carry: what the store accepts. */
export const MAX_DRAFT_TEXT = MEMORY_TEXT_MAX_CHARS;

export function countWords(text: string): number {
  let count = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const space = c === 32 || c === 10 || c === 9 || c === 13 || c === 12 || c === 11 || c === 160;
    if (space) inWord = false;
    else if (!inWord) {
      inWord = true;
      count++;
    }
  }
  return count;
}

/** Tokens as the chunker counts them: words × 1.3, rounded up. */
export function approxTokens(text: string): number {
  return Math.ceil(countWords(text) * 1.3);
}

/** The first `maxWords` words of a text (whitespace collapsed), and at most 12 characters a word in all. */
export function firstWords(text: string, maxWords: number): string {
  const head = text.length > maxWords * 24 ? text.slice(0, maxWords * 24) : text;
  const words = head.split(/\s+/).filter(Boolean);
  const joined = words.length <= maxWords ? words.join(' ') : words.slice(0, maxWords).join(' ');
  return joined.length > maxWords * 12 ? joined.slice(0, maxWords * 12) : joined;
}

/** Shortens to at most `max` characters on a word boundary, with an ellipsis. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max - 1);
  const space = cut.lastIndexOf(' ');
  return (space > max * 0.6 ? cut.slice(0, space) : cut).trimEnd() + '…';
}

/** The form used to recognise the same item twice: case, punctuation, list/TODO markers and whitespace ignored. */
export function normalizeForDedupe(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/^\s*(?:[-*+•]\s+)?(?:\[[ x]\]\s+)?/i, '')
    .replace(/\b(?:todo|fixme|xxx|hack)\b\s*(?:\([^)]*\))?\s*[:-]?/g, ' ')
    .replace(/[^\p{L}\p{N}/._-]+/gu, ' ')
    // Periods and dashes count only inside words (file.ts, v1.2, well-known).
    .replace(/[._-](?![\p{L}\p{N}])|(?<![\p{L}\p{N}])[._-]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

export function shortHash(text: string, length = 12): string {
  return createHash('sha1').update(text).digest('hex').slice(0, length);
}

export function clamp01(value: number): number {
  return Math.round(Math.min(1, Math.max(0, value)) * 1000) / 1000;
}

/** Maps character offsets to 1-based line numbers (optionally through a map to the original input's lines). */
export class LineIndex {
  /** Offset of the first character of each line. */
  readonly starts: number[];

  constructor(
    text: string,
    private readonly originalLine?: number[],
  ) {
    const starts = [0];
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
    this.starts = starts;
  }

  get lineCount(): number {
    return this.starts.length;
  }

  /** 0-based line index of an offset. */
  lineOf(offset: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** 1-based line number in the original input of a 0-based line of the working text. */
  lineNumber(lineIndex: number): number {
    return this.originalLine?.[lineIndex] ?? lineIndex + 1;
  }

  /** 1-based line number in the original input of an offset of the working text. */
  lineNumberAt(offset: number): number {
    return this.lineNumber(this.lineOf(offset));
  }
}

export const STOPWORDS = new Set(
  (
    'a about above after again against all am an and any are as at be because been before being below between both but by can ' +
    'could did do does doing down during each few for from further had has have having he her here hers herself him himself his ' +
    'how i if in into is it its itself just me more most my myself no nor not now of off on once only or other our ours ourselves ' +
    'out over own same she should so some such than that the their theirs them themselves then there these they this those through ' +
    'to too under until up very was we were what when where which while who whom why will with would you your yours yourself ' +
    'yourselves also yes ok okay let lets get got go going well really thing things like just sure one two would could might will ' +
    "i'm i'll i've it's that's don't can't won't didn't isn't we're we'll you're"
  ).split(' '),
);

const SMALL_TALK = new Set(
  (
    'hi hello hey thanks thank thx ty great awesome cool nice perfect sounds good ok okay sure got no problem welcome lol haha morning ' +
    'afternoon evening night bye cheers see later soon how doing fine weekend coffee lunch weather today day hope have was lovely glad ' +
    'happy yes yep yeah nope right exactly love job done amazing wonderful brilliant excellent appreciate appreciated much lot time ' +
    'tomorrow friday monday talk chat again too also there everyone folks guys team :) 👍 🙂 😊 🎉'
  ).split(' '),
);

/** Greetings, thanks and acknowledgements: short, and made (almost) only of small-talk words. */
export function isSmallTalk(text: string): boolean {
  if (text.length > 120 || countWords(text) > 14) return false;
  const words = text.toLowerCase().replace(/[^\p{L}\p{N}\s':)👍🙂😊🎉]/gu, ' ').split(/\s+/).filter(Boolean);
  if (words.length === 0 || words.length > 14) return false;
  const content = words.filter((w) => !STOPWORDS.has(w));
  if (content.length === 0) return true;
  return content.filter((w) => SMALL_TALK.has(w)).length / content.length >= 0.6;
}
