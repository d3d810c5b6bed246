/**
 * The nearest topic of a project without a float loop over every topic: each topic's sum of member vectors is kept as
 * a row of int8 codes in a WebAssembly SIMD kernel's memory (vector/simd/dots.ts, ~30 ns a row against ~0.5 µs for
 * JavaScript's float loop over 512 dimensions), all rows are scored at once, and the few best are scored again
 * exactly, so the caller gets the same nearest topic and true similarities as the float loop gave (int8 scores are
 * within a few thousandths of the true ones; RESCORE candidates leave a wide margin). Rows follow the topics lazily:
 * a changed topic is coded again at its project's next look-up.
 */
import { TopK, dot } from '../../vector/exact';
import { CODE_ALIGN, Int8DotKernel, quantize } from '../../vector/simd/dots';

/** What a matrix needs of a topic: its running sum of unit vectors and how many it holds. */
export interface MatrixTopic {
  sum: Float32Array;
  size: number;
}

/** Candidates scored exactly after the int8 scan. */
const RESCORE = 8;

export class TopicMatrix<T extends MatrixTopic> {
  private readonly rows: T[] = [];
  private readonly rowOf = new Map<T, number>();
  private readonly dirty = new Set<T>();
  /** Per row: code scale / topic size (similarity = query scale × factor × int8 dot). */
  private factors = new Float32Array(64);
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
   * go to the earlier row. Undefined when there is none.
   */
  nearest(vector: Float32Array, except?: T): { topic: T; similarity: number } | undefined {
    const count = this.rows.length;
    if (count === 0 || (count === 1 && this.rows[0] === except)) return undefined;
    if (!this.kernel || count <= RESCORE + 1 || vector.length !== this.dimension) return this.exactOver(vector, this.rows, except);
    this.code();
    const memory = this.kernel.reserveMany(1, count, this.stride);
    const queryScale = quantize(vector, 0, this.dimension, memory, 0);
    memory.fill(0, this.dimension, this.stride);
    const dots = this.kernel.dotsOf(0, 1, count, this.stride);
    const approx = new TopK(RESCORE);
    for (let row = 0; row < count; row++) {
      const score = queryScale * this.factors[row]! * dots[row]!;
      if (score > approx.threshold && this.rows[row] !== except) approx.push(row, score);
    }
    // Exactly, in row order (as the float loop breaks ties).
    const candidates = approx
      .sorted()
      .map((hit) => hit.id)
      .sort((a, b) => a - b)
      .map((row) => this.rows[row]!);
    return this.exactOver(vector, candidates, except);
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
      const factors = new Float32Array(Math.max(count, this.factors.length * 2));
      factors.set(this.factors);
      this.factors = factors;
    }
    if (this.dirty.size === 0) return;
    const memory = this.kernel!.reserveMany(1, count, this.stride);
    for (const topic of this.dirty) {
      const row = this.rowOf.get(topic)!;
      const at = this.stride * (1 + row);
      const scale = quantize(topic.sum, 0, this.dimension, memory, at);
      memory.fill(0, at + this.dimension, at + this.stride);
      this.factors[row] = topic.size > 0 ? scale / topic.size : 0;
    }
    this.dirty.clear();
  }
}
