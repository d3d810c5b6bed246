/** The keyword side's pieces and the ranking formula on their own: identifiers, IDF coverage, exact-match bonus. */
import { describe, expect, it } from 'vitest';
import { coverage, queryTerms, stem } from '../../src/main/memory/keyword';
import { crowdRelevance, EXACT_BONUS, isWeak, scoreCandidate, WEAK_LEAD, WEAK_RELEVANCE } from '../../src/main/memory/ranking';

describe('query terms', () => {
  it('tells identifiers from words', () => {
    expect(queryTerms('why 8b35d1f06c? see LED-412 and src/billing/proration.ts').identifiers).toEqual(['8b35d1f06c', 'LED-412', 'src/billing/proration.ts']);
    expect(queryTerms('REFUND_APPROVAL_THRESHOLD in downgradeMidCycle() of libhermes.so').identifiers).toEqual([
      'REFUND_APPROVAL_THRESHOLD',
      'downgradeMidCycle',
      'libhermes.so',
    ]);
    // Hyphenated words, short numbers and stop words are not identifiers.
    const plain = queryTerms('does a big sign-off need 2 people, and what is the e-mail of the on-call?');
    expect(plain.identifiers).toEqual([]);
    expect(plain.words).toEqual(['big', 'sign', 'off', 'need', '2', 'people', 'e', 'mail', 'call']);
  });

  it('scores coverage by IDF, so a common word adds little and a rare one much', () => {
    const words = [
      { stem: stem('database'), idf: 0.4 },
      { stem: stem('deadlocks'), idf: 6 },
    ];
    expect(coverage('The database runs on port 5432.', words)).toBeCloseTo(0.4 / 6.4);
    expect(coverage('A deadlock between the two nightly jobs.', words)).toBeCloseTo(6 / 6.4);
    expect(coverage('Nothing in common here.', words)).toBe(0);
  });
});

describe('scoreCandidate', () => {
  const base = { id: 1, vectorSimilarity: 0.3, keywordCoverage: 0, exactMatches: 0, importance: 0.5, lastUsedAt: Date.now() };
  const now = Date.now();

  it('does not let one common shared word outrank a strong vector match', () => {
    const commonWord = scoreCandidate({ ...base, vectorSimilarity: 0.35, keywordCoverage: 0.06 }, now, { halfLifeDays: 30 });
    const meaning = scoreCandidate({ ...base, vectorSimilarity: 0.6 }, now, { halfLifeDays: 30 });
    expect(meaning.final).toBeGreaterThan(commonWord.final);
  });

  it('puts an exact identifier above anything else, however old or unimportant', () => {
    const exact = scoreCandidate({ ...base, vectorSimilarity: 0, exactMatches: 1, importance: 0, lastUsedAt: 0 }, now, { halfLifeDays: 30 });
    const best = scoreCandidate({ ...base, vectorSimilarity: 1, keywordCoverage: 1, importance: 1 }, now, { halfLifeDays: 30 });
    expect(exact.final).toBeGreaterThan(best.final);
    expect(exact.exact).toBe(true);
    expect(isWeak(exact, 0.9, true)).toBe(false);
    expect(EXACT_BONUS).toBeGreaterThan(1);
  });

  it('flags weak matches: a hit that does not stand out from the next candidates, very low relevance, or an identifier query whose identifier is nowhere', () => {
    const score = (vectorSimilarity: number) => scoreCandidate({ ...base, vectorSimilarity }, now, { halfLifeDays: 30 });
    const crowd = crowdRelevance([score(0.9), score(0.6), score(0.6), score(0.6), score(0.6), score(0.6), score(0.9)]);
    expect(crowd).toBeCloseTo(0.6);
    // High relevance alone is not enough: an in-domain question nothing answers reaches it too.
    expect(isWeak(score(0.6 + WEAK_LEAD - 0.01), crowd, false)).toBe(true);
    expect(isWeak(score(0.6 + WEAK_LEAD + 0.01), crowd, false)).toBe(false);
    // A hit that stands out from a low crowd is still weak under the relevance floor.
    expect(isWeak(score(WEAK_RELEVANCE - 0.01), 0.05, false)).toBe(true);
    expect(isWeak(score(WEAK_RELEVANCE + 0.01), 0.05, false)).toBe(false);
    expect(isWeak(score(0.95), crowd, true)).toBe(true);
  });
});
