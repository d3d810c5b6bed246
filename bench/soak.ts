/**
 * The soak benchmark: `npm run bench -- soak [options]`.
 *
 * A real hub process (as in the hub suite: node out/main/headless.js on a fresh data directory) takes a steady
 * open-loop load for a long time — by default 500 agents, 500 msg/s, 30 minutes — from raw `ws` clients in this
 * process. Every few seconds it samples the hub's RSS (/proc), CPU time, and V8 heap in use and store sizes (the
 * hub's own /api/v1/metrics). It reports the least-squares RSS and heap slopes after the warm-up and over the second
 * half of the run (a leak shows as a slope that does not fall to ~0), delivery latency per window, and messages
 * sent / delivered / lost (every message carries a sequence number; none may be lost). Writes
 * bench/results/soak-<timestamp>.json.
 */
import { readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { connectAgents, registerAgents } from './lib/agents';
import { ensureBuilt, snapshotBuild, startHub, type BuildState, type RunningHub } from './lib/hub-process';
import { machineFacts, machineLine } from './lib/machine';
import { HUB_SUITE_OPTIONS, intOption, numberOption } from './lib/options';
import { nowUs, type Peer } from './lib/peer';
import { CpuMeter, cpuSeconds, memoryStatus, sleep, waitForQuiet } from './lib/proc';
import { summarizeProfile, type ProfileSummary } from './lib/profile';
import { resultsDir, timestampForFile, writeResults } from './lib/results';
import { linearFit, percentile, sortedCopy } from './lib/stats';
import { fmt, fmtMs, printTable, type Cell, type SummaryRow } from './lib/table';
import { makeBody, rng } from './lib/traffic';

export const description = 'hub soak: 500 agents at 500 msg/s for 30 minutes; RSS and heap slope after warm-up, latency per window, no loss';

const USAGE = `Usage: npm run bench -- soak [options]

  --agents N           agents registered and connected, each sending and receiving (500)
  --rate N             aggregate msg/s, open loop (500)
  --minutes M          length of the whole run, warm-up included (30; --quick: 2)
  --warmup-minutes M   the first M minutes are left out of the slopes (5; --quick: 0.5)
  --sample-seconds S   how often RSS, CPU and the hub's metrics are sampled (5; --quick: 2)
  --window-seconds S   latency / CPU reporting window (60; --quick: 15)
  --body-bytes N       message body size (256)
  --quick              a ~2-minute smoke run (do not quote its slopes)
  --profile            run the hub under --cpu-prof and print its top self-time functions
  --no-build           measure out/ as it is, even if stale (warns)
  --keep-data          keep the hub's data directory (its database, for a look afterwards)
  --hub-entry FILE     run this headless.js instead of out/main/headless.js
  --data-root DIR      make the hub's data directory here (default: the OS temp dir)
  --strict             exit 1 when a target is missed`;

/** RSS (and heap) "flat" after warm-up: growing by at most this many MiB per minute (falling is no leak). */
const FLAT_MIB_PER_MIN = 0.5;
/** How long to wait after the last send for the last deliveries. */
const DRAIN_MS = 30_000;

interface Options {
  agents: number;
  rate: number;
  minutes: number;
  warmupMinutes: number;
  sampleSeconds: number;
  windowSeconds: number;
  bodyBytes: number;
  quick: boolean;
  profile: boolean;
  build: boolean;
  keepData: boolean;
  strict: boolean;
  hubEntry: string | undefined;
  dataRoot: string | undefined;
}

function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      ...HUB_SUITE_OPTIONS,
      agents: { type: 'string' },
      rate: { type: 'string' },
      minutes: { type: 'string' },
      'warmup-minutes': { type: 'string' },
      'sample-seconds': { type: 'string' },
      'window-seconds': { type: 'string' },
      'body-bytes': { type: 'string' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return null;
  }
  const quick = values.quick ?? false;
  const options: Options = {
    agents: intOption('agents', values.agents, 500, 2),
    rate: intOption('rate', values.rate, 500),
    minutes: numberOption('minutes', values.minutes, quick ? 2 : 30, 0.1),
    warmupMinutes: numberOption('warmup-minutes', values['warmup-minutes'], quick ? 0.5 : 5, 0),
    sampleSeconds: numberOption('sample-seconds', values['sample-seconds'], quick ? 2 : 5, 0.2),
    windowSeconds: numberOption('window-seconds', values['window-seconds'], quick ? 15 : 60, 1),
    bodyBytes: intOption('body-bytes', values['body-bytes'], 256, 64),
    quick,
    profile: values.profile ?? false,
    build: !(values['no-build'] ?? false),
    keepData: values['keep-data'] ?? false,
    strict: values.strict ?? false,
    hubEntry: values['hub-entry'],
    dataRoot: values['data-root'],
  };
  if (options.warmupMinutes >= options.minutes) throw new Error('--warmup-minutes must be shorter than --minutes');
  return options;
}

// ---------------------------------------------------------------------------------------------------------------
// Result shapes

interface Sample {
  /** Minutes since the load began. */
  min: number;
  rssMiB: number;
  /** V8 heap in use (hub's metrics), MiB; null when the scrape failed. */
  heapUsedMiB: number | null;
  /** The hub's stores on disk (database, WAL, indexes), MiB; null when the scrape failed. */
  storageMiB: number | null;
  /** The same by store (the hub's names: messages, memory, vectors), MiB. */
  stores: Record<string, number>;
  /** Write-ahead logs in the data directory, MiB (a WAL that checkpoints cannot reset grows without bound). */
  walMiB: Record<string, number>;
  sent: number;
  delivered: number;
}

interface Window {
  startMin: number;
  endMin: number;
  sent: number;
  delivered: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** % of one core over the window. */
  hubCpu: number | null;
  clientCpu: number | null;
  othersCpu: number | null;
  rssMiB: number | null;
  heapUsedMiB: number | null;
}

interface Slope {
  fromMin: number;
  toMin: number;
  samples: number;
  mibPerMin: number;
}

interface Results {
  suite: 'soak';
  startedAt: string;
  finishedAt?: string;
  machine: ReturnType<typeof machineFacts>;
  options: Options;
  build: BuildState;
  hub: { pid: number; registerMs: number; connectMs: number; rssAtLoadStartMiB: number | null };
  totals: { sent: number; confirmed: number; delivered: number; duplicates: number; lost: number; errors: number; lastError: string | null; maxScheduleLagMs: number };
  /** Over the whole load: % of one core; others = every other process on the machine. */
  cpu: Record<string, number | null>;
  hubCpuUsPerMsg: number | null;
  slopes: { rssAfterWarmup: Slope | null; rssSecondHalf: Slope | null; heapAfterWarmup: Slope | null; heapSecondHalf: Slope | null; storageAfterWarmup: Slope | null };
  windows: Window[];
  samples: Sample[];
  profiles: ProfileSummary[];
  summary: SummaryRow[];
}

// ---------------------------------------------------------------------------------------------------------------

export async function run(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  if (!options) return 0;
  const started = new Date();
  const machine = machineFacts();
  console.log(`Soak benchmark — ${machineLine(machine)}`);
  console.log(
    `${options.agents} agents, ${options.rate} msg/s of ${options.bodyBytes} B for ${fmt(options.minutes)} min ` +
      `(slopes after ${fmt(options.warmupMinutes)} min of warm-up)`,
  );
  if (options.quick) console.log('--quick: a smoke run; its slopes are too short to judge a leak by.');
  const build: BuildState = options.hubEntry ? { built: false, stale: null, builtAt: null } : ensureBuilt(options.build);
  const snapshot = snapshotBuild(options.hubEntry);
  const hub = await startHub({
    entry: snapshot.entry,
    label: 'soak',
    keepData: options.keepData,
    dataRoot: options.dataRoot,
    cpuProfDir: options.profile ? path.join(resultsDir, `profiles-soak-${timestampForFile(started)}`) : undefined,
  });
  console.log(`[soak] hub pid ${hub.pid} at ${hub.baseUrl}, data ${hub.dataDir}`);
  const profiles: ProfileSummary[] = [];
  let results: Results;
  try {
    results = await soak(options, hub, machine, build, started);
  } finally {
    const { code, profile } = await hub.stop();
    if (code !== 0) console.warn(`[soak] the hub exited with ${code}:\n${hub.output().slice(-2000)}`);
    if (profile) profiles.push(summarizeProfile(profile));
    snapshot.remove();
  }
  results.profiles = profiles;
  results.finishedAt = new Date().toISOString();
  report(results);
  const file = writeResults('soak', results, started);
  console.log(`\nResults: ${path.relative(process.cwd(), file)}`);
  return results.summary.some((r) => r.verdict === 'ERROR' || (options.strict && r.verdict === 'FAIL')) ? 1 : 0;
}

async function soak(options: Options, hub: RunningHub, machine: ReturnType<typeof machineFacts>, build: BuildState, started: Date): Promise<Results> {
  await waitForQuiet(hub.pid); // the encoder loads in the background after start
  let t0 = performance.now();
  const agents = await registerAgents(hub.baseUrl, options.agents, { prefix: 'soak', concurrency: 32 });
  const registerMs = performance.now() - t0;
  t0 = performance.now();
  const peers = await connectAgents(hub.wsBase, agents);
  const connectMs = performance.now() - t0;
  console.log(`[soak] ${agents.length} agents registered in ${fmtMs(registerMs)}, connected in ${fmtMs(connectMs)}`);
  await waitForQuiet(hub.pid);

  const total = Math.round(options.rate * options.minutes * 60);
  const traffic = new Traffic(peers, total, options.bodyBytes);
  const samples: Sample[] = [];
  const windows: Window[] = [];
  const loadStart = performance.now();
  const minutesNow = () => (performance.now() - loadStart) / 60_000;
  const rssAtLoadStart = memoryStatus(hub.pid)?.rss ?? null;
  const wholeRun = new CpuMeter({ hub: hub.pid, client: process.pid });
  const hubCpuAtStart = cpuSeconds(hub.pid);

  // Samples: RSS from /proc, heap and store sizes from the hub's own metrics (updated by the hub once a second).
  let sampling = Promise.resolve();
  const takeSample = async () => {
    const min = minutesNow();
    const rss = memoryStatus(hub.pid)?.rss;
    if (rss === undefined) return;
    const metrics = await scrapeMetrics(hub);
    samples.push({
      min,
      rssMiB: rss / 2 ** 20,
      heapUsedMiB: metrics ? metrics.heapUsed / 2 ** 20 : null,
      storageMiB: metrics ? Object.values(metrics.stores).reduce((a, b) => a + b, 0) / 2 ** 20 : null,
      stores: Object.fromEntries(Object.entries(metrics?.stores ?? {}).map(([k, v]) => [k, v / 2 ** 20])),
      walMiB: walSizes(hub.dataDir),
      sent: traffic.sent,
      delivered: traffic.delivered,
    });
  };
  const sampler = setInterval(() => (sampling = sampling.then(takeSample)), options.sampleSeconds * 1000);
  void takeSample();

  // Windows: latency of what arrived in the window, CPU over it, memory at its end.
  let windowMeter = new CpuMeter({ hub: hub.pid, client: process.pid });
  let windowStart = 0;
  let windowSentBase = 0;
  const closeWindow = () => {
    if (traffic.sent === windowSentBase && traffic.pendingLatencies === 0) return;
    const cpu = windowMeter.read();
    windowMeter = new CpuMeter({ hub: hub.pid, client: process.pid });
    const latencies = sortedCopy(traffic.takeLatencies());
    const last = samples.at(-1);
    const end = minutesNow();
    const w: Window = {
      startMin: windowStart,
      endMin: end,
      sent: traffic.sent - windowSentBase,
      delivered: latencies.length,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      maxMs: latencies.length ? latencies[latencies.length - 1]! : NaN,
      hubCpu: cpu.hub ?? null,
      clientCpu: cpu.client ?? null,
      othersCpu: cpu.others ?? null,
      rssMiB: last?.rssMiB ?? null,
      heapUsedMiB: last?.heapUsedMiB ?? null,
    };
    windows.push(w);
    windowStart = end;
    windowSentBase = traffic.sent;
    console.log(
      `[soak] ${fmt(w.startMin)}–${fmt(w.endMin)} min: sent ${w.sent}, delivered ${w.delivered}, p50 ${fmtMs(w.p50Ms)} p99 ${fmtMs(w.p99Ms)} ` +
        `max ${fmtMs(w.maxMs)}; RSS ${w.rssMiB === null ? '?' : fmt(w.rssMiB)} MiB, heap ${w.heapUsedMiB === null ? '?' : fmt(w.heapUsedMiB)} MiB; ` +
        `CPU hub ${w.hubCpu ?? '?'}%, client ${w.clientCpu ?? '?'}%, others ${w.othersCpu ?? '?'}%`,
    );
  };
  const windower = setInterval(closeWindow, options.windowSeconds * 1000);

  const loop = await traffic.run(options.rate);
  const drainStart = performance.now();
  while (traffic.delivered < traffic.sent && performance.now() - drainStart < DRAIN_MS) await sleep(50);
  clearInterval(windower);
  clearInterval(sampler);
  await sampling;
  await takeSample();
  closeWindow();
  const cpu = wholeRun.read();
  const hubCpuAtEnd = cpuSeconds(hub.pid);
  peers.forEach((p) => p.close());

  const slope = (key: 'rssMiB' | 'heapUsedMiB' | 'storageMiB', fromMin: number): Slope | null => {
    const points = samples.filter((s) => s.min >= fromMin && s[key] !== null);
    if (points.length < 3) return null;
    const { slope: mibPerMin } = linearFit(
      points.map((s) => s.min),
      points.map((s) => s[key]!),
    );
    return { fromMin, toMin: points.at(-1)!.min, samples: points.length, mibPerMin };
  };
  const end = samples.at(-1)?.min ?? options.minutes;
  const half = options.warmupMinutes + (end - options.warmupMinutes) / 2;
  const results: Results = {
    suite: 'soak',
    startedAt: started.toISOString(),
    machine,
    options,
    build,
    hub: { pid: hub.pid, registerMs, connectMs, rssAtLoadStartMiB: rssAtLoadStart === null ? null : rssAtLoadStart / 2 ** 20 },
    totals: {
      sent: traffic.sent,
      confirmed: traffic.confirmed,
      delivered: traffic.delivered,
      duplicates: traffic.duplicates,
      lost: traffic.sent - traffic.delivered,
      errors: peers.reduce((n, p) => n + p.errors, 0),
      lastError: peers.find((p) => p.lastError)?.lastError ?? null,
      maxScheduleLagMs: loop.maxScheduleLagMs,
    },
    cpu,
    hubCpuUsPerMsg: hubCpuAtStart === null || hubCpuAtEnd === null || !traffic.delivered ? null : ((hubCpuAtEnd - hubCpuAtStart) * 1e6) / traffic.delivered,
    slopes: {
      rssAfterWarmup: slope('rssMiB', options.warmupMinutes),
      rssSecondHalf: slope('rssMiB', half),
      heapAfterWarmup: slope('heapUsedMiB', options.warmupMinutes),
      heapSecondHalf: slope('heapUsedMiB', half),
      storageAfterWarmup: slope('storageMiB', options.warmupMinutes),
    },
    windows,
    samples,
    profiles: [],
    summary: [],
  };
  results.summary = summaryRows(results);
  return results;
}

/**
 * The load: each tick sends what the schedule says is due (open loop), from the agents in turn, each to a random
 * other agent. Bodies are `<send µs>|<sequence>|text`: receivers take the latency from the first field, and the
 * sequence numbers tell lost messages from duplicates.
 */
class Traffic {
  sent = 0;
  confirmed = 0;
  delivered = 0;
  duplicates = 0;
  private readonly seen: Uint8Array;
  private latencies: number[] = [];

  constructor(
    private readonly peers: readonly Peer[],
    private readonly total: number,
    private readonly bodyBytes: number,
  ) {
    this.seen = new Uint8Array(total);
    for (const peer of peers) {
      peer.onDelivery = (body, _id, at) => {
        const first = body.indexOf('|');
        const seq = Number(body.slice(first + 1, body.indexOf('|', first + 1)));
        if (this.seen[seq]) {
          this.duplicates++;
          return;
        }
        this.seen[seq] = 1;
        this.delivered++;
        this.latencies.push((at - Number(body.slice(0, first))) / 1000);
      };
      peer.onSent = () => this.confirmed++;
    }
  }

  get pendingLatencies(): number {
    return this.latencies.length;
  }

  /** The latencies recorded since the last call (ms). */
  takeLatencies(): number[] {
    const out = this.latencies;
    this.latencies = [];
    return out;
  }

  run(ratePerSec: number): Promise<{ maxScheduleLagMs: number }> {
    const random = rng(23);
    const n = this.peers.length;
    let maxLag = 0;
    const started = performance.now();
    return new Promise((resolve) => {
      const timer = setInterval(() => {
        const due = Math.min(this.total, Math.floor(((performance.now() - started) / 1000) * ratePerSec));
        if (due - this.sent > 1) maxLag = Math.max(maxLag, ((due - this.sent) / ratePerSec) * 1000);
        while (this.sent < due) {
          const from = this.sent % n;
          const to = (from + 1 + Math.floor(random() * (n - 1))) % n;
          const t = nowUs();
          const head = `${t}|${this.sent}|`;
          const body = head + makeBody(0, this.bodyBytes - head.length + 2, this.sent).slice(2);
          this.peers[from]!.sendTo(this.peers[to]!.id, body, String(t));
          this.sent++;
        }
        if (this.sent >= this.total) {
          clearInterval(timer);
          resolve({ maxScheduleLagMs: maxLag });
        }
      }, 1);
    });
  }
}

/** Sizes of the data directory's SQLite write-ahead logs, MiB. */
function walSizes(dataDir: string): Record<string, number> {
  const out: Record<string, number> = {};
  try {
    for (const name of readdirSync(dataDir).filter((n) => n.endsWith('-wal'))) out[name] = statSync(path.join(dataDir, name)).size / 2 ** 20;
  } catch {
    // the hub may be between files; the next sample has them
  }
  return out;
}

/** V8 heap in use and the stores' sizes from the hub's Prometheus text; null if the scrape fails. */
async function scrapeMetrics(hub: RunningHub): Promise<{ heapUsed: number; stores: Record<string, number> } | null> {
  try {
    const response = await fetch(`${hub.baseUrl}/api/v1/metrics`, {
      headers: { authorization: `Bearer ${hub.cockpitToken}` },
      signal: AbortSignal.timeout(2000),
    });
    if (!response.ok) return null;
    const text = await response.text();
    const heap = /^devenviro_process_heap_used_bytes (\S+)$/m.exec(text);
    const stores: Record<string, number> = {};
    for (const match of text.matchAll(/^devenviro_storage_bytes\{store="([^"]*)"\} (\S+)$/gm)) stores[match[1]!] = Number(match[2]);
    return heap ? { heapUsed: Number(heap[1]), stores } : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Reporting

function slopeText(s: Slope | null): string {
  return s ? `${s.mibPerMin >= 0 ? '+' : ''}${fmt(s.mibPerMin)} MiB/min (${fmt(s.fromMin)}–${fmt(s.toMin)} min, ${s.samples} samples)` : 'not enough samples';
}

function storesText(s: Sample | undefined): string {
  if (!s) return '—';
  const stores = Object.entries(s.stores).map(([k, v]) => `${k} ${fmt(v)}`);
  const wal = Object.entries(s.walMiB).map(([k, v]) => `${k} ${fmt(v)}`);
  return `${stores.join(', ')}${wal.length ? ` (${wal.join(', ')})` : ''}`;
}

function summaryRows(r: Results): SummaryRow[] {
  const flat = (s: Slope | null): SummaryRow['verdict'] => (s === null ? 'ERROR' : s.mibPerMin <= FLAT_MIB_PER_MIN ? 'PASS' : 'FAIL');
  const target = `slope <= +${FLAT_MIB_PER_MIN} MiB/min`;
  const t = r.totals;
  const worst = r.windows.reduce((m, w) => (Number.isFinite(w.p99Ms) ? Math.max(m, w.p99Ms) : m), 0);
  const p99s = r.windows.map((w) => w.p99Ms).filter(Number.isFinite);
  return [
    { metric: 'hub RSS slope after warm-up', target, measured: slopeText(r.slopes.rssAfterWarmup), verdict: flat(r.slopes.rssAfterWarmup) },
    { metric: 'hub RSS slope, second half', target, measured: slopeText(r.slopes.rssSecondHalf), verdict: flat(r.slopes.rssSecondHalf) },
    { metric: 'V8 heap used slope after warm-up', target, measured: slopeText(r.slopes.heapAfterWarmup), verdict: flat(r.slopes.heapAfterWarmup) },
    { metric: 'V8 heap used slope, second half', target: 'report', measured: slopeText(r.slopes.heapSecondHalf), verdict: 'info' },
    { metric: 'stores on disk slope after warm-up', target: 'report', measured: slopeText(r.slopes.storageAfterWarmup), verdict: 'info' },
    { metric: 'stores on disk at the end, MiB (WAL files)', target: 'report', measured: storesText(r.samples.at(-1)), verdict: 'info' },
    {
      metric: 'messages sent / delivered / lost',
      target: 'none lost',
      measured: `${fmt(t.sent)} / ${fmt(t.delivered)} / ${fmt(t.lost)}${t.duplicates ? ` (${t.duplicates} duplicates)` : ''}${t.errors ? ` (${t.errors} errors: ${t.lastError})` : ''}`,
      verdict: t.lost === 0 && t.errors === 0 ? 'PASS' : 'FAIL',
    },
    {
      metric: 'delivery p99 per window: median / worst',
      target: 'report',
      measured: p99s.length ? `${fmtMs(percentile(sortedCopy(p99s), 50))} / ${fmtMs(worst)}` : '—',
      verdict: 'info',
    },
    {
      metric: 'hub CPU over the load (% of one core); µs per delivered message',
      target: 'report',
      measured: `${r.cpu.hub ?? '?'}%; ${r.hubCpuUsPerMsg === null ? '?' : fmt(r.hubCpuUsPerMsg)} µs`,
      verdict: 'info',
    },
    { metric: 'other processes on the machine (% of one core)', target: 'report', measured: `${r.cpu.others ?? '?'}% (load avg at start ${r.machine.loadAverage.join(' ')})`, verdict: 'info' },
  ];
}

function report(r: Results): void {
  const rows: Cell[][] = r.windows.map((w) => [
    `${fmt(w.startMin)}–${fmt(w.endMin)}`,
    w.sent,
    w.delivered,
    w.p50Ms,
    w.p99Ms,
    w.maxMs,
    w.rssMiB,
    w.heapUsedMiB,
    w.hubCpu,
    w.clientCpu,
    w.othersCpu,
  ]);
  printTable('Per window (latency: send → arrival at the receiver; CPU as % of one core)', ['minutes', 'sent', 'delivered', 'p50 ms', 'p99 ms', 'max ms', 'RSS MiB', 'heap MiB', 'hub CPU', 'client CPU', 'others'], rows);
  for (const p of r.profiles) {
    printTable(
      `CPU profile ${path.relative(process.cwd(), p.file)}: ${fmt(p.busyMs)} ms busy of ${fmt(p.durationMs)} ms; top self time`,
      ['self ms', 'self %', 'total %', 'function', 'where'],
      p.top.slice(0, 20).map((row) => [row.selfMs, row.selfPercent, row.totalPercent, row.function, row.where]),
    );
  }
  printTable(`Summary (${fmt(r.options.minutes)} min soak)`, ['metric', 'target', 'measured', 'pass/fail'], r.summary.map((s) => [s.metric, s.target, s.measured, s.verdict]));
  console.log(machineLine(r.machine) + `; load avg at the end ${loadNow()}`);
}

function loadNow(): string {
  return os.loadavg().map((l) => l.toFixed(2)).join(' ');
}
