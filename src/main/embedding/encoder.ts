// Sentence encoders: text in, unit-length vectors out (cosine similarity = dot product).
//
// OnnxSentenceEncoder runs a model directory described by a manifest.json (see scripts/encoder/build-use-lite.mjs
// for the default one) with onnxruntime-node. The manifest names the tokenizer family, the graph's input/output names
// and whether pooling/normalisation are inside the graph, so other model families (e.g. user-brought
// sentence-transformers exports with a tokenizer.json) can be added by extending `loadTokenizer` and the output
// handling, without touching the SentenceEncoder interface.
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { workerPool, type InferenceRunner, type RunOutput } from './inference-worker';
import { SentencePieceUnigramTokenizer, type Tokenizer } from './tokenizer';

export interface EmbedOptions {
  urgent?: boolean;
  /**
   * Texts nobody waits on turn by turn (a large extraction's): queued apart from other calls, so a store's texts do
   * not wait behind them, and run on some of the inference workers only (inference-worker.ts, workerPool).
   */
  bulk?: boolean;
}

export interface SentenceEncoder {
  /** Stable model id; vectors from different ids must never be compared. */
  readonly id: string;
  readonly dimension: number;
  /**
   * One unit-length vector per text, in input order. `urgent`: a few texts someone waits for (a search's query), run
   * at once instead of after the calls already queued (an extraction's texts).
   */
  embed(texts: string[], options?: EmbedOptions): Promise<Float32Array[]>;
  close(): Promise<void>;
  /** Texts handed to embed() and not yet embedded (queued or running), where the encoder counts them. */
  queueDepth?(): number;
}

/** manifest.json of a model directory. */
export interface EncoderManifest {
  id: string;
  name?: string;
  dimension: number;
  maxTokens: number;
  tokenizer: string;
  files: { model: string; vocab?: string };
  inputs: { inputIds: string; attentionMask: string };
  output: string;
  /** 'included': the graph outputs pooled sentence vectors of shape [batch, dimension]. */
  pooling: 'included';
  /** True when the graph already L2-normalises its output. */
  normalized: boolean;
  sha256?: string;
}

export interface OnnxSentenceEncoderOptions {
  /**
   * Inference threads (default: min(2, CPU count)): that many worker threads with a single-threaded session each
   * (in-process, DEVENVIRO_INFERENCE=in-process: one session with that many intra-op threads).
   */
  threads?: number;
  /** Texts per inference call (default 8, see DEFAULT_BATCH_SIZE). */
  batchSize?: number;
}

/**
 * Texts per inference call. The int8 USE-lite on 2 cores, two single-threaded workers, developer notes (~40 tokens):
 * calls of 300 texts ran at 2,503 texts/s in batches of 16 and 2,617 in batches of 8 (4: 2,606); calls of 31 texts
 * (what grouped concurrent stores make) at 1,631 in batches of 16 and 2,023 in batches of 8 (4: 2,179). Small
 * batches keep the activations in cache, and split a small call evenly between the workers: batches are cut in
 * length order, so with two batches one worker got all the long texts.
 */
const DEFAULT_BATCH_SIZE = 8;

/**
 * onnxruntime's intra-op threads sleep when idle instead of spinning: the hub's main thread needs the core between
 * batches. Measured in the memory benchmark on 2 cores: the same batched-store rate at 146% instead of 169% hub CPU,
 * and grouped concurrent stores 961-968/s instead of 788-929/s.
 */
const NO_SPINNING = { session: { intra_op: { allow_spinning: '0' } } };

/** Session options of every encoder: CPU, fully optimised, one run at a time on `threads` (default: min(2, CPU count)). */
export function cpuSessionOptions(threads?: number): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: Math.max(1, Math.floor(threads ?? Math.min(2, os.availableParallelism()))),
    interOpNumThreads: 1,
    extra: NO_SPINNING,
  };
}

async function readManifest(modelDir: string): Promise<EncoderManifest> {
  const file = path.join(modelDir, 'manifest.json');
  let manifest: EncoderManifest;
  try {
    manifest = JSON.parse(await readFile(file, 'utf8')) as EncoderManifest;
  } catch (err) {
    throw new Error(`cannot read encoder manifest ${file}: ${(err as Error).message}`, { cause: err });
  }
  const problems: string[] = [];
  if (typeof manifest.id !== 'string' || manifest.id === '') problems.push('id');
  if (!Number.isInteger(manifest.dimension) || manifest.dimension <= 0) problems.push('dimension');
  if (!Number.isInteger(manifest.maxTokens) || manifest.maxTokens <= 0) problems.push('maxTokens');
  if (typeof manifest.files?.model !== 'string') problems.push('files.model');
  if (typeof manifest.inputs?.inputIds !== 'string' || typeof manifest.inputs?.attentionMask !== 'string') {
    problems.push('inputs');
  }
  if (typeof manifest.output !== 'string') problems.push('output');
  if (manifest.pooling !== 'included') problems.push(`pooling (unsupported: ${String(manifest.pooling)})`);
  if (problems.length > 0) throw new Error(`invalid encoder manifest ${file}: ${problems.join(', ')}`);
  return manifest;
}

async function loadTokenizer(modelDir: string, manifest: EncoderManifest): Promise<Tokenizer> {
  switch (manifest.tokenizer) {
    case 'sentencepiece-unigram':
      if (!manifest.files.vocab) throw new Error(`encoder ${manifest.id}: files.vocab is required`);
      return SentencePieceUnigramTokenizer.fromFile(path.join(modelDir, manifest.files.vocab));
    default:
      throw new Error(`encoder ${manifest.id}: unsupported tokenizer "${manifest.tokenizer}"`);
  }
}

/** Runs inference in the process itself (the session the encoder loaded), one run at a time, in call order. */
function sessionRunner(session: ort.InferenceSession): InferenceRunner {
  // Chained so a run starts only after the previous one has finished, like the worker runner's queue: the session's
  // threads serve one batch at a time, and outputs come back in the order the batches were handed over.
  let queue: Promise<unknown> = Promise.resolve();
  return {
    run: (feeds, outputNames) => {
      const run = queue.then(
        async () => (outputNames ? await session.run(feeds, outputNames) : await session.run(feeds)) as unknown as Record<string, RunOutput>,
      );
      queue = run.catch(() => undefined);
      return run;
    },
    // Only QueuedOnnxEncoder.close() releases, after every embed call (and so every run) has settled.
    release: () => session.release(),
  };
}

/**
 * Where an encoder runs its inferences: in worker threads, one single-threaded session each, as many as the options'
 * intra-op threads (so the hub's event loop never waits on a batch; see workerPool for why not one multi-threaded
 * session), unless DEVENVIRO_INFERENCE=in-process or the workers cannot start. `session` was loaded to check the
 * model; it is released once the workers answer.
 */
export async function runnerFor(session: ort.InferenceSession, modelPath: string, options: ort.InferenceSession.SessionOptions): Promise<InferenceRunner> {
  const { runner, here } = runnersFor(session, modelPath, options);
  await here?.release();
  return runner;
}

/**
 * As runnerFor, and keeps `session` as `here` (on this thread, for lone short calls: see HERE_MAX_TOKENS) when the
 * inferences go to workers.
 */
export function runnersFor(
  session: ort.InferenceSession,
  modelPath: string,
  options: ort.InferenceSession.SessionOptions,
): { runner: InferenceRunner; here?: InferenceRunner } {
  if (process.env.DEVENVIRO_INFERENCE === 'in-process') return { runner: sessionRunner(session) };
  try {
    return { runner: workerPool(modelPath, options, options.intraOpNumThreads ?? 1), here: sessionRunner(session) };
  } catch (error) {
    console.warn(`[embedding] inference stays on the main thread: ${(error as Error).message}`);
    return { runner: sessionRunner(session) };
  }
}

/** An urgent call of more texts than this queues like any other: skipping the queue is for a query or two. */
export const URGENT_MAX_TEXTS = 4;

/**
 * A call of one text of at most this many tokens, made while the encoder has nothing else queued or running (a lone
 * store, a search's query on a quiet hub), runs on the calling thread when the encoder keeps a session there: ~2 ms of
 * the event loop for a ~40-token note (64 tokens: ~3 ms). The round trip through an inference worker cost more than
 * that on a loaded 2-core machine: waking the worker held the hub's main thread in postMessage (p50 1.6 ms, p90 5 ms,
 * measured in the memory bench's single-store phase), and the reply waited for the main thread to be woken again.
 */
export const HERE_MAX_TOKENS = 64;

/**
 * What every ONNX-backed encoder shares: calls run one at a time on the session (so batches do not compete for the
 * same threads and outputs arrive in order; an urgent call of a few texts goes beside them), a closed encoder refuses
 * work, and closing waits for work under way.
 */

export abstract class QueuedOnnxEncoder implements SentenceEncoder {
  abstract readonly id: string;
  abstract readonly dimension: number;
  /** Serialises embed() calls: one inference at a time keeps memory bounded and the thread budget honest. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Serialises bulk calls, beside the queue above: their batches go to workers interactive calls can avoid. */
  private bulkQueue: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Texts queued or running: the inference queue's depth, which the advisor watches. */
  private waitingTexts = 0;
  /** Calls run beside the queue (urgent ones): closing waits for them too. */
  private readonly beside = new Set<Promise<unknown>>();

  /** `here`: a session on this thread for lone short calls (HERE_MAX_TOKENS), released on close. */
  protected constructor(
    protected readonly runner: InferenceRunner,
    protected readonly here?: InferenceRunner,
  ) {}

  embed(texts: string[], options: EmbedOptions = {}): Promise<Float32Array[]> {
    if (this.closed) return Promise.reject(new Error(`encoder ${this.id} is closed`));
    // Nothing else queued or running: a call of one short text may run on this thread (embedNow decides by length).
    const alone = this.waitingTexts === 0 && texts.length === 1;
    this.waitingTexts += texts.length;
    if (options.urgent && texts.length <= URGENT_MAX_TEXTS) {
      // Beside the queue, and on the inference worker kept for urgent runs (a search's query waited behind each of
      // an extraction's calls, then behind the batch running on the least busy worker).
      const run = this.embedNow(texts, { urgent: true }, alone).finally(() => (this.waitingTexts -= texts.length));
      const settled = run.catch(() => undefined);
      this.beside.add(settled);
      void settled.finally(() => this.beside.delete(settled));
      return run;
    }
    if (options.bulk) {
      const run = this.bulkQueue.then(() => this.embedNow(texts, { bulk: true })).finally(() => (this.waitingTexts -= texts.length));
      this.bulkQueue = run.catch(() => undefined);
      return run;
    }
    const run = this.queue.then(() => this.embedNow(texts, {}, alone)).finally(() => (this.waitingTexts -= texts.length));
    this.queue = run.catch(() => undefined);
    return run;
  }

  queueDepth(): number {
    return this.waitingTexts;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.queue, this.bulkQueue]);
    await Promise.all(this.beside);
    await this.runner.release();
    await this.here?.release();
  }

  /**
   * `options` go to the runner with each batch: urgent ones skip its queues, bulk ones keep off some of its workers.
   * `alone`: nothing else was queued or running when the call was made (it may run `here`).
   */
  protected abstract embedNow(texts: string[], options?: EmbedOptions, alone?: boolean): Promise<Float32Array[]>;

  /**
   * Runs tokenised texts in batches of similar length (longest first, cut by lengthBatches) so little compute goes
   * into padding, and puts the vectors back in input order. Padded tokens are masked out (a float32 graph gives
   * bit-identical vectors whatever the padding; an int8 one quantises each batch's activations together, so a text's
   * vector can move by ~1e-3 with its batch mates). Every batch is handed to the runner at once: the runner runs them one
   * after another, and the inference worker goes from one to the next without waiting for this thread.
   */
  protected async inLengthOrder<T>(
    items: T[],
    length: (item: T) => number,
    batchSize: number,
    runBatch: (batch: T[]) => Promise<Float32Array[]>,
  ): Promise<Float32Array[]> {
    const results = new Array<Float32Array>(items.length);
    const batches = lengthBatches(items.map(length), batchSize);
    // allSettled, not all: no run may still be under way once this call has failed.
    const settled = await Promise.allSettled(batches.map((batch) => runBatch(batch.map((i) => items[i]!))));
    settled.forEach((outcome, b) => {
      if (outcome.status === 'rejected') throw outcome.reason;
      batches[b]!.forEach((itemIndex, row) => {
        results[itemIndex] = outcome.value[row]!;
      });
    });
    return results;
  }
}

export class OnnxSentenceEncoder extends QueuedOnnxEncoder {
  readonly id: string;
  readonly dimension: number;
  readonly maxTokens: number;
  private readonly batchSize: number;
  private runsHere = 0;

  private constructor(
    runners: { runner: InferenceRunner; here?: InferenceRunner },
    private readonly tokenizer: Tokenizer,
    private readonly manifest: EncoderManifest,
    options: OnnxSentenceEncoderOptions,
  ) {
    super(runners.runner, runners.here);
    this.id = manifest.id;
    this.dimension = manifest.dimension;
    this.maxTokens = manifest.maxTokens;
    this.batchSize = Math.max(1, Math.floor(options.batchSize ?? DEFAULT_BATCH_SIZE));
  }

  static async load(modelDir: string, options: OnnxSentenceEncoderOptions = {}): Promise<OnnxSentenceEncoder> {
    const manifest = await readManifest(modelDir);
    const tokenizer = await loadTokenizer(modelDir, manifest);
    const modelPath = path.join(modelDir, manifest.files.model);
    const sessionOptions = cpuSessionOptions(options.threads);
    const session = await ort.InferenceSession.create(modelPath, sessionOptions);
    for (const name of [manifest.inputs.inputIds, manifest.inputs.attentionMask]) {
      if (!session.inputNames.includes(name)) throw new Error(`encoder ${manifest.id}: model has no input "${name}"`);
    }
    if (!session.outputNames.includes(manifest.output)) {
      throw new Error(`encoder ${manifest.id}: model has no output "${manifest.output}"`);
    }
    return new OnnxSentenceEncoder(runnersFor(session, modelPath, sessionOptions), tokenizer, manifest, options);
  }

  /** Calls run on this thread so far (lone short ones, HERE_MAX_TOKENS), not in an inference worker. */
  get ranHere(): number {
    return this.runsHere;
  }

  /** Token ids as fed to the model (tokenised and truncated to maxTokens). */
  tokenize(text: string): number[] {
    const ids = this.tokenizer.encode(text);
    return ids.length > this.maxTokens ? ids.slice(0, this.maxTokens) : ids;
  }

  protected async embedNow(texts: string[], options: EmbedOptions = {}, alone = false): Promise<Float32Array[]> {
    const tokens = texts.map((t) => this.tokenize(t));
    if (alone && this.here && tokens.length === 1 && tokens[0]!.length <= HERE_MAX_TOKENS) {
      this.runsHere++;
      return this.runBatch(tokens, options, this.here);
    }
    return this.inLengthOrder(tokens, (ids) => ids.length, this.batchSize, (batch) => this.runBatch(batch, options));
  }

  private async runBatch(batch: number[][], options: EmbedOptions = {}, runner = this.runner): Promise<Float32Array[]> {
    // Pad to the longest sequence in the batch; at least 1 column so a batch of empty texts is still a valid tensor
    // (an empty text pools to zeros and gets the model's fixed "empty" vector).
    const seq = Math.max(1, ...batch.map((ids) => ids.length));
    const ids = new BigInt64Array(batch.length * seq);
    const mask = new BigInt64Array(batch.length * seq);
    batch.forEach((tokenIds, row) => {
      tokenIds.forEach((id, col) => {
        ids[row * seq + col] = BigInt(id);
        mask[row * seq + col] = 1n;
      });
    });
    const dims = [batch.length, seq];
    const inputIds = new ort.Tensor('int64', ids, dims);
    const attentionMask = new ort.Tensor('int64', mask, dims);
    const { inputs, output } = this.manifest;
    const outputs = await runner.run({ [inputs.inputIds]: inputIds, [inputs.attentionMask]: attentionMask }, undefined, options);
    try {
      const result = outputs[output];
      if (!result || result.type !== 'float32') throw new Error(`encoder ${this.id}: missing float32 output`);
      if (result.dims.length !== 2 || result.dims[0] !== batch.length || result.dims[1] !== this.dimension) {
        throw new Error(`encoder ${this.id}: unexpected output shape [${result.dims.join(', ')}]`);
      }
      const data = result.data as Float32Array;
      // Copy each row out of onnxruntime's buffer: the tensor may be released or reused after this call.
      return batch.map((_, row) => {
        const vector = new Float32Array(data.subarray(row * this.dimension, (row + 1) * this.dimension));
        if (!this.manifest.normalized) normalizeInPlace(vector);
        return vector;
      });
    } finally {
      for (const t of Object.values(outputs)) t.dispose();
      inputIds.dispose();
      attentionMask.dispose();
    }
  }
}

/**
 * What a run of `rows` texts padded to `columns` tokens costs, in tokens' worth of compute: each padded token, plus
 * a share per column and per run that does not shrink with the batch (small matrix products run below the CPU's
 * peak). Measured on the int8 USE-lite, one single-threaded session (2 cores, loaded by other work): ~33 µs a token
 * in batches of 8-12, 35 in 4, 38-39 in 2, 43-47 alone; ~10 µs a column and a few tokens' worth per run on top.
 */
const runCost = (rows: number, columns: number): number => columns * (rows + 0.3) + 3;

/**
 * Cuts texts of these token counts into batches of at most `maxBatch`, each padded to its longest text: sorted
 * longest first, and cut where the total cost (runCost) is least, not every `maxBatch` texts. A call of 31
 * developer notes (what 64 concurrent stores group into) padded 11.5% in fixed batches of 8 and pads ~5% so, in a
 * few more runs: ~4% less compute in the model's estimate; a call of 300, where fixed batches pad 1.5%, ~0.5% less.
 * Returns each batch's item indices, longest first (ties in input order).
 */
export function lengthBatches(lengths: readonly number[], maxBatch: number): number[][] {
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[b]! - lengths[a]! || a - b);
  const n = order.length;
  const size = Math.max(1, Math.floor(maxBatch));
  // least[i]: cheapest cost of the first i texts (in order); from[i]: where the last batch of that cut starts.
  const least = new Float64Array(n + 1).fill(Infinity);
  const from = new Int32Array(n + 1);
  least[0] = 0;
  for (let end = 1; end <= n; end++) {
    for (let start = Math.max(0, end - size); start < end; start++) {
      // Padded to its first (longest) text; at least 1 column, as runBatch pads an empty text.
      const cost = least[start]! + runCost(end - start, Math.max(1, lengths[order[start]!]!));
      if (cost < least[end]!) {
        least[end] = cost;
        from[end] = start;
      }
    }
  }
  const batches: number[][] = [];
  for (let end = n; end > 0; end = from[end]!) batches.push(order.slice(from[end]!, end));
  return batches.reverse();
}

/** Scales a vector to unit L2 length (zero vectors stay zero). */
export function normalizeInPlace(vector: Float32Array): Float32Array {
  let sum = 0;
  for (const v of vector) sum += v * v;
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let i = 0; i < vector.length; i++) vector[i] = vector[i]! / norm;
  return vector;
}
