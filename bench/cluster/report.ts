/** The cluster benchmark's tables and its goals. */
import { fmt, printTable, type SummaryRow } from '../lib/table';
import type { ClusterBenchOptions } from './options';
import type { LatencyResult, ThroughputResult } from './phases';

/** What a run measured, phase by phase. */
export interface ClusterResults {
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
