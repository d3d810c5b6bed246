/**
 * The agent hub benchmark: `npm run bench -- hub [options]`.
 *
 * The hub runs as its own process (node out/main/headless.js, fresh temp data dir, --port 0); clients are raw `ws`
 * sockets in this process (plus, for the 2,000-socket phase, a second client process). A raw `ws` relay (a child
 * process that forwards A's frame to B, nothing else) is measured in the same run as the baseline. Everything is
 * loopback, bounded in count and time. Prints a table per phase, a final metric | target | measured | pass/fail
 * table, and writes everything to bench/results/hub-<timestamp>.json.
 */
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { connectAgents, connectedCount, mapLimit, postJson, registerAgents, type AgentCredentials } from './lib/agents';
import { ClientWorker } from './lib/client-pool';
import { ensureBuilt, snapshotBuild, startHub, type BuildState, type HubOptions, type RunningHub } from './lib/hub-process';
import { machineFacts, machineLine } from './lib/machine';
import { nowUs, Peer, type Mode } from './lib/peer';
import { CpuMeter, memoryStatus, resetPeakRss, RssSampler, sleep, waitForQuiet, waitForQuietMachine, waitForStableRss } from './lib/proc';
import { summarizeProfile, type ProfileSummary } from './lib/profile';
import { startRelay } from './lib/relay';
import { resultsDir, timestampForFile, writeResults } from './lib/results';
import { histogram, histogramLine, summarize, type Summary } from './lib/stats';
import { fmt, fmtBytes, fmtMs, printTable, type Cell, type SummaryRow } from './lib/table';
import { drain, LatencyRecorder, makeBody, openLoop, pipelinedThroughput, sequentialLatency, type ThroughputResult } from './lib/traffic';
import { HUB_SUITE_OPTIONS, intOption } from './lib/options';

export const description = 'agent hub: notification latency, durable throughput, 2,000 sockets, 64 MB messages, stalls, beside a raw ws relay';

const PHASES = ['latency', 'load', 'throughput', 'scale', 'large', 'stall'] as const;
type Phase = (typeof PHASES)[number];

const USAGE = `Usage: npm run bench -- hub [options]

  --only LIST        phases to run, comma-separated: ${PHASES.join(',')} (default: all)
  --phase NAME       run one phase alone (the same as --only NAME)
  --quick            smaller counts and shorter phases (a smoke run, not a measurement)
  --profile          run the hub under --cpu-prof and print its top self-time functions
  --no-build         measure out/ as it is, even if stale (warns); default: \`npm run build\` when stale
  --quiet-wait S     wait up to S seconds before each phase for other processes to go quiet (10; 0: never)
  --no-relay         skip the raw relay baseline (A/B runs of the hub alone)
  --priority         run the hub, relay and clients at nice -10, ahead of other jobs on a shared machine
  --strict           exit 1 when a target is missed (default: only when a phase fails)
  --verbose          print each hub's own output when it stops
  --keep-data        keep the hubs' temporary data directories
  --hub-entry FILE   run this headless.js instead of out/main/headless.js (A/B-testing a change)
  --data-root DIR    make the hubs' data directories here (default: the OS temp dir; /dev/shm takes the disk out)
  --agents N         agents connected in the latency/load/throughput phases (100)
  --scale-agents N   agents registered and connected in the scale phase (2000)
  --workers N        extra client processes holding sockets in the scale phase (1)
  --rate N           aggregate msg/s of the moderate-load phase (2000)
  --scale-rate N     aggregate msg/s among the 2,000 agents (2000)
  --duration MS      length of each load phase (5000)
  --messages N       messages in the throughput phase (40000)
  --window N         sends in flight in the throughput phase (1000)
  --large-mib N      size of the largest message, MiB (64)
  --stall-keys N     keys of the JSON object body in the stall phase (1000000: about 9 MB)
  --stall-seconds S  length of each stall window (10)`;

interface Options {
  only: Set<Phase>;
  quick: boolean;
  profile: boolean;
  build: boolean;
  keepData: boolean;
  verbose: boolean;
  strict: boolean;
  priority: boolean;
  relay: boolean;
  quietWaitMs: number;
  dataRoot: string | undefined;
  hubEntry: string | undefined;
  agents: number;
  scaleAgents: number;
  workers: number;
  rate: number;
  scaleRate: number;
  durationMs: number;
  messages: number;
  window: number;
  largeMiB: number;
  stallKeys: number;
  stallMs: number;
  latencySamples: number;
  latencyWarmup: number;
  notifyBytes: number;
  throughputBytes: number;
}

function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      ...HUB_SUITE_OPTIONS,
      only: { type: 'string' },
      phase: { type: 'string' },
      'stall-keys': { type: 'string' },
      'stall-seconds': { type: 'string' },
      verbose: { type: 'boolean', default: false },
      priority: { type: 'boolean', default: false },
      'no-relay': { type: 'boolean', default: false },
      agents: { type: 'string' },
      'scale-agents': { type: 'string' },
      workers: { type: 'string' },
      rate: { type: 'string' },
      'scale-rate': { type: 'string' },
      duration: { type: 'string' },
      messages: { type: 'string' },
      window: { type: 'string' },
      'large-mib': { type: 'string' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return null;
  }
  const quick = values.quick ?? false;
  const int = intOption;
  const only = new Set<Phase>();
  for (const name of (values.phase ?? values.only ?? PHASES.join(',')).split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!(PHASES as readonly string[]).includes(name)) throw new Error(`unknown phase ${name}; phases: ${PHASES.join(', ')}`);
    only.add(name as Phase);
  }
  return {
    only,
    quick,
    profile: values.profile ?? false,
    build: !(values['no-build'] ?? false),
    keepData: values['keep-data'] ?? false,
    verbose: values.verbose ?? false,
    strict: values.strict ?? false,
    priority: values.priority ?? false,
    relay: !(values['no-relay'] ?? false),
    quietWaitMs: int('quiet-wait', values['quiet-wait'], 10, 0) * 1000,
    dataRoot: values['data-root'],
    hubEntry: values['hub-entry'],
    agents: int('agents', values.agents, 100, 2),
    scaleAgents: int('scale-agents', values['scale-agents'], quick ? 400 : 2000, 2),
    workers: int('workers', values.workers, 1, 0),
    rate: int('rate', values.rate, 2000),
    scaleRate: int('scale-rate', values['scale-rate'], 2000),
    durationMs: int('duration', values.duration, quick ? 1500 : 5000),
    messages: int('messages', values.messages, quick ? 5000 : 40_000),
    window: int('window', values.window, 1000),
    largeMiB: int('large-mib', values['large-mib'], 64),
    stallKeys: int('stall-keys', values['stall-keys'], quick ? 200_000 : 1_000_000, 1),
    stallMs: int('stall-seconds', values['stall-seconds'], quick ? 4 : 10, 1) * 1000,
    latencySamples: quick ? 300 : 2000,
    latencyWarmup: quick ? 50 : 300,
    notifyBytes: 256,
    throughputBytes: 1024,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Result shapes

interface CpuReading {
  [process: string]: number | null;
}

interface LatencyPhase {
  connected: number;
  delivery: Summary;
  durable: Summary | null;
  histogram: string;
  timedOut: boolean;
  cpuPercent: CpuReading;
}

interface LoadPhase {
  connected: number;
  ratePerSec: number;
  durationMs: number;
  sent: number;
  delivered: number;
  drained: boolean;
  delivery: Summary;
  durable: Summary | null;
  histogram: string;
  maxScheduleLagMs: number;
  cpuPercent: CpuReading;
  clientEventLoopP99Ms: Record<string, number | null>;
  errors: number;
}

interface ThroughputPhase extends ThroughputResult {
  bodyBytes: number;
  window: number;
  cpuPercent: CpuReading;
  /**
   * Server CPU time per delivered message, µs: robust to other load on the machine (wall-clock rates are not),
   * and 1e6 / this is the rate the server could reach with one core to itself.
   */
  serverCpuUsPerMsg: number | null;
}

interface ScalePhase {
  agents: number;
  registerMs: number;
  registerPerSec: number;
  connectMs: number;
  clientProcesses: number;
  hubReportsConnected: number;
  load: LoadPhase;
}

interface LargePhase {
  via: 'http' | 'ws';
  bytes: number;
  delivered: boolean;
  deliveredBytes: number;
  sendStatus: string;
  elapsedMs: number;
  baselineRss: number;
  peakRss: number;
  growth: number;
  growthRatio: number;
  peakSource: string;
  /** When the send was confirmed and when the receiver had it, ms after the send began. */
  confirmedAtMs: number;
  deliveredAtMs: number;
  /** [ms after sampling began, hub RSS bytes], a point per 4 MiB of change. */
  rssTimeline: Array<[number, number]>;
}

/** One window of the stall phase: other agents' traffic, with or without large JSON bodies sent meanwhile. */
interface StallWindow {
  /** 'quiet': no large sends; 'http' / 'ws': one agent sends large JSON object bodies back to back that way. */
  large: 'quiet' | 'http' | 'ws';
  largeBodyBytes: number;
  largeSent: number;
  largeFailed: string | null;
  /** Slowest large send, request to answer (HTTP 201, or the socket's `sent`), ms. */
  largeSendMaxMs: number | null;
  /** Other agents' HTTP requests (GET their status, closed loop), ms. */
  otherRequests: Summary;
  /** Other agents' messages over their sockets (open loop), send to delivery, ms. */
  otherDelivery: Summary;
  otherDelivered: number;
  otherSent: number;
  /** The hub's event-loop delay from its /metrics, worst second: p99, and max (null on hubs that report no max). */
  loopP99Ms: number | null;
  loopMaxMs: number | null;
  cpuPercent: CpuReading;
}

interface Results {
  suite: 'hub';
  startedAt: string;
  finishedAt?: string;
  machine: ReturnType<typeof machineFacts>;
  options: Omit<Options, 'only'> & { only: Phase[] };
  build: BuildState;
  relay: { latency?: LatencyPhase; load?: LoadPhase; throughput?: ThroughputPhase; throughputWarmup?: number };
  hub: { registerMs?: number; latency?: LatencyPhase; load?: LoadPhase; throughput?: ThroughputPhase; throughputWarmup?: number; scale?: ScalePhase };
  large: LargePhase[];
  stall: StallWindow[];
  profiles: ProfileSummary[];
  errors: Record<string, string>;
  summary: SummaryRow[];
}

// ---------------------------------------------------------------------------------------------------------------

export async function run(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  if (!options) return 0;
  quietWaitMs = options.quietWaitMs;
  verbose = options.verbose;
  priority = options.priority;
  prioritize(process.pid);
  const started = new Date();
  const machine = machineFacts();
  console.log(`Hub benchmark — ${machineLine(machine)}`);
  if (options.quick) console.log('--quick: a smoke run with small counts; do not quote these numbers.');
  const build: BuildState = options.hubEntry ? { built: false, stale: null, builtAt: null } : ensureBuilt(options.build);
  const snapshot = snapshotBuild(options.hubEntry);
  const hubOptions: HubOptions = {
    entry: snapshot.entry,
    cpuProfDir: options.profile ? path.join(resultsDir, `profiles-${timestampForFile(started)}`) : undefined,
    keepData: options.keepData,
    dataRoot: options.dataRoot,
  };

  const results: Results = {
    suite: 'hub',
    startedAt: started.toISOString(),
    machine,
    options: { ...options, only: [...options.only] },
    build,
    relay: {},
    hub: {},
    large: [],
    stall: [],
    profiles: [],
    errors: {},
    summary: [],
  };
  const attempt = async (name: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (error) {
      results.errors[name] = (error as Error).stack ?? String(error);
      console.error(`\n[${name}] failed: ${(error as Error).message}`);
    }
  };

  const wantsPair = (['latency', 'load', 'throughput'] as const).some((p) => options.only.has(p));
  if (wantsPair && options.relay) await attempt('relay', () => relayBaseline(options, results));
  try {
    if (wantsPair || options.only.has('scale')) await attempt('hub', () => hubPhases(options, results, hubOptions));
    if (options.only.has('large')) {
      for (const via of ['http', 'ws'] as const) await attempt(`large-${via}`, () => largeMessage(options, results, via, hubOptions));
    }
    if (options.only.has('stall')) await attempt('stall', () => stallPhase(options, results, hubOptions));
  } finally {
    snapshot.remove();
  }

  results.summary = summaryRows(options, results);
  results.finishedAt = new Date().toISOString();
  printDetails(results);
  for (const profile of results.profiles) printProfile(profile);
  printTable(
    `Summary (${((Date.now() - started.getTime()) / 1000).toFixed(0)} s run)`,
    ['metric', 'target', 'measured', 'pass/fail'],
    results.summary.map((r) => [r.metric, r.target, r.measured, r.verdict]),
  );
  console.log(contentionLine(results));
  console.log(machineLine(machine) + (options.priority ? ' (bench processes at nice -10)' : ''));
  const file = writeResults('hub', results, started);
  console.log(`\nResults: ${path.relative(process.cwd(), file)}`);
  const failed = results.summary.some((r) => r.verdict === 'ERROR' || (options.strict && r.verdict === 'FAIL'));
  return failed ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Raw relay baseline

async function relayBaseline(options: Options, results: Results): Promise<void> {
  console.log(`\n[relay] raw ws relay baseline: ${options.agents} sockets`);
  const relay = await startRelay();
  prioritize(relay.pid);
  const ids = Array.from({ length: options.agents }, (_, i) => `r${i}`);
  const peers = await mapLimit(ids, 64, (id) => Peer.connect(relay.url(id), id, 'relay'));
  try {
    if (options.only.has('latency')) {
      await settle(relay.pid, [process.pid], 'relay latency');
      results.relay.latency = await latencyPhase(peers, 'relay', options, { server: relay.pid, client: process.pid });
      logLatency('relay', 'one in flight', results.relay.latency);
    }
    if (options.only.has('load')) {
      await settle(relay.pid, [process.pid], 'relay load');
      results.relay.load = await loadPhase(peers, 'relay', options, options.rate, { server: relay.pid, client: process.pid });
      logLatency('relay', `${options.rate} msg/s`, results.relay.load);
    }
    if (options.only.has('throughput')) {
      await settle(relay.pid, [process.pid], 'relay throughput');
      const warm = await pipelinedThroughput(peers[0]!, peers[1]!, 'relay', Math.min(5000, options.messages), options.window, options.throughputBytes);
      results.relay.throughputWarmup = warm.msgsPerSec;
      await settle(relay.pid, [process.pid], 'relay throughput');
      results.relay.throughput = await throughputPhase(peers[0]!, peers[1]!, 'relay', options, { server: relay.pid, client: process.pid });
      logThroughput('relay', results.relay.throughput);
    }
  } finally {
    peers.forEach((p) => p.close());
    await relay.stop();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The hub: latency, load, scale, throughput (in that order: the throughput phase leaves a keyword-index backlog)

async function hubPhases(options: Options, results: Results, hubOptions: HubOptions): Promise<void> {
  const hub = await startHub({ ...hubOptions, label: 'hub' });
  prioritize(hub.pid);
  console.log(`\n[hub] pid ${hub.pid} at ${hub.baseUrl}, data ${hub.dataDir}`);
  try {
    await waitForQuiet(hub.pid); // the encoder loads in the background after start
    const total = options.only.has('scale') ? Math.max(options.scaleAgents, options.agents) : options.agents;
    const t0 = performance.now();
    const agents = await registerAgents(hub.baseUrl, total, { concurrency: 32 });
    const registerMs = performance.now() - t0;
    results.hub.registerMs = registerMs;
    console.log(`[hub] registered ${total} agents over HTTP in ${fmtMs(registerMs)} (${fmt((total / registerMs) * 1000)}/s, 32 in parallel)`);
    const peers = await connectAgents(hub.wsBase, agents.slice(0, options.agents));
    const server = { server: hub.pid, client: process.pid };

    if (options.only.has('latency')) {
      await settle(hub.pid, [process.pid], 'hub latency');
      results.hub.latency = await latencyPhase(peers, 'hub', options, server);
      logLatency('hub', 'one in flight', results.hub.latency);
    }
    if (options.only.has('load')) {
      await settle(hub.pid, [process.pid], 'hub load');
      results.hub.load = await loadPhase(peers, 'hub', options, options.rate, server);
      logLatency('hub', `${options.rate} msg/s`, results.hub.load);
    }
    if (options.only.has('scale')) {
      await settle(hub.pid, [process.pid], 'hub scale');
      results.hub.scale = await scalePhase(hub, agents, peers, options, registerMs);
    }
    if (options.only.has('throughput')) {
      await settle(hub.pid, [process.pid], 'hub throughput');
      const warm = await pipelinedThroughput(peers[0]!, peers[1]!, 'hub', Math.min(5000, options.messages), options.window, options.throughputBytes);
      results.hub.throughputWarmup = warm.msgsPerSec;
      await settle(hub.pid, [process.pid], 'hub throughput');
      results.hub.throughput = await throughputPhase(peers[0]!, peers[1]!, 'hub', options, server);
      logThroughput('hub', results.hub.throughput);
    }
    peers.forEach((p) => p.close());
  } finally {
    await stopHub(hub, results);
  }
}

/**
 * Before a measured phase: the server has finished its previous work (keyword indexing, say) and the rest of the
 * machine is quiet enough (another job's type check on a 2-core box distorts everything). Waits are bounded.
 */
let quietWaitMs = 10_000;
let verbose = false;
let priority = false;

/** With --priority: our processes (never anyone else's) run at nice -10. */
function prioritize(pid: number): void {
  if (!priority) return;
  try {
    os.setPriority(pid, -10);
  } catch (error) {
    console.warn(`could not raise the priority of ${pid}: ${(error as Error).message}`);
  }
}

async function settle(server: number, ours: number[], what: string): Promise<void> {
  await waitForQuiet(server);
  if (quietWaitMs === 0) return;
  const { othersPercent, waitedMs } = await waitForQuietMachine([server, ...ours], { timeoutMs: quietWaitMs });
  if (othersPercent !== null && othersPercent > 25) {
    console.warn(`[${what}] other processes still use ${othersPercent}% CPU after ${fmt(waitedMs / 1000)} s; measuring anyway (see "others" in CPU)`);
  } else if (waitedMs > 1500) {
    console.log(`[${what}] waited ${fmt(waitedMs / 1000)} s for other processes to quiet down`);
  }
}

async function stopHub(hub: RunningHub, results: Results): Promise<void> {
  const { code, profile } = await hub.stop();
  if (code !== 0) console.warn(`[${hub.label}] exited with ${code}:\n${hub.output().slice(-2000)}`);
  else if (verbose) console.log(`[${hub.label}] output:\n${hub.output().slice(-8000)}`);
  if (profile) {
    try {
      results.profiles.push(summarizeProfile(profile));
    } catch (error) {
      console.warn(`could not read the profile ${profile}: ${(error as Error).message}`);
    }
  }
}

async function latencyPhase(peers: Peer[], mode: Mode, options: Options, pids: Record<string, number>): Promise<LatencyPhase> {
  const cpu = new CpuMeter(pids);
  const result = await sequentialLatency(peers, mode, options.latencySamples, options.latencyWarmup, options.notifyBytes);
  return {
    connected: peers.length,
    delivery: summarize(result.delivery),
    durable: mode === 'hub' ? summarize(result.durable) : null,
    histogram: histogramLine(histogram(result.delivery)),
    timedOut: result.timedOut,
    cpuPercent: cpu.read(),
  };
}

async function loadPhase(peers: Peer[], mode: Mode, options: Options, rate: number, pids: Record<string, number>): Promise<LoadPhase> {
  const recorder = new LatencyRecorder().attach(peers);
  const errorsBefore = peers.reduce((n, p) => n + p.errors, 0);
  const eld = monitorEventLoopDelay({ resolution: 1 });
  eld.enable();
  const cpu = new CpuMeter(pids);
  const loop = await openLoop(peers, peers.map((p) => p.id), rate, options.durationMs, options.notifyBytes);
  const drained = await drain(() => recorder.delivered, loop.sent);
  const cpuPercent = cpu.read();
  eld.disable();
  return {
    connected: peers.length,
    ratePerSec: rate,
    durationMs: options.durationMs,
    sent: loop.sent,
    delivered: recorder.delivered,
    drained,
    delivery: summarize(recorder.delivery),
    durable: mode === 'hub' ? summarize(recorder.durable) : null,
    histogram: histogramLine(histogram(recorder.delivery)),
    maxScheduleLagMs: loop.maxScheduleLagMs,
    cpuPercent,
    clientEventLoopP99Ms: { client: eld.percentile(99) / 1e6 },
    errors: peers.reduce((n, p) => n + p.errors, 0) - errorsBefore,
  };
}

async function throughputPhase(sender: Peer, receiver: Peer, mode: Mode, options: Options, pids: Record<string, number>): Promise<ThroughputPhase> {
  const cpu = new CpuMeter(pids);
  const result = await pipelinedThroughput(sender, receiver, mode, options.messages, options.window, options.throughputBytes);
  const serverSeconds = cpu.used().server ?? null;
  return {
    ...result,
    bodyBytes: options.throughputBytes,
    window: options.window,
    cpuPercent: cpu.read(),
    serverCpuUsPerMsg: serverSeconds === null || !result.delivered ? null : (serverSeconds * 1e6) / result.delivered,
  };
}

async function scalePhase(hub: RunningHub, agents: AgentCredentials[], connected: Peer[], options: Options, registerMs: number): Promise<ScalePhase> {
  const all = agents.slice(0, options.scaleAgents);
  const processes = 1 + options.workers;
  const share = Math.ceil(all.length / processes);
  console.log(`[scale] connecting ${all.length} sockets: ${share} in this process, ${options.workers} worker process(es) with the rest`);
  const t0 = performance.now();
  const workers = await Promise.all(Array.from({ length: options.workers }, () => ClientWorker.start()));
  workers.forEach((w) => prioritize(w.pid));
  const [mainPeers] = await Promise.all([
    connectAgents(hub.wsBase, all.slice(connected.length, share)).then((more) => [...connected, ...more]),
    ...workers.map((worker, k) =>
      worker.request({ cmd: 'connect', wsBase: hub.wsBase, agents: all.slice(share * (k + 1), share * (k + 2)), concurrency: 64 }, 'connected'),
    ),
  ]);
  const connectMs = performance.now() - t0;
  const hubReportsConnected = await connectedCount(hub.baseUrl, hub.cockpitToken);
  console.log(`[scale] ${hubReportsConnected} sockets connected (hub's count) in ${fmtMs(connectMs)}`);
  try {
    await settle(hub.pid, [process.pid, ...workers.map((w) => w.pid)], 'scale');
    const recipients = all.map((a) => a.id);
    const recorder = new LatencyRecorder().attach(mainPeers);
    const errorsBefore = mainPeers.reduce((n, p) => n + p.errors, 0);
    const pids: Record<string, number> = { server: hub.pid, client: process.pid };
    workers.forEach((w, k) => (pids[`worker${k + 1}`] = w.pid));
    const eld = monitorEventLoopDelay({ resolution: 1 });
    eld.enable();
    const cpu = new CpuMeter(pids);
    const rateShare = options.scaleRate / processes;
    const [own, ...theirs] = await Promise.all([
      openLoop(mainPeers, recipients, rateShare, options.durationMs, options.notifyBytes, 101),
      ...workers.map((w, k) =>
        w
          .request({ cmd: 'load', recipients, ratePerSec: rateShare, durationMs: options.durationMs, bodyBytes: options.notifyBytes, seed: 202 + k }, 'loaded')
          .then((r) => r.result),
      ),
    ]);
    const sent = own.sent + theirs.reduce((n, r) => n + r.sent, 0);
    let workerErrors = 0;
    const delivered = async () => {
      const counts = await Promise.all(workers.map((w) => w.request({ cmd: 'counts' }, 'counts')));
      workerErrors = counts.reduce((n, c) => n + c.errors, 0);
      return recorder.delivered + counts.reduce((n, c) => n + c.delivered, 0);
    };
    const drained = await drain(delivered, sent);
    const cpuPercent = cpu.read();
    eld.disable();
    const collected = await Promise.all(workers.map((w) => w.request({ cmd: 'collect' }, 'collected')));
    const delivery = recorder.delivery.concat(...collected.map((c) => c.delivery));
    const durable = recorder.durable.concat(...collected.map((c) => c.durable));
    const eldP99: Record<string, number | null> = { client: eld.percentile(99) / 1e6 };
    collected.forEach((c, k) => (eldP99[`worker${k + 1}`] = c.eldP99Ms));
    const load: LoadPhase = {
      connected: hubReportsConnected,
      ratePerSec: options.scaleRate,
      durationMs: options.durationMs,
      sent,
      delivered: delivery.length,
      drained,
      delivery: summarize(delivery),
      durable: summarize(durable),
      histogram: histogramLine(histogram(delivery)),
      maxScheduleLagMs: Math.max(own.maxScheduleLagMs, ...theirs.map((r) => r.maxScheduleLagMs)),
      cpuPercent,
      clientEventLoopP99Ms: eldP99,
      errors: mainPeers.reduce((n, p) => n + p.errors, 0) - errorsBefore + workerErrors,
    };
    logLatency('hub', `${all.length} agents, ${options.scaleRate} msg/s`, load);
    return {
      agents: all.length,
      registerMs,
      registerPerSec: (agents.length / registerMs) * 1000,
      connectMs,
      clientProcesses: processes,
      hubReportsConnected,
      load,
    };
  } finally {
    // Back to the first `connected.length` sockets for the phases after this one.
    mainPeers.slice(connected.length).forEach((p) => p.close());
    await Promise.all(workers.map((w) => w.close()));
    await sleep(200);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The largest message, each way on a fresh hub (so one's memory does not hide the other's)

async function largeMessage(options: Options, results: Results, via: 'http' | 'ws', hubOptions: HubOptions): Promise<void> {
  const bytes = options.largeMiB * 2 ** 20;
  const hub = await startHub({ ...hubOptions, label: `large-${via}`, config: { messages: { maxBytes: bytes } } });
  prioritize(hub.pid);
  console.log(`\n[large/${via}] hub pid ${hub.pid}, messages.maxBytes ${bytes}`);
  try {
    const [from, to] = await registerAgents(hub.baseUrl, 2, { prefix: 'large' });
    const receiver = await Peer.connect(`${hub.wsBase}/api/v1/agents/${to!.id}/realtime`, to!.id, 'hub', to!.token);
    const sender = via === 'ws' ? await Peer.connect(`${hub.wsBase}/api/v1/agents/${from!.id}/realtime`, from!.id, 'hub', from!.token) : undefined;
    // The client's copies are made before the baseline: only the hub is measured.
    const body = makeBody(0, bytes);
    const payload = via === 'http' ? `{"body":${JSON.stringify(body)}}` : undefined;
    await settle(hub.pid, [process.pid], `large/${via}`);
    const baselineRss = await waitForStableRss(hub.pid);
    const peakReset = resetPeakRss(hub.pid);
    const sampler = new RssSampler(hub.pid, 5);
    const t0 = performance.now();
    const delivered = new Promise<number>((resolve) => (receiver.onDelivery = (received) => resolve(received.length)));
    let sendStatus: string;
    if (via === 'http') {
      const response = await postJson(`${hub.baseUrl}/api/v1/agents/${to!.id}/messages`, from!.token, payload!);
      sendStatus = `HTTP ${response.status}${response.status >= 300 ? ` ${response.body.slice(0, 200)}` : ''}`;
    } else {
      sendStatus = await new Promise<string>((resolve) => {
        sender!.onSent = () => resolve('sent');
        const timer = setInterval(() => {
          if (sender!.lastError || sender!.closedWith !== null) {
            clearInterval(timer);
            resolve(`failed: ${sender!.lastError ?? `closed ${sender!.closedWith}`}`);
          }
        }, 50);
        sender!.sendTo(to!.id, body, String(nowUs()));
      });
    }
    const confirmedAtMs = performance.now() - t0;
    const deliveredBytes = await Promise.race([delivered, sleep(120_000).then(() => -1)]);
    const elapsedMs = performance.now() - t0;
    await sleep(500); // the ack, the keyword index's slice, and whatever the hub does right after
    const sampledPeak = sampler.stop();
    const hwm = memoryStatus(hub.pid)?.hwm ?? 0;
    const peakRss = peakReset ? Math.max(hwm, sampledPeak) : sampledPeak;
    const growth = peakRss - baselineRss;
    const phase: LargePhase = {
      via,
      bytes,
      delivered: deliveredBytes === bytes,
      deliveredBytes,
      sendStatus,
      elapsedMs,
      baselineRss,
      peakRss,
      growth,
      growthRatio: growth / bytes,
      peakSource: peakReset ? 'VmHWM (reset before the send) and 5 ms VmRSS samples' : `5 ms VmRSS samples only (${sampler.samples})`,
      confirmedAtMs,
      deliveredAtMs: elapsedMs,
      rssTimeline: sampler.timeline,
    };
    results.large.push(phase);
    console.log(
      `[large/${via}] ${sendStatus}; delivered ${deliveredBytes} bytes in ${fmtMs(elapsedMs)}; hub RSS ${fmtBytes(baselineRss)} → peak ` +
        `${fmtBytes(peakRss)} (+${fmtBytes(growth)}, ${fmt(phase.growthRatio)}x the message)`,
    );
    receiver.close();
    sender?.close();
  } finally {
    await stopHub(hub, results);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Stalls: other agents' latency while one agent sends large JSON object bodies (parsed, checked and re-serialised)

/** Other agents in the stall phase: their sockets carry STALL_RATE msg/s, STALL_POLLERS of them poll over HTTP. */
const STALL_AGENTS = 20;
const STALL_RATE = 200;
const STALL_POLLERS = 4;

async function stallPhase(options: Options, results: Results, hubOptions: HubOptions): Promise<void> {
  const hub = await startHub({ ...hubOptions, label: 'stall' });
  prioritize(hub.pid);
  try {
    const agents = await registerAgents(hub.baseUrl, STALL_AGENTS + 2, { prefix: 'stall' });
    const [sender, receiver] = [agents[0]!, agents[1]!];
    const others = agents.slice(2);
    const peers = await connectAgents(hub.wsBase, others);
    // `{"0":0,"1":1,…}` with short base-36 keys, made before anything is measured.
    const parts: string[] = [];
    for (let i = 0; i < options.stallKeys; i++) parts.push(`"${i.toString(36)}":${i % 10}`);
    const object = `{${parts.join(',')}}`;
    parts.length = 0;
    const overHttp = Buffer.from(`{"body":${object}}`);
    const overWs = Buffer.from(`{"type":"send","ref":"large","message":{"to":{"type":"agent","id":"${receiver.id}"},"body":${object}}}`);
    console.log(`\n[stall] hub pid ${hub.pid}; ${STALL_AGENTS} other agents (${STALL_RATE} msg/s over sockets, ${STALL_POLLERS} polling over HTTP); large body ${options.stallKeys} keys, ${fmtBytes(overHttp.length)}`);
    const socket = await openRawSocket(`${hub.wsBase}/api/v1/agents/${sender.id}/realtime`, sender.token);
    try {
      for (const large of ['quiet', 'http', 'ws'] as const) {
        await settle(hub.pid, [process.pid], `stall/${large}`);
        const sendLarge =
          large === 'quiet'
            ? null
            : large === 'http'
              ? async () => {
                  const response = await postJson(`${hub.baseUrl}/api/v1/agents/${receiver.id}/messages`, sender.token, overHttp);
                  if (response.status !== 201) throw new Error(`HTTP ${response.status} ${response.body.slice(0, 200)}`);
                }
              : () => socket.sendAndWait(overWs);
        const window = await stallWindow(hub, peers, others, large, sendLarge, options.stallMs);
        window.largeBodyBytes = large === 'quiet' ? 0 : overHttp.length;
        results.stall.push(window);
        console.log(
          `[stall/${large}] ${large === 'quiet' ? 'no large sends' : `${window.largeSent} large sends (slowest ${fmtMs(window.largeSendMaxMs ?? 0)})${window.largeFailed ? `, FAILED: ${window.largeFailed}` : ''}`}; ` +
            `others' HTTP p50 ${fmtMs(window.otherRequests.p50)} p99 ${fmtMs(window.otherRequests.p99)} max ${fmtMs(window.otherRequests.max)}; ` +
            `delivery p99 ${fmtMs(window.otherDelivery.p99)} max ${fmtMs(window.otherDelivery.max)} (${window.otherDelivered}/${window.otherSent}); ` +
            `hub loop delay p99 ${window.loopP99Ms === null ? '—' : fmtMs(window.loopP99Ms)} max ${window.loopMaxMs === null ? '—' : fmtMs(window.loopMaxMs)}; CPU ${cpuText(window.cpuPercent)}`,
        );
      }
    } finally {
      socket.close();
      for (const peer of peers) peer.close();
    }
  } finally {
    await stopHub(hub, results);
  }
}

async function stallWindow(
  hub: RunningHub,
  peers: Peer[],
  others: AgentCredentials[],
  large: StallWindow['large'],
  sendLarge: (() => Promise<void>) | null,
  durationMs: number,
): Promise<StallWindow> {
  const recorder = new LatencyRecorder().attach(peers);
  const cpu = new CpuMeter({ server: hub.pid, client: process.pid });
  const deadline = performance.now() + durationMs;
  const running = () => performance.now() < deadline;
  const requests: number[] = [];
  const pollers = Array.from({ length: STALL_POLLERS }, async (_, i) => {
    const agent = others[i % others.length]!;
    while (running()) {
      const t0 = performance.now();
      const response = await fetch(`${hub.baseUrl}/api/v1/agents/${agent.id}/status`, { headers: { authorization: `Bearer ${agent.token}` } });
      await response.arrayBuffer();
      requests.push(performance.now() - t0);
    }
  });
  // The hub's own view, a snapshot per second: the worst second's p99 and max.
  const loop = { p99: null as number | null, max: null as number | null };
  const sampler = setInterval(() => {
    void hubLoopDelay(hub).then((reading) => {
      if (!reading) return;
      loop.p99 = Math.max(loop.p99 ?? 0, reading.p99Ms);
      if (reading.maxMs !== null) loop.max = Math.max(loop.max ?? 0, reading.maxMs);
    });
  }, 1000);
  let largeSent = 0;
  let largeFailed: string | null = null;
  let largeSendMaxMs: number | null = null;
  const largeSends = (async () => {
    if (!sendLarge) return;
    while (running() && !largeFailed) {
      const t0 = performance.now();
      try {
        await sendLarge();
        largeSent++;
        largeSendMaxMs = Math.max(largeSendMaxMs ?? 0, performance.now() - t0);
      } catch (error) {
        largeFailed = (error as Error).message;
      }
    }
  })();
  const traffic = await openLoop(peers, peers.map((p) => p.id), STALL_RATE, durationMs, 256);
  await Promise.all([...pollers, largeSends]);
  await drain(() => recorder.delivered, traffic.sent);
  // The last second's snapshot covers the end of the window.
  await sleep(1100);
  clearInterval(sampler);
  return {
    large,
    largeBodyBytes: 0,
    largeSent,
    largeFailed,
    largeSendMaxMs,
    otherRequests: summarize(requests),
    otherDelivery: summarize(recorder.delivery),
    otherDelivered: recorder.delivered,
    otherSent: traffic.sent,
    loopP99Ms: loop.p99,
    loopMaxMs: loop.max,
    cpuPercent: cpu.read(),
  };
}

/** The hub's event-loop delay over its last second, from GET /api/v1/metrics (max: only hubs that report it). */
async function hubLoopDelay(hub: RunningHub): Promise<{ p99Ms: number; maxMs: number | null } | null> {
  try {
    const response = await fetch(`${hub.baseUrl}/api/v1/metrics`, { headers: { authorization: `Bearer ${hub.cockpitToken}` } });
    if (response.status !== 200) return null;
    const text = await response.text();
    const gauge = (name: string) => {
      const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
      return match ? Number(match[1]) * 1000 : null;
    };
    const p99Ms = gauge('devenviro_event_loop_delay_seconds');
    return p99Ms === null ? null : { p99Ms, maxMs: gauge('devenviro_event_loop_delay_max_seconds') };
  } catch {
    return null;
  }
}

/** A raw agent socket that sends one prepared frame (as text) at a time and waits for its `sent` (or `error`). */
async function openRawSocket(url: string, token: string): Promise<{ sendAndWait(frame: Buffer): Promise<void>; close(): void }> {
  const ws = new WebSocket(url, { perMessageDeflate: false, headers: { authorization: `Bearer ${token}` } });
  let waiting: { resolve(): void; reject(error: Error): void } | undefined;
  ws.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as { type: string; message?: string };
    if (frame.type === 'sent') waiting?.resolve();
    else if (frame.type === 'error') waiting?.reject(new Error(frame.message));
    else return;
    waiting = undefined;
  });
  ws.on('close', (code) => waiting?.reject(new Error(`socket closed (${code})`)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return {
    sendAndWait: (frame) =>
      new Promise<void>((resolve, reject) => {
        waiting = { resolve, reject };
        ws.send(frame, { binary: false });
      }),
    close: () => ws.close(),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Reporting

function logLatency(system: string, what: string, phase: LatencyPhase | LoadPhase): void {
  const d = phase.delivery;
  const durable = phase.durable ? `; send→sent p50 ${fmtMs(phase.durable.p50)} p99 ${fmtMs(phase.durable.p99)}` : '';
  console.log(`[${system}] ${what}: delivery p50 ${fmtMs(d.p50)} p99 ${fmtMs(d.p99)} max ${fmtMs(d.max)} (n=${d.count})${durable}; CPU ${cpuText(phase.cpuPercent)}`);
}

function logThroughput(system: string, t: ThroughputPhase): void {
  console.log(
    `[${system}] ${t.delivered}/${t.messages} × ${t.bodyBytes} B delivered in ${fmtMs(t.elapsedMs)}: ${fmt(t.msgsPerSec)} msg/s, ` +
      `server ${t.serverCpuUsPerMsg === null ? '?' : fmt(t.serverCpuUsPerMsg)} µs CPU/msg` +
      `${t.timedOut ? ' (TIMED OUT)' : ''}${t.errors ? ` (${t.errors} errors: ${t.lastError})` : ''}; CPU ${cpuText(t.cpuPercent)}`,
  );
}

function cpuText(cpu: CpuReading): string {
  return Object.entries(cpu)
    .map(([name, percent]) => `${name} ${percent === null ? '?' : `${percent}%`}`)
    .join(', ');
}

function printDetails(r: Results): void {
  const latencyRows: Cell[][] = [];
  const add = (system: string, scenario: string, phase: LatencyPhase | LoadPhase | undefined) => {
    if (!phase) return;
    const d = phase.delivery;
    const load = 'ratePerSec' in phase ? phase : undefined;
    latencyRows.push([
      system,
      scenario,
      d.count,
      d.p50,
      d.p90,
      d.p99,
      d.p999,
      d.max,
      phase.durable ? `${fmt(phase.durable.p50)} / ${fmt(phase.durable.p99)}` : null,
      cpuText(phase.cpuPercent),
      load ? Object.values(load.clientEventLoopP99Ms).map((v) => (v === null ? '?' : fmt(v))).join(' / ') : null,
    ]);
  };
  add('relay', `${r.relay.latency?.connected ?? ''} sockets, 1 in flight`, r.relay.latency);
  add('hub', `${r.hub.latency?.connected ?? ''} agents, 1 in flight`, r.hub.latency);
  add('relay', `${r.relay.load?.connected ?? ''} sockets, ${r.relay.load?.ratePerSec ?? ''} msg/s`, r.relay.load);
  add('hub', `${r.hub.load?.connected ?? ''} agents, ${r.hub.load?.ratePerSec ?? ''} msg/s`, r.hub.load);
  add('hub', `${r.hub.scale?.agents ?? ''} agents, ${r.hub.scale?.load.ratePerSec ?? ''} msg/s`, r.hub.scale?.load);
  if (latencyRows.length) {
    printTable(
      'Notification latency, ms (sender send → receiver frame arrival; CPU as % of one core over the phase)',
      ['system', 'scenario', 'n', 'p50', 'p90', 'p99', 'p99.9', 'max', 'send→sent p50 / p99', 'CPU', 'client loop delay p99'],
      latencyRows,
    );
  }
  const tRows: Cell[][] = [];
  for (const [system, t, warm] of [
    ['relay', r.relay.throughput, r.relay.throughputWarmup],
    ['hub', r.hub.throughput, r.hub.throughputWarmup],
  ] as const) {
    if (!t) continue;
    tRows.push([
      system,
      `${t.delivered}/${t.messages}`,
      t.bodyBytes,
      t.window,
      t.elapsedMs,
      t.msgsPerSec,
      warm ?? null,
      t.durableElapsedMs,
      t.serverCpuUsPerMsg,
      t.serverCpuUsPerMsg ? 1e6 / t.serverCpuUsPerMsg : null,
      cpuText(t.cpuPercent),
    ]);
  }
  if (tRows.length) {
    printTable(
      'Throughput: 1 sender pipelining to 1 receiver (first send → last delivery)',
      ['system', 'delivered', 'body B', 'window', 'elapsed ms', 'msg/s', 'warm-up msg/s', 'last sent ms', 'server µs CPU/msg', 'server msg/s per core', 'CPU'],
      tRows,
    );
  }
  if (r.hub.scale) {
    const s = r.hub.scale;
    printTable('Many agents', ['agents', 'registered in', 'register/s', 'connected in', 'hub says connected', 'client processes', 'delivered', 'errors'], [
      [s.agents, fmtMs(s.registerMs), s.registerPerSec, fmtMs(s.connectMs), s.hubReportsConnected, s.clientProcesses, `${s.load.delivered}/${s.load.sent}`, s.load.errors],
    ]);
  }
  if (r.large.length) {
    printTable(
      'Largest message (hub process memory; growth = peak RSS during send+delivery − RSS before)',
      ['via', 'body', 'result', 'delivered', 'time', 'RSS before', 'peak RSS', 'growth', 'growth / body'],
      r.large.map((l) => [
        l.via,
        fmtBytes(l.bytes),
        l.sendStatus,
        l.delivered ? 'yes' : `NO (${l.deliveredBytes})`,
        fmtMs(l.elapsedMs),
        fmtBytes(l.baselineRss),
        fmtBytes(l.peakRss),
        fmtBytes(l.growth),
        `${fmt(l.growthRatio)}x`,
      ]),
    );
  }
  if (r.stall.length) {
    printTable(
      `Stalls: other agents while one sends large JSON object bodies back to back (${STALL_AGENTS} agents, ${STALL_RATE} msg/s, ${STALL_POLLERS} HTTP pollers)`,
      ['large sends', 'body', 'sent', 'slowest send', 'others HTTP p50', 'p99', 'max', 'delivery p99', 'max', 'hub loop p99', 'hub loop max', 'CPU'],
      r.stall.map((w) => [
        w.large,
        w.largeBodyBytes ? fmtBytes(w.largeBodyBytes) : '—',
        w.largeFailed ? `${w.largeSent} (failed: ${w.largeFailed.slice(0, 60)})` : w.largeSent,
        w.largeSendMaxMs === null ? '—' : fmtMs(w.largeSendMaxMs),
        fmtMs(w.otherRequests.p50),
        fmtMs(w.otherRequests.p99),
        fmtMs(w.otherRequests.max),
        fmtMs(w.otherDelivery.p99),
        fmtMs(w.otherDelivery.max),
        w.loopP99Ms === null ? '—' : fmtMs(w.loopP99Ms),
        w.loopMaxMs === null ? '—' : fmtMs(w.loopMaxMs),
        cpuText(w.cpuPercent),
      ]),
    );
  }
}

/** How much CPU other processes took during the measured phases: above ~25% of a core, latencies are distorted. */
function contentionLine(r: Results): string {
  const phases: Array<[string, { cpuPercent: CpuReading } | undefined]> = [
    ['relay latency', r.relay.latency],
    ['relay load', r.relay.load],
    ['relay throughput', r.relay.throughput],
    ['hub latency', r.hub.latency],
    ['hub load', r.hub.load],
    ['hub scale', r.hub.scale?.load],
    ['hub throughput', r.hub.throughput],
    ...r.stall.map((w): [string, { cpuPercent: CpuReading }] => [`stall ${w.large}`, w]),
  ];
  const readings = phases.flatMap(([name, phase]) => {
    const others = phase?.cpuPercent.others;
    return typeof others === 'number' ? [[name, others] as const] : [];
  });
  if (readings.length === 0) return 'contention: not measured';
  const busy = readings.filter(([, others]) => others > 25);
  const all = readings.map(([name, others]) => `${name} ${others}%`).join(', ');
  return busy.length === 0
    ? `contention: quiet machine (other processes' CPU per phase: ${all})`
    : `contention: BUSY MACHINE during ${busy.map(([name, others]) => `${name} (${others}%)`).join(', ')}: other jobs competed ` +
        `for the 2 cores, so those phases' latencies and rates are pessimistic (all phases: ${all})`;
}

function printProfile(p: ProfileSummary): void {
  printTable(
    `CPU profile ${path.relative(process.cwd(), p.file)}: ${fmt(p.busyMs)} ms busy of ${fmt(p.durationMs)} ms; top self time`,
    ['self ms', 'self %', 'total %', 'function', 'where'],
    p.top.slice(0, 20).map((row) => [row.selfMs, row.selfPercent, row.totalPercent, row.function, row.where]),
  );
}

function summaryRows(options: Options, r: Results): SummaryRow[] {
  const rows: SummaryRow[] = [];
  const verdict = (ok: boolean): SummaryRow['verdict'] => (ok ? 'PASS' : 'FAIL');
  const missing = (metric: string, target: string, phase: string): SummaryRow => ({
    metric,
    target,
    measured: r.errors.hub || r.errors.relay || r.errors[phase] ? 'error (see above)' : '—',
    verdict: r.errors.hub || r.errors.relay || r.errors[phase] ? 'ERROR' : 'not run',
  });
  const ms = (v: number) => `${fmt(v)} ms`;

  const latency = (label: string, phase: LatencyPhase | LoadPhase | undefined, relay: LatencyPhase | LoadPhase | undefined, name: Phase) => {
    const incomplete = phase && ('drained' in phase ? !phase.drained : phase.timedOut);
    for (const [p, key, limit] of [
      ['p50', 'p50', 1],
      ['p99', 'p99', 5],
    ] as const) {
      const metric = `notification latency ${p}, ${label}`;
      if (!phase) {
        rows.push(missing(metric, `<= ${limit} ms`, name));
        continue;
      }
      const value = phase.delivery[key];
      rows.push({
        metric,
        target: `<= ${limit} ms`,
        measured: `${ms(value)}${relay ? ` (relay ${ms(relay.delivery[key])})` : ''}${incomplete ? ' INCOMPLETE' : ''}`,
        verdict: verdict(value <= limit && !incomplete),
      });
    }
  };
  latency(`${options.agents} agents, 1 in flight`, r.hub.latency, r.relay.latency, 'latency');
  latency(`${options.agents} agents, ${options.rate} msg/s`, r.hub.load, r.relay.load, 'load');

  const durable = r.hub.latency?.durable;
  rows.push(
    durable
      ? { metric: 'send → sent (durable) p50 / p99, single sender', target: 'report', measured: `${ms(durable.p50)} / ${ms(durable.p99)}`, verdict: 'info' }
      : missing('send → sent (durable) p50 / p99, single sender', 'report', 'latency'),
  );
  const loadDurable = r.hub.load?.durable;
  if (loadDurable) {
    rows.push({ metric: `send → sent p50 / p99, ${options.rate} msg/s`, target: 'report', measured: `${ms(loadDurable.p50)} / ${ms(loadDurable.p99)}`, verdict: 'info' });
  }

  const t = r.hub.throughput;
  const rt = r.relay.throughput;
  const tMetric = `durable throughput, ${options.throughputBytes} B, 1 sender → 1 receiver (acks)`;
  if (t) {
    const bad = t.timedOut || t.errors > 0;
    rows.push({ metric: tMetric, target: '>= 20,000 msg/s', measured: `${fmt(t.msgsPerSec)} msg/s${bad ? ' INCOMPLETE' : ''}`, verdict: verdict(t.msgsPerSec >= 20_000 && !bad) });
  } else rows.push(missing(tMetric, '>= 20,000 msg/s', 'throughput'));
  if (t && rt) {
    const ratio = t.msgsPerSec / rt.msgsPerSec;
    rows.push({ metric: 'durable throughput ÷ raw ws relay', target: '>= 40%', measured: `${fmt(ratio * 100)}% (relay ${fmt(rt.msgsPerSec)} msg/s)`, verdict: verdict(ratio >= 0.4) });
  } else rows.push(missing('durable throughput ÷ raw ws relay', '>= 40%', 'throughput'));

  const s = r.hub.scale;
  if (s) {
    rows.push({
      metric: 'agents registered and connected at once',
      target: `${fmt(options.scaleAgents)}`,
      measured: `${fmt(s.hubReportsConnected)} (register ${fmt(s.registerMs / 1000)} s, connect ${fmt(s.connectMs / 1000)} s)`,
      verdict: verdict(s.hubReportsConnected >= options.scaleAgents),
    });
    const incomplete = !s.load.drained || s.load.errors > 0;
    rows.push({
      metric: `notification latency p99, ${fmt(s.agents)} connected, ${fmt(s.load.ratePerSec)} msg/s`,
      target: '<= 50 ms',
      measured: `${ms(s.load.delivery.p99)} (p50 ${ms(s.load.delivery.p50)})${incomplete ? ' INCOMPLETE' : ''}`,
      verdict: verdict(s.load.delivery.p99 <= 50 && !incomplete),
    });
  } else {
    rows.push(missing('agents registered and connected at once', fmt(options.scaleAgents), 'scale'));
    rows.push(missing(`notification latency p99, ${fmt(options.scaleAgents)} connected`, '<= 50 ms', 'scale'));
  }

  for (const via of ['http', 'ws'] as const) {
    const l = r.large.find((x) => x.via === via);
    const metric = `${options.largeMiB} MiB message over ${via.toUpperCase()}, delivered; hub peak RSS growth`;
    if (!l) {
      rows.push(missing(metric, '<= 3x the message', `large-${via}`));
      continue;
    }
    rows.push({
      metric,
      target: '<= 3x the message',
      measured: l.delivered ? `+${fmtBytes(l.growth)} = ${fmt(l.growthRatio)}x (${fmt(l.elapsedMs / 1000)} s)` : `not delivered (${l.sendStatus})`,
      verdict: verdict(l.delivered && l.growthRatio <= 3),
    });
  }

  const quiet = r.stall.find((w) => w.large === 'quiet');
  for (const via of ['http', 'ws'] as const) {
    const w = r.stall.find((x) => x.large === via);
    const metric = `hub event loop held, max, while ${fmt(options.stallKeys)}-key JSON bodies go over ${via.toUpperCase()}`;
    if (!w) {
      rows.push(missing(metric, '<= 50 ms', 'stall'));
      continue;
    }
    const failed = w.largeFailed !== null || w.largeSent === 0;
    rows.push({
      metric,
      target: '<= 50 ms',
      measured: `${w.loopMaxMs === null ? '— (hub reports no max)' : ms(w.loopMaxMs)} (p99 ${w.loopP99Ms === null ? '—' : ms(w.loopP99Ms)}; ${w.largeSent} sent)${failed ? ' INCOMPLETE' : ''}`,
      verdict: w.loopMaxMs === null ? 'info' : verdict(w.loopMaxMs <= 50 && !failed),
    });
    rows.push({
      metric: `other agents' HTTP p99 / max meanwhile (${via.toUpperCase()})`,
      target: 'report',
      measured: `${ms(w.otherRequests.p99)} / ${ms(w.otherRequests.max)}${quiet ? ` (quiet: ${ms(quiet.otherRequests.p99)} / ${ms(quiet.otherRequests.max)})` : ''}`,
      verdict: 'info',
    });
  }
  return rows;
}
