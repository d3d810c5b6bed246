/** The store phases of the memory benchmark: single stores, concurrent singles, batched stores (with settling between phases). */
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import type { StoredMemory } from '../../src/shared/memory-protocol';
import { CpuMeter, threadCpuSeconds, waitForQuiet, waitForQuietMachine } from '../lib/proc';
import { histogram, histogramLine, summarize } from '../lib/stats';
import { fmt } from '../lib/table';
import { operationDelta, type MemoryClient } from './client';
import { prng, type Draft, type NoteGenerator } from './notes';
import type { Options } from './options';
import type { BatchedPhase, StorePhase } from './results';

let quietWaitMs = 10_000;

/** How long settle() waits for other processes to go quiet before a phase (0: never). */
export function setQuietWaitMs(ms: number): void {
  quietWaitMs = ms;
}

export async function settle(pid: number, what: string): Promise<void> {
  await waitForQuiet(pid, { timeoutMs: 30_000 });
  if (quietWaitMs === 0) return;
  const { othersPercent, waitedMs } = await waitForQuietMachine([pid, process.pid, ...childPids(pid)], { timeoutMs: quietWaitMs });
  if (othersPercent !== null && othersPercent > 25) {
    console.warn(`[${what}] other processes still use ${othersPercent}% CPU after ${fmt(waitedMs / 1000)} s; measuring anyway (see "others" in CPU)`);
  }
}

/** Stores that added no memory (a supersedes outcome adds one: the newer value). */
function countReinforced(stored: StoredMemory[]): number {
  return stored.filter((s) => s.outcome === 'reinforced').length;
}

async function storePhase(
  client: MemoryClient,
  pid: number,
  body: (record: (ms: number, stored: StoredMemory[]) => void) => Promise<void>,
): Promise<StorePhase> {
  const latencies: number[] = [];
  let memories = 0;
  let reinforced = 0;
  let superseding = 0;
  const before = await client.operations();
  const meter = new CpuMeter({ hub: pid, bench: process.pid });
  const threadsBefore = threadCpuSeconds(pid);
  const started = performance.now();
  await body((ms, stored) => {
    latencies.push(ms);
    memories += stored.length;
    reinforced += countReinforced(stored);
    superseding += stored.filter((s) => s.outcome === 'supersedes').length;
  });
  const wallMs = performance.now() - started;
  const cpuPercent = meter.read();
  const threadsAfter = threadCpuSeconds(pid);
  const perMemory = (seconds: number) => (memories > 0 ? (seconds * 1000) / memories : NaN);
  const hubCpuMsPerMemory =
    threadsBefore && threadsAfter
      ? {
          main: perMemory(threadsAfter.main - threadsBefore.main),
          others: perMemory(threadsAfter.others - threadsBefore.others),
          total: perMemory(threadsAfter.main + threadsAfter.others - threadsBefore.main - threadsBefore.others),
          // The busiest other threads (the two inference workers first, then V8's helpers: garbage collection).
          busiestOthers: [...threadsAfter.threads]
            .filter(([tid]) => tid !== pid)
            .map(([tid, seconds]) => perMemory(seconds - (threadsBefore.threads.get(tid) ?? 0)))
            .sort((a, b) => b - a)
            .slice(0, 4),
        }
      : null;
  const ops = operationDelta(before, await client.operations());
  const embed = ops?.embed;
  return {
    memories,
    requests: latencies.length,
    wallMs,
    perSecond: (memories / wallMs) * 1000,
    latency: summarize(latencies),
    histogram: histogramLine(histogram(latencies, 0.5)),
    reinforced,
    superseding,
    embedRuns: embed ? embed.count : null,
    memoriesPerEmbedRun: embed && embed.count > 0 ? memories / embed.count : null,
    embedMs: embed ? embed.sumMs : null,
    cpuPercent,
    hubCpuMsPerMemory,
    load1: os.loadavg()[0]!,
  };
}

export function singleStores(client: MemoryClient, notes: NoteGenerator, count: number, pid: number): Promise<StorePhase> {
  const drafts = notes.take(count);
  return storePhase(client, pid, async (record) => {
    for (const draft of drafts) {
      const { ms, stored } = await client.store([draft]);
      record(ms, stored);
    }
  });
}

export function concurrentStores(client: MemoryClient, notes: NoteGenerator, count: number, clients: number, pid: number): Promise<StorePhase> {
  const drafts = notes.take(count);
  return storePhase(client, pid, async (record) => {
    let next = 0;
    const worker = async () => {
      while (next < drafts.length) {
        const draft = drafts[next++]!;
        const { ms, stored } = await client.store([draft]);
        record(ms, stored);
      }
    };
    await Promise.all(Array.from({ length: clients }, worker));
  });
}

export async function batchedStores(client: MemoryClient, notes: NoteGenerator, options: Options, already: number, pid: number): Promise<BatchedPhase> {
  const target = options.memories;
  const random = prng(99);
  // Progress marks (memories the hub holds, ms since start), for the rate by stretch of the load.
  const marks: Array<[number, number]> = [[already, 0]];
  let held = already;
  let planned = already;
  let lastLog = 0;
  let phaseStarted = 0;
  // Batches are made as they are sent, until the hub holds `target` memories: a text the engine folds into a
  // near-identical one (reinforced) does not count, so the load is topped up to the full count.
  const nextBatch = (): Draft[] | null => {
    if (planned >= target) return null;
    const size = Math.min(target - planned, options.batchMin + Math.floor(random() * (options.batchMax - options.batchMin + 1)));
    planned += size;
    return notes.take(size);
  };
  const phase = await storePhase(client, pid, async (record) => {
    phaseStarted = performance.now();
    const worker = async () => {
      for (let batch = nextBatch(); batch; batch = nextBatch()) {
        const reply = await client.store(batch);
        record(reply.ms, reply.stored);
        const reinforced = countReinforced(reply.stored);
        held += batch.length - reinforced;
        planned -= reinforced;
        const at = performance.now() - phaseStarted;
        marks.push([held, at]);
        if (at - lastLog > 10_000) {
          lastLog = at;
          console.log(`  [batched] ${held.toLocaleString('en-US')} memories after ${fmt(at / 1000)} s (${fmt(((held - already) / at) * 1000)}/s)`);
        }
      }
    };
    await Promise.all(Array.from({ length: options.batchInflight }, worker));
  });
  marks.sort((a, b) => a[1] - b[1]);
  const bounds = [already, ...[20_000, 40_000, 80_000].filter((b) => b > already && b < target), target];
  const markAt = (count: number) => marks.find(([n]) => n >= count) ?? marks[marks.length - 1]!;
  const segments = bounds.slice(1).map((to, i) => {
    const [fromCount, fromMs] = markAt(bounds[i]!);
    const [toCount, toMs] = markAt(to);
    const seconds = (toMs - fromMs) / 1000;
    return { from: fromCount, to: toCount, seconds, perSecond: seconds > 0 ? (toCount - fromCount) / seconds : NaN };
  });
  return { ...phase, inflight: options.batchInflight, batchSizes: { min: options.batchMin, max: options.batchMax }, segments };
}

/** Pids of the direct children of a process (the hub's IVF build runs in one). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // Not Linux, or the process is gone.
  }
  return out;
}
