/**
 * How hits are ranked: the vector list and the keyword list are fused by reciprocal rank (robust to their
 * incomparable scores), then weighed by importance and by recency of use. Pure functions, so the ranking can be
 * tested and explained on its own.
 */
import type { MemoryScores } from '../../shared/memory-protocol';

/**
 * The RRF constant. 60 is usual for long web result lists; our lists are short and their top ranks matter, so a
 * smaller constant keeps rank 1 clearly ahead of rank 6 (measured on the labelled set in test/memory/fixtures:
 * with 60, importance alone reordered top hits).
 */
export const RRF_K = 10;
/** The keyword list counts a bit less than the vector list: it cannot tell a question from a statement. */
export const KEYWORD_WEIGHT = 0.6;
const DAY_MS = 86_400_000;

export interface RankingOptions {
  /** Days after which an unused memory counts half as much. */
  halfLifeDays: number;
}

export interface Candidate {
  id: number;
  vectorRank?: number;
  vectorSimilarity?: number;
  keywordRank?: number;
  keywordScore?: number;
  importance: number;
  /** Last use (or creation), ms since epoch. */
  lastUsedAt: number;
}

/** 0.5 ** (age / half-life), floored so an old but exact answer is demoted, never buried. */
export function recencyFactor(lastUsedAt: number, now: number, halfLifeDays: number): number {
  const ageDays = Math.max(0, now - lastUsedAt) / DAY_MS;
  return Math.max(0.05, 0.5 ** (ageDays / halfLifeDays));
}

export function scoreCandidate(candidate: Candidate, now: number, options: RankingOptions): MemoryScores {
  const fused =
    (candidate.vectorRank === undefined ? 0 : 1 / (RRF_K + candidate.vectorRank)) +
    KEYWORD_WEIGHT * (candidate.keywordRank === undefined ? 0 : 1 / (RRF_K + candidate.keywordRank));
  const recency = recencyFactor(candidate.lastUsedAt, now, options.halfLifeDays);
  // Importance and recency adjust relevance, they do not replace it: importance moves a hit by at most 1.35x,
  // recency by at most 2x (a memory unused for many half-lives).
  const final = fused * (0.85 + 0.3 * candidate.importance) * (0.5 + 0.5 * recency);
  return {
    vectorRank: candidate.vectorRank ?? null,
    vectorSimilarity: candidate.vectorSimilarity ?? null,
    keywordRank: candidate.keywordRank ?? null,
    keywordScore: candidate.keywordScore ?? null,
    fused,
    importance: candidate.importance,
    recency,
    final,
  };
}

/** Default importance by kind, for memories stored without one. */
export const KIND_IMPORTANCE: Record<string, number> = {
  decision: 0.8,
  error: 0.75,
  task: 0.65,
  code: 0.55,
  fact: 0.5,
  note: 0.45,
  document: 0.4,
  section: 0.35,
  chunk: 0.3,
};
