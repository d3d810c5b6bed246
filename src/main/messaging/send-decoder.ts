/**
 * Where sends are decoded (decode-send.ts): small documents on the event loop, at once; large ones (SPLIT_SENDS_FROM
 * bytes and up) in a worker thread, so parsing, checking and re-serialising a 9 MB JSON body never holds up the
 * other agents. The worker starts with the first large send and stays for the next.
 */
import type { Worker } from 'node:worker_threads';
import { decodeSend, type DecodedSend } from './decode-send';
import { WorkerCalls, type WorkerReply } from '../worker-calls';
import { SPLIT_SENDS_FROM } from './json-body';

/** What the event loop posts to the worker: a document to decode, its bytes a copy the worker owns. */
export interface DecodeRequest {
  id: number;
  bytes: Uint8Array;
  nested: boolean;
}

/** What the worker posts back: the decoded send, or the error that stopped it. */
export type DecodeReply = WorkerReply<DecodedSend>;

export class SendDecoder {
  private readonly calls: WorkerCalls<DecodedSend> | undefined;

  /** `startWorker` starts send-decoder-program.ts; without it everything is decoded on the event loop. */
  constructor(startWorker?: () => Worker) {
    this.calls = startWorker && new WorkerCalls<DecodedSend>(startWorker, 'the send decoder');
  }

  /** Decodes a send: synchronously when small (no turn of the event loop, so frames keep their order cheaply). */
  decode(bytes: Buffer, nested: boolean): DecodedSend | Promise<DecodedSend> {
    if (bytes.length < SPLIT_SENDS_FROM || !this.calls) return decodeSend(bytes, nested);
    // A copy of exactly these bytes, handed over without another: the caller's buffer may be a view of a larger one.
    const copy = new Uint8Array(bytes);
    return this.calls.call((id) => ({ id, bytes: copy, nested }) satisfies DecodeRequest, [copy.buffer]);
  }

  async close(): Promise<void> {
    await this.calls?.close();
  }
}
