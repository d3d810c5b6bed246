/**
 * Where A2A requests are decoded (decode-request.ts): small ones on the event loop, at once; large ones (64 KiB and
 * up) in a worker thread, so the parse, the depth scan and the base64 of megabyte file parts never hold up the rest
 * of the hub. The worker starts with the first large request and stays for the next (as the send decoder does).
 */
import { randomUUID } from 'node:crypto';
import type { Worker } from 'node:worker_threads';
import { decodeA2aRequest, type DecodedA2aRequest } from './decode-request';

/** Requests of this many bytes and more are decoded in the worker. */
export const DECODE_IN_WORKER_FROM = 64 * 1024;

/**
 * The prefix of the placeholder URLs that stand for taken file bytes. Random per process: a caller cannot name one
 * in its own url parts, so only the hub's placeholders are ever swapped for bytes or references.
 */
export const FILE_STUB_PREFIX = `devenviro-a2a-file:${randomUUID()}/`;

/** What the event loop posts to the worker: a request's bytes (a copy the worker owns). */
export interface A2aDecodeRequest {
  id: number;
  bytes: Uint8Array;
  stubPrefix: string;
}

export type A2aDecodeReply = { id: number; result: DecodedA2aRequest } | { id: number; error: string };

export class A2aRequestDecoder {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(result: DecodedA2aRequest): void; reject(error: Error): void }>();
  private closed = false;

  /** `startWorker` starts request-decoder-program.ts; without it everything is decoded on the event loop. */
  constructor(private readonly startWorker?: () => Worker) {}

  decode(bytes: Buffer): DecodedA2aRequest | Promise<DecodedA2aRequest> {
    if (bytes.length < DECODE_IN_WORKER_FROM || !this.startWorker) return decodeA2aRequest(bytes, FILE_STUB_PREFIX);
    if (this.closed) return Promise.reject(new Error('the hub is shutting down'));
    const worker = this.ensureWorker();
    const id = this.nextId++;
    // A copy of exactly these bytes, handed over without another: the request's buffer may be a view of a larger one.
    const copy = new Uint8Array(bytes);
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ id, bytes: copy, stubPrefix: FILE_STUB_PREFIX } satisfies A2aDecodeRequest, [copy.buffer]);
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
    worker.on('message', (reply: A2aDecodeReply) => {
      const waiter = this.waiting.get(reply.id);
      if (!waiter) return;
      this.waiting.delete(reply.id);
      if ('error' in reply) waiter.reject(new Error(reply.error));
      else waiter.resolve(reply.result);
    });
    const lost = (error: Error) => {
      if (this.worker !== worker) return;
      // The next large request starts a new one.
      this.worker = undefined;
      this.failAll(error);
    };
    worker.on('error', (error) => lost(new Error(`the A2A request decoder failed: ${error.message}`)));
    worker.on('exit', (code) => lost(new Error(`the A2A request decoder stopped (exit code ${code})`)));
    this.worker = worker;
    return worker;
  }

  private failAll(error: Error): void {
    for (const waiter of this.waiting.values()) waiter.reject(error);
    this.waiting.clear();
  }
}
