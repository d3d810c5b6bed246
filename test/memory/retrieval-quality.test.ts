/**
 * Retrieval quality floors on the report half of the labelled set (test/memory/fixtures/retrieval-quality.json),
 * asked among ~2,400 notes in a real store: SQLite, FAISS and the built-in ONNX encoder. The figures themselves are
 * printed by `npm run bench -- memory-quality`; these floors keep them from sliding back.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { askAll, distractorNotes, figures, loadNotes, loadQualitySet, share, type QuestionOutcome } from '../../bench/lib/memory-quality';
import { ensureDefaultEncoder, OnnxSentenceEncoder } from '../../src/main/embedding';
import { MemoryStore } from '../../src/main/memory/store';
import { MemorySearchQuery } from '../../src/shared/memory-protocol';

const set = loadQualitySet();
let dataDir: string;
let encoder: OnnxSentenceEncoder;
let store: MemoryStore;
let ids: Map<string, string>;
let outcomes: QuestionOutcome[];

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'retrieval-quality-'));
  encoder = await OnnxSentenceEncoder.load(await ensureDefaultEncoder(path.resolve('resources')));
  store = await MemoryStore.open({ dataDir, encoder, halfLifeDays: 30, dedupeSimilarity: 0.95 });
  ids = await loadNotes(store, set.notes, distractorNotes(set, 4800), 2400);
  outcomes = await askAll(store, set, ids);
}, 600_000);

afterAll(async () => {
  await store?.close();
  await encoder?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('retrieval quality on the report half, among ~2,400 notes', () => {
  it('has the labelled set the issue asks for, split before tuning', () => {
    const answerable = set.questions.filter((q) => q.kind !== 'none');
    expect(set.questions.length).toBeGreaterThanOrEqual(200);
    expect(set.notes.length).toBeGreaterThanOrEqual(120);
    expect(new Set(set.notes.map((n) => n.project)).size).toBeGreaterThanOrEqual(3);
    expect(set.questions.filter((q) => q.kind === 'identifier').length).toBeGreaterThanOrEqual(40);
    expect(set.questions.filter((q) => q.kind === 'none').length).toBeGreaterThanOrEqual(30);
    expect(answerable.every((q) => set.notes.some((n) => n.key === q.expect && n.project === q.project))).toBe(true);
    // The split as made before any tuning; questions added later: 40 unanswerable ones to the tune half (added:
    // true), then 40 to the report half (added: 'report-2'), 10 per project each time; then 20 to the tune half
    // (added: 'tune-2', 5 per project, some answered) to check the answer-type rule on questions it was not chosen on.
    const added = (mark: true | 'report-2' | 'tune-2') => set.questions.filter((q) => q.added === mark);
    expect([...added(true), ...added('report-2')].every((q) => q.kind === 'none')).toBe(true);
    expect([...added(true), ...added('tune-2')].every((q) => q.half === 'tune')).toBe(true);
    expect(added('report-2').every((q) => q.half === 'report')).toBe(true);
    for (const [mark, each] of [[true, 10], ['report-2', 10], ['tune-2', 5]] as const) {
      for (const project of ['ledger', 'atlas', 'harbor', 'quill']) expect(added(mark).filter((q) => q.project === project)).toHaveLength(each);
    }
    for (const kind of ['paraphrase', 'identifier', 'none'] as const) {
      const ofKind = set.questions.filter((q) => q.kind === kind && !q.added);
      expect(Math.abs(ofKind.filter((q) => q.half === 'tune').length - ofKind.filter((q) => q.half === 'report').length)).toBeLessThanOrEqual(1);
    }
    expect(store.stats().total).toBeGreaterThanOrEqual(2390);
  });

  it('puts the right note first and in the top 5 for most answerable questions', () => {
    const report = figures(outcomes, 'report');
    expect(share(report.first, report.answerable)).toBeGreaterThanOrEqual(0.7);
    expect(share(report.top5, report.answerable)).toBeGreaterThanOrEqual(0.85);
  });

  it('finds exact identifiers first (commits, tickets, error codes, paths)', () => {
    const report = figures(outcomes, 'report');
    expect(share(report.identifier.first, report.identifier.questions)).toBeGreaterThanOrEqual(0.95);
  });

  it('flags a weak first hit for questions nothing answers, rarely for right answers', () => {
    const report = figures(outcomes, 'report');
    expect(share(report.none.recognised, report.none.questions)).toBeGreaterThanOrEqual(0.75);
    expect(share(report.falseWeak, report.answerable)).toBeLessThanOrEqual(0.15);
  });

  it('ranks the note of commit 9f3c2ab71e first among 2,400 notes, with k = 5 (the issue\'s case)', async () => {
    const result = await store.search(MemorySearchQuery.parse({ q: '9f3c2ab71e', k: 5, project: 'ledger' }), { project: 'ledger', agent: null });
    expect(result.hits[0]!.memory.id).toBe(ids.get('ledger/double-charge'));
    expect(result.hits[0]!.scores.exact).toBe(true);
    expect(result.hits[0]!.weak).toBe(false);
    expect(result.hits.slice(1).every((hit) => !hit.scores.exact)).toBe(true);
  });

  it('answers a nonsense query with weak hits only, not confident ones', async () => {
    const result = await store.search(MemorySearchQuery.parse({ q: 'purple elephants juggling on the moon', k: 5, project: 'quill' }), { project: 'quill', agent: null });
    expect(result.hits.length).toBeGreaterThan(0);
    expect(result.hits.every((hit) => hit.weak)).toBe(true);
  });
});
