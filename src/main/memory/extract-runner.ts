/**
 * Where extraction runs: small texts on the event loop (a few milliseconds), large ones (EXTRACT_IN_WORKER_FROM
 * characters and up) in a worker thread (extract-program.ts), so parsing, the salient passes, chunking and building
 * thousands of drafts never hold the hub. The worker asks this thread to embed (the encoder and its inference workers
 * live here) and sends the drafts back in pieces, each a turn of the event loop of its own. The worker starts with the
 * first large text, stays for the next, is replaced after it fails, and does not keep the process alive when idle.
 */
import type { Worker } from 'node:worker_threads';
import { extractMemories, type ExtractOptions, type ExtractResult, type ExtractStats, type MemoryDraft } from '../extract';
import { startWorker } from '../programs';

/** From this many characters (~64 KB, ~10,000 words) a text is extracted in the worker. */
export const EXTRACT_IN_WORKER_FROM = 64 * 1024;

/**
 * The worker thread's niceness (on Linux, where a thread has its own): its parsing, salient passes and chunking (a 2 MB
 * document: ~25 s of CPU) give way to the hub's event loop and the inference workers, which answer other agents.
 */
export const EXTRACT_NICENESS = 10;

/** Texts per embed call of an extraction in the worker (a search's query waits behind at most one call). */
export const WORKER_EMBED_CALL_SIZE = 8;

export type ExtractJobOptions = Omit<ExtractOptions, 'embed'>;

/** The main thread to the worker: a text to extract, or the vectors (or failure) of an embed it asked for. */
export type ExtractWorkerRequest =
  | { type: 'extract'; job: number; text: string; options: ExtractJobOptions }
  | { type: 'vectors'; job: number; call: number; vectors: Float32Array[] }
  | { type: 'embed-failed'; job: number; call: number; error: string };

/** The worker to the main thread: texts to embed, a piece of the result, the end of a job, or its failure. */
export type ExtractWorkerReply =
  | { type: 'embed'; job: number; call: number; texts: string[] }
  | { type: 'drafts'; job: number; drafts: MemoryDraft[]; vectors: Array<[string, Float32Array]> }
  | { type: 'done'; job: number; stats: ExtractStats }
  | { type: 'failed'; job: number; error: string; code?: string };

/** A failure the worker reported with a code (an ExtractRefused, say): rethrown here with the same code. */
export class ExtractWorkerError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

interface Job {
  embed: ExtractOptions['embed'];
  drafts: MemoryDraft[];
  vectors: Map<string, Float32Array>;
  resolve(result: ExtractResult): void;
  reject(error: Error): void;
}

export class ExtractRunner {
  private worker: Worker | undefined;
  private nextJob = 1;
  private readonly jobs = new Map<number, Job>();
  private closed = false;

  /** `start` starts extract-program.ts in a worker thread; tests may pass their own. Without one, all runs here. */
  constructor(private readonly start: (() => Worker) | null = () => startWorker('extract-worker')) {}

  extract(text: string, options: ExtractOptions): Promise<ExtractResult> {
    if (text.length < EXTRACT_IN_WORKER_FROM || this.start === null) return extractMemories(text, options);
    if (this.closed) return Promise.reject(new Error('the hub is shutting down'));
    // Small embed calls: each call's batches queue in the inference workers ahead of any search's query, so a call of
    // 256 texts made a search wait for all of them (search p99 1.6 s during a 2 MB extraction).
    const { embed, ...rest } = { embedCallSize: WORKER_EMBED_CALL_SIZE, ...options };
    const worker = this.ensureWorker();
    const job = this.nextJob++;
    return new Promise<ExtractResult>((resolve, reject) => {
      this.jobs.set(job, { embed, drafts: [], vectors: new Map(), resolve, reject });
      worker.ref();
      worker.postMessage({ type: 'extract', job, text, options: rest } satisfies ExtractWorkerRequest);
    }).finally(() => {
      if (this.jobs.size === 0) this.worker?.unref();
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
    const worker = this.start!();
    worker.unref();
    worker.on('message', (reply: ExtractWorkerReply) => this.onReply(worker, reply));
    const lost = (error: Error) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.failAll(error);
    };
    worker.on('error', (error) => lost(new Error(`the extraction worker failed: ${error.message}`)));
    worker.on('exit', (code) => lost(new Error(`the extraction worker stopped (exit code ${code})`)));
    this.worker = worker;
    return worker;
  }

  private onReply(worker: Worker, reply: ExtractWorkerReply): void {
    const job = this.jobs.get(reply.job);
    if (!job) return;
    switch (reply.type) {
      case 'embed':
        job.embed(reply.texts).then(
          (vectors) => {
            // Copies the worker owns, handed over without another copy.
            const copies = vectors.map((v) => new Float32Array(v));
            worker.postMessage({ type: 'vectors', job: reply.job, call: reply.call, vectors: copies } satisfies ExtractWorkerRequest, copies.map((v) => v.buffer));
          },
          (error: Error) => worker.postMessage({ type: 'embed-failed', job: reply.job, call: reply.call, error: error.message } satisfies ExtractWorkerRequest),
        );
        return;
      case 'drafts':
        for (const draft of reply.drafts) job.drafts.push(draft);
        for (const [key, vector] of reply.vectors) job.vectors.set(key, vector);
        return;
      case 'done':
        this.jobs.delete(reply.job);
        job.resolve({ drafts: job.drafts, vectors: job.vectors, stats: reply.stats });
        return;
      case 'failed':
        this.jobs.delete(reply.job);
        job.reject(new ExtractWorkerError(reply.error, reply.code));
        return;
    }
  }

  private failAll(error: Error): void {
    for (const job of this.jobs.values()) job.reject(error);
    this.jobs.clear();
  }
}
