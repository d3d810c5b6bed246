/**
 * Where A2A requests are decoded (decode-request.ts): small ones on the event loop, at once; large ones (64 KiB and
 * up) in a worker thread, so the parse, the depth scan and the base64 of megabyte file parts never hold up the rest
 * of the hub. The worker starts with the first large request and stays for the next (as the send decoder does).
 */
import { randomUUID } from 'node:crypto';
import type { Worker } from 'node:worker_threads';
import { WorkerCalls, type WorkerReply } from '../worker-calls';
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

export type A2aDecodeReply = WorkerReply<DecodedA2aRequest>;

export class A2aRequestDecoder {
  private readonly calls: WorkerCalls<DecodedA2aRequest> | undefined;

  /** `startWorker` starts request-decoder-program.ts; without it everything is decoded on the event loop. */
  constructor(startWorker?: () => Worker) {
    this.calls = startWorker && new WorkerCalls<DecodedA2aRequest>(startWorker, 'the A2A request decoder');
  }

  decode(bytes: Buffer): DecodedA2aRequest | Promise<DecodedA2aRequest> {
    if (bytes.length < DECODE_IN_WORKER_FROM || !this.calls) return decodeA2aRequest(bytes, FILE_STUB_PREFIX);
    // A copy of exactly these bytes, handed over without another: the request's buffer may be a view of a larger one.
    const copy = new Uint8Array(bytes);
    return this.calls.call((id) => ({ id, bytes: copy, stubPrefix: FILE_STUB_PREFIX }) satisfies A2aDecodeRequest, [copy.buffer]);
  }

  async close(): Promise<void> {
    await this.calls?.close();
  }
}
