/**
 * Trying again after a failure: one definition of a backoff schedule (backoffDelay), used as it is by code that
 * re-arms its own timer (socket reconnects, the file mailbox's workers, the backup scheduler), and retry(), which
 * retries a call in place on p-retry with the same schedule. No Node built-ins: the cockpit uses it in the browser.
 */
import pRetry from 'p-retry';

/** How long to wait before each further attempt. */
export type Backoff =
  | {
      /** The wait before the first retry; each later one is `factor` times the one before, up to `maxMs`. */
      initialMs: number;
      maxMs: number;
      /** Default 2. */
      factor?: number;
      /**
       * 'equal': each wait is drawn between half of it and all of it, so clients that lost the same hub at the same
       * moment do not all come back at the same moment. Default 'none'.
       */
      jitter?: 'none' | 'equal';
    }
  | {
      /** The waits before the first retry, the second, …; the last one repeats. */
      steps: readonly number[];
    };

/** The wait before retry number `retry` (0: the one after the first failure), in ms. `random` returns [0, 1). */
export function backoffDelay(schedule: Backoff, retry: number, random: () => number = Math.random): number {
  const n = Math.max(0, Math.floor(retry));
  if ('steps' in schedule) {
    if (schedule.steps.length === 0) throw new RangeError('a backoff schedule needs at least one step');
    return schedule.steps[Math.min(n, schedule.steps.length - 1)]!;
  }
  // factor ** n overflows to Infinity after enough retries; min() then gives maxMs (0 stays 0, not NaN).
  const grown = schedule.initialMs === 0 ? 0 : schedule.initialMs * (schedule.factor ?? 2) ** n;
  const ceiling = Math.min(schedule.maxMs, grown);
  return schedule.jitter === 'equal' ? ceiling / 2 + random() * (ceiling / 2) : ceiling;
}

export interface RetryOptions {
  backoff: Backoff;
  /** Attempts after the first one. Default 10. */
  retries?: number;
  /** Whether a failure is worth another attempt (default: every failure). `attempt` counts from 1. */
  shouldRetry?: (error: Error, attempt: number) => boolean;
  /** Told of every failure, before the wait. */
  onFailedAttempt?: (error: Error, attempt: number) => void;
  /** Stops retrying: the promise rejects with the signal's reason, also in the middle of a wait. */
  signal?: AbortSignal;
}

/**
 * Calls `operation` until it succeeds, waiting `backoff` between attempts; rejects with the last failure once
 * `shouldRetry` says no or the retries are used up. As with p-retry, throwing p-retry's AbortError (re-exported
 * here) ends it at once, and a TypeError that is not a network error is not retried: it is a bug, not bad luck.
 */
export function retry<T>(operation: (attempt: number) => PromiseLike<T> | T, options: RetryOptions): Promise<T> {
  const { backoff, signal, shouldRetry, onFailedAttempt } = options;
  return pRetry(operation, {
    retries: options.retries ?? 10,
    // The wait is taken in shouldRetry below, which p-retry calls only when another attempt is due, so the schedule
    // is backoffDelay's; p-retry's own exponential timeout is off.
    minTimeout: 0,
    signal,
    onFailedAttempt: onFailedAttempt && (({ error, attemptNumber }) => onFailedAttempt(error, attemptNumber)),
    async shouldRetry({ error, attemptNumber, retriesConsumed }) {
      if (shouldRetry && !shouldRetry(error, attemptNumber)) return false;
      await wait(backoffDelay(backoff, retriesConsumed), signal);
      return true;
    },
  });
}

export { AbortError } from 'p-retry';

/** setTimeout as a promise that an abort signal rejects early (with the signal's reason). */
function wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
