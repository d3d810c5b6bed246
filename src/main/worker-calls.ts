/**
 * One worker thread answering numbered requests (the large-body decoders of sends and A2A requests): started with
 * the first call, kept for the next, replaced after it fails; an idle one does not keep the process alive.
 */
import type { Worker } from 'node:worker_threads';

/** What such a worker posts back: the call's result, or the error that stopped it. */
export type WorkerReply<Result> = { id: number; result: Result } | { id: number; error: string };

export class WorkerCalls<Result> {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(result: Result): void; reject(error: Error): void }>();
  private closed = false;

  /** `what` names the worker in errors ("the send decoder"). */
  constructor(
    private readonly startWorker: () => Worker,
    private readonly what: string,
  ) {}

  /** Posts `request(id)` to the worker, handing over `transfer` without a copy; resolves with its reply. */
  call(request: (id: number) => unknown, transfer: ArrayBuffer[]): Promise<Result> {
    if (this.closed) return Promise.reject(new Error('the hub is shutting down'));
    const worker = this.ensureWorker();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage(request(id), transfer);
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
    const worker = this.startWorker();
    // An idle worker must not keep the process alive; one at work is awaited by a request anyway.
    worker.unref();
    worker.on('message', (reply: WorkerReply<Result>) => {
      const waiter = this.waiting.get(reply.id);
      if (!waiter) return;
      this.waiting.delete(reply.id);
      if ('error' in reply) waiter.reject(new Error(reply.error));
      else waiter.resolve(reply.result);
    });
    const lost = (error: Error) => {
      if (this.worker !== worker) return;
      // The next call starts a new one.
      this.worker = undefined;
      this.failAll(error);
    };
    worker.on('error', (error) => lost(new Error(`${this.what} failed: ${error.message}`)));
    worker.on('exit', (code) => lost(new Error(`${this.what} stopped (exit code ${code})`)));
    this.worker = worker;
    return worker;
  }

  private failAll(error: Error): void {
    for (const waiter of this.waiting.values()) waiter.reject(error);
    this.waiting.clear();
  }
}
