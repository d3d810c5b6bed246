/**
 * Semantic chunking of a section's units (sentences, code blocks, traces).
 *
 * For every gap between units, the similarity of the windows on either side (normalised mean of up to `window`
 * unit vectors each side) is computed; speaker-turn and paragraph boundaries make a gap slightly more attractive.
 * A gap is a cut candidate when its similarity is below a threshold relative to its neighbourhood (the lower
 * quartile of the gaps around it, never above an absolute ceiling) and it is a real valley (TextTiling depth).
 * Candidates are accepted deepest first as long as no chunk falls below the minimum size; chunks still over the
 * maximum are then split at their weakest gap. Chunk vectors are the normalised mean of their unit vectors.
 */

export interface ChunkingUnit {
  tokens: number;
  vector: Float32Array | null;
  /** The gap before this unit is a speaker-turn boundary. */
  turnBoundary: boolean;
  /** The gap before this unit is a paragraph (or block) boundary. */
  paragraphBoundary: boolean;
}

export interface ChunkingOptions {
  maxTokens: number;
  minTokens: number;
  /** Units on each side of a gap (default 2). */
  window?: number;
  /** Similarity above which a gap is never cut for meaning (default 0.4). */
  ceiling?: number;
  /** Minimum TextTiling depth of a semantic cut (default 0.12). */
  minDepth?: number;
  /** Percentile of the neighbouring gaps' similarities under which a gap is a candidate (default 25). */
  percentile?: number;
  /** Gaps on each side that form a gap's neighbourhood (default 12). */
  neighbourhood?: number;
}

export interface ChunkingResult {
  /** [from, to) unit ranges, in order, covering every unit. */
  ranges: Array<[number, number]>;
  /** Window similarity per gap (index g = gap before unit g; NaN for g = 0 or when unknown). */
  similarities: Float64Array;
  /** Gaps cut for meaning (the rest of the cuts were for size). */
  semanticCuts: number[];
}

const TURN_BONUS = 0.05;
const PARAGRAPH_BONUS = 0.03;

export function chunkUnits(units: ChunkingUnit[], options: ChunkingOptions): ChunkingResult {
  const n = units.length;
  const window = options.window ?? 2;
  const ceiling = options.ceiling ?? 0.4;
  const minDepth = options.minDepth ?? 0.12;
  const percentile = options.percentile ?? 25;
  const neighbourhood = options.neighbourhood ?? 12;
  const similarities = new Float64Array(n).fill(NaN);
  if (n === 0) return { ranges: [], similarities, semanticCuts: [] };

  const dimension = units.find((u) => u.vector)?.vector?.length ?? 0;
  const left = new Float32Array(dimension);
  const right = new Float32Array(dimension);
  for (let g = 1; g < n && dimension > 0; g++) {
    if (windowSum(units, g - 1, -1, window, left) && windowSum(units, g, 1, window, right)) similarities[g] = cosine(left, right);
  }

  // Unknown similarities (no vectors nearby) are neutral: the median.
  const known = [...similarities].filter((s) => !Number.isNaN(s)).sort((a, b) => a - b);
  const median = known.length > 0 ? known[Math.floor(known.length / 2)]! : 1;
  const adjusted = new Float64Array(n).fill(Infinity);
  for (let g = 1; g < n; g++) {
    const s = Number.isNaN(similarities[g]!) ? median : similarities[g]!;
    adjusted[g] = s - (units[g]!.turnBoundary ? TURN_BONUS : 0) - (units[g]!.paragraphBoundary ? PARAGRAPH_BONUS : 0);
  }

  const prefix = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) prefix[i + 1] = prefix[i]! + units[i]!.tokens;
  const tokensIn = (from: number, to: number) => prefix[to]! - prefix[from]!;

  // Semantic candidates.
  const candidates: number[] = [];
  for (let g = 1; g < n; g++) {
    if (Number.isNaN(similarities[g]!)) continue;
    const a = adjusted[g]!;
    const lo = Math.max(1, g - neighbourhood);
    const hi = Math.min(n - 1, g + neighbourhood);
    const around: number[] = [];
    for (let k = lo; k <= hi; k++) around.push(adjusted[k]!);
    around.sort((x, y) => x - y);
    const local = around[Math.min(around.length - 1, Math.floor((percentile / 100) * around.length))]!;
    const threshold = Math.min(ceiling, local);
    if (a > threshold) continue;
    if (depth(adjusted, g, n) < minDepth) continue;
    candidates.push(g);
  }
  candidates.sort((x, y) => adjusted[x]! - adjusted[y]!);
  const cuts: number[] = [];
  for (const g of candidates) {
    const [from, to] = enclosing(cuts, g, n);
    if (tokensIn(from, g) >= options.minTokens && tokensIn(g, to) >= options.minTokens) cuts.splice(insertionPoint(cuts, g), 0, g);
  }
  const semanticCuts = [...cuts];

  // Size: split chunks over the maximum at their weakest gap (preferring balanced halves).
  const pending = rangesOf(cuts, n);
  const ranges: Array<[number, number]> = [];
  pending.reverse();
  while (pending.length > 0) {
    const [from, to] = pending.pop()!;
    const total = tokensIn(from, to);
    if (total <= options.maxTokens || to - from <= 1) {
      ranges.push([from, to]);
      continue;
    }
    let best = -1;
    let bestScore = Infinity;
    let bestRelaxed = -1;
    let bestRelaxedScore = Infinity;
    for (let g = from + 1; g < to; g++) {
      const left = tokensIn(from, g);
      const score = adjusted[g]! + 0.25 * Math.abs(0.5 - left / total);
      if (left >= options.minTokens && total - left >= options.minTokens && score < bestScore) {
        best = g;
        bestScore = score;
      }
      if (score < bestRelaxedScore) {
        bestRelaxed = g;
        bestRelaxedScore = score;
      }
    }
    const g = best !== -1 ? best : bestRelaxed;
    pending.push([g, to], [from, g]);
  }
  return { ranges, similarities, semanticCuts };
}

/** Sum (into `out`) of up to `count` vectors walking from `start` in `direction`, skipping units without one; false if none. */
function windowSum(units: ChunkingUnit[], start: number, direction: 1 | -1, count: number, out: Float32Array): boolean {
  out.fill(0);
  let used = 0;
  for (let i = start, seen = 0; i >= 0 && i < units.length && used < count && seen < count * 2; i += direction, seen++) {
    const v = units[i]!.vector;
    if (!v) continue;
    for (let d = 0; d < out.length; d++) out[d]! += v[d]!;
    used++;
  }
  return used > 0;
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

/** TextTiling depth: how far the similarity climbs on both sides of gap g before it turns down again. */
function depth(adjusted: Float64Array, g: number, n: number): number {
  const value = adjusted[g]!;
  let left = value;
  for (let k = g - 1; k >= 1 && adjusted[k]! >= left; k--) left = adjusted[k]!;
  let right = value;
  for (let k = g + 1; k < n && adjusted[k]! >= right; k++) right = adjusted[k]!;
  // At an edge only one side can climb; count it twice so edges are not favoured or excluded.
  if (g === 1) return 2 * (right - value);
  if (g === n - 1) return 2 * (left - value);
  return left - value + (right - value);
}

/** The chunk [from, to) that gap g falls in, given the sorted cuts so far. */
function enclosing(sortedCuts: number[], g: number, n: number): [number, number] {
  const i = insertionPoint(sortedCuts, g);
  return [i > 0 ? sortedCuts[i - 1]! : 0, i < sortedCuts.length ? sortedCuts[i]! : n];
}

function insertionPoint(sorted: number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function rangesOf(sorted: number[], n: number): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  let from = 0;
  for (const c of sorted) {
    ranges.push([from, c]);
    from = c;
  }
  ranges.push([from, n]);
  return ranges;
}

/** Normalised mean of the given vectors (null when none). */
export function meanVector(vectors: Array<Float32Array | null | undefined>): Float32Array | null {
  let sum: Float32Array | null = null;
  for (const v of vectors) {
    if (!v) continue;
    sum ??= new Float32Array(v.length);
    for (let i = 0; i < v.length; i++) sum[i]! += v[i]!;
  }
  if (!sum) return null;
  let norm = 0;
  for (const x of sum) norm += x * x;
  norm = Math.sqrt(norm);
  if (norm === 0) return null;
  for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! / norm;
  return sum;
}
