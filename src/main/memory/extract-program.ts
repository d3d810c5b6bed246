/**
 * The extraction worker (a worker thread started by extract-runner.ts): extracts large texts off the event loop,
 * asking the main thread to embed, and sends the drafts back in pieces.
 */
import os from 'node:os';
import { parentPort } from 'node:worker_threads';
import { ExtractRefused, extractMemories } from '../extract';
import { EXTRACT_NICENESS, type ExtractWorkerReply, type ExtractWorkerRequest } from './extract-runner';

/** Drafts per message back: each piece is deserialised in a turn of the hub's event loop of its own. */
const DRAFTS_PER_MESSAGE = 200;

// Linux only: there a thread's priority is its own; elsewhere setting it would lower the whole hub.
if (process.platform === 'linux') {
  try {
    os.setPriority(EXTRACT_NICENESS);
  } catch {
    // Not permitted here: the extraction runs at the hub's priority.
  }
}

const port = parentPort!;
let nextCall = 1;
const waiting = new Map<number, { resolve(vectors: Float32Array[]): void; reject(error: Error): void }>();

port.on('message', (message: ExtractWorkerRequest) => {
  if (message.type === 'extract') {
    void run(message.job, message.text, message.options);
    return;
  }
  const waiter = waiting.get(message.call);
  if (!waiter) return;
  waiting.delete(message.call);
  if (message.type === 'vectors') waiter.resolve(message.vectors);
  else waiter.reject(new Error(message.error));
});

async function run(job: number, text: string, options: Extract<ExtractWorkerRequest, { type: 'extract' }>['options']): Promise<void> {
  try {
    const embed = (texts: string[]) =>
      new Promise<Float32Array[]>((resolve, reject) => {
        const call = nextCall++;
        waiting.set(call, { resolve, reject });
        port.postMessage({ type: 'embed', job, call, texts } satisfies ExtractWorkerReply);
      });
    const { drafts, vectors, stats } = await extractMemories(text, { ...options, embed });
    for (let from = 0; from < drafts.length; from += DRAFTS_PER_MESSAGE) {
      const piece = drafts.slice(from, from + DRAFTS_PER_MESSAGE);
      const pieceVectors: Array<[string, Float32Array]> = [];
      for (const draft of piece) {
        const vector = vectors.get(draft.key);
        if (vector) pieceVectors.push([draft.key, vector]);
      }
      port.postMessage({ type: 'drafts', job, drafts: piece, vectors: pieceVectors } satisfies ExtractWorkerReply);
    }
    port.postMessage({ type: 'done', job, stats } satisfies ExtractWorkerReply);
  } catch (error) {
    port.postMessage({ type: 'failed', job, error: (error as Error).message, ...(error instanceof ExtractRefused ? { code: error.code } : {}) } satisfies ExtractWorkerReply);
  }
}
