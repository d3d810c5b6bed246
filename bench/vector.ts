/**
 * Vector index benchmark: VectorIndex (src/main/vector/vector-index.ts) on synthetic 512-d
 * data at 10k, 100k and 1M vectors.
 *
 * Data: a two-level Gaussian mixture on the unit sphere, like sentence embeddings (topics, and tighter subtopics
 * inside them), not uniform noise: 64 topic centres; 64 subtopic centres per topic at noise norm 1.0 around it
 * (cos ≈ 0.7); each vector at noise norm 1.2 around its subtopic (cos ≈ 0.64), normalised. Queries are fresh draws
 * from the same mixture (held out: not in the index).
 *
 * Per size: open from a loader (the rebuild-from-SQLite path), exact (flat) latency and ground truth, then the
 * background IVF build (forced with rebuild(); event-loop delay and search latency measured while it runs),
 * recall@10 of IVF vs exact, single-query p50/p99, batched throughput, a filtered search, memory, save and reopen.
 * At 100k: end-to-end query latency with the real USE-lite encoder, and a probe of OpenMP threads (1 vs 2) in
 * child processes that reopen the saved index.
 *
 * Environment: VECTOR_BENCH_SIZES=10000,100000 (default 10000,100000,1000000), VECTOR_BENCH_QUERIES (default 300).
 * Run: `node --import tsx bench/vector.ts`, or through bench/run.ts.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { OnnxSentenceEncoder } from '../src/main/embedding/encoder';
import { VectorIndex, type VectorIndexEvent, type VectorItem } from '../src/main/vector';
import { Index as FaissIndex } from '../src/main/vector/faiss';
import { machineFacts, machineLine } from './lib/machine';
import { repoRoot } from './lib/paths';
import { memoryStatus, resetPeakRss } from './lib/proc';
import { writeResults } from './lib/results';
import { summarize } from './lib/stats';
import { fmtBytes, printTable } from './lib/table';
import { mulberry32 } from '../test/support/seeded-random';

const D = 512;
const K = 10;

// ---------------------------------------------------------------------------------------------------------------
// Synthetic data

const rng = mulberry32;

/** Standard normal samples, two per Box-Muller step. */
function gaussian(random: () => number): () => number {
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    const r = Math.sqrt(-2 * Math.log(1 - random()));
    const a = 2 * Math.PI * random();
    spare = r * Math.sin(a);
    return r * Math.cos(a);
  };
}

function normalizeAt(v: Float32Array, offset: number, d: number): void {
  let s = 0;
  for (let i = 0; i < d; i++) s += v[offset + i]! ** 2;
  const inv = 1 / Math.sqrt(s);
  for (let i = 0; i < d; i++) v[offset + i] = v[offset + i]! * inv;
}

export class Mixture {
  static readonly TOPICS = 64;
  static readonly SUBTOPICS = 64;
  static readonly SUBTOPIC_NOISE = 1.0;
  static readonly POINT_NOISE = 1.2;
  private readonly centres: Float32Array;

  constructor(
    readonly d: number,
    seed = 1,
  ) {
    const g = gaussian(rng(seed));
    const topics = new Float32Array(Mixture.TOPICS * d);
    for (let i = 0; i < topics.length; i++) topics[i] = g();
    for (let t = 0; t < Mixture.TOPICS; t++) normalizeAt(topics, t * d, d);
    const count = Mixture.TOPICS * Mixture.SUBTOPICS;
    this.centres = new Float32Array(count * d);
    const sigma = Mixture.SUBTOPIC_NOISE / Math.sqrt(d);
    for (let c = 0; c < count; c++) {
      const t = Math.floor(c / Mixture.SUBTOPICS);
      for (let j = 0; j < d; j++) this.centres[c * d + j] = topics[t * d + j]! + sigma * g();
      normalizeAt(this.centres, c * d, d);
    }
  }

  /** Fills `n` vectors into `out` from `offset` (vectors), deterministic in `seed`. */
  fill(out: Float32Array, offset: number, n: number, seed: number): void {
    const random = rng(seed);
    const g = gaussian(random);
    const d = this.d;
    const count = this.centres.length / d;
    const sigma = Mixture.POINT_NOISE / Math.sqrt(d);
    for (let i = 0; i < n; i++) {
      const c = Math.floor(random() * count) * d;
      const o = (offset + i) * d;
      for (let j = 0; j < d; j++) out[o + j] = this.centres[c + j]! + sigma * g();
      normalizeAt(out, o, d);
    }
  }

  sample(n: number, seed: number): Float32Array[] {
    const flat = new Float32Array(n * this.d);
    this.fill(flat, 0, n, seed);
    return Array.from({ length: n }, (_, i) => flat.subarray(i * this.d, (i + 1) * this.d));
  }

  /** ids 1..n, generated in blocks of 8192 into one reused buffer (the index copies what it keeps). */
  *stream(n: number, seed: number): Generator<VectorItem> {
    const block = 8192;
    const buffer = new Float32Array(block * this.d);
    for (let start = 0; start < n; start += block) {
      const rows = Math.min(block, n - start);
      this.fill(buffer, 0, rows, seed + start);
      for (let r = 0; r < rows; r++) yield { id: start + r + 1, vector: buffer.subarray(r * this.d, (r + 1) * this.d) };
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Measuring

function timeEach(queries: Float32Array[], fn: (q: Float32Array) => unknown): number[] {
  return queries.map((q) => {
    const t = performance.now();
    fn(q);
    return performance.now() - t;
  });
}

function recall(got: number[][], truth: number[][]): number {
  let hits = 0;
  let total = 0;
  truth.forEach((want, i) => {
    const set = new Set(want);
    for (const id of got[i]!) if (set.has(id)) hits++;
    total += want.length;
  });
  return total ? hits / total : 1;
}

const rssMiB = () => process.memoryUsage().rss / 2 ** 20;

/**
 * Event-loop lag while something runs in the background: a timer every `everyMs`, and how late each tick fires.
 * `onTick` work (our own probe searches) is excluded: the next deadline is set after it.
 */
function lagMonitor(everyMs: number, onTick: (tick: number) => void): { stop(): number[] } {
  const lags: number[] = [];
  let timer: NodeJS.Timeout;
  let tick = 0;
  const arm = () => {
    const due = performance.now() + everyMs;
    timer = setTimeout(() => {
      lags.push(Math.max(0, performance.now() - due));
      onTick(tick++);
      arm();
    }, everyMs);
  };
  arm();
  return {
    stop() {
      clearTimeout(timer);
      return lags;
    },
  };
}

/** Wraps a loader so the time spent generating synthetic data can be told apart from the index's own work. */
function timedLoader(items: Iterable<VectorItem>, spent: { ms: number }): Iterable<VectorItem> {
  return {
    [Symbol.iterator]() {
      const it = items[Symbol.iterator]();
      return {
        next() {
          const t = performance.now();
          const r = it.next();
          spent.ms += performance.now() - t;
          return r;
        },
      };
    },
  };
}
const round = (x: number, digits = 3) => Number(x.toPrecision(digits));

interface SizeResult {
  size: number;
  /** Open from the loader (SQLite rebuild path), without the time the synthetic loader spent generating. */
  open: { ms: number; generateMs: number; rssMiB: number };
  flat: { singleP50: number; singleP99: number; singleCount: number; batchMsPerQuery: number; blasThreshold?: { nq19MsPerQuery: number; nq20MsPerQuery: number } };
  ivf: null | {
    description: string;
    nlist: number;
    nprobe: number;
    estimatedRecall: number;
    buildMs: number;
    trainMs: number;
    addMs: number;
    tuneMs: number;
    trainPoints: number;
    childPeakRssMiB: number | null;
    duringBuild: {
      eventLoopDelayP99: number;
      eventLoopDelayMax: number;
      /** The same lag monitor for 3 s before the build: what the machine's load alone causes. */
      idleDelayP99: number;
      idleDelayMax: number;
      /** The longest synchronous step of the build on the main thread, as the index measured it. */
      longestBlockMs: number | null;
      searches: number;
      searchP50: number;
      searchMax: number;
    };
    recall: number;
    singleP50: number;
    singleP99: number;
    batchMsPerQuery: number;
    filteredP50: number;
    rssMiB: number;
  };
  recallSampleQueries: number;
  indexBytes: number;
  peakRssMiB: number | null;
  save: { ms: number };
  reopen: { ms: number; kind: string };
  endToEnd?: { p50: number; p99: number; embedP50: number; queries: number };
  dir: string;
}

async function benchSize(n: number, queryCount: number, keepDir: boolean): Promise<SizeResult> {
  console.log(`\n— ${n.toLocaleString('en-US')} vectors —`);
  resetPeakRss(process.pid);
  const mixture = new Mixture(D, 1);
  const queries = mixture.sample(queryCount, 999_999);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'devenviro-bench-vector-'));
  const events: VectorIndexEvent[] = [];
  const generated = { ms: 0 };
  let t = performance.now();
  const index = await VectorIndex.open({
    dir,
    modelId: 'bench-512',
    dimension: D,
    expectedCount: n,
    loadAll: () => timedLoader(mixture.stream(n, 7), generated),
    onEvent: (e) => events.push(e),
    tuning: { autoBuild: false, saveDelayMs: 1e9, saveAfterChanges: Number.MAX_SAFE_INTEGER },
  });
  const open = { ms: performance.now() - t - generated.ms, generateMs: generated.ms, rssMiB: rssMiB() };
  console.log(
    `opened from the loader in ${Math.round(open.ms)} ms (${index.kind}; + ${Math.round(generated.ms)} ms generating the data), RSS ${Math.round(open.rssMiB)} MiB`,
  );

  // Exact: ground truth for a sample of queries (batched: BLAS), and single-query latency.
  const sample = queries.slice(0, Math.min(queries.length, 200));
  t = performance.now();
  const truth = index.searchBatch(sample, K).map((hits) => hits.map((h) => h.id));
  const batchMsPerQuery = (performance.now() - t) / sample.length;
  const singleCount = n >= 1_000_000 ? 8 : n >= 100_000 ? 40 : queries.length;
  index.search(queries[0]!, K);
  const flatTimes = summarize(timeEach(queries.slice(0, singleCount), (q) => index.search(q, K)));
  const flat: SizeResult['flat'] = { singleP50: flatTimes.p50, singleP99: flatTimes.p99, singleCount, batchMsPerQuery };
  if (n === 100_000) {
    // faiss switches from its scalar loop to BLAS at 20 queries per call (distance_compute_blas_threshold).
    const per = (m: number) => {
      const qs = queries.slice(0, m);
      index.searchBatch(qs, K);
      const t0 = performance.now();
      for (let r = 0; r < 3; r++) index.searchBatch(qs, K);
      return (performance.now() - t0) / (3 * m);
    };
    flat.blasThreshold = { nq19MsPerQuery: per(19), nq20MsPerQuery: per(20) };
  }
  console.log(`flat: single p50 ${flatTimes.p50.toFixed(2)} ms, batch ${batchMsPerQuery.toFixed(3)} ms/query`);

  let ivf: SizeResult['ivf'] = null;
  if (n >= 20_000) {
    // While it builds: a search every 250 ms (answered by the flat index until the swap), and the event loop's lag,
    // compared with the lag before the build (the machine's own noise).
    const idle = lagMonitor(10, () => undefined);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const idleLags = summarize(idle.stop());
    const during: number[] = [];
    let childPeak = 0;
    const monitor = lagMonitor(10, (tick) => {
      const pid = index.stats().building?.pid;
      if (pid) childPeak = Math.max(childPeak, memoryStatus(pid)?.hwm ?? 0);
      if (tick % 25 !== 0) return;
      const t0 = performance.now();
      index.search(queries[(tick / 25) % queries.length]!, K);
      during.push(performance.now() - t0);
    });
    t = performance.now();
    await index.rebuild();
    const buildMs = performance.now() - t;
    const lags = summarize(monitor.stop());
    // The old flat index is freed by the collection the index asks for after the swap; let its finalizer run.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const rssAfterBuild = rssMiB();
    const stats = index.stats();
    const built = stats.ivfBuild!;
    const finished = events.findLast((e) => e.type === 'build-finished');
    console.log(
      `IVF built in ${(buildMs / 1000).toFixed(1)} s (${built.description}, train ${built.trainMs} ms on ${built.trainPoints} points, ` +
        `add ${built.addMs} ms, tune ${built.tuneMs} ms) → nprobe ${stats.nprobe} (estimated recall ${stats.recall?.toFixed(3)})`,
    );
    const got = index.searchBatch(sample, K).map((hits) => hits.map((h) => h.id));
    const singleQueries = queries.slice(0, queryCount);
    for (const q of singleQueries.slice(0, 20)) index.search(q, K);
    const singleTimes = summarize(timeEach(singleQueries, (q) => index.search(q, K)));
    t = performance.now();
    index.searchBatch(singleQueries, K);
    const ivfBatch = (performance.now() - t) / singleQueries.length;
    const tenth = (id: number) => id % 10 === 0;
    const filtered = summarize(timeEach(singleQueries.slice(0, 100), (q) => index.search(q, K, tenth)));
    const duringSummary = summarize(during);
    ivf = {
      description: built.description,
      nlist: stats.nlist!,
      nprobe: stats.nprobe!,
      estimatedRecall: stats.recall!,
      buildMs,
      trainMs: built.trainMs,
      addMs: built.addMs,
      tuneMs: built.tuneMs,
      trainPoints: built.trainPoints,
      childPeakRssMiB: childPeak ? childPeak / 2 ** 20 : null,
      duringBuild: {
        eventLoopDelayP99: lags.p99,
        eventLoopDelayMax: lags.max,
        idleDelayP99: idleLags.p99,
        idleDelayMax: idleLags.max,
        longestBlockMs: finished?.longestBlockMs ?? null,
        searches: during.length,
        searchP50: duringSummary.p50,
        searchMax: duringSummary.max,
      },
      recall: recall(got, truth),
      singleP50: singleTimes.p50,
      singleP99: singleTimes.p99,
      batchMsPerQuery: ivfBatch,
      filteredP50: filtered.p50,
      rssMiB: rssAfterBuild,
    };
    console.log(
      `IVF: recall@10 ${ivf.recall.toFixed(3)}, single p50 ${ivf.singleP50.toFixed(3)} ms p99 ${ivf.singleP99.toFixed(3)} ms, ` +
        `batch ${ivf.batchMsPerQuery.toFixed(3)} ms/query; during the build: event-loop delay p99 ${ivf.duringBuild.eventLoopDelayP99.toFixed(1)} ms ` +
        `max ${ivf.duringBuild.eventLoopDelayMax.toFixed(1)} ms (idle before: p99 ${idleLags.p99.toFixed(1)} max ${idleLags.max.toFixed(1)}), ` +
        `longest synchronous step ${ivf.duringBuild.longestBlockMs?.toFixed(1)} ms, ${during.length} searches (max ${duringSummary.max.toFixed(1)} ms)`,
    );
  }

  let endToEnd: SizeResult['endToEnd'];
  if (n === 100_000) endToEnd = await measureEndToEnd(index);

  const indexBytes = index.stats().bytes;
  t = performance.now();
  await index.close();
  const save = { ms: performance.now() - t };
  t = performance.now();
  const reopened = await VectorIndex.open({
    dir,
    modelId: 'bench-512',
    dimension: D,
    expectedCount: n,
    loadAll: () => {
      throw new Error('reopen should not need the loader');
    },
    tuning: { autoBuild: false },
  });
  const reopen = { ms: performance.now() - t, kind: reopened.kind };
  await reopened.close();
  console.log(`save ${Math.round(save.ms)} ms, reopen from disk ${Math.round(reopen.ms)} ms (${reopen.kind})`);
  const peak = memoryStatus(process.pid)?.hwm ?? null;
  if (!keepDir) rmSync(dir, { recursive: true, force: true });
  return {
    size: n,
    open,
    flat,
    ivf,
    recallSampleQueries: sample.length,
    indexBytes,
    peakRssMiB: peak === null ? null : peak / 2 ** 20,
    save,
    reopen,
    ...(endToEnd ? { endToEnd } : {}),
    dir,
  };
}

/** Query text → USE-lite embedding → search, as the memory service will do it (the index holds synthetic data). */
async function measureEndToEnd(index: VectorIndex): Promise<SizeResult['endToEnd']> {
  const modelDir = path.join(repoRoot, 'resources', 'models', 'use-lite');
  let encoder: OnnxSentenceEncoder;
  try {
    encoder = await OnnxSentenceEncoder.load(modelDir);
  } catch (error) {
    console.log(`(end-to-end skipped: the encoder did not load: ${(error as Error).message})`);
    return undefined;
  }
  const subjects = ['the build', 'a flaky test', 'the database', 'login', 'the deploy script', 'memory usage', 'the API', 'agent presence'];
  const verbs = ['fails after', 'got slower since', 'needs a fix for', 'was refactored with', 'breaks on', 'depends on'];
  const objects = ['the last merge', 'Node 20', 'Windows paths', 'a missing index', 'the new schema', 'large uploads', 'timeouts'];
  const texts: string[] = [];
  for (const s of subjects) for (const v of verbs) for (const o of objects) texts.push(`why ${s} ${v} ${o}`);
  await encoder.embed(texts.slice(0, 5));
  const total: number[] = [];
  const embed: number[] = [];
  for (const text of texts.slice(0, 200)) {
    const t0 = performance.now();
    const [vector] = await encoder.embed([text]);
    const t1 = performance.now();
    index.search(vector!, K);
    total.push(performance.now() - t0);
    embed.push(t1 - t0);
  }
  await encoder.close();
  const s = summarize(total);
  const e = summarize(embed);
  console.log(`end to end (embed + search): p50 ${s.p50.toFixed(2)} ms, p99 ${s.p99.toFixed(2)} ms (embedding alone p50 ${e.p50.toFixed(2)} ms)`);
  return { p50: s.p50, p99: s.p99, embedP50: e.p50, queries: total.length };
}

// ---------------------------------------------------------------------------------------------------------------
// OpenMP threads probe: child processes reopen the saved 100k index with OMP_NUM_THREADS=1 or 2.

interface ProbeResult {
  threads: string;
  openMs: number;
  kind: string;
  singleP50: number;
  singleP99: number;
  batchMsPerQuery: number;
  /** The same vectors as an exact flat index (read straight from the vectors file). */
  flatSingleP50: number;
  flatBatchMsPerQuery: number;
}

async function probe(dir: string, n: number, queries: Float32Array[]): Promise<void> {
  const started = performance.now();
  const index = await VectorIndex.open({
    dir,
    modelId: 'bench-512',
    dimension: D,
    expectedCount: n,
    loadAll: () => {
      throw new Error('probe: no loader');
    },
    tuning: { autoBuild: false },
  });
  const openMs = performance.now() - started;
  for (const q of queries.slice(0, 20)) index.search(q, K);
  const single = summarize(timeEach(queries, (q) => index.search(q, K)));
  const t = performance.now();
  index.searchBatch(queries, K);
  const batchMsPerQuery = (performance.now() - t) / queries.length;
  await index.close();
  const vectorsFile = readdirSync(dir).find((name) => name.endsWith('.vectors.faiss'))!;
  const flat = FaissIndex.read(path.join(dir, vectorsFile));
  const asArray = (q: Float32Array) => Array.from(q);
  const flatSingle = summarize(timeEach(queries.slice(0, 30), (q) => flat.search(asArray(q), K)));
  const batch = queries.slice(0, 200).flatMap((q) => Array.from(q));
  const tf = performance.now();
  flat.search(batch, K);
  const result: ProbeResult = {
    threads: process.env.OMP_NUM_THREADS ?? '(default)',
    openMs,
    kind: index.kind,
    singleP50: single.p50,
    singleP99: single.p99,
    batchMsPerQuery,
    flatSingleP50: flatSingle.p50,
    flatBatchMsPerQuery: (performance.now() - tf) / 200,
  };
  process.stdout.write(`PROBE ${JSON.stringify(result)}\n`);
}

function runProbe(dir: string, n: number, queriesFile: string, threads: string): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--probe', dir, String(n), queriesFile], {
      cwd: repoRoot,
      env: { ...process.env, OMP_NUM_THREADS: threads, OPENBLAS_NUM_THREADS: threads },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('PROBE '));
      if (code === 0 && line) resolve(JSON.parse(line.slice(6)) as ProbeResult);
      else reject(new Error(`probe (OMP_NUM_THREADS=${threads}) failed with ${code}: ${out.slice(-2000)}`));
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------

export async function run(): Promise<void> {
  const sizes = (process.env.VECTOR_BENCH_SIZES ?? '10000,100000,1000000').split(',').map((s) => Number(s.trim()));
  const queryCount = Number(process.env.VECTOR_BENCH_QUERIES ?? 300);
  const machine = machineFacts();
  console.log(machineLine(machine));
  console.log(
    `data: 512-d two-level Gaussian mixture on the unit sphere (${Mixture.TOPICS} topics × ${Mixture.SUBTOPICS} subtopics, ` +
      `noise ${Mixture.SUBTOPIC_NOISE} / ${Mixture.POINT_NOISE}), queries held out from the same mixture`,
  );
  const results: SizeResult[] = [];
  let probes: ProbeResult[] = [];
  for (const n of sizes) {
    const result = await benchSize(n, queryCount, n === 100_000);
    results.push(result);
    if (n === 100_000 && result.ivf) {
      const queriesFile = path.join(result.dir, 'probe-queries.f32');
      const qs = new Mixture(D, 1).sample(queryCount, 999_999);
      writeFileSync(queriesFile, Buffer.concat(qs.map((q) => Buffer.from(q.buffer, q.byteOffset, q.byteLength))));
      try {
        probes = [await runProbe(result.dir, n, queriesFile, '1'), await runProbe(result.dir, n, queriesFile, '2')];
      } catch (error) {
        console.log(`(threads probe failed: ${(error as Error).message})`);
      }
      rmSync(result.dir, { recursive: true, force: true });
    }
  }

  const ms = (x: number | undefined) => (x === undefined ? null : round(x));
  printTable(
    `Vector index, k=${K}, ${machine.cores} cores (${machine.cpuModel}); latencies in ms`,
    ['vectors', 'kind', 'single p50', 'single p99', 'batch ms/q', 'recall@10', 'build s', 'open (loader) ms', 'reopen (disk) ms', 'memory'],
    results.flatMap((r) => {
      const rows: Array<Array<string | number | null>> = [
        [r.size, 'flat (exact)', ms(r.flat.singleP50), ms(r.flat.singleP99), ms(r.flat.batchMsPerQuery), 1, null, ms(r.open.ms), r.ivf ? null : ms(r.reopen.ms), fmtBytes(r.indexBytes)],
      ];
      if (r.ivf) {
        rows.push([
          r.size,
          `${r.ivf.description} nprobe ${r.ivf.nprobe}`,
          ms(r.ivf.singleP50),
          ms(r.ivf.singleP99),
          ms(r.ivf.batchMsPerQuery),
          round(r.ivf.recall),
          round(r.ivf.buildMs / 1000),
          null,
          ms(r.reopen.ms),
          fmtBytes(r.indexBytes),
        ]);
      }
      return rows;
    }),
  );
  const withIvf = results.filter((r) => r.ivf);
  if (withIvf.length) {
    printTable(
      'IVF build (child process) and the main thread meanwhile',
      ['vectors', 'nlist', 'train pts', 'train s', 'add s', 'tune s', 'est. recall', 'child peak RSS', 'loop lag p99/max ms (idle)', 'longest step ms', 'searches during (p50/max ms)', 'filtered 10% p50', 'main RSS', 'peak RSS'],
      withIvf.map((r) => {
        const v = r.ivf!;
        return [
          r.size,
          v.nlist,
          v.trainPoints,
          round(v.trainMs / 1000),
          round(v.addMs / 1000),
          round(v.tuneMs / 1000),
          round(v.estimatedRecall),
          v.childPeakRssMiB === null ? null : `${Math.round(v.childPeakRssMiB)} MiB`,
          `${round(v.duringBuild.eventLoopDelayP99)} / ${round(v.duringBuild.eventLoopDelayMax)} (${round(v.duringBuild.idleDelayP99)} / ${round(v.duringBuild.idleDelayMax)})`,
          v.duringBuild.longestBlockMs === null ? null : round(v.duringBuild.longestBlockMs),
          `${v.duringBuild.searches} (${round(v.duringBuild.searchP50)} / ${round(v.duringBuild.searchMax)})`,
          ms(v.filteredP50),
          `${Math.round(v.rssMiB)} MiB`,
          r.peakRssMiB === null ? null : `${Math.round(r.peakRssMiB)} MiB`,
        ];
      }),
    );
  }
  const blas = results.find((r) => r.flat.blasThreshold)?.flat.blasThreshold;
  if (blas) {
    console.log(
      `\nflat 100k, per query: 19 queries per call ${blas.nq19MsPerQuery.toFixed(2)} ms vs 20 per call ${blas.nq20MsPerQuery.toFixed(2)} ms ` +
        '(faiss uses BLAS from 20 queries per call; below that a scalar loop — why single flat queries are slow)',
    );
  }
  const e2e = results.find((r) => r.endToEnd)?.endToEnd;
  if (e2e) console.log(`100k end to end (USE-lite embed + search): p50 ${e2e.p50.toFixed(2)} ms, p99 ${e2e.p99.toFixed(2)} ms; embedding alone p50 ${e2e.embedP50.toFixed(2)} ms`);
  if (probes.length) {
    printTable(
      'Threads (OMP_NUM_THREADS = OPENBLAS_NUM_THREADS; child processes reopening the saved 100k index)',
      ['threads', 'reopen ms', 'IVF single p50', 'IVF single p99', 'IVF batch ms/q', 'flat single p50', 'flat batch ms/q'],
      probes.map((p) => [
        p.threads,
        round(p.openMs),
        round(p.singleP50),
        round(p.singleP99),
        round(p.batchMsPerQuery),
        round(p.flatSingleP50),
        round(p.flatBatchMsPerQuery),
      ]),
    );
  }
  const file = writeResults('vector', {
    suite: 'vector',
    machine,
    data: { dimension: D, kind: 'two-level gaussian mixture, normalised', topics: Mixture.TOPICS, subtopics: Mixture.SUBTOPICS, subtopicNoise: Mixture.SUBTOPIC_NOISE, pointNoise: Mixture.POINT_NOISE },
    k: K,
    results: results.map(({ dir: _dir, ...rest }) => rest),
    ompProbe: probes,
  });
  console.log(`\nresults: ${path.relative(repoRoot, file)}`);
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;
if (invokedDirectly) {
  if (process.argv[2] === '--probe') {
    const [dir, n, queriesFile] = process.argv.slice(3) as [string, string, string];
    const bytes = readFileSync(queriesFile);
    const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    const qs = Array.from({ length: all.length / D }, (_, i) => all.subarray(i * D, (i + 1) * D));
    await probe(dir, Number(n), qs);
  } else {
    await run();
  }
}
