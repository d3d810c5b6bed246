/** Percentiles, summaries and histograms over samples (latencies in ms, usually). */

export interface Summary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** Nearest-rank percentile of an ascending array; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function sortedCopy(values: ArrayLike<number>): Float64Array {
  const sorted = Float64Array.from(values);
  sorted.sort();
  return sorted;
}

export function summarize(values: ArrayLike<number>): Summary {
  const sorted = sortedCopy(values);
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: sorted.length,
    min: sorted.length ? sorted[0]! : NaN,
    mean: sorted.length ? sum / sorted.length : NaN,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: sorted.length ? sorted[sorted.length - 1]! : NaN,
  };
}

export interface Bucket {
  /** Upper bound of the bucket (inclusive), in the samples' unit. */
  le: number;
  count: number;
}

/**
 * A log-scale histogram: bucket bounds grow by `factor` from `first` (defaults suit latencies in ms: 0.05 ms
 * doubling up to ~100 s). Empty buckets at both ends are dropped.
 */
export function histogram(values: ArrayLike<number>, first = 0.05, factor = 2, buckets = 22): Bucket[] {
  const bounds: number[] = [];
  for (let i = 0, b = first; i < buckets; i++, b *= factor) bounds.push(Number(b.toPrecision(6)));
  const counts = new Array<number>(bounds.length + 1).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    let k = 0;
    while (k < bounds.length && v > bounds[k]!) k++;
    counts[k]!++;
  }
  const out: Bucket[] = bounds.map((le, i) => ({ le, count: counts[i]! }));
  out.push({ le: Infinity, count: counts[bounds.length]! });
  const firstUsed = out.findIndex((b) => b.count > 0);
  if (firstUsed < 0) return [];
  let lastUsed = out.length - 1;
  while (out[lastUsed]!.count === 0) lastUsed--;
  return out.slice(firstUsed, lastUsed + 1);
}

/** A compact one-line rendering of a histogram: "≤0.2ms:12 ≤0.4ms:840 …". */
export function histogramLine(buckets: Bucket[], unit = 'ms'): string {
  return buckets.map((b) => `≤${b.le === Infinity ? '∞' : b.le}${unit}:${b.count}`).join(' ');
}

/** Least-squares line through (x, y) points: slope and intercept; NaN slope with fewer than two distinct x. */
export function linearFit(xs: ArrayLike<number>, ys: ArrayLike<number>): { slope: number; intercept: number } {
  const n = Math.min(xs.length, ys.length);
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < n; i++) {
    sx += xs[i]!;
    sy += ys[i]!;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
  }
  const slope = n >= 2 && sxx > 0 ? sxy / sxx : NaN;
  return { slope, intercept: my - slope * mx };
}
