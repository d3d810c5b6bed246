/** The inference worker (a worker thread started by inference-worker.ts): one ONNX session, runs posted batches in order. */
import * as ort from 'onnxruntime-node';
import { parentPort, workerData } from 'node:worker_threads';
import type { InferenceReply, InferenceRequest, InferenceWorkerData, PlainTensor } from './inference-worker';

const port = parentPort!;
const { modelPath, options } = workerData as InferenceWorkerData;
const ready = ort.InferenceSession.create(modelPath, options);
// The encoder posts all batches of a call at once, so the session goes from one batch to the next without waiting for
// the main thread. onnxruntime-node itself runs each inference synchronously on this thread (from a setImmediate), so
// runs never overlap; the queue is kept so a release is also handled strictly after every message posted before it.
let queue = Promise.resolve();
port.on('message', (message: InferenceRequest) => {
  queue = queue.then(() => handle(message));
});

async function handle(message: InferenceRequest): Promise<void> {
  if ('release' in message) {
    // Released here, on the thread that owns it: terminating a thread that still holds a session aborts the process.
    const session = await ready.catch(() => null);
    if (session) await session.release();
    port.close();
    return;
  }
  const { id, feeds, outputNames } = message;
  try {
    const session = await ready;
    const tensors: Record<string, ort.Tensor> = {};
    for (const [name, f] of Object.entries(feeds)) tensors[name] = new ort.Tensor(f.type as ort.Tensor.Type, f.data as ort.Tensor.DataType, f.dims);
    const outputs = outputNames ? await session.run(tensors, outputNames) : await session.run(tensors);
    const result: Record<string, PlainTensor<Float32Array>> = {};
    const transfer: ArrayBuffer[] = [];
    for (const [name, t] of Object.entries(outputs)) {
      const data = new Float32Array(t.data as ArrayLike<number>);
      result[name] = { type: t.type, dims: t.dims, data };
      transfer.push(data.buffer);
      t.dispose();
    }
    for (const t of Object.values(tensors)) t.dispose();
    port.postMessage({ id, result } satisfies InferenceReply, transfer);
  } catch (error) {
    port.postMessage({ id, error: String((error as Error | undefined)?.message || error) } satisfies InferenceReply);
  }
}
