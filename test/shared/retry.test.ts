/**
 * The backoff schedule and retry(): the delays as numbers, and retried calls measured on the real clock (lower
 * bounds are the schedule itself; upper bounds leave room for a loaded machine but not for one more step).
 */
import { describe, expect, it } from 'vitest';
import { AbortError, backoffDelay, retry, type Backoff } from '../../src/shared/retry';

const elapsedSince = (start: number) => performance.now() - start;
/** Timers may fire a little early on some platforms (rounding to the millisecond). */
const EARLY_MS = 5;

describe('backoffDelay', () => {
  it('grows by the factor from the first wait up to the ceiling', () => {
    const schedule: Backoff = { initialMs: 250, maxMs: 5000 };
    expect([0, 1, 2, 3, 4, 5, 6, 50].map((n) => backoffDelay(schedule, n))).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
    expect([0, 1, 2, 3].map((n) => backoffDelay({ initialMs: 100, maxMs: 10_000, factor: 3 }, n))).toEqual([100, 300, 900, 2700]);
    // Thousands of failures in (a hub down for a day) the wait is still the ceiling, not Infinity or NaN.
    expect(backoffDelay(schedule, 5000)).toBe(5000);
    expect(backoffDelay({ initialMs: 0, maxMs: 5000 }, 5000)).toBe(0);
  });

  it('with equal jitter, draws each wait between half the delay and all of it', () => {
    const schedule: Backoff = { initialMs: 200, maxMs: 5000, jitter: 'equal' };
    expect(backoffDelay(schedule, 0, () => 0)).toBe(100);
    expect(backoffDelay(schedule, 0, () => 0.5)).toBe(150);
    expect(backoffDelay(schedule, 3, () => 0)).toBe(800);
    expect(backoffDelay(schedule, 10, () => 0.999_999)).toBeCloseTo(5000, 2);
    for (let n = 0; n < 12; n++) {
      const ceiling = Math.min(5000, 200 * 2 ** n);
      const delay = backoffDelay(schedule, n);
      expect(delay).toBeGreaterThanOrEqual(ceiling / 2);
      expect(delay).toBeLessThanOrEqual(ceiling);
    }
  });

  it('follows explicit steps, repeating the last', () => {
    const schedule: Backoff = { steps: [200, 1000, 5000, 30_000] };
    expect([0, 1, 2, 3, 4, 99].map((n) => backoffDelay(schedule, n))).toEqual([200, 1000, 5000, 30_000, 30_000, 30_000]);
    expect(() => backoffDelay({ steps: [] }, 0)).toThrow(RangeError);
  });
});

describe('retry', () => {
  it('waits the schedule between attempts and resolves with the first success', async () => {
    const attempts: number[] = [];
    const start = performance.now();
    const result = await retry(
      (attempt) => {
        attempts.push(attempt);
        if (attempt < 3) throw new Error(`failure ${attempt}`);
        return 'done';
      },
      { backoff: { steps: [150, 300] } },
    );
    const took = elapsedSince(start);
    expect(result).toBe('done');
    expect(attempts).toEqual([1, 2, 3]);
    expect(took).toBeGreaterThanOrEqual(450 - EARLY_MS);
    // A third wait (300 ms more) would put it past 750 ms.
    expect(took).toBeLessThan(750);
  });

  it('gives up after the retries with the last failure, having waited each step once', async () => {
    const failures: number[] = [];
    const start = performance.now();
    let calls = 0;
    const outcome = retry(
      async () => {
        calls++;
        throw new Error(`failure ${calls}`);
      },
      { backoff: { initialMs: 40, maxMs: 1000 }, retries: 3, onFailedAttempt: (_error, attempt) => failures.push(attempt) },
    );
    await expect(outcome).rejects.toThrow('failure 4');
    const took = elapsedSince(start);
    expect(calls).toBe(4);
    expect(failures).toEqual([1, 2, 3, 4]);
    // 40 + 80 + 160 ms; one more step (320 ms) would reach 600.
    expect(took).toBeGreaterThanOrEqual(280 - EARLY_MS);
    expect(took).toBeLessThan(600);
  });

  it('does not wait when shouldRetry says the failure is final', async () => {
    const refused = Object.assign(new Error('revoked'), { status: 410 });
    let calls = 0;
    const start = performance.now();
    const outcome = retry(
      () => {
        calls++;
        throw refused;
      },
      { backoff: { steps: [2000] }, shouldRetry: (error) => (error as Error & { status?: number }).status !== 410 },
    );
    await expect(outcome).rejects.toBe(refused);
    expect(calls).toBe(1);
    expect(elapsedSince(start)).toBeLessThan(1000);
  });

  it('stops at once on an AbortError thrown by the operation', async () => {
    let calls = 0;
    const outcome = retry(
      () => {
        calls++;
        throw new AbortError('not worth another try');
      },
      { backoff: { steps: [2000] } },
    );
    await expect(outcome).rejects.toThrow('not worth another try');
    expect(calls).toBe(1);
  });

  it('an abort in the middle of a wait rejects with its reason, without another attempt', async () => {
    const controller = new AbortController();
    let calls = 0;
    const start = performance.now();
    setTimeout(() => controller.abort(new Error('closing')), 100);
    const outcome = retry(
      () => {
        calls++;
        throw new Error('hub down');
      },
      { backoff: { steps: [5000] }, signal: controller.signal },
    );
    await expect(outcome).rejects.toThrow('closing');
    const took = elapsedSince(start);
    expect(calls).toBe(1);
    expect(took).toBeGreaterThanOrEqual(100 - EARLY_MS);
    expect(took).toBeLessThan(2500);
  });
});
