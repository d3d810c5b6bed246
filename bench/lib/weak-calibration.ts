/**
 * Calibration data for the weak-match flag, from the TUNE half only (`npm run bench -- memory-quality --calibrate`).
 * Three kinds of question nothing answers: the half's no-answer questions written with the set, the 40 in-domain ones
 * added to the half later (`added`), and every answerable question asked again as if its note were not stored (the
 * hits with the right note taken out, the lead of the first remaining hit over the next five). The held-back ones
 * proved easier to flag than written ones, so the threshold is chosen on the written and added ones. Prints, per threshold on the lead, the share of
 * each kind flagged and of right first answers flagged; then the same with the answer-type rule, per threshold for
 * first hits that lack the kind of answer their question asks for. The report half is never asked here.
 */
import type { MemoryStore } from '../../src/main/memory/store';
import { lacksWantedType, wantedAnswerType } from '../../src/main/memory/answer-type';
import { CROWD, WEAK_LEAD, WEAK_LEAD_WITHOUT_ANSWER, WEAK_RELEVANCE } from '../../src/main/memory/ranking';
import { MemorySearchQuery } from '../../src/shared/memory-protocol';
import type { QualitySet } from './memory-quality';
import { printTable } from './table';

interface Case {
  /** What a weak flag on its first hit would be: right (no answer) or wrong (a right first answer). */
  kind: 'written' | 'added' | 'held-back' | 'right';
  relevance: number;
  lead: number;
  /** The question asks for a kind of answer (a person, a date...) the first hit does not hold (answer-type.ts). */
  lacksType: boolean;
}

function firstOf(question: string, hits: Array<{ fused: number; exact: boolean; text: string }>): Case | null {
  const [first, ...rest] = hits;
  if (!first || first.exact) return null;
  const crowd = rest.slice(0, CROWD);
  const mean = crowd.length === 0 ? 0 : crowd.reduce((sum, hit) => sum + hit.fused, 0) / crowd.length;
  return { kind: 'right', relevance: first.fused, lead: first.fused - mean, lacksType: lacksWantedType(wantedAnswerType(question), first.text) };
}

export async function weakCalibration(store: MemoryStore, set: QualitySet, ids: Map<string, string>): Promise<void> {
  const cases: Case[] = [];
  for (const question of set.questions.filter((q) => q.half === 'tune')) {
    const query = MemorySearchQuery.parse({ q: question.q, k: 1 + CROWD * 2, project: question.project, scope: 'project' });
    const { hits } = await store.search(query, { project: question.project, agent: null });
    const scores = hits.map((hit) => ({ id: hit.memory.id, fused: hit.scores.fused, exact: hit.scores.exact, text: hit.memory.text }));
    if (question.expect === null) {
      const c = firstOf(question.q, scores);
      if (c) cases.push({ ...c, kind: question.added ? 'added' : 'written' });
      continue;
    }
    const expected = ids.get(question.expect);
    if (scores[0]?.id === expected) {
      const c = firstOf(question.q, scores);
      if (c) cases.push(c);
    }
    const held = firstOf(question.q, scores.filter((hit) => hit.id !== expected));
    if (held) cases.push({ ...held, kind: 'held-back' });
  }
  const share = (kind: Case['kind'], weak: (c: Case) => boolean) => {
    const of = cases.filter((c) => c.kind === kind);
    return `${((100 * of.filter(weak).length) / Math.max(1, of.length)).toFixed(1)}% (${of.filter(weak).length}/${of.length})`;
  };
  const columns = ['no-answer flagged: written with the set', 'added later', 'held-back', 'right first answers flagged'];
  printTable(
    `Weak flag on the tune half: relevance < ${WEAK_RELEVANCE} or lead over the next ${CROWD} < threshold (first hits without an exact identifier; the answer-type rule left out)`,
    ['lead threshold', ...columns],
    [0.07, 0.08, 0.09, 0.1, 0.105, 0.11, 0.12, 0.13].map((threshold) => {
      const weak = (c: Case) => c.relevance < WEAK_RELEVANCE || c.lead < threshold;
      return [`${threshold}${threshold === WEAK_LEAD ? ' (in use)' : ''}`, share('written', weak), share('added', weak), share('held-back', weak), share('right', weak)];
    }),
  );
  const lacking = (kind: Case['kind']) => `${cases.filter((c) => c.kind === kind && c.lacksType).length}`;
  printTable(
    `With the answer-type rule: lead < ${WEAK_LEAD}, or < threshold when the question asks for a kind of answer the first hit lacks (first hits lacking it: written ${lacking('written')}, added ${lacking('added')}, held-back ${lacking('held-back')}, right ${lacking('right')})`,
    ['lead threshold when the kind is lacking', ...columns],
    [0.11, 0.13, 0.15, 0.17, 0.19, 0.2, 0.25, 0.3, Infinity].map((threshold) => {
      const weak = (c: Case) => c.relevance < WEAK_RELEVANCE || c.lead < (c.lacksType ? threshold : WEAK_LEAD);
      const name = threshold === Infinity ? 'any lead' : `${threshold}`;
      return [`${name}${threshold === WEAK_LEAD_WITHOUT_ANSWER ? ' (in use)' : threshold === WEAK_LEAD ? ' (no answer-type rule)' : ''}`, share('written', weak), share('added', weak), share('held-back', weak), share('right', weak)];
    }),
  );
}
