/**
 * How hits are ranked. Relevance is the query's cosine similarity with the memory plus a weighted keyword
 * coverage (the IDF-weighted share of the query's words the memory contains, so one common word adds little);
 * a memory holding a rare identifier of the query (a commit, ticket, error code, path) ranks above all others.
 * Importance and recency then adjust it a little. A hit that does not stand out from the next candidates (and has
 * no exact identifier) is flagged `weak`: nothing stored answers the question well; more so when it lacks the kind
 * of answer the question asks for (answer-type.ts). Pure functions, so the ranking
 * can be tested on its own.
 * The weights were calibrated on the tune half of test/memory/fixtures/retrieval-quality.json only.
 */
import type { MemoryScores } from '../../shared/memory-protocol';

/**
 * How much full keyword coverage adds to a cosine similarity. On the tune half, 0.5 placed the right note first for
 * 71/93 answerable questions (0: 54, 0.2: 66, 1.0: 73); more would let word overlap outvote the meaning.
 */
export const KEYWORD_WEIGHT = 0.5;
/** Added to the relevance of a memory holding a rare identifier of the query: more than any other can reach. */
export const EXACT_BONUS = 3;
/**
 * A hit is weak when it does not stand out from the crowd of loosely related memories by at least WEAK_LEAD of
 * relevance: an answer usually does, a near miss does not. Its relevance alone says little: questions about the
 * project that nothing answers reach the similarities of right answers (USE-lite on in-domain text). Chosen on the
 * tune half, on its questions nothing answers: the 19 written with the set and 40 in-domain ones added later. At 0.11
 * it flags 83% of them (49/59; 0.10: 76%) and the right first answer of 11 of the 93 answerable questions (0.10: 6).
 * The previous 0.09 was chosen on answerable questions asked with their note held back, which proved easier to flag
 * than written ones: it flags 23 of the 40 added. Other signals tried on the same half (margin over the second hit,
 * vector-only lead, z-scores against the project's similarities, keyword rank, rare query words matched,
 * word-to-memory similarities) separated no better than the lead alone.
 * Values for the built-in encoder (USE-lite); other models spread their similarities differently.
 */
export const WEAK_LEAD = 0.11;
/**
 * The lead a hit needs when the question asks for a kind of answer it does not hold (answer-type.ts: "who ..." and no
 * person in it, "when ..." and no date): such a hit is seldom the answer, however close its subject, so only one that
 * stands far out of the crowd is trusted. Chosen on the tune half: 13 of its 59 questions nothing answers ask for a
 * kind their first hit lacks, 4 of them with a lead of 0.11-0.19, all flagged from 0.19 up (49 -> 53 of 59); none of
 * its right first answers lacks the kind asked for, so none more is flagged at any value. Five-fold cross-validation
 * on the half, taking the least value that did best on four folds, flagged 49-52 of the 59 held-out questions (0.11
 * alone: 49). 0.25 rather than 0.19: the tune half cannot tell them apart, and leads run larger in a small project.
 */
export const WEAK_LEAD_WITHOUT_ANSWER = 0.25;
/**
 * Below this relevance a hit is weak however it stands out (a nonsense query in a project of a few memories): under
 * every right first answer of the tune half (the lowest 0.39).
 */
export const WEAK_RELEVANCE = 0.35;
/** Candidates after the first whose mean relevance is the crowd a hit must stand out from. */
export const CROWD = 5;
const DAY_MS = 86_400_000;

export interface RankingOptions {
  /** Days after which an unused memory counts half as much. */
  halfLifeDays: number;
}

export interface Candidate {
  id: number;
  vectorRank?: number;
  vectorSimilarity: number;
  keywordRank?: number;
  /** IDF-weighted share of the query's words in the memory (0-1). */
  keywordCoverage: number;
  /** How many rare identifiers of the query the memory holds. */
  exactMatches: number;
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
  const relevance = candidate.vectorSimilarity + KEYWORD_WEIGHT * candidate.keywordCoverage;
  const exact = candidate.exactMatches > 0;
  const recency = recencyFactor(candidate.lastUsedAt, now, options.halfLifeDays);
  // Importance and recency adjust relevance, they do not replace it: together they move a hit by at most ~1.5x,
  // less than the exact-identifier bonus, so an exact match stays first.
  const final = (relevance + (exact ? EXACT_BONUS * candidate.exactMatches : 0)) * (0.9 + 0.2 * candidate.importance) * (0.8 + 0.2 * recency);
  return {
    vectorRank: candidate.vectorRank ?? null,
    vectorSimilarity: candidate.vectorSimilarity,
    keywordRank: candidate.keywordRank ?? null,
    keywordScore: candidate.keywordCoverage,
    exact,
    fused: relevance,
    importance: candidate.importance,
    recency,
    final,
  };
}

/** The mean relevance of the candidates ranked 2 to CROWD + 1 (all candidates, best first). */
export function crowdRelevance(ranked: MemoryScores[]): number {
  const crowd = ranked.slice(1, 1 + CROWD);
  return crowd.length === 0 ? 0 : crowd.reduce((sum, scores) => sum + scores.fused, 0) / crowd.length;
}

/**
 * Whether a hit is a weak match: no exact identifier, and the query was made of identifiers only (none of which is
 * stored), or its relevance is under WEAK_RELEVANCE, or it leads the crowd by less than WEAK_LEAD (WEAK_LEAD_WITHOUT_ANSWER
 * when `lacksWantedType`: the question asks for a kind of answer, a person or a date, that the hit does not hold).
 */
export function isWeak(scores: MemoryScores, crowd: number, identifiersOnly: boolean, lacksWantedType = false): boolean {
  if (scores.exact) return false;
  return identifiersOnly || scores.fused < WEAK_RELEVANCE || scores.fused - crowd < (lacksWantedType ? WEAK_LEAD_WITHOUT_ANSWER : WEAK_LEAD);
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
