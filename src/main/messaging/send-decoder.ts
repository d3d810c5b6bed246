/**
 * Where sends are decoded (decode-send.ts): small documents on the event loop, at once; large ones (SPLIT_SENDS_FROM
 * bytes and up) in a worker thread, so parsing, checking and re-serialising a 9 MB JSON body never holds up the
 * other agents. The worker starts with the first large send and stays for the next.
 */
import type { Worker } from 'node:worker_threads';
import { decodeSend, type DecodedSend } from './decode-send';
import { SPLIT_SENDS_FROM } from './json-body';

/** What the event loop posts to the worker: a document to decode, its bytes a copy the worker owns. */
export interface DecodeRequest {
  id: number;
  bytes: Uint8Array;
  nested: boolean;
}

/** What the worker posts back: the decoded send, or the error that stopped it. */
export type DecodeReply = { id: number; result: DecodedSend } | { id: number; error: string };

export class SendDecoder {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(result: DecodedSend): void; reject(error: Error): void }>();
  private closed = false;

  /** `startWorker` starts send-decoder-program.ts; without it everything is decoded on the event loop. */
  constructor(private readonly startWorker?: () => Worker) {}

  /** Decodes a send: synchronously when small (no turn of the event loop, so frames keep their order cheaply). */
  decode(bytes: Buffer, nested: boolean): DecodedSend | Promise<DecodedSend> {
    if (bytes.length < SPLIT_SENDS_FROM || !this.startWorker) return decodeSend(bytes, nested);
    if (this.closed) return Promise.reject(new Error('the hub is shutting down'));
    const worker = this.ensureWorker();
    const id = this.nextId++;
    // A copy of exactly these bytes, handed over without another: the caller's buffer may be a view of a larger one.
    const copy = new Uint8Array(bytes);
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ id, bytes: copy, nested } satisfies DecodeRequest, [copy.buffer]);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    this.failAll(new Error('the hub is shutting down'));
    await worker?.terminate();
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = this.startWorker!();
    // An idle decoder must not keep the process alive; one at work is awaited by a request anyway.
    worker.unref();
    worker.on('message', (reply: DecodeReply) => {
      const waiter = this.waiting.get(reply.id);
      if (!waiter) return;
      this.waiting.delete(reply.id);
      if ('error' in reply) waiter.reject(new Error(reply.error));
      else waiter.resolve(reply.result);
    });
    const lost = (error: Error) => {
      if (this.worker !== worker) return;
      // The next large send starts a new one.
      this.worker = undefined;
      this.failAll(error);
    };
    worker.on('error', (error) => lost(new Error(`the send decoder failed: ${error.message}`)));
    worker.on('exit', (code) => lost(new Error(`the send decoder stopped (exit code ${code})`)));
    this.worker = worker;
    return worker;
  }

  private failAll(error: Error): void {
    for (const waiter of this.waiting.values()) waiter.reject(error);
    this.waiting.clear();
  }
}
