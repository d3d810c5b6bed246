/**
 * The cluster benchmark: `npm run bench -- cluster [options]`. Hubs from the built hub as their own processes, a
 * real redis-server (appendonly, appendfsync always), agents on raw sockets in this process:
 *
 * | phase  | what |
 * |---|---|
 * | single | one hub on its own (no cluster.redis): latency between two agents on it; durable throughput, S senders to R recipients |
 * | two    | two hubs joined through Redis: cross-hub latency (sender on A, recipient on B, paced sends); durable throughput, S senders on A to R recipients on B |
 * | two-total | on the same two hubs: the cluster's total with agents on both hubs, each sending to the other hub |
 * | three  | three hubs: the cluster's total with senders and recipients on all three, each sending to the other hubs |
 *
 * Goals printed beside the figures: cross-hub p50 <= 3 ms, two-hub throughput >= 50% of the single hub's, and the
 * total with three hubs above the total with two. Results: bench/results/cluster-<timestamp>.json.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { cpuQuotaUnavailable, findCpuController } from '../lib/cpu-quota';
import { ensureBuilt, snapshotBuild, type BuildState } from '../lib/hub-process';
import { machineFacts, machineLine } from '../lib/machine';
import { aheadOfOtherWork } from '../lib/priority';
import { waitForQuietMachine } from '../lib/proc';
import { summarizeProfile } from '../lib/profile';
import { resultsDir, timestampForFile, writeResults } from '../lib/results';
import { fmt, printTable } from '../lib/table';
import { parseOptions, type ClusterBenchOptions } from './options';
import { durableThroughput, pacedLatency, type Flow, type LatencyResult, type ThroughputResult } from './phases';
import { modeText, printResults, printScaling, summaryRows, type ClusterMode, type ClusterResults } from './report';
import { startTopology, waitForIdentities, type Topology } from './topology';

export const description = 'hubs joined through Redis: cross-hub latency and durable throughput with 1, 2 and 3 hubs';

const cpuSources = (topology: Topology) => ({ hubs: topology.hubs.map((h, i) => ({ label: h.label, pid: h.pid, quota: topology.quotas[i] ?? null })), redisPid: topology.redisPid });

async function latencyBetween(topology: Topology, from: number, to: number, options: ClusterBenchOptions, tag: string): Promise<LatencyResult> {
  const sender = await topology.agents(from, 1, `${tag}-lat-sender`);
  const recipient = await topology.agents(to, 1, `${tag}-lat-recipient`);
  await waitForIdentities(topology.hubs[from]!, recipient.credentials);
  const result = await pacedLatency(sender.peers[0]!, recipient.peers[0]!, options.samples, options.warmup, options.paceMs, options.bodyBytes);
  for (const peer of [...sender.peers, ...recipient.peers]) peer.close();
  return result;
}

/** The measured run, after waiting (--quiet-wait) for processes other than ours to go quiet. */
async function measured(topology: Topology, options: ClusterBenchOptions, run: () => Promise<ThroughputResult>): Promise<ThroughputResult> {
  if (options.quietWaitMs === 0) return run();
  const ours = [process.pid, ...topology.hubs.map((h) => h.pid), ...(topology.redisPid !== null ? [topology.redisPid] : [])];
  const quietWait = await waitForQuietMachine(ours, { timeoutMs: options.quietWaitMs });
  if (quietWait.othersPercent !== null && quietWait.othersPercent > 25) console.warn(`other processes still use ${quietWait.othersPercent}% of a core after ${fmt(quietWait.waitedMs / 1000)} s: measuring anyway`);
  return { ...(await run()), quietWait };
}

function throughputOptions(topology: Topology, options: ClusterBenchOptions, warmup = false) {
  return { perSender: warmup ? Math.max(1, Math.round(options.perSender / 5)) : options.perSender, window: options.window, bodyBytes: options.bodyBytes, timeoutMs: options.timeoutMs, drainMs: options.drainMs, cpu: cpuSources(topology) };
}

/** S senders on hub `from`, R recipients on hub `to` (the same hub for the single-hub figure), each sender to every recipient in turn. */
async function oneWay(topology: Topology, from: number, to: number, options: ClusterBenchOptions, tag: string): Promise<ThroughputResult> {
  const senders = await topology.agents(from, options.senders, `${tag}-sender`);
  const recipients = await topology.agents(to, options.recipients, `${tag}-recipient`);
  await waitForIdentities(topology.hubs[from]!, recipients.credentials);
  const ids = recipients.credentials.map((c) => c.id);
  const flows: Flow[] = senders.peers.map((sender, i) => ({ sender, to: [...ids.slice(i % ids.length), ...ids.slice(0, i % ids.length)] }));
  // A fifth as much first, uncounted: the hubs' code paths warm (JIT) before the measured run.
  await durableThroughput(flows, recipients.peers, throughputOptions(topology, options, true));
  const result = await measured(topology, options, () => durableThroughput(flows, recipients.peers, throughputOptions(topology, options)));
  for (const peer of [...senders.peers, ...recipients.peers]) peer.close();
  return result;
}

/** On every hub `spreadSenders` senders and as many recipients; each sender sends to the recipients on the other hubs. */
async function spread(topology: Topology, options: ClusterBenchOptions, tag: string): Promise<ThroughputResult> {
  const perHub = [];
  for (let h = 0; h < topology.hubs.length; h++) {
    perHub.push({ senders: await topology.agents(h, options.spreadSenders, `${tag}-h${h}-sender`), recipients: await topology.agents(h, options.spreadSenders, `${tag}-h${h}-recipient`) });
  }
  const flows: Flow[] = [];
  for (let h = 0; h < perHub.length; h++) {
    const elsewhere = perHub.flatMap((p, other) => (other === h ? [] : p.recipients.credentials));
    await waitForIdentities(topology.hubs[h]!, elsewhere);
    const ids = elsewhere.map((c) => c.id);
    perHub[h]!.senders.peers.forEach((sender, i) => flows.push({ sender, to: [...ids.slice(i % ids.length), ...ids.slice(0, i % ids.length)] }));
  }
  const recipients = perHub.flatMap((p) => p.recipients.peers);
  await durableThroughput(flows, recipients, throughputOptions(topology, options, true));
  const result = await measured(topology, options, () => durableThroughput(flows, recipients, throughputOptions(topology, options)));
  for (const p of perHub) for (const peer of [...p.senders.peers, ...p.recipients.peers]) peer.close();
  return result;
}

async function withTopology<T>(hubCount: number, cluster: boolean, options: ClusterBenchOptions, entry: string, profiles: string[], body: (t: Topology) => Promise<T>): Promise<T> {
  const topology = await startTopology(hubCount, cluster, {
    entry,
    keepData: options.keepData,
    ...(options.dataRoot ? { dataRoot: options.dataRoot } : {}),
    ...(options.profileDir ? { cpuProfDir: options.profileDir } : {}),
    ...(options.hubCpu !== undefined ? { hubCpu: options.hubCpu, hubCpuPeriodUs: Math.round(options.hubCpuPeriodMs * 1000) } : {}),
  });
  try {
    return await body(topology);
  } finally {
    profiles.push(...(await topology.stop()));
  }
}

async function phase(name: string, results: ClusterResults, fn: () => Promise<void>): Promise<void> {
  console.log(`\n— ${name} —`);
  try {
    await fn();
  } catch (error) {
    results.failures[name] = error instanceof Error ? error.message : String(error);
    console.error(`${name} failed: ${results.failures[name]}`);
  }
}

export async function run(argv: string[] = []): Promise<number> {
  const options = parseOptions(argv);
  if (!options) return 0;
  const started = new Date();
  const machine = machineFacts();
  const mode = clusterMode(options, machine.cores);
  console.log(`Cluster benchmark — ${machineLine(machine)}\nmode: ${modeText(mode)}`);
  if (options.quick) console.log('--quick: a smoke run with small counts; do not quote these numbers.');
  const build: BuildState = options.hubEntry ? { built: false, stale: null, builtAt: null } : ensureBuilt(options.build);
  const snapshot = snapshotBuild(options.hubEntry);
  if (options.profile) options.profileDir = path.join(resultsDir, `profiles-cluster-${timestampForFile(started)}`);
  const results: ClusterResults = { mode, failures: {} };
  const profiles: string[] = [];
  try {
    if (options.only.has('single')) {
      await phase('single hub', results, () =>
        withTopology(1, false, options, snapshot.entry, profiles, async (t) => {
          const latency = await latencyBetween(t, 0, 0, options, 'single');
          const throughput = await oneWay(t, 0, 0, options, 'single');
          results.single = { latency, throughput };
        }),
      );
    }
    if (options.only.has('two') || options.only.has('two-total')) {
      await phase('two hubs', results, () =>
        withTopology(2, true, options, snapshot.entry, profiles, async (t) => {
          results.two = {};
          if (options.only.has('two')) {
            results.two.latency = await latencyBetween(t, 0, 1, options, 'two');
            results.two.throughput = await oneWay(t, 0, 1, options, 'two');
          }
          if (options.only.has('two-total')) results.two.total = await spread(t, options, 'two-spread');
        }),
      );
    }
    if (options.only.has('three')) {
      await phase('three hubs', results, () =>
        withTopology(3, true, options, snapshot.entry, profiles, async (t) => {
          const latency = await latencyBetween(t, 0, 2, options, 'three');
          const total = await spread(t, options, 'three-spread');
          results.three = { latency, total };
        }),
      );
    }
  } finally {
    snapshot.remove();
  }

  printResults(results, options);
  printScaling(results);
  const summary = summaryRows(results);
  printTable(`goals (${mode.kind})`, ['metric', 'target', 'measured', 'verdict'], summary.map((r) => [r.metric, r.target, r.measured, r.verdict]));
  for (const file of profiles) {
    const profile = summarizeProfile(file, 15);
    printTable(
      `profile ${path.relative(process.cwd(), file)}: ${profile.busyMs.toFixed(0)} ms busy of ${profile.durationMs.toFixed(0)} ms`,
      ['self ms', 'self %', 'function', 'where'],
      profile.top.map((r) => [r.selfMs, r.selfPercent, r.function, r.where]),
    );
  }
  const after = machineFacts();
  console.log(`\n${machineLine(machine)}\nload average at the end: ${after.loadAverage.join(' ')}`);
  const file = writeResults('cluster', { started: started.toISOString(), machine, loadAverageAtEnd: after.loadAverage, build, options: { ...options, only: [...options.only] }, results, summary, profiles }, started);
  console.log(`results: ${file}`);
  const failed = Object.keys(results.failures).length > 0 || (options.strict && summary.some((r) => r.verdict === 'FAIL'));
  return failed ? 1 : 0;
}

/** The run's mode; with --hub-cpu, a clear error up front where no CPU quota can be set, and a warning where the quotas fill the machine. */
function clusterMode(options: ClusterBenchOptions, machineCores: number): ClusterMode {
  if (options.hubCpu === undefined) return { kind: 'shared cores', machineCores };
  if (options.hubCpu * options.hubCpuPeriodMs < 1) throw new Error(`--hub-cpu ${options.hubCpu} of a ${options.hubCpuPeriodMs} ms period is under the kernel's least quota of 1 ms: raise either`);
  const unavailable = cpuQuotaUnavailable();
  if (unavailable) throw new Error(`--hub-cpu: ${unavailable}`);
  const controller = findCpuController(readFileSync('/proc/mounts', 'utf8'))!;
  const hubs = options.only.has('three') ? 3 : options.only.has('two') || options.only.has('two-total') ? 2 : 1;
  // The agents that drive the hubs and Redis (outside the quotas) must not be what other work slows down either.
  aheadOfOtherWork(process.pid, 'the bench');
  if (options.hubCpu * hubs > machineCores - 0.5) {
    console.warn(
      `WARNING: ${hubs} hubs × ${options.hubCpu} core leave less than half a core of the ${machineCores} for Redis and the bench's agents: ` +
        'the machine, not each hub\'s quota, may set the pace (see "machine idle" and "throttled" in the scaling table).',
    );
  }
  return { kind: 'quota per hub', machineCores, coresPerHub: options.hubCpu, periodMs: options.hubCpuPeriodMs, cgroup: `v${controller.version} ${controller.mount}` };
}

export const suite = { description, run };
