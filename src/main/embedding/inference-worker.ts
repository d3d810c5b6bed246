/**
 * Runs an ONNX model in a worker thread. onnxruntime-node executes each inference on the calling thread: on the
 * hub's main thread a batch of 32 sentences blocked the event loop ~24 ms, delaying every message push meanwhile.
 * The worker holds its own session of the same model; tensors cross as transferred buffers.
 */
import os from 'node:os';
import type * as ort from 'onnxruntime-node';
import { startWorker } from '../programs';

/** What a run gives back: the parts of an ort.Tensor the encoders read, with a no-op dispose. */
export interface RunOutput {
  type: string;
  dims: readonly number[];
  data: Float32Array;
  dispose(): void;
}

export interface RunOptions {
  /** A run someone waits for (a search's query): its worker runs it before the bulk runs queued there. */
  urgent?: boolean;
  /** A run nobody waits on turn by turn (an extraction's texts): a pool keeps it off some workers (see workerPool). */
  bulk?: boolean;
}

export interface InferenceRunner {
  run(feeds: Record<string, ort.Tensor>, outputNames?: readonly string[], options?: RunOptions): Promise<Record<string, RunOutput>>;
  release(): Promise<void>;
}

const RELEASE_TIMEOUT_MS = 5000;

/** A tensor as it crosses to and from the worker (inference-program.ts). */
export interface PlainTensor<D extends ArrayBufferView = ArrayBufferView> {
  type: string;
  dims: readonly number[];
  data: D;
}

export interface InferenceWorkerData {
  modelPath: string;
  options: ort.InferenceSession.SessionOptions;
}

/** A run (answered by an InferenceReply with the same id), or the release that ends the worker. */
export type InferenceRequest = { id: number; feeds: Record<string, PlainTensor>; outputNames?: readonly string[]; urgent?: boolean } | { release: true };

export type InferenceReply = { id: number; result: Record<string, PlainTensor<Float32Array>>; error?: undefined } | { id: number; error: string; result?: undefined };

export function workerRunner(modelPath: string, options: ort.InferenceSession.SessionOptions): InferenceRunner {
  const workerData: InferenceWorkerData = { modelPath, options };
  const worker = startWorker('inference-worker', { workerData });
  worker.unref();
  let nextId = 1;
  const pending = new Map<number, { resolve(value: Record<string, RunOutput>): void; reject(error: Error): void }>();
  const failAll = (error: Error) => {
    for (const waiter of pending.values()) waiter.reject(error);
    pending.clear();
  };
  worker.on('message', (message: InferenceReply) => {
    const waiter = pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    if (message.error !== undefined || !message.result) {
      waiter.reject(new Error(message.error ?? 'the inference worker returned nothing'));
      return;
    }
    const outputs: Record<string, RunOutput> = {};
    for (const [name, output] of Object.entries(message.result)) outputs[name] = { ...output, dispose: () => undefined };
    waiter.resolve(outputs);
  });
  worker.on('error', (error) => failAll(error));
  worker.on('exit', (code) => failAll(new Error(`the inference worker exited (${code})`)));

  return {
    run(feeds, outputNames, runOptions) {
      const id = nextId++;
      const plain: Record<string, PlainTensor> = {};
      for (const [name, tensor] of Object.entries(feeds)) plain[name] = { type: tensor.type, data: tensor.data as ArrayBufferView, dims: tensor.dims };
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        // Ref'd while a run is outstanding, so a process waiting only on an embedding does not exit early.
        worker.ref();
        worker.postMessage({ id, feeds: plain, outputNames, ...(runOptions?.urgent ? { urgent: true } : {}) } satisfies InferenceRequest);
      }).finally(() => {
        if (pending.size === 0) worker.unref();
      }) as Promise<Record<string, RunOutput>>;
    },
    async release() {
      worker.ref();
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      worker.postMessage({ release: true } satisfies InferenceRequest);
      const timer = setTimeout(() => void worker.terminate(), RELEASE_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Workers a pool lets bulk runs use: all but one core's worth, so that on 2 cores an extraction's batches keep one
 * worker busy and the hub's main thread (answering every agent) and interactive runs share the other core. With both
 * workers on bulk batches and the main thread storing drafts, three busy threads took turns on two cores, and other
 * agents' message and search p99 doubled during a 2 MB extraction.
 */
export function bulkWorkersFor(size: number, cores = os.availableParallelism()): number {
  return Math.max(1, Math.min(size, cores - 1));
}

/**
 * `size` inference workers, each with a single-threaded session of the model; each run goes to the worker with the
 * least work outstanding, counted in input elements (a batch's rows × padded length); a bulk run only to one of the
 * first `bulkWorkers`, so interactive runs find the others free of its backlog. An urgent run waits only for the run
 * under way in its worker, not for the ones queued (inference-program.ts). Why not one worker with `size` intra-op
 * threads: on the project's 2-core machines a single-threaded session embeds a text for ~725 µs of CPU against
 * ~900 µs for a two-threaded one (the threads synchronise on every operator), so two sessions side by side do ~25%
 * more texts per second when both cores are free, and waste less when the hub's main thread needs one.
 * Why elements and not runs: batches come longest first, so alternating runs gave one worker all the long ones.
 */
export function workerPool(modelPath: string, options: ort.InferenceSession.SessionOptions, size: number, bulkWorkers = bulkWorkersFor(size)): InferenceRunner {
  if (size <= 1) return workerRunner(modelPath, { ...options, intraOpNumThreads: 1 });
  // (A session kept for urgent runs only cost ~58 MB more of the hub's memory, for no difference measured in other
  // agents' search latency during a 2 MB extraction; the urgent lane inside each worker costs nothing.)
  const workers = Array.from({ length: size }, () => ({ runner: workerRunner(modelPath, { ...options, intraOpNumThreads: 1 }), outstanding: 0 }));
  const forBulk = workers.slice(0, Math.max(1, Math.min(size, bulkWorkers)));
  return {
    run(feeds, outputNames, runOptions) {
      const first = Object.values(feeds)[0];
      const work = first ? first.dims.reduce((product, dim) => product * dim, 1) : 1;
      const worker = (runOptions?.bulk ? forBulk : workers).reduce((best, w) => (w.outstanding < best.outstanding ? w : best));
      worker.outstanding += work;
      return worker.runner.run(feeds, outputNames, runOptions).finally(() => (worker.outstanding -= work));
    },
    async release() {
      await Promise.all(workers.map((w) => w.runner.release()));
    },
  };
}
