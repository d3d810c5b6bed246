/**
 * Calibration data for the weak-match flag, from the TUNE half only (`npm run bench -- memory-quality --calibrate`).
 * Besides the half's written no-answer questions it asks every answerable question again as if its note were not
 * stored: the hits with the right note taken out, the lead of the first remaining hit over the next five. Those are
 * in-domain questions nothing answers, the hard kind (their similarities reach those of right answers), and there are
 * five times as many of them. Prints, per threshold on the lead, the share of both kinds flagged and of right first
 * answers flagged. The report half is never asked here.
 */
import type { MemoryStore } from '../../src/main/memory/store';
import { CROWD, WEAK_LEAD, WEAK_RELEVANCE } from '../../src/main/memory/ranking';
import { MemorySearchQuery } from '../../src/shared/memory-protocol';
import type { QualitySet } from './memory-quality';
import { printTable } from './table';

interface Case {
  /** What a weak flag on its first hit would be: right (no answer) or wrong (a right first answer). */
  kind: 'written' | 'held-back' | 'right';
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
      if (c) cases.push({ ...c, kind: 'written' });
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
    ['lead threshold', 'written no-answer flagged', 'held-back no-answer flagged', 'right first answers flagged'],
    [0.05, 0.07, 0.08, 0.09, 0.1, 0.12].map((threshold) => {
      const weak = (c: Case) => c.relevance < WEAK_RELEVANCE || c.lead < threshold;
      return [`${threshold}${threshold === WEAK_LEAD ? ' (in use)' : ''}`, share('written', weak), share('held-back', weak), share('right', weak)];
    }),
  );
}
