/**
 * The nearest topic of a project without a float loop over every topic: each topic's sum of member vectors is kept as
 * a row of int8 codes in a WebAssembly SIMD kernel's memory (vector/simd/dots.ts, ~30 ns a row against ~0.5 µs for
 * JavaScript's float loop over 512 dimensions), all rows are scored at once, and only the rows that could still be
 * the nearest are scored again exactly: each int8 score comes with a bound on its error (from the two scales and the
 * codes' sums of magnitudes), so a row whose score plus its bound is below the best score minus that one's bound
 * cannot win. The caller gets the same nearest topic and true similarity as the float loop over every topic; usually
 * one or two rows are rescored. Rows follow the topics lazily: a changed topic is coded again at its project's next
 * look-up.
 */
import { dot } from '../../vector/exact';
import { CODE_ALIGN, Int8DotKernel, quantize } from '../../vector/simd/dots';

/** What a matrix needs of a topic: its running sum of unit vectors and how many it holds. */
export interface MatrixTopic {
  sum: Float32Array;
  size: number;
}

/** Rows up to which the float loop over every topic is cheaper than coding the query. */
const EXACT_BELOW = 9;
/** Covers the rounding of the scores' own float arithmetic (far below any difference that matters). */
const SLACK = 1e-6;

export class TopicMatrix<T extends MatrixTopic> {
  private readonly rows: T[] = [];
  private readonly rowOf = new Map<T, number>();
  private readonly dirty = new Set<T>();
  /** Per row: code scale / topic size (similarity = query scale × factor × int8 dot). */
  private factors = new Float64Array(64);
  /** Per row: the sum of its codes' magnitudes, for the error bound. */
  private magnitudes = new Float64Array(64);
  /** A look-up's int8 scores, their error bounds and the rows it scores exactly (kept to spare an allocation). */
  private scores = new Float64Array(64);
  private bounds = new Float64Array(64);
  private candidates = new Int32Array(64);
  private readonly stride: number;

  private constructor(
    private readonly dimension: number,
    private readonly kernel: Int8DotKernel | null,
  ) {
    this.stride = Math.ceil(dimension / CODE_ALIGN) * CODE_ALIGN;
  }

  static create<T extends MatrixTopic>(dimension: number): TopicMatrix<T> {
    return new TopicMatrix<T>(dimension, Int8DotKernel.create());
  }

  get size(): number {
    return this.rows.length;
  }

  add(topic: T): void {
    if (this.rowOf.has(topic)) return;
    this.rowOf.set(topic, this.rows.length);
    this.rows.push(topic);
    this.dirty.add(topic);
  }

  /** The topic's sum or size changed: its row is coded again before the next look-up. */
  changed(topic: T): void {
    if (this.rowOf.has(topic)) this.dirty.add(topic);
  }

  /** Takes a topic out; the last row moves into its place. */
  remove(topic: T): void {
    const row = this.rowOf.get(topic);
    if (row === undefined) return;
    this.rowOf.delete(topic);
    this.dirty.delete(topic);
    const last = this.rows.pop()!;
    if (last !== topic) {
      this.rows[row] = last;
      this.rowOf.set(last, row);
      this.dirty.add(last);
    }
  }

  clear(): void {
    this.rows.length = 0;
    this.rowOf.clear();
    this.dirty.clear();
  }

  /**
   * The topic with the highest mean similarity to `vector` (dot with its sum over its size), `except` left out; ties
   * go to the earlier row. Undefined when there is none, or when it is below `atLeast`: every caller compares the
   * nearest with a threshold, and rows that cannot reach it are never scored exactly.
   */
  nearest(vector: Float32Array, except?: T, atLeast = -Infinity): { topic: T; similarity: number } | undefined {
    const count = this.rows.length;
    if (count === 0 || (count === 1 && this.rows[0] === except)) return undefined;
    if (!this.kernel || count < EXACT_BELOW || vector.length !== this.dimension) return atLeastOf(this.exactOver(vector, this.rows, except), atLeast);
    this.code();
    const memory = this.kernel.reserveMany(1, count, this.stride);
    const queryScale = quantize(vector, 0, this.dimension, memory, 0);
    memory.fill(0, this.dimension, this.stride);
    const queryMagnitude = magnitudeOf(memory, 0, this.dimension);
    const dots = this.kernel.dotsOf(0, 1, count, this.stride);
    // value = code × scale + error, |error| <= scale / 2 on both sides, so for a row of scale s and codes c against
    // the query's q: |exact - approx| <= queryScale s (Σ|c| + Σ|q| + dimension / 2) / 2, over the topic's size like
    // the score (factor = s / size).
    const halfQuery = queryScale / 2;
    const crossTerm = this.dimension / 2;
    const { scores, bounds } = this;
    let floor = atLeast;
    for (let row = 0; row < count; row++) {
      if (this.rows[row] === except) continue;
      const factor = this.factors[row]!;
      const score = queryScale * factor * dots[row]!;
      const bound = halfQuery * factor * (this.magnitudes[row]! + queryMagnitude + crossTerm) + SLACK;
      scores[row] = score;
      bounds[row] = bound;
      if (score - bound > floor) floor = score - bound;
    }
    // Every row that could reach the best row's lowest possible similarity and `atLeast`, in row order (as the float
    // loop breaks ties).
    let kept = 0;
    for (let row = 0; row < count; row++) {
      if (this.rows[row] !== except && scores[row]! + bounds[row]! >= floor) this.candidates[kept++] = row;
    }
    let best: { topic: T; similarity: number } | undefined;
    for (let i = 0; i < kept; i++) {
      const topic = this.rows[this.candidates[i]!]!;
      const similarity = topic.size > 0 ? dot(vector, topic.sum) / topic.size : 0;
      if (!best || similarity > best.similarity) best = { topic, similarity };
    }
    return atLeastOf(best, atLeast);
  }

  private exactOver(vector: Float32Array, topics: T[], except: T | undefined): { topic: T; similarity: number } | undefined {
    let best: { topic: T; similarity: number } | undefined;
    for (const topic of topics) {
      if (topic === except) continue;
      const similarity = topic.size > 0 ? dot(vector, topic.sum) / topic.size : 0;
      if (!best || similarity > best.similarity) best = { topic, similarity };
    }
    return best;
  }

  /** Codes the rows of changed topics into the kernel's memory (row r at stride × (1 + r), after the query). */
  private code(): void {
    const count = this.rows.length;
    if (this.factors.length < count) {
      const size = Math.max(count, this.factors.length * 2);
      const grow = (from: Float64Array) => {
        const to = new Float64Array(size);
        to.set(from);
        return to;
      };
      this.factors = grow(this.factors);
      this.magnitudes = grow(this.magnitudes);
      this.scores = new Float64Array(size);
      this.bounds = new Float64Array(size);
      this.candidates = new Int32Array(size);
    }
    if (this.dirty.size === 0) return;
    const memory = this.kernel!.reserveMany(1, count, this.stride);
    for (const topic of this.dirty) {
      const row = this.rowOf.get(topic)!;
      const at = this.stride * (1 + row);
      const scale = quantize(topic.sum, 0, this.dimension, memory, at);
      memory.fill(0, at + this.dimension, at + this.stride);
      // A row's scale is over its size like the score; an empty topic scores 0 with no error.
      this.factors[row] = topic.size > 0 ? scale / topic.size : 0;
      this.magnitudes[row] = magnitudeOf(memory, at, this.dimension);
    }
    this.dirty.clear();
  }
}

function atLeastOf<T>(found: { topic: T; similarity: number } | undefined, atLeast: number) {
  return found && found.similarity >= atLeast ? found : undefined;
}

/** The sum of the codes' magnitudes. */
function magnitudeOf(codes: Int8Array, at: number, length: number): number {
  let sum = 0;
  for (let i = at; i < at + length; i++) {
    const code = codes[i]!;
    sum += code < 0 ? -code : code;
  }
  return sum;
}
