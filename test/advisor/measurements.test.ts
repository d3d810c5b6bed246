/**
 * The advisor's measurements kept per operation: the recent latencies (the last 1,000 of each operation) and what
 * ran during a stall (the last 500 operations and requests), both fixed rings that overwrite their oldest entry.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Measurements } from '../../src/main/advisor/measurements';

let measurements: Measurements | undefined;
afterEach(() => measurements?.stop());

/** Holds the event loop for `ms`: a real stall, which the stall timer sees late. */
function hold(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    /* busy */
  }
}

describe('Measurements', () => {
  it('gives the p99 of the last 1,000 latencies of an operation, oldest overwritten first', () => {
    measurements = new Measurements(() => 60_000);
    expect(measurements.recentLatency('send')).toBeNull();
    // 1,000 slow sends, then 1,000 fast ones: only the fast ones are left.
    for (let i = 0; i < 1000; i++) measurements.operation('send', 500, undefined);
    expect(measurements.recentLatency('send')).toMatchObject({ p99Ms: 500, count: 1000 });
    for (let i = 1; i <= 1000; i++) measurements.operation('send', i / 100, 'detail');
    const recent = measurements.recentLatency('send')!;
    expect(recent.count).toBe(1000);
    expect(recent.p99Ms).toBe(9.9);
    expect(Date.parse(recent.since)).toBeLessThanOrEqual(Date.now());
    expect(measurements.recentLatency('deliver')).toBeNull();
    measurements.resetLatency('send');
    expect(measurements.recentLatency('send')).toBeNull();
  });

  it('names the operations and requests that overlapped a stall, longest first, with their details', async () => {
    measurements = new Measurements(() => 100);
    measurements.start();
    // Many short operations before the stall push older ones out of the ring; none of them overlaps it.
    for (let i = 0; i < 2000; i++) measurements.operation('deliver', 0.01, () => `to agent ${i}`);
    // Two ticks of the stall timer later, so the stall cannot reach back to them.
    await new Promise((resolve) => setTimeout(resolve, 120));
    const started = performance.now();
    const request = {};
    measurements.requestStarted(request, 'POST /api/v1/agents/x/messages');
    hold(300);
    measurements.operation('send', performance.now() - started, () => 'from a to 1 inbox');
    measurements.requestFinished(request);
    await new Promise((resolve) => setTimeout(resolve, 120));
    const stall = measurements.recentStalls(1).find((s) => s.durationMs >= 200);
    expect(stall).toBeDefined();
    expect(stall!.during).toContain('send (from a to 1 inbox)');
    expect(stall!.during).toContain('POST /api/v1/agents/x/messages');
    expect(stall!.during.some((what) => what.startsWith('deliver'))).toBe(false);
  });
});
