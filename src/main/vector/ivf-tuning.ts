/**
 * Choosing an IVF-Flat index's nprobe without searching the index once per candidate. Within the lists it probes, an
 * IVF-Flat search is exact, so a true neighbour of a query is found at nprobe p exactly when the list it was added to
 * is among the query's p nearest centroids. One ranking of the centroids per query and the list of each true neighbour
 * give the recall of every candidate at once. (The build used to copy the whole index and search it for each
 * candidate: ~40% of a build's CPU, on the core the hub's stores need.)
 */

/** nprobe values a build tries, smallest first; it keeps the first whose recall reaches the target. */
export const NPROBE_CANDIDATES = [1, 2, 3, 4, 6, 8, 12, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 128, 160, 192, 256, 384, 512];

export interface NprobeRecall {
  nprobe: number;
  recall: number;
}

/**
 * recall@k at each candidate nprobe, up to the first that reaches `target` (or the last candidate).
 * - `rankedLists`: per query, every list number best first (queries × nlist, as FAISS's search of the centroids gives);
 * - `neighbourLists`: per query, the list each of its true k nearest neighbours (itself excluded) was added to;
 * - `k`: the denominator is queries × k, as when the found neighbours are counted.
 */
export function recallByNprobe(
  rankedLists: ArrayLike<number>,
  nlist: number,
  neighbourLists: ReadonlyArray<ArrayLike<number>>,
  k: number,
  candidates: readonly number[],
  target: number,
): NprobeRecall[] {
  const queries = neighbourLists.length;
  if (rankedLists.length !== queries * nlist) throw new RangeError(`expected ${queries} × ${nlist} ranked lists, got ${rankedLists.length}`);
  // foundFrom[r]: true neighbours whose list is the r-th nearest centroid of their query (found from nprobe r + 1 on).
  const foundFrom = new Float64Array(nlist + 1);
  const rank = new Int32Array(nlist);
  for (let q = 0; q < queries; q++) {
    rank.fill(nlist);
    for (let r = 0; r < nlist; r++) {
      const list = rankedLists[q * nlist + r]!;
      if (list >= 0 && list < nlist && rank[list] === nlist) rank[list] = r;
    }
    for (const list of Array.from(neighbourLists[q]!)) foundFrom[list >= 0 && list < nlist ? rank[list]! : nlist]!++;
  }
  const pairs = queries * k;
  const out: NprobeRecall[] = [];
  let found = 0;
  let counted = 0;
  for (const nprobe of candidates) {
    const upTo = Math.min(nprobe, nlist);
    for (; counted < upTo; counted++) found += foundFrom[counted]!;
    const recall = pairs > 0 ? found / pairs : 1;
    out.push({ nprobe, recall });
    if (recall >= target) break;
  }
  return out;
}
