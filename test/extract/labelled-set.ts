/**
 * The labelled extraction set (test/extract/fixtures/labelled/): realistic documents with the items a person would
 * keep, and the scorer that gives precision and recall per kind for one half of the set. Used by
 * test/extract/quality.test.ts (floors on the report half) and bench/extract-quality.ts (the table in
 * docs/benchmarks.md).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExtractOptions, MemoryDraft } from '../../src/main/extract';
import { extractMemories } from '../../src/main/extract';

export const LABELLED_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'labelled');

export const SCORED_KINDS = ['decision', 'task', 'error', 'command', 'path', 'url'] as const;
export type ScoredKind = (typeof SCORED_KINDS)[number];

export interface ExpectedItem {
  kind: ScoredKind;
  /** decision, task, error: every string must be in the item's text (case-insensitive). */
  match?: string[];
  command?: string;
  path?: string;
  url?: string;
  /** Neither required nor counted against precision when found. */
  optional?: boolean;
}

interface Labels {
  split: { tuning: string[]; report: string[] };
  documents: Record<string, ExpectedItem[]>;
}

export type Half = 'tuning' | 'report';

export function readLabels(): Labels {
  return JSON.parse(readFileSync(path.join(LABELLED_DIR, 'labels.json'), 'utf8')) as Labels;
}

/** The scored kind of a draft, or null for drafts this set does not score (chunks, notes, symbols, code blocks…). */
export function scoredKind(draft: MemoryDraft): ScoredKind | null {
  if (draft.kind === 'decision' || draft.kind === 'task' || draft.kind === 'error') return draft.kind;
  if (draft.kind === 'code' && draft.tags.includes('command')) return 'command';
  if (draft.kind === 'fact' && draft.tags.includes('path')) return 'path';
  if (draft.kind === 'fact' && draft.tags.includes('url')) return 'url';
  return null;
}

function matches(draft: MemoryDraft, expected: ExpectedItem): boolean {
  switch (expected.kind) {
    case 'command':
      return String(draft.metadata.command ?? '').replace(/\s+/g, ' ').trim() === expected.command;
    case 'path':
      return draft.metadata.path === expected.path;
    case 'url':
      return draft.metadata.url === expected.url;
    default: {
      // Line wrapping is not content.
      const text = draft.text.replace(/\s+/g, ' ').toLowerCase();
      return (expected.match ?? []).every((m) => text.includes(m.replace(/\s+/g, ' ').toLowerCase()));
    }
  }
}

export interface KindScore {
  kind: ScoredKind;
  expected: number;
  found: number;
  extracted: number;
  correct: number;
  precision: number;
  recall: number;
}

export interface DocumentReport {
  document: string;
  /** Required items nothing matched. */
  missed: ExpectedItem[];
  /** Extracted items that match no expected item, or repeat one already matched. */
  unexpected: Array<{ kind: ScoredKind; text: string }>;
}

export interface HalfScore {
  half: Half;
  documents: number;
  kinds: KindScore[];
  all: KindScore;
  details: DocumentReport[];
}

/** Scores one document's drafts: each expected item is matched by at most one draft; a second match is a repeat. */
export function scoreDocument(document: string, drafts: MemoryDraft[], expected: ExpectedItem[]) {
  const counts = new Map<ScoredKind, { expected: number; found: number; extracted: number; correct: number }>();
  const count = (kind: ScoredKind) => counts.get(kind) ?? counts.set(kind, { expected: 0, found: 0, extracted: 0, correct: 0 }).get(kind)!;
  const matched = new Set<ExpectedItem>();
  const unexpected: DocumentReport['unexpected'] = [];
  for (const item of expected) if (!item.optional) count(item.kind).expected++;
  for (const draft of drafts) {
    const kind = scoredKind(draft);
    if (kind === null) continue;
    const candidates = expected.filter((e) => e.kind === kind && matches(draft, e));
    const fresh = candidates.find((e) => !matched.has(e));
    if (fresh) {
      matched.add(fresh);
      if (fresh.optional) continue;
      count(kind).extracted++;
      count(kind).correct++;
      count(kind).found++;
    } else if (candidates.length > 0 && candidates.every((e) => e.optional)) {
      continue;
    } else {
      count(kind).extracted++;
      unexpected.push({ kind, text: draft.text.slice(0, 160) });
    }
  }
  const missed = expected.filter((e) => !e.optional && !matched.has(e));
  return { counts, report: { document, missed, unexpected } satisfies DocumentReport };
}

const ratio = (a: number, b: number) => (b === 0 ? 1 : a / b);

/** Extracts every document of a half and scores it per kind. */
export async function scoreHalf(half: Half, embed: ExtractOptions['embed']): Promise<HalfScore> {
  const labels = readLabels();
  const totals = new Map<ScoredKind, { expected: number; found: number; extracted: number; correct: number }>();
  const details: DocumentReport[] = [];
  for (const document of labels.split[half]) {
    const text = readFileSync(path.join(LABELLED_DIR, document), 'utf8');
    const { drafts } = await extractMemories(text, { embed, source: document });
    const { counts, report } = scoreDocument(document, drafts, labels.documents[document] ?? []);
    details.push(report);
    for (const [kind, c] of counts) {
      const t = totals.get(kind) ?? { expected: 0, found: 0, extracted: 0, correct: 0 };
      totals.set(kind, { expected: t.expected + c.expected, found: t.found + c.found, extracted: t.extracted + c.extracted, correct: t.correct + c.correct });
    }
  }
  const score = (kind: ScoredKind, c = totals.get(kind) ?? { expected: 0, found: 0, extracted: 0, correct: 0 }): KindScore => ({
    kind,
    ...c,
    precision: ratio(c.correct, c.extracted),
    recall: ratio(c.found, c.expected),
  });
  const kinds = SCORED_KINDS.map((kind) => score(kind));
  const sum = kinds.reduce((a, k) => ({ expected: a.expected + k.expected, found: a.found + k.found, extracted: a.extracted + k.extracted, correct: a.correct + k.correct }), { expected: 0, found: 0, extracted: 0, correct: 0 });
  return { half, documents: labels.split[half].length, kinds, all: { ...score('decision', sum), kind: 'all' as ScoredKind }, details };
}
