/**
 * The memory engine benchmark: `npm run bench -- memory [options]`.
 *
 * End to end against a real hub process (node out/main/headless.js, fresh temp data dir, --port 0), over HTTP with
 * an agent token, embedding included in every number:
 *
 * | phase      | what |
 * |---|---|
 * | single     | one store in flight at a time on an empty engine (warm-up excluded): client round trip p50/p99 |
 * | concurrent | many single stores in flight at once (the engine groups them: one ONNX run + one commit per group) |
 * | batched    | POST {memories:[…]} batches of 100–500 (a few in flight) up to 100,000 memories: memories/s, by segment |
 * | ivf        | waits for the background IVF build (stats says ivf, size matches, no build child, hub idle; below
 * |            | 20,000 memories the index stays flat and only the size is awaited) |
 * | search     | distinct realistic queries, one in flight, at 100,000 memories: p50/p99 (client and hub's tookMs) |
 * | single@N   | one store in flight again, at 100,000 memories (dedupe against the IVF index) |
 * | recall     | after the hub stops: its saved vector index reopened here, recall@10 vs an exact scan (optional); |
 * |            | and the near-duplicate check (edited copies of stored notes) against exact search and FAISS's |
 *
 * Texts are composed from seeded vocabularies (people, components, files, errors, causes, decisions…) into 8–30-word
 * developer notes of six kinds; all distinct. Queries are questions composed the same way (never a stored text).
 * Prints a metric | target | measured | pass/fail table and writes bench/results/memory-<timestamp>.json.
 *
 * This file (bench/memory/suite.ts) runs the phases in order; beside it: options.ts, notes.ts (texts and questions),
 * client.ts (HTTP), stores.ts (single, concurrent, batched), search.ts (IVF wait, search), recall.ts, results.ts
 * (result shapes) and report.ts (tables and targets).
 */
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureBuilt, snapshotBuild, startHub, type BuildState, type RunningHub } from '../lib/hub-process';
import { machineFacts, machineLine } from '../lib/machine';
import { memoryStatus } from '../lib/proc';
import { summarizeProfile } from '../lib/profile';
import { resultsDir, timestampForFile, writeResults } from '../lib/results';
import { fmt, printTable } from '../lib/table';
import { call, MemoryClient } from './client';
import { NoteGenerator } from './notes';
import { parseOptions } from './options';
import { recallCheck } from './recall';
import { logStore, printDetails, summaryRows } from './report';
import type { Results } from './results';
import { searches, waitForIvf } from './search';
import { batchedStores, concurrentStores, setQuietWaitMs, settle, singleStores } from './stores';

export const description = 'memory engine end to end over HTTP: single and batched stores, grouped concurrent stores, search at 100,000 memories';


/** The hub's default VectorIndexTuning.ivfThreshold: below it the index stays exact (flat) and no IVF is awaited. */
const IVF_THRESHOLD = 20_000;

export async function run(argv: string[] = []): Promise<number> {
  const options = parseOptions(argv);
  if (!options) return 0;
  setQuietWaitMs(options.quietWaitMs);
  const started = new Date();
  const machine = machineFacts();
  console.log(`Memory benchmark — ${machineLine(machine)}`);
  if (options.quick) console.log('--quick: a smoke run with small counts; do not quote these numbers.');
  const build: BuildState = options.hubEntry ? { built: false, stale: null, builtAt: null } : ensureBuilt(options.build);
  const snapshot = snapshotBuild(options.hubEntry);
  const results: Results = {
    suite: 'memory',
    startedAt: started.toISOString(),
    machine,
    loadAverage: { start: os.loadavg().map((l) => Number(l.toFixed(2))) },
    options,
    build,
    hub: {},
    rss: {},
    profiles: [],
    errors: {},
    summary: [],
  };
  const attempt = async (name: string, fn: () => Promise<void>): Promise<boolean> => {
    try {
      await fn();
      return true;
    } catch (error) {
      results.errors[name] = (error as Error).stack ?? String(error);
      console.error(`\n[${name}] failed: ${(error as Error).message}`);
      return false;
    }
  };

  let hub: RunningHub | undefined;
  let dataDir: string | undefined;
  // Ctrl-C (bench/lib/children kills the hub and exits): leave no build copy or 100k-memory data dir behind.
  const cleanUp = () => {
    snapshot.remove();
    if (dataDir && !options.keepData && !options.data) rmSync(dataDir, { recursive: true, force: true });
  };
  process.once('exit', cleanUp);
  try {
    const hubStarted = performance.now();
    hub = await startHub({
      entry: snapshot.entry,
      label: 'memory',
      // Kept until the recall check has read the saved index; removed below unless --keep-data.
      keepData: true,
      dataRoot: options.dataRoot,
      dataDir: options.data,
      cpuProfDir: options.profile ? path.join(resultsDir, `profiles-${timestampForFile(started)}`) : undefined,
    });
    dataDir = hub.dataDir;
    results.hub.pid = hub.pid;
    console.log(`\nhub pid ${hub.pid}, data ${hub.dataDir}`);
    const register = await call<{ agent: { id: string }; token: string }>(hub.baseUrl, 'POST', '/agents/register', null, {
      // A kept data directory already knows the first run's agent: a new name each run (same project, same memories).
      name: options.data ? `bench-memory-${Date.now()}` : 'bench-memory',
      project: 'bench',
    });
    if (register.status !== 201) throw new Error(`register: HTTP ${register.status} ${JSON.stringify(register.body)}`);
    const client = new MemoryClient(hub.baseUrl, register.body.token, hub.cockpitToken);
    // The first memory request waits for the encoder and the engine to open.
    const opened = await client.stats();
    results.hub.startMs = performance.now() - hubStarted;
    results.hub.encoder = opened.index.model;
    results.hub.dimension = opened.index.dimension;
    console.log(`memory engine ready after ${fmt(results.hub.startMs)} ms: ${opened.index.model}, ${opened.index.dimension}-d`);
    const notes = new NoteGenerator();
    const pid = hub.pid;

    const storing = !options.searchOnly;
    if (options.singleOnly && opened.total > 0) {
      // On a kept data directory: its index as a full run has it before single@N, and notes it does not hold yet.
      await attempt('single-at-scale', async () => {
        options.memories = opened.total;
        results.ivf = await waitForIvf(client, pid, opened.total >= IVF_THRESHOLD ? 'ivf' : 'flat', options);
        // Past every note a full run drew: its batched load draws more notes than it keeps (reinforcements), so skipping
        // only the memories held landed among stored notes and the phase measured 300 reinforcements, not stores.
        notes.take(Math.ceil(opened.total * 1.5) + options.concurrent + 1000);
        for (const draft of notes.take(30)) await client.store([draft]);
        await settle(pid, 'single-at-scale');
        results.singleAtScale = await singleStores(client, notes, options.single, pid);
        logStore(`single (at ${fmt(opened.total)} memories, ${results.ivf.kind} index)`, results.singleAtScale);
      });
    } else if (storing) await attempt('single', async () => {
      // Warm-up: the first ONNX runs, JIT, SQLite page cache.
      for (const draft of notes.take(30)) await client.store([draft]);
      await settle(pid, 'single');
      results.single = await singleStores(client, notes, options.single, pid);
      logStore('single (empty engine)', results.single);
    });

    if (storing && !options.singleOnly) await attempt('concurrent', async () => {
      await settle(pid, 'concurrent');
      results.concurrent = await concurrentStores(client, notes, options.concurrent, options.clients, pid);
      logStore(`concurrent singles (${options.clients} in flight)`, results.concurrent);
    });

    const loaded = !storing || options.singleOnly || await attempt('batched', async () => {
      await settle(pid, 'batched');
      const already = (await client.stats()).total;
      results.batched = await batchedStores(client, notes, options, already, pid);
      logStore(`batched (${options.batchMin}–${options.batchMax} per request, ${options.batchInflight} in flight)`, results.batched);
      results.loadSeconds = ((results.single?.wallMs ?? 0) + (results.concurrent?.wallMs ?? 0) + results.batched.wallMs) / 1000;
      results.rss.afterLoad = memoryStatus(pid)?.rss;
    });

    if (loaded && !options.storesOnly && !options.singleOnly) {
      // --search-only: the memories already stored are the ones searched.
      if (!storing) options.memories = opened.total;
      await attempt('ivf', async () => {
        results.ivf = await waitForIvf(client, pid, options.memories >= IVF_THRESHOLD ? 'ivf' : 'flat', options);
        results.rss.afterIvf = memoryStatus(pid)?.rss;
        console.log(
          `[ivf] index ${results.ivf.kind}, ${results.ivf.size} vectors for ${results.ivf.total} memories after ${fmt(results.ivf.waitedMs / 1000)} s` +
            (results.ivf.timedOut ? ' (TIMED OUT)' : ''),
        );
      });
      await attempt('search', async () => {
        await settle(pid, 'search');
        results.search = await searches(client, options, pid);
        results.rss.afterSearch = memoryStatus(pid)?.rss;
        const s = results.search;
        console.log(
          `[search] ${s.queries} queries at ${s.memories} memories: p50 ${fmt(s.latency.p50)} ms, p99 ${fmt(s.latency.p99)} ms, max ${fmt(s.latency.max)} ms ` +
            `(hub tookMs p50 ${fmt(s.hubTookMs.p50)}, p99 ${fmt(s.hubTookMs.p99)}); ${s.histogram}`,
        );
      });
      if (storing) await attempt('single-at-scale', async () => {
        await settle(pid, 'single-at-scale');
        results.singleAtScale = await singleStores(client, notes, options.single, pid);
        logStore(`single (at ${fmt(results.search?.memories ?? options.memories)} memories)`, results.singleAtScale);
      });
    }
    results.finalStats = await client.stats().catch(() => undefined);
    results.rss.peak = memoryStatus(pid)?.hwm;
  } catch (error) {
    results.errors.setup = (error as Error).stack ?? String(error);
    console.error(`\n[setup] failed: ${(error as Error).message}`);
  } finally {
    if (hub) {
      const { code, profile } = await hub.stop();
      if (code !== 0) console.warn(`the hub exited with ${code}; its last output:\n${hub.output().slice(-3000)}`);
      if (profile) {
        try {
          results.profiles.push(summarizeProfile(profile, 30));
        } catch (error) {
          console.warn(`could not read the profile ${profile}: ${(error as Error).message}`);
        }
      }
    }
    snapshot.remove();
  }

  if (dataDir && options.recallQueries > 0 && (results.batched || results.search) && !options.storesOnly && !options.singleOnly) {
    await attempt('recall', async () => {
      results.recall = await recallCheck(dataDir!, options);
      console.log(`[recall] recall@${results.recall.k} of the hub's saved ${results.recall.indexKind} index vs exact: ${fmt(results.recall.recallAt10)} (${results.recall.queries} queries)`);
    });
  }
  process.off('exit', cleanUp);
  if (dataDir && !options.keepData && !options.data) rmSync(dataDir, { recursive: true, force: true });
  else if (dataDir) console.log(`data kept in ${dataDir}`);

  results.loadAverage.end = os.loadavg().map((l) => Number(l.toFixed(2)));
  results.summary = summaryRows(options, results);
  results.finishedAt = new Date().toISOString();
  printDetails(results);
  for (const profile of results.profiles) {
    printTable(
      `CPU profile of the hub ${path.relative(process.cwd(), profile.file)}: ${fmt(profile.busyMs)} ms busy of ${fmt(profile.durationMs)} ms; top self time`,
      ['self ms', 'self %', 'total %', 'function', 'where'],
      profile.top.map((r) => [r.selfMs, r.selfPercent, r.totalPercent, r.function, r.where]),
    );
  }
  printTable(
    `Summary (${((Date.now() - started.getTime()) / 1000).toFixed(0)} s run, ${machine.cores} cores, load average ${results.loadAverage.start.join(' ')} at start, ${results.loadAverage.end.join(' ')} at end)`,
    ['metric', 'target', 'measured', 'pass/fail'],
    results.summary.map((r) => [r.metric, r.target, r.measured, r.verdict]),
  );
  console.log(machineLine(machine));
  const file = writeResults('memory', results, started);
  console.log(`\nResults: ${path.relative(process.cwd(), file)}`);
  const failed = results.summary.some((r) => r.verdict === 'ERROR' || (options.strict && r.verdict === 'FAIL'));
  return failed ? 1 : 0;
}

/** The bench/run.ts suite. */
export const suite = { description, run };

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await run(process.argv.slice(2));
}
