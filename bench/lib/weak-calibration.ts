/**
 * Calibration data for the weak-match flag, from the TUNE half only (`npm run bench -- memory-quality --calibrate`).
 * Three kinds of question nothing answers: the half's no-answer questions written with the set, the 40 in-domain ones
 * added to the half later (`added`), and every answerable question asked again as if its note were not stored (the
 * hits with the right note taken out, the lead of the first remaining hit over the next five). The held-back ones
 * proved easier to flag than written ones, so the threshold is chosen on the written and added ones. Prints, per threshold on the lead, the share of
 * each kind flagged and of right first answers flagged. The report half is never asked here.
 */
import type { MemoryStore } from '../../src/main/memory/store';
import { CROWD, WEAK_LEAD, WEAK_RELEVANCE } from '../../src/main/memory/ranking';
import { MemorySearchQuery } from '../../src/shared/memory-protocol';
import type { QualitySet } from './memory-quality';
import { printTable } from './table';

interface Case {
  /** What a weak flag on its first hit would be: right (no answer) or wrong (a right first answer). */
  kind: 'written' | 'added' | 'held-back' | 'right';
  relevance: number;
  lead: number;
}

function firstOf(hits: Array<{ fused: number; exact: boolean }>): Case | null {
  const [first, ...rest] = hits;
  if (!first || first.exact) return null;
  const crowd = rest.slice(0, CROWD);
  const mean = crowd.length === 0 ? 0 : crowd.reduce((sum, hit) => sum + hit.fused, 0) / crowd.length;
  return { kind: 'right', relevance: first.fused, lead: first.fused - mean };
}

export async function weakCalibration(store: MemoryStore, set: QualitySet, ids: Map<string, string>): Promise<void> {
  const cases: Case[] = [];
  for (const question of set.questions.filter((q) => q.half === 'tune')) {
    const query = MemorySearchQuery.parse({ q: question.q, k: 1 + CROWD * 2, project: question.project, scope: 'project' });
    const { hits } = await store.search(query, { project: question.project, agent: null });
    const scores = hits.map((hit) => ({ id: hit.memory.id, fused: hit.scores.fused, exact: hit.scores.exact }));
    if (question.expect === null) {
      const c = firstOf(scores);
      if (c) cases.push({ ...c, kind: question.added ? 'added' : 'written' });
      continue;
    }
    const expected = ids.get(question.expect);
    if (scores[0]?.id === expected) {
      const c = firstOf(scores);
      if (c) cases.push(c);
    }
    const held = firstOf(scores.filter((hit) => hit.id !== expected));
    if (held) cases.push({ ...held, kind: 'held-back' });
  }
  const share = (kind: Case['kind'], weak: (c: Case) => boolean) => {
    const of = cases.filter((c) => c.kind === kind);
    return `${((100 * of.filter(weak).length) / Math.max(1, of.length)).toFixed(1)}% (${of.filter(weak).length}/${of.length})`;
  };
  printTable(
    `Weak flag on the tune half: relevance < ${WEAK_RELEVANCE} or lead over the next ${CROWD} < threshold (first hits without an exact identifier)`,
    ['lead threshold', 'no-answer flagged: written with the set', 'added later', 'held-back', 'right first answers flagged'],
    [0.07, 0.08, 0.09, 0.1, 0.105, 0.11, 0.12, 0.13].map((threshold) => {
      const weak = (c: Case) => c.relevance < WEAK_RELEVANCE || c.lead < threshold;
      return [`${threshold}${threshold === WEAK_LEAD ? ' (in use)' : ''}`, share('written', weak), share('added', weak), share('held-back', weak), share('right', weak)];
    }),
  );
}
