/**
 * The inference worker (a worker thread started by inference-worker.ts): one ONNX session, runs posted batches in
 * order, urgent ones (a search's query) before the others still waiting.
 */
import * as ort from 'onnxruntime-node';
import { parentPort, workerData } from 'node:worker_threads';
import type { InferenceReply, InferenceRequest, InferenceWorkerData, PlainTensor } from './inference-worker';

const port = parentPort!;
const { modelPath, options } = workerData as InferenceWorkerData;
const ready = ort.InferenceSession.create(modelPath, options);
// The encoder posts all batches of a call at once, so the session goes from one batch to the next without waiting for
// the main thread. onnxruntime-node itself runs each inference synchronously on this thread (from a setImmediate), so
// runs never overlap. Two lanes: an urgent run waits only for the run under way, not for the bulk batches queued before
// it (an extraction's); a release is handled strictly after every message posted before it.
const lanes = { urgent: [] as InferenceRequest[], other: [] as InferenceRequest[] };
let pumping = false;
port.on('message', (message: InferenceRequest) => {
  ('urgent' in message && message.urgent ? lanes.urgent : lanes.other).push(message);
  if (!pumping) void pump();
});

async function pump(): Promise<void> {
  pumping = true;
  try {
    for (;;) {
      // A turn first, so runs posted meanwhile are in their lanes before the next one is chosen.
      await new Promise((resolve) => setImmediate(resolve));
      const next = lanes.urgent.shift() ?? lanes.other.shift();
      if (!next) return;
      await handle(next);
      if ('release' in next) return;
    }
  } finally {
    pumping = false;
  }
}

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
