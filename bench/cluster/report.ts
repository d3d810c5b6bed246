/** The cluster benchmark's tables and its goals. */
import { fmt, printTable, type SummaryRow } from '../lib/table';
import type { CpuQuotaStat } from '../lib/cpu-quota';
import { AHEAD_NICE } from '../lib/priority';
import type { ClusterBenchOptions } from './options';
import type { LatencyResult, ThroughputResult } from './phases';

/** How the hubs got their CPU: sharing the machine's cores with everything else, or each its own quota. */
export type ClusterMode =
  | { kind: 'shared cores'; machineCores: number }
  | { kind: 'quota per hub'; machineCores: number; coresPerHub: number; periodMs: number; cgroup: string };

export function modeText(mode: ClusterMode): string {
  return mode.kind === 'shared cores'
    ? `shared cores: hubs, Redis and the bench share the machine's ${mode.machineCores} cores`
    : `quota per hub: each hub ${mode.coresPerHub} core per ${mode.periodMs} ms period (cgroup ${mode.cgroup}, weighted ahead of other work), Redis and the bench outside (at nice ${AHEAD_NICE}), on ${mode.machineCores} cores`;
}

/** What a run measured, phase by phase. */
export interface ClusterResults {
  mode: ClusterMode;
  single?: { latency: LatencyResult; throughput: ThroughputResult };
  two?: { latency?: LatencyResult; throughput?: ThroughputResult; total?: ThroughputResult };
  three?: { latency: LatencyResult; total: ThroughputResult };
  /** Phases that failed, with why (the others still ran). */
  failures: Record<string, string>;
}

/** A throughput figure counts only when every acknowledged send arrived, once. */
function complete(t: ThroughputResult): boolean {
  return !t.timedOut && t.missing === 0 && t.duplicates === 0 && t.errors === 0;
}

export function printResults(r: ClusterResults, options: ClusterBenchOptions): void {
  const latencyRow = (name: string, l: LatencyResult | undefined) =>
    l
      ? [name, l.delivery.count, l.delivery.p50, l.delivery.p99, l.delivery.max, l.durable.p50, l.durable.p99, l.abandoned ?? (l.timedOut ? `${l.timedOut} not delivered` : '')]
      : [name, 'not run'];
  printTable(
    `Latency: one message at a time, ${options.bodyBytes}-byte bodies, ${options.paceMs} ms apart (ms)`,
    ['between', 'n', 'push p50', 'push p99', 'push max', 'acked p50', 'acked p99', 'note'],
    [
      latencyRow('two agents on one hub (no cluster)', r.single?.latency),
      latencyRow('hub A → hub B (two hubs)', r.two?.latency),
      latencyRow('hub A → hub C (three hubs)', r.three?.latency),
    ],
  );
  const throughputRow = (name: string, t: ThroughputResult | undefined) =>
    t
      ? [
          name,
          `${t.senders} → ${t.recipients}`,
          t.acknowledged,
          t.acknowledgedPerSec,
          t.received,
          t.receivedPerSec,
          t.missing,
          t.duplicates,
          t.delivery.p50,
          t.delivery.p99,
          t.serverCpuUsPerMessage,
          `${fmt(((t.cpuSeconds['bench'] ?? NaN) / ((Number.isFinite(t.receivedMs) ? t.receivedMs : t.acknowledgedMs) / 1000)) * 100)}%`,
          t.errors ? `${t.errors} errors (${t.lastError})` : t.timedOut ? 'timed out' : '',
        ]
      : [name, 'not run'];
  printTable(
    `Durable throughput: each sender ${options.perSender} × ${options.bodyBytes} B, ≤ ${options.window} unacknowledged`,
    ['where', 'senders → recipients', 'acked', 'acked/s', 'received', 'received/s', 'missing', 'dup', 'push p50 ms', 'push p99 ms', 'hubs+redis µs CPU/msg', 'bench CPU', 'note'],
    [
      throughputRow('one hub (no cluster)', r.single?.throughput),
      throughputRow('hub A → hub B', r.two?.throughput),
      throughputRow('two hubs, each to the other (total)', r.two?.total),
      throughputRow('three hubs, each to the others (total)', r.three?.total),
    ],
  );
  // Per process: on one machine the hubs share its cores, so this (not msg/s) is what tells how a cluster of hubs on
  // their own machines would share the work.
  const perMessage = (t: ThroughputResult, key: string) => {
    const seconds = t.cpuSeconds[key];
    return seconds === null || seconds === undefined || !t.acknowledged ? null : (seconds / t.acknowledged) * 1e6;
  };
  const cpuRow = (name: string, t: ThroughputResult | undefined) => {
    if (!t) return [name, 'not run'];
    const ours = Object.keys(t.cpuSeconds).filter((key) => key !== 'machine');
    const hub = (label: string) => perMessage(t, label);
    const machine = perMessage(t, 'machine');
    const others = machine === null ? null : machine - ours.reduce((sum, key) => sum + (perMessage(t, key) ?? 0), 0);
    return [name, hub('single'), hub('hub-a'), hub('hub-b'), hub('hub-c'), perMessage(t, 'redis'), t.serverCpuUsPerMessage, perMessage(t, 'bench'), others];
  };
  printTable(
    'CPU per acknowledged message, by process (µs; others: every other process on the machine meanwhile)',
    ['where', 'one hub', 'hub A', 'hub B', 'hub C', 'redis', 'hubs+redis', 'bench', 'others'],
    [
      cpuRow('one hub (no cluster)', r.single?.throughput),
      cpuRow('hub A → hub B', r.two?.throughput),
      cpuRow('two hubs, each to the other (total)', r.two?.total),
      cpuRow('three hubs, each to the others (total)', r.three?.total),
    ],
  );
  for (const [name, why] of Object.entries(r.failures)) console.log(`${name} FAILED: ${why}`);
}

export function summaryRows(r: ClusterResults): SummaryRow[] {
  const rows: SummaryRow[] = [];
  const latency = r.two?.latency;
  rows.push({
    metric: 'cross-hub push latency p50 (A → B)',
    target: '<= 3 ms',
    measured: latency && latency.delivery.count ? `${fmt(latency.delivery.p50)} ms (p99 ${fmt(latency.delivery.p99)} ms)` : 'no delivery',
    verdict: !latency ? 'not run' : latency.delivery.count && !latency.abandoned && latency.delivery.p50 <= 3 ? 'PASS' : 'FAIL',
  });
  const single = r.single?.throughput;
  const two = r.two?.throughput;
  rows.push({
    metric: 'two-hub durable throughput (A → B) vs one hub',
    target: '>= 50%',
    measured:
      single && two
        ? `${fmt(two.acknowledgedPerSec)} / ${fmt(single.acknowledgedPerSec)} msg/s = ${fmt((two.acknowledgedPerSec / single.acknowledgedPerSec) * 100)}%` +
          (complete(two) ? '' : ` (${two.missing} missing, ${two.duplicates} duplicated)`)
        : 'needs single and two',
    verdict: !single || !two ? 'not run' : complete(two) && complete(single) && two.acknowledgedPerSec >= 0.5 * single.acknowledgedPerSec ? 'PASS' : 'FAIL',
  });
  const total2 = r.two?.total;
  const total3 = r.three?.total;
  rows.push({
    metric: 'cluster total: three hubs vs two',
    target: '3 > 2',
    measured: total2 && total3 ? `${fmt(total3.acknowledgedPerSec)} vs ${fmt(total2.acknowledgedPerSec)} msg/s` : 'needs two and three',
    verdict: !total2 || !total3 ? 'not run' : complete(total2) && complete(total3) && total3.acknowledgedPerSec > total2.acknowledgedPerSec ? 'PASS' : 'FAIL',
  });
  return rows;
}

/** Share of the quota's periods in which the hub was held back, and how long its threads waited per second. */
function throttled(stat: CpuQuotaStat, seconds: number): string {
  if (!stat.periods) return 'no periods';
  return `${fmt((stat.throttledPeriods / stat.periods) * 100)}% (${fmt((stat.throttledSeconds / seconds) * 1000)})`;
}

/** Held back in more than this share of its periods, a hub's quota set the pace. */
const QUOTA_BOUND = 0.5;
/** Under this idle share the machine (other processes) may have set the pace instead. */
const MACHINE_BOUND = 0.1;
/** A single-threaded process near a whole core (the bench's agents, Redis) is its own limit. */
const PROCESS_BOUND = 0.9;

/**
 * What held a throughput run back, from what each part used over it: the hubs' quotas (throttled in most periods),
 * else the machine (hardly idle: other work took the cores), else the bench's agents or Redis (near a whole core),
 * else nothing we measure (the senders' window and round trips).
 */
export function limitOf(t: ThroughputResult, mode: ClusterMode): string {
  const seconds = t.cpuWindowMs / 1000;
  const held = t.quota ? Object.entries(t.quota).filter(([, q]) => q.periods > 0 && q.throttledPeriods / q.periods > QUOTA_BOUND).map(([label]) => label) : [];
  const busy = t.cpuSeconds['machine'];
  const full = busy != null && 1 - busy / (seconds * mode.machineCores) < MACHINE_BOUND;
  if (held.length) return `quota of ${held.join(', ')}${full ? ' (and the machine hardly idle)' : ''}`;
  if (full) return 'machine (no idle time)';
  const near = Object.keys(t.cpuSeconds).filter((key) => key !== 'machine' && (t.cpuSeconds[key] ?? 0) / seconds > PROCESS_BOUND);
  if (near.length) return near.map((key) => (key === 'bench' ? "bench's agents" : key)).join(', ') + ' (a whole core)';
  return 'none measured (window, round trips)';
}

/**
 * Per phase: the cluster's rate, what each hub spent and whether its quota held it back, and whether anything else
 * (Redis, the bench's agents, the machine) was near its limit instead; then the ratios the goals are about.
 */
export function printScaling(r: ClusterResults): void {
  const mode = r.mode;
  const quota = mode.kind === 'quota per hub' ? mode.coresPerHub : null;
  const percent = (n: number | null) => (n === null || !Number.isFinite(n) ? null : `${fmt(n * 100)}%`);
  const row = (name: string, t: ThroughputResult | undefined) => {
    if (!t) return [name, 'not run'];
    const limit = limitOf(t, mode);
    const hubs = Object.keys(t.cpuSeconds).filter((key) => key !== 'redis' && key !== 'bench' && key !== 'machine');
    const seconds = t.cpuWindowMs / 1000;
    const share = (key: string, of = 1) => {
      const used = t.cpuSeconds[key];
      return used == null ? null : used / seconds / of;
    };
    const hubCpu = hubs.reduce((sum, key) => sum + (t.cpuSeconds[key] ?? NaN), 0);
    const busy = t.cpuSeconds['machine'];
    const idle = busy == null ? null : 1 - busy / (seconds * mode.machineCores);
    return [
      name,
      hubs.length,
      t.acknowledgedPerSec,
      t.acknowledgedPerSec / hubs.length,
      t.acknowledged ? (hubCpu / t.acknowledged) * 1e6 : null,
      hubs.map((key) => percent(share(key, quota ?? 1)) ?? '—').join(' / '),
      t.quota ? hubs.map((key) => throttled(t.quota![key]!, seconds)).join(' / ') : '—',
      percent(share('redis')) ?? '—',
      percent(share('bench')) ?? '—',
      percent(idle) ?? '—',
      limit,
      [
        complete(t) ? '' : `${t.missing} missing, ${t.duplicates} dup${t.timedOut ? ', timed out' : ''}`,
        t.quietWait && (t.quietWait.othersPercent ?? 0) > 25 ? `others used ${t.quietWait.othersPercent}% of a core at the start` : '',
      ]
        .filter(Boolean)
        .join('; '),
    ];
  };
  printTable(
    `Scaling, ${modeText(mode)}`,
    ['phase', 'hubs', 'acked/s total', 'per hub', 'hubs µs CPU/msg', quota ? 'each hub CPU, % of quota' : 'each hub CPU, % of a core', 'each hub throttled: % of periods (ms/s)', 'redis, % of a core', 'bench, % of a core', 'machine idle', 'limited by', 'note'],
    [
      row('one hub (no cluster)', r.single?.throughput),
      row('two hubs: A → B', r.two?.throughput),
      row('two hubs: each to the other', r.two?.total),
      row('three hubs: each to the others', r.three?.total),
    ],
  );
  const ratio = (a: ThroughputResult | undefined, b: ThroughputResult | undefined) => {
    if (!a || !b) return ['not run', ''];
    const bound = [a, b].map((t) => limitOf(t, mode));
    const model = mode.kind === 'shared cores' ? '' : bound.every((l) => l.startsWith('quota')) ? 'yes' : `no (${bound.join('; ')})`;
    return [`${fmt((a.acknowledgedPerSec / b.acknowledgedPerSec) * 100)}%`, model];
  };
  printTable(`Ratios, ${mode.kind}`, ['ratio', 'measured', mode.kind === 'shared cores' ? '' : 'both phases held by the hubs\' quotas'], [
    ['two / one: A → B vs one hub', ...ratio(r.two?.throughput, r.single?.throughput)],
    ['two / one: two hubs\' total vs one hub', ...ratio(r.two?.total, r.single?.throughput)],
    ['three / two: three hubs\' total vs two hubs\'', ...ratio(r.three?.total, r.two?.total)],
  ]);
}
