/**
 * Search over the store: vector nearest neighbours and keyword matches (keyword.ts) fused and ranked by ranking.ts
 * (cosine similarity plus IDF-weighted keyword coverage, exact identifiers first, weak matches flagged, also by the
 * kind of answer the question asks for: answer-type.ts).
 */
import type { MemorySearchResult } from '../../shared/memory-protocol';
import type { SentenceEncoder } from '../embedding';
import type { VectorIndex } from '../vector';
import { lacksWantedType, wantedAnswerType } from './answer-type';
import { searchFilter } from './catalog';
import { coverage, KeywordSearch } from './keyword';
import type { KeywordBacklog } from './keyword-backlog';
import { blobVector, loadMemories } from './memory-rows';
import { crowdRelevance, isWeak, scoreCandidate, type Candidate } from './ranking';
import { embedTexts, type ParsedSearchQuery, type SearchContext, type StoreState } from './store-types';

/** Vector and keyword lists are each this many times longer than k before fusion. */
const CANDIDATE_FACTOR = 5;
const MIN_CANDIDATES = 50;

export class MemorySearch {
  private readonly keyword: KeywordSearch;
  private readonly s;

  constructor(
    private readonly state: StoreState,
    /** Told the hits of a search that counts as a use. */
    private readonly recordAccess: (ids: number[]) => void,
    /** Memories committed but not yet in the keyword index: indexed before the keyword side looks. */
    private readonly backlog: KeywordBacklog,
  ) {
    const { db } = state;
    this.keyword = new KeywordSearch(db);
    this.s = {
      ranking: (count: number) =>
        db.prepare(`SELECT id, text, importance, COALESCE(last_accessed_at, created_at) AS used FROM memories WHERE id IN (${'?,'.repeat(count).slice(0, -1)})`),
      storedVector: db.prepare('SELECT vector FROM embeddings WHERE model = ? AND memory_id = ?').pluck(),
    };
  }

  /** Searches with `encoder` and its `index` (taken by the caller, so a model switch does not change them midway). */
  async search(encoder: SentenceEncoder, index: VectorIndex, query: ParsedSearchQuery, context: SearchContext): Promise<MemorySearchResult> {
    const started = performance.now();
    const accept = searchFilter(this.state.catalog, query, context);
    const wanted = Math.max(MIN_CANDIDATES, query.k * CANDIDATE_FACTOR);
    // The keyword side (~3 ms at 100,000 memories) runs on this thread while the query embeds in the worker. (One
    // microtask turn first: the encoder tokenises the query and posts it to its worker in the turn it queued.)
    const embedding = embedTexts(this.state, [query.q], encoder, { urgent: true });
    await Promise.resolve();
    await this.backlog.catchUp();
    const keyword = this.keyword.search(query.q, accept, wanted);
    const [vector] = await embedding;
    const candidates = new Map<number, Candidate>();
    const candidate = (id: number): Candidate => {
      let found = candidates.get(id);
      if (!found) candidates.set(id, (found = { id, vectorSimilarity: 0, keywordCoverage: 0, exactMatches: 0, importance: 0, lastUsedAt: 0 }));
      return found;
    };
    index.search(vector!, wanted, accept).forEach((hit, rank) => {
      Object.assign(candidate(hit.id), { vectorRank: rank + 1, vectorSimilarity: hit.score });
    });
    for (const id of keyword.candidates) candidate(id);
    for (const [id, count] of keyword.exact) candidate(id).exactMatches = count;

    const now = Date.now();
    for (const row of this.s.ranking(candidates.size).all(...candidates.keys()) as Array<{ id: number; text: string; importance: number; used: string }>) {
      const entry = candidates.get(row.id)!;
      entry.importance = row.importance;
      entry.lastUsedAt = Date.parse(row.used);
      entry.keywordCoverage = coverage(row.text, keyword.words);
    }
    // Keyword-only candidates: the best covered few (and every exact match) get their similarity from their stored
    // vector, so every hit is scored alike; the rest (less similar than every vector candidate, less covered than
    // these) are dropped.
    const keywordOnly = [...candidates.values()].filter((entry) => entry.vectorRank === undefined).sort((a, b) => b.exactMatches - a.exactMatches || b.keywordCoverage - a.keywordCoverage);
    keywordOnly.forEach((entry, i) => {
      if (i < wanted || entry.exactMatches > 0) entry.vectorSimilarity = this.similarity(entry.id, encoder.id, vector!);
      else candidates.delete(entry.id);
    });
    [...candidates.values()]
      .filter((entry) => entry.keywordCoverage > 0)
      .sort((a, b) => b.keywordCoverage - a.keywordCoverage)
      .forEach((entry, rank) => (entry.keywordRank = rank + 1));
    const scored = [...candidates.values()]
      .map((entry) => ({ id: entry.id, scores: scoreCandidate(entry, now, { halfLifeDays: this.state.options.halfLifeDays }) }))
      .sort((a, b) => b.scores.final - a.scores.final);
    const crowd = crowdRelevance(scored.map((hit) => hit.scores));
    const top = scored.slice(0, query.k);
    const memories = loadMemories(this.state.db, top.map((hit) => hit.id));
    const answerType = wantedAnswerType(query.q);
    const ranked = top.map((hit) => ({ ...hit, weak: isWeak(hit.scores, crowd, keyword.identifiersOnly, lacksWantedType(answerType, memories.get(hit.id)!.text)) }));
    if (context.countsAsUse) this.recordAccess(ranked.map((hit) => hit.id));
    const tookMs = performance.now() - started;
    this.state.options.observe?.('search', tookMs, 1);
    return { hits: ranked.map((hit) => ({ memory: memories.get(hit.id)!, scores: hit.scores, weak: hit.weak })), tookMs, model: encoder.id };
  }

  /** Cosine similarity of a stored memory with the query (vectors are unit length); 0 without a vector. */
  private similarity(id: number, model: string, query: Float32Array): number {
    const blob = this.s.storedVector.get(model, id) as Buffer | undefined;
    if (!blob) return 0;
    const vector = blobVector(blob);
    let dot = 0;
    for (let i = 0; i < vector.length; i++) dot += vector[i]! * query[i]!;
    return dot;
  }
}
