/**
 * Memory extraction, fast and local (no LLM): text → a document draft, section drafts, semantic chunk drafts, and
 * salient items (decisions, tasks, errors, code and commands, paths/URLs/symbols, notes) under the chunk they came
 * from, each scored 0..1. Sentences are embedded once; chunk, section and document vectors are means of them.
 *
 *   parse (format, fences, turns, traces, sections, sentences)  →  embed unique sentence texts (async, batched)
 *   meanwhile: salient items + merge + score                     →  semantic chunking  →  drafts
 */
import { chunkUnits, meanVector, type ChunkingUnit } from './chunking';
import { mergeAndScore, findSalientItems, type MergedItem } from './salient';
import { parseDocument, stripInlineMarkdown, type ParsedDocument, type Section, type Unit } from './structure';
import { MAX_DRAFT_TEXT, STOPWORDS, approxTokens, clamp01, countWords, firstWords, isSmallTalk, shortHash, truncate } from './text';
import type { DraftKind, ExtractOptions, ExtractResult, MemoryDraft } from './types';
import { EXTRACT_LINE_MAX_CHARS, EXTRACT_TEXT_MAX_CHARS, firstLineOver } from '../../shared/memory-protocol';

export type { DocumentFormat, DraftKind, ExtractOptions, ExtractResult, ExtractStats, ExtractTimings, MemoryDraft, SalientKind } from './types';
export { splitSentences, type SentenceSpan } from './sentences';
export { parseDocument, type ParsedDocument, type Section, type Turn, type Unit } from './structure';
export { chunkUnits, meanVector, type ChunkingOptions, type ChunkingResult, type ChunkingUnit } from './chunking';
export { findSalientItems, mergeAndScore, type MergedItem, type SalientItem } from './salient';
export { findErrorBlocks, matchSingleLineError, type ErrorBlock } from './errors';

export const DEFAULT_MAX_CHUNK_TOKENS = 256;
export const DEFAULT_MIN_CHUNK_TOKENS = 40;
const DEFAULT_EMBED_CALL_SIZE = 256;
/**
 * Embed calls made before the first of them is answered: the next call waits in the encoder's queue instead of a
 * round trip away (from the extraction worker, each answer crosses the hub's event loop twice), so the inference
 * worker goes from one call to the next. A search's query does not queue behind them (it is an urgent call).
 */
const EMBED_CALLS_IN_FLIGHT = 2;
const DEFAULT_MAX_EMBED_WORDS = 40;
const MAX_TAGS = 32;
const MAX_TAG_LENGTH = 64;

interface Chunk {
  key: string;
  section: Section;
  units: Unit[];
  start: number;
  end: number;
  tokens: number;
  vector: Float32Array | null;
  importance: number;
  items: MergedItem[];
}

/** Why a text cannot be extracted: `code` is the HubError code the hub answers with. */
export class ExtractRefused extends Error {
  override name = 'ExtractRefused';
  constructor(
    readonly code: 'too_large' | 'invalid_request',
    message: string,
  ) {
    super(message);
  }
}

/** Refuses, at once, a text extraction must not take (the request schema says the same to callers over the wire). */
export function checkExtractable(text: string): void {
  if (text.length > EXTRACT_TEXT_MAX_CHARS) {
    throw new ExtractRefused('too_large', `the text is ${text.length.toLocaleString('en-US')} characters long; extraction takes at most ${EXTRACT_TEXT_MAX_CHARS.toLocaleString('en-US')}`);
  }
  const long = firstLineOver(text, EXTRACT_LINE_MAX_CHARS);
  if (long) {
    throw new ExtractRefused(
      'invalid_request',
      `line ${long.line + 1} is ${long.length.toLocaleString('en-US')} characters long; a memory holds at most ${EXTRACT_LINE_MAX_CHARS.toLocaleString('en-US')} (break the text into lines, or store a summary of it)`,
    );
  }
}

export async function extractMemories(text: string, options: ExtractOptions): Promise<ExtractResult> {
  checkExtractable(text);
  const started = performance.now();
  const maxChunkTokens = Math.max(16, Math.floor(options.maxChunkTokens ?? DEFAULT_MAX_CHUNK_TOKENS));
  const minChunkTokens = Math.min(Math.max(0, Math.floor(options.minChunkTokens ?? DEFAULT_MIN_CHUNK_TOKENS)), Math.floor(maxChunkTokens / 2));
  const maxEmbedWords = Math.max(4, Math.floor(options.maxEmbedWords ?? DEFAULT_MAX_EMBED_WORDS));

  const doc = parseDocument(text, { format: options.format, title: options.title, maxEmbedWords, sectionTokens: maxChunkTokens * 4 });
  const parsedAt = performance.now();

  // Embed every distinct unit text once, longest first so each call's batches hold similar lengths.
  const distinct = new Map<string, number>();
  for (const unit of doc.units) if (unit.embedText !== null && !distinct.has(unit.embedText)) distinct.set(unit.embedText, distinct.size);
  const texts = [...distinct.keys()];
  let embedCalls = 0;
  let embedMs = 0;
  const embedding = (async () => {
    const t0 = performance.now();
    const order = texts.map((_, i) => i).sort((a, b) => texts[b]!.length - texts[a]!.length);
    const vectors = new Array<Float32Array>(texts.length);
    const callSize = Math.max(1, Math.floor(options.embedCallSize ?? DEFAULT_EMBED_CALL_SIZE));
    const inFlight: Array<Promise<void>> = [];
    for (let from = 0; from < order.length; from += callSize) {
      const slice = order.slice(from, from + callSize);
      embedCalls++;
      const call = options.embed(slice.map((i) => texts[i]!)).then((out) => {
        if (out.length !== slice.length) throw new Error(`embed returned ${out.length} vectors for ${slice.length} texts`);
        slice.forEach((textIndex, k) => (vectors[textIndex] = out[k]!));
      });
      call.catch(() => undefined); // awaited below; a failure must not count as unhandled meanwhile
      inFlight.push(call);
      if (inFlight.length >= EMBED_CALLS_IN_FLIGHT) await inFlight.shift();
    }
    await Promise.all(inFlight);
    embedMs = performance.now() - t0;
    return vectors;
  })();
  // A failure surfaces at `await embedding` below; until then it must not count as an unhandled rejection.
  embedding.catch(() => undefined);
  // Let the encoder start (tokenise, hand its first batch to onnxruntime's threads) before the main thread is busy.
  await new Promise<void>((resolve) => setImmediate(resolve));

  const salientStarted = performance.now();
  const recency = doc.format === 'transcript' || doc.format === 'jsonl';
  const { merged, duplicates } = mergeAndScore(findSalientItems(doc), doc.text.length, { recency });
  const salientMs = performance.now() - salientStarted;

  const textVectors = await embedding;
  const chunkStarted = performance.now();
  const unitVectors = doc.units.map((u) => (u.embedText === null ? null : textVectors[distinct.get(u.embedText)!]!));

  const docKey = `doc:${shortHash([options.project ?? '', options.source ?? '', options.source ? '' : text].join('\u0000'), 16)}`;
  const sectionKey = (section: Section) => `${docKey}/s${section.index}`;

  // Chunks, section by section.
  const chunks: Chunk[] = [];
  const chunksBySection = new Map<number, Chunk[]>();
  for (const section of doc.sections) {
    const units = section.units.map((i) => doc.units[i]!);
    const input: ChunkingUnit[] = units.map((unit, k) => ({
      tokens: unit.tokens,
      vector: unitVectors[unit.index] ?? null,
      turnBoundary: k > 0 && unit.turn !== units[k - 1]!.turn,
      paragraphBoundary: k > 0 && unit.paragraph !== units[k - 1]!.paragraph,
    }));
    const { ranges } = chunkUnits(input, { maxTokens: maxChunkTokens, minTokens: minChunkTokens });
    const list: Chunk[] = ranges.map(([from, to], j) => {
      const members = units.slice(from, to);
      return {
        key: `${sectionKey(section)}/c${j}`,
        section,
        units: members,
        start: members[0]!.start,
        end: members[members.length - 1]!.end,
        tokens: members.reduce((n, u) => n + u.tokens, 0),
        vector: meanVector(members.map((u) => unitVectors[u.index])),
        importance: 0,
        items: [],
      };
    });
    chunksBySection.set(section.index, list);
    chunks.push(...list);
  }

  // A chunk made only of units without words gets its own embedding (rare: e.g. a chunk of symbols only).
  const orphans = chunks.filter((c) => c.vector === null);
  if (orphans.length > 0) {
    embedCalls++;
    const t0 = performance.now();
    const vectors = await options.embed(orphans.map((c) => firstWords(doc.text.slice(c.start, c.end), maxEmbedWords)));
    embedMs += performance.now() - t0;
    orphans.forEach((c, i) => (c.vector = vectors[i] ?? null));
  }

  // Items go under the chunk they were found in (or the nearest chunk of their section).
  const sectionAtLine = new Int32Array(doc.lines.length).fill(-1);
  for (const section of doc.sections) sectionAtLine.fill(section.index, Math.max(0, section.startLine), section.endLine + 1);
  const sectionItems = new Map<number, MergedItem[]>();
  const documentItems: MergedItem[] = [];
  for (const item of merged) {
    const sectionIndex = sectionAtLine[item.startLine] ?? -1;
    const list = sectionIndex >= 0 ? chunksBySection.get(sectionIndex) ?? [] : [];
    if (list.length === 0) {
      if (sectionIndex >= 0) sectionItems.set(sectionIndex, [...(sectionItems.get(sectionIndex) ?? []), item]);
      else documentItems.push(item);
      continue;
    }
    // The last chunk starting at or before the item (chunks are in text order).
    let lo = 0;
    let hi = list.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (list[mid]!.start <= item.start) lo = mid;
      else hi = mid - 1;
    }
    list[lo]!.items.push(item);
  }

  // Scores.
  for (const chunk of chunks) chunk.importance = chunkImportance(chunk, doc, minChunkTokens, recency);

  const drafts: MemoryDraft[] = [];
  const vectors = new Map<string, Float32Array>();
  const baseTags = options.agent ? [`agent:${options.agent}`] : [];
  const add = (draft: MemoryDraft, vector?: Float32Array | null) => {
    drafts.push({ ...draft, text: capText(draft.text, draft.metadata), tags: cleanTags([...draft.tags, ...baseTags]), importance: clamp01(draft.importance) });
    if (vector) vectors.set(draft.key, vector);
  };
  const itemDraft = (item: MergedItem, parentKey: string): MemoryDraft => ({
    key: `${docKey}/${item.kind}/${shortHash(item.dedupeKey)}`,
    parentKey,
    kind: item.kind,
    text: item.text,
    tags: item.tags,
    importance: item.importance,
    metadata: {
      ...item.metadata,
      lineStart: doc.index.lineNumber(item.startLine),
      lineEnd: doc.index.lineNumber(item.endLine),
      ...(item.count > 1 ? { occurrences: item.occurrences.map((o) => ({ lineStart: doc.index.lineNumber(o.startLine), lineEnd: doc.index.lineNumber(o.endLine) })) } : {}),
      ...(item.turn !== null ? { turn: item.turn, speaker: doc.turns[item.turn]!.speaker } : {}),
    },
  });
  const itemVector = (item: MergedItem) => (item.unit !== null && doc.units[item.unit]!.text === item.text ? unitVectors[item.unit] : null);

  // Document.
  const sectionVectors = new Map<number, Float32Array | null>();
  for (const section of doc.sections) sectionVectors.set(section.index, meanVector((chunksBySection.get(section.index) ?? []).map((c) => c.vector)));
  const documentVector = meanVector(chunks.map((c) => c.vector));
  const words = countWords(doc.text);
  if (doc.units.length === 0 && merged.length === 0) {
    return { drafts: [], vectors, stats: stats(doc, words, texts.length, embedCalls, 0, drafts, duplicates, { started, parsedAt, salientMs, embedMs, chunkStarted }) };
  }
  const speakers = [...new Set(doc.turns.map((t) => t.speaker))];
  add(
    {
      key: docKey,
      parentKey: null,
      kind: 'document',
      text: documentSummary(doc, speakers),
      tags: ['document', `format:${doc.format}`],
      importance: 0.6,
      metadata: {
        title: doc.title,
        format: doc.format,
        lineStart: 1,
        lineEnd: doc.index.lineNumber(doc.lines.length - 1),
        words,
        sections: doc.sections.length,
        ...(doc.turns.length > 0 ? { turns: doc.turns.length, speakers } : {}),
        ...(options.source ? { source: options.source } : {}),
        ...(options.project ? { project: options.project } : {}),
        ...(options.agent ? { agent: options.agent } : {}),
      },
    },
    documentVector,
  );
  for (const item of documentItems) add(itemDraft(item, docKey), itemVector(item));

  for (const section of doc.sections) {
    const list = chunksBySection.get(section.index) ?? [];
    const key = sectionKey(section);
    const parentKey = section.parent !== null ? sectionKey(doc.sections[section.parent]!) : docKey;
    const best = Math.max(0, ...list.map((c) => c.importance));
    add(
      {
        key,
        parentKey,
        kind: 'section',
        text: sectionText(section, list, doc),
        tags: ['section', ...(section.turns ? ['exchange'] : [])],
        importance: 0.2 + 0.6 * best,
        metadata: {
          heading: section.heading,
          level: section.level,
          ...(section.headingPath.length > 1 ? { headingPath: section.headingPath } : {}),
          lineStart: doc.index.lineNumber(Math.max(0, section.startLine)),
          lineEnd: doc.index.lineNumber(Math.max(section.startLine, section.endLine)),
          chunks: list.length,
          ...(section.turns ? { turnStart: section.turns[0], turnEnd: section.turns[1], speakers: sectionSpeakers(doc, section) } : {}),
        },
      },
      sectionVectors.get(section.index),
    );
    for (const item of sectionItems.get(section.index) ?? []) add(itemDraft(item, key), itemVector(item));
    for (const chunk of list) {
      const first = chunk.units[0]!;
      const last = chunk.units[chunk.units.length - 1]!;
      const chunkSpeakers = [...new Set(chunk.units.map((u) => (u.turn === null ? null : doc.turns[u.turn]!.speaker)).filter((s): s is string => s !== null))];
      add(
        {
          key: chunk.key,
          parentKey: key,
          kind: 'chunk',
          text: chunkText(chunk, doc),
          tags: ['chunk', ...(chunk.units.some((u) => u.kind === 'code') ? ['has-code'] : []), ...(chunk.units.some((u) => u.kind === 'trace') ? ['has-error'] : [])],
          importance: chunk.importance,
          metadata: {
            lineStart: doc.index.lineNumber(first.startLine),
            lineEnd: doc.index.lineNumber(last.endLine),
            tokens: chunk.tokens,
            units: chunk.units.length,
            ...(section.heading !== null ? { heading: section.heading } : {}),
            ...(chunkSpeakers.length > 0 ? { speakers: chunkSpeakers, turnStart: first.turn, turnEnd: last.turn } : {}),
          },
        },
        chunk.vector,
      );
      for (const item of chunk.items.sort((a, b) => a.start - b.start)) add(itemDraft(item, chunk.key), itemVector(item));
    }
  }

  return { drafts, vectors, stats: stats(doc, words, texts.length, embedCalls, chunks.length, drafts, duplicates, { started, parsedAt, salientMs, embedMs, chunkStarted }) };
}

// --- texts ------------------------------------------------------------------------------------------------------

function documentSummary(doc: ParsedDocument, speakers: string[]): string {
  const lines = [doc.title];
  if (doc.format === 'markdown') {
    const outline = doc.headings.filter((h) => h.level <= 3 && h.text !== doc.title).slice(0, 15).map((h) => h.text);
    if (outline.length > 0) lines.push(`Sections: ${outline.join('; ')}`);
  } else if (doc.turns.length > 0) {
    lines.push(`Conversation of ${doc.turns.length} turns between ${speakers.slice(0, 6).join(', ')}.`);
    const asks = doc.sections.filter((s) => s.heading !== null && s.turns !== null).slice(0, 6).map((s) => s.heading!);
    if (asks.length > 1) lines.push(`Topics: ${asks.map((a) => truncate(a, 90)).join('; ')}`);
  }
  const opening = doc.units.filter((u) => u.kind === 'sentence' && u.text !== doc.title && countWords(u.text) >= 3).slice(0, 3).map((u) => stripInlineMarkdown(u.text));
  if (opening.length > 0) lines.push(truncate(opening.join(' '), 400));
  return lines.join('\n');
}

function sectionText(section: Section, chunks: Chunk[], doc: ParsedDocument): string {
  const sentences = section.units.map((i) => doc.units[i]!).filter((u) => u.kind === 'sentence').slice(0, 3).map((u) => stripInlineMarkdown(u.text));
  const lead = truncate(firstWords(sentences.join(' '), 50), 400);
  const heading = section.heading ?? (chunks.length > 0 ? '' : doc.title);
  const text = [heading, lead].filter((s) => s.trim() !== '').join('\n');
  return text.trim() !== '' ? text : doc.title;
}

function chunkText(chunk: Chunk, doc: ParsedDocument): string {
  const first = chunk.units[0]!;
  const lineStart = doc.index.starts[first.startLine]!;
  // Keep the speaker label when the chunk starts a turn; name the speaker when it starts mid-turn.
  let start = chunk.start;
  let prefix = '';
  if (first.turn !== null) {
    const turn = doc.turns[first.turn]!;
    if (turn.startLine === first.startLine && doc.text.slice(lineStart + turn.prefixLength, chunk.start).trim() === '' && turn.prefixLength < doc.lines[first.startLine]!.length) start = lineStart;
    else prefix = `${turn.speaker}: `;
  } else if (doc.text.slice(lineStart, chunk.start).trim() === '') start = lineStart;
  return prefix + doc.text.slice(start, chunk.end);
}

function capText(text: string, metadata: Record<string, unknown>): string {
  const trimmed = text.trim();
  if (trimmed.length <= MAX_DRAFT_TEXT) return trimmed;
  metadata.truncated = true;
  metadata.originalLength = trimmed.length;
  return trimmed.slice(0, MAX_DRAFT_TEXT - 1) + '…';
}

function cleanTags(tags: string[]): string[] {
  const out: string[] = [];
  for (const raw of tags) {
    const tag = raw.trim().slice(0, MAX_TAG_LENGTH).trim();
    if (tag !== '' && !out.includes(tag)) out.push(tag);
    if (out.length === MAX_TAGS) break;
  }
  return out;
}

function sectionSpeakers(doc: ParsedDocument, section: Section): string[] {
  if (!section.turns) return [];
  return [...new Set(doc.turns.slice(section.turns[0], section.turns[1] + 1).map((t) => t.speaker))];
}

// --- chunk informativeness ----------------------------------------------------------------------------------------

/**
 * How much a chunk is worth remembering, 0.05..0.72 (salient items score higher): lexical density, concrete detail
 * (numbers, identifiers, paths, code), the salient items found in it, its size, minus small talk.
 */
function chunkImportance(chunk: Chunk, doc: ParsedDocument, minTokens: number, recency: boolean): number {
  const text = chunk.units.map((u) => u.text).join(' ');
  const words = text.toLowerCase().split(/[^\p{L}\p{N}_'-]+/u).filter(Boolean);
  const content = new Set(words.filter((w) => w.length >= 3 && !STOPWORDS.has(w)));
  const density = words.length === 0 ? 0 : Math.min(1, content.size / words.length / 0.5);
  const specifics = Math.min(1, (text.match(/\d+|`[^`]+`|[\w-]+\/[\w./-]+|\w\(\)|\b[a-z]+[A-Z]\w*|\b[A-Z]{2,}\b/g)?.length ?? 0) / 6);
  const salient = Math.min(1, chunk.items.filter((i) => !i.tags.includes('path') && !i.tags.includes('url') && !i.tags.includes('symbol')).reduce((n, i) => n + i.importance, 0) / 1.5);
  const hasBlocks = chunk.units.some((u) => u.kind !== 'sentence') ? 1 : 0;
  const sentences = chunk.units.filter((u) => u.kind === 'sentence');
  const smallTalk = sentences.length === 0 ? 0 : sentences.filter((u) => isSmallTalk(u.text)).length / sentences.length;
  const size = Math.min(1, approxTokens(text) / Math.max(1, 2 * minTokens));
  let importance = 0.12 + 0.26 * density * size + 0.12 * specifics + 0.16 * salient + 0.04 * hasBlocks;
  importance *= 1 - 0.75 * smallTalk;
  if (recency && doc.text.length > 0) importance += 0.05 * (chunk.start / doc.text.length);
  return Math.min(0.72, Math.max(0.05, importance));
}

// --- stats ----------------------------------------------------------------------------------------------------------

function stats(
  doc: ParsedDocument,
  words: number,
  embeddedTexts: number,
  embedCalls: number,
  chunkCount: number,
  drafts: MemoryDraft[],
  duplicatesMerged: number,
  t: { started: number; parsedAt: number; salientMs: number; embedMs: number; chunkStarted: number },
): ExtractResult['stats'] {
  const now = performance.now();
  const draftsByKind = { document: 0, section: 0, chunk: 0, fact: 0, decision: 0, task: 0, error: 0, code: 0, note: 0 } satisfies Record<DraftKind, number>;
  for (const d of drafts) draftsByKind[d.kind]++;
  const round = (ms: number) => Math.round(ms * 100) / 100;
  return {
    format: doc.format,
    lines: doc.lines.length,
    words,
    approxTokens: Math.ceil(words * 1.3),
    sections: doc.sections.length,
    turns: doc.turns.length,
    units: doc.units.length,
    embeddedTexts,
    embedCalls,
    chunks: chunkCount,
    drafts: drafts.length,
    draftsByKind,
    duplicatesMerged,
    timings: {
      parseMs: round(t.parsedAt - t.started),
      salientMs: round(t.salientMs),
      embedMs: round(t.embedMs),
      chunkMs: round(now - t.chunkStarted),
      totalMs: round(now - t.started),
    },
  };
}
