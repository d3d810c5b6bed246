/**
 * Runs an ONNX model in a worker thread. onnxruntime-node executes each inference on the calling thread: on the
 * hub's main thread a batch of 32 sentences blocked the event loop ~24 ms, delaying every message push meanwhile.
 * The worker holds its own session of the same model; tensors cross as transferred buffers.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type * as ort from 'onnxruntime-node';

/** What a run gives back: the parts of an ort.Tensor the encoders read, with a no-op dispose. */
export interface RunOutput {
  type: string;
  dims: readonly number[];
  data: Float32Array;
  dispose(): void;
}

export interface InferenceRunner {
  run(feeds: Record<string, ort.Tensor>, outputNames?: readonly string[]): Promise<Record<string, RunOutput>>;
  release(): Promise<void>;
}

const RELEASE_TIMEOUT_MS = 5000;

// CommonJS, run as an eval worker, so the build needs no separate entry for it.
const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const ort = require(workerData.ortPath);
const ready = ort.InferenceSession.create(workerData.modelPath, workerData.options);
// The encoder posts all batches of a call at once, so the session goes from one batch to the next without waiting for
// the main thread. onnxruntime-node itself runs each inference synchronously on this thread (from a setImmediate), so
// runs never overlap; the queue is kept so a release is also handled strictly after every message posted before it.
let queue = Promise.resolve();
parentPort.on('message', (message) => {
  queue = queue.then(() => handle(message));
});
async function handle({ id, feeds, outputNames, release }) {
  if (release) {
    // Released here, on the thread that owns it: terminating a thread that still holds a session aborts the process.
    const session = await ready.catch(() => null);
    if (session) await session.release();
    parentPort.close();
    return;
  }
  try {
    const session = await ready;
    const tensors = {};
    for (const [name, f] of Object.entries(feeds)) tensors[name] = new ort.Tensor(f.type, f.data, f.dims);
    const outputs = outputNames ? await session.run(tensors, outputNames) : await session.run(tensors);
    const result = {};
    const transfer = [];
    for (const [name, t] of Object.entries(outputs)) {
      const data = new Float32Array(t.data);
      result[name] = { type: t.type, dims: t.dims, data };
      transfer.push(data.buffer);
      t.dispose();
    }
    for (const t of Object.values(tensors)) t.dispose();
    parentPort.postMessage({ id, result }, transfer);
  } catch (error) {
    parentPort.postMessage({ id, error: String(error && error.message || error) });
  }
}
`;

export function workerRunner(modelPath: string, options: ort.InferenceSession.SessionOptions): InferenceRunner {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { ortPath: createRequire(import.meta.url).resolve('onnxruntime-node'), modelPath, options },
  });
  worker.unref();
  let nextId = 1;
  const pending = new Map<number, { resolve(value: Record<string, RunOutput>): void; reject(error: Error): void }>();
  const failAll = (error: Error) => {
    for (const waiter of pending.values()) waiter.reject(error);
    pending.clear();
  };
  worker.on('message', (message: { id: number; result?: Record<string, Omit<RunOutput, 'dispose'>>; error?: string }) => {
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
    run(feeds, outputNames) {
      const id = nextId++;
      const plain: Record<string, { type: string; data: ArrayBufferView; dims: readonly number[] }> = {};
      for (const [name, tensor] of Object.entries(feeds)) plain[name] = { type: tensor.type, data: tensor.data as ArrayBufferView, dims: tensor.dims };
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        // Ref'd while a run is outstanding, so a process waiting only on an embedding does not exit early.
        worker.ref();
        worker.postMessage({ id, feeds: plain, outputNames });
      }).finally(() => {
        if (pending.size === 0) worker.unref();
      }) as Promise<Record<string, RunOutput>>;
    },
    async release() {
      worker.ref();
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      worker.postMessage({ release: true });
      const timer = setTimeout(() => void worker.terminate(), RELEASE_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * `size` inference workers, each with a single-threaded session of the model; each run goes to the worker with the
 * least work outstanding, counted in input elements (a batch's rows × padded length). Why not one worker with
 * `size` intra-op threads: on the project's 2-core machines a single-threaded session embeds a text for ~725 µs of
 * CPU against ~900 µs for a two-threaded one (the threads synchronise on every operator), so two sessions side by
 * side do ~25% more texts per second when both cores are free, and waste less when the hub's main thread needs one.
 * Why elements and not runs: batches come longest first, so alternating runs gave one worker all the long ones.
 */
export function workerPool(modelPath: string, options: ort.InferenceSession.SessionOptions, size: number): InferenceRunner {
  if (size <= 1) return workerRunner(modelPath, { ...options, intraOpNumThreads: 1 });
  const workers = Array.from({ length: size }, () => ({ runner: workerRunner(modelPath, { ...options, intraOpNumThreads: 1 }), outstanding: 0 }));
  return {
    run(feeds, outputNames) {
      const first = Object.values(feeds)[0];
      const work = first ? first.dims.reduce((product, dim) => product * dim, 1) : 1;
      const worker = workers.reduce((best, w) => (w.outstanding < best.outstanding ? w : best));
      worker.outstanding += work;
      return worker.runner.run(feeds, outputNames).finally(() => (worker.outstanding -= work));
    },
    async release() {
      await Promise.all(workers.map((w) => w.runner.release()));
    },
  };
}
