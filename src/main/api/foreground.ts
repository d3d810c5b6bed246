/**
 * Interactive work before bulk work on the hub's event loop. HTTP requests are counted while they run (api/server.ts);
 * bulk work that runs in slices (an extraction's commits, the memory graph's batches, the extraction's embed calls)
 * asks for a turn between slices and gets it once no request is running, or after a bounded wait so it still advances
 * under constant traffic. Why: a search takes several turns of the event loop (parsed, its query embedded in a worker,
 * answered); with a commit of the extraction in every turn, each of those turns waited for one, and on a loaded
 * machine a commit of 4 memories is tens of milliseconds.
 *
 * One per process: every hub in it shares the count (in tests several hubs may share a process; they only wait a little
 * more for each other).
 */

/**
 * A request counts as interactive for this long. Longer ones (a long poll, a stream, a large extraction's own request)
 * are not what anyone waits on turn by turn, and must not hold bulk work back for their whole life.
 */
export const INTERACTIVE_FOR_MS = 1000;

/** Bulk work waits at most this long per slice for a quiet moment. */
export const BULK_MAX_WAIT_MS = 50;

export class Foreground {
  /** Requests running, with when they started. */
  private readonly running = new Map<object, number>();
  private quiet: { promise: Promise<void>; resolve(): void } | undefined;

  started(key: object): void {
    this.running.set(key, performance.now());
  }

  finished(key: object): void {
    if (!this.running.delete(key)) return;
    if (!this.busy()) this.wakeBulk();
  }

  /** Takes a request out of the count while it is still running: it is bulk work itself (an extraction). */
  demote(key: object): void {
    this.finished(key);
  }

  /** Whether an interactive request is running (ones running longer than INTERACTIVE_FOR_MS are dropped). */
  busy(): boolean {
    if (this.running.size === 0) return false;
    const since = performance.now() - INTERACTIVE_FOR_MS;
    for (const [key, started] of this.running) {
      if (started >= since) return true;
      this.running.delete(key);
    }
    return false;
  }

  /**
   * A turn for bulk work: resolves after at least one turn of the event loop (so requests that arrived meanwhile are
   * read and counted), once no interactive request is running, or once `maxWaitMs` has passed.
   */
  async turn(maxWaitMs = BULK_MAX_WAIT_MS): Promise<void> {
    const deadline = performance.now() + maxWaitMs;
    for (;;) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      const left = deadline - performance.now();
      if (!this.busy() || left <= 0) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.quietPromise(), new Promise<void>((resolve) => (timer = setTimeout(resolve, left)))]);
      clearTimeout(timer);
    }
  }

  private quietPromise(): Promise<void> {
    if (!this.quiet) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.quiet = { promise, resolve };
    }
    return this.quiet.promise;
  }

  private wakeBulk(): void {
    const quiet = this.quiet;
    this.quiet = undefined;
    quiet?.resolve();
  }
}

/** The process's count of interactive requests. */
export const foreground = new Foreground();
