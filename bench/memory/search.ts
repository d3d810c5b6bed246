/** The search phases of the memory benchmark: waiting for the background IVF build, then searches at scale. */
import os from 'node:os';
import { CpuMeter, sleep, waitForQuiet } from '../lib/proc';
import { histogram, histogramLine, summarize } from '../lib/stats';
import type { MemoryClient } from './client';
import { makeQueries } from './notes';
import type { Options } from './options';
import type { IvfWait, SearchPhase } from './results';
import { childPids } from './stores';

/**
 * Waits until the hub's index is IVF and holds every memory, no build child is running (a build past 20k, and
 * again at 40k and 80k, trains in a child process), and the hub is idle: searches must not share the CPU with a
 * build, nor see an index swapped in halfway.
 */
export async function waitForIvf(client: MemoryClient, pid: number, kind: 'ivf' | 'flat', options: Options): Promise<IvfWait> {
  const started = performance.now();
  let builds = 0;
  let sawChild = false;
  let quietSince: number | null = null;
  for (;;) {
    const stats = await client.stats();
    const children = childPids(pid);
    if (children.length > 0 && !sawChild) builds++;
    sawChild = children.length > 0;
    const ready = stats.index.kind === kind && stats.index.size === stats.total && stats.total >= options.memories && children.length === 0;
    if (ready) {
      quietSince ??= performance.now();
      // A build's last steps (loading its parts, the swap and save) happen in the hub itself: wait for it to idle.
      if (performance.now() - quietSince > 3000) {
        await waitForQuiet(pid, { timeoutMs: 30_000 });
        const after = await client.stats();
        if (childPids(pid).length === 0 && after.index.kind === kind && after.index.size === after.total) {
          return { waitedMs: performance.now() - started, kind: after.index.kind, size: after.index.size, total: after.total, builds, timedOut: false };
        }
        quietSince = null;
      }
    } else {
      quietSince = null;
    }
    if (performance.now() - started > options.ivfTimeoutMs) {
      return { waitedMs: performance.now() - started, kind: stats.index.kind, size: stats.index.size, total: stats.total, builds, timedOut: true };
    }
    await sleep(500);
  }
}

export async function searches(client: MemoryClient, options: Options, pid: number): Promise<SearchPhase> {
  const all = makeQueries(options.queries + 30);
  const warmup = all.slice(0, 30);
  const queries = all.slice(30);
  const memories = (await client.stats()).total;
  for (const q of warmup) await client.search(q, options.k);
  const latencies: number[] = [];
  const took: number[] = [];
  let hits = 0;
  let vectorHits = 0;
  let keywordHits = 0;
  const meter = new CpuMeter({ hub: pid, bench: process.pid });
  for (const q of queries) {
    const { ms, result } = await client.search(q, options.k);
    latencies.push(ms);
    took.push(result.tookMs);
    hits += result.hits.length;
    for (const hit of result.hits) {
      if (hit.scores.vectorRank !== null) vectorHits++;
      if (hit.scores.keywordRank !== null) keywordHits++;
    }
  }
  return {
    memories,
    queries: queries.length,
    k: options.k,
    latency: summarize(latencies),
    hubTookMs: summarize(took),
    histogram: histogramLine(histogram(latencies, 0.5)),
    hitsPerQuery: hits / queries.length,
    vectorShare: hits ? vectorHits / hits : 0,
    keywordShare: hits ? keywordHits / hits : 0,
    cpuPercent: meter.read(),
    load1: os.loadavg()[0]!,
  };
}
