/** The Performance view: latency per operation, throughput, the process, storage, the slowest operations. */
import { useEffect, useRef, useState } from 'react';
import { OPERATIONS, type MetricsSnapshot, type OperationName, type SlowOperation } from '../../../shared/monitor-protocol';
import { Bars, cssColor, Legend, TimeChart, TimeChartPanel, type BarDatum } from '../components/charts';
import { Empty, Loading, Panel, Stat, ViewHeader } from '../components/ui';
import { formatAgo, formatBytes, formatClock, formatCount, formatMs, formatPercent, formatRate } from '../format';
import { invoke, useConnection, useMetrics, useNow, useTransport } from '../hooks';
import type { MetricsPoint } from '../live/live-data';
import { AdvicePanel } from './performance/AdvicePanel';

const OP_ABOUT: Record<OperationName, string> = {
  send: 'accepted until durable (group commit)',
  deliver: 'stored until pushed to the socket',
  store: 'a memory stored, embedding included',
  search: 'hybrid memory search',
  embed: 'one encoder call',
  extract: 'memories extracted from a document',
};

/** How often the since-start histograms are refetched while this view is open. */
const HISTOGRAM_REFRESH_MS = 3000;

type Histogram = Array<{ upToMs: number | null; count: number }>;

/** Where the time goes: latency per operation (distribution and over time), throughput, the process, storage. */
export function PerformanceView() {
  const { state, latest, points } = useMetrics();
  const histograms = useHistograms(latest);
  const now = useNow(5000);

  if (state === 'waiting' || !latest) {
    return (
      <>
        <ViewHeader title="Performance" subtitle="Latency, throughput and the hub process." />
        <Loading>Waiting for the hub's first metrics tick…</Loading>
      </>
    );
  }
  const storageTotal = Object.values(latest.storage).reduce((sum, bytes) => sum + bytes, 0);
  const colors = { blue: cssColor('--c-blue'), green: cssColor('--c-green'), amber: cssColor('--c-amber'), violet: cssColor('--c-violet'), cyan: cssColor('--c-cyan'), red: cssColor('--c-red') };

  return (
    <div className="view" data-testid="view-performance">
      <ViewHeader
        title="Performance"
        subtitle={
          <>
            Latency per operation since start and per second · last tick <span className="num">{formatClock(latest.at)}</span>
          </>
        }
      />
      <div className="stats">
        <Stat label="Sent" value={formatRate(latest.rates.messagesSent)} sub={`${formatCount(latest.totals.messagesSent)} total`} />
        <Stat label="Delivered" value={formatRate(latest.rates.messagesDelivered)} sub={`${formatCount(latest.totals.messagesDelivered)} total`} />
        <Stat label="Stored" value={formatRate(latest.rates.memoriesStored)} sub={`${formatCount(latest.totals.memoriesStored)} total`} />
        <Stat label="Searches" value={formatRate(latest.rates.searches)} sub={`${formatCount(latest.totals.searches)} total`} />
        <Stat label="CPU" value={formatPercent(latest.process.cpuPercent)} sub="of one core" />
        <Stat label="RSS" value={formatBytes(latest.process.rssBytes)} sub={`heap ${formatBytes(latest.process.heapUsedBytes)}`} />
        <Stat label="Event loop p99" value={formatMs(latest.process.eventLoopDelayP99Ms)} sub={`p50 ${formatMs(latest.process.eventLoopDelayP50Ms)}`} />
        <Stat label="On disk" value={formatBytes(storageTotal)} sub={`${Object.keys(latest.storage).length} stores`} />
      </div>

      <AdvicePanel />

      <h2 className="section-heading">Operations</h2>
      <div className="grid grid-3" data-testid="op-grid">
        {OPERATIONS.map((op) => (
          <OperationCard key={op} op={op} snapshot={latest} points={points} histogram={histograms[op]} />
        ))}
      </div>

      <div className="grid grid-2">
        <TimeChartPanel
          title="Throughput"
          chartTestId="chart-perf-throughput"
          data={points}
          format={(v) => formatRate(v)}
          emptyText="Nothing happened"
          series={[
            { key: 'sent', name: 'sent', color: colors.blue, value: formatRate(latest.rates.messagesSent) },
            { key: 'delivered', name: 'delivered', color: colors.green, value: formatRate(latest.rates.messagesDelivered) },
            { key: 'stored', name: 'stored', color: colors.violet, value: formatRate(latest.rates.memoriesStored) },
            { key: 'searches', name: 'searches', color: colors.amber, value: formatRate(latest.rates.searches) },
          ]}
        />
        <TimeChartPanel
          title="Event-loop delay"
          data={points}
          format={(v) => formatMs(v)}
          series={[
            { key: 'loopP50', name: 'p50', color: colors.green, value: formatMs(latest.process.eventLoopDelayP50Ms) },
            { key: 'loopP99', name: 'p99', color: colors.red, value: formatMs(latest.process.eventLoopDelayP99Ms) },
          ]}
        />
        <Panel title="CPU" meta={<span className="num">{formatPercent(latest.process.cpuPercent, 1)}</span>}>
          <TimeChart data={points} format={(v) => formatPercent(v)} series={[{ key: 'cpu', name: 'CPU', color: colors.blue, area: true }]} />
        </Panel>
        <TimeChartPanel
          title="Process memory"
          data={points}
          format={(v) => formatBytes(v)}
          binary
          series={[
            { key: 'rss', name: 'RSS', color: colors.violet, value: formatBytes(latest.process.rssBytes) },
            { key: 'heapUsed', name: 'heap used', color: colors.cyan, value: formatBytes(latest.process.heapUsedBytes) },
            { key: 'heapTotal', name: 'heap total', color: colors.amber, dashed: true, value: formatBytes(latest.process.heapTotalBytes) },
          ]}
        />
      </div>

      <div className="grid grid-narrow-wide">
        <Panel title="Storage on disk" meta={<span className="num">{formatBytes(storageTotal)}</span>} testId="panel-storage">
          <Bars
            horizontal
            height={120}
            labelWidth={80}
            data={Object.entries(latest.storage).map(([store, bytes]) => ({ label: store, value: bytes }))}
            color={colors.cyan}
            format={(v) => formatBytes(v)}
            binary
            name="size"
          />
        </Panel>
        <Panel title="Slowest operations, last minute" testId="panel-slowest" bodyClassName="panel-body-flush">
          {latest.slowest.length === 0 ? (
            <Empty title="Nothing recorded in the last minute" />
          ) : (
            <div className="table-scroll table-scroll-short">
              <table className="table">
                <thead>
                  <tr>
                    <th>Operation</th>
                    <th className="right">Took</th>
                    <th>When</th>
                    <th>Detail</th>
                  </tr>
                </thead>
                <tbody>
                  {groupSlowest(latest.slowest).map(({ entry, times }, index) => (
                    <tr key={`${entry.at}-${index}`}>
                      <td>
                        <span className={`op op-${entry.op}`}>{entry.op}</span>
                        {times > 1 && <span className="muted small num"> ×{times}</span>}
                      </td>
                      <td className="num right nowrap">{formatMs(entry.durationMs)}</td>
                      <td className="num nowrap muted" title={entry.at}>
                        {formatClock(entry.at)} · {formatAgo(entry.at, now)}
                      </td>
                      <td className="slow-detail muted" title={entry.detail ?? undefined} data-testid="slow-detail">
                        <span className="ellipsis">{entry.detail ?? '—'}</span>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Panel>
      </div>
    </div>
  );
}

/**
 * One group commit makes many operations about equally slow in the same second: one row for them (the slowest, which
 * comes first), with a count.
 */
function groupSlowest(slowest: SlowOperation[]): Array<{ entry: SlowOperation; times: number }> {
  const groups = new Map<string, { entry: SlowOperation; times: number }>();
  for (const entry of slowest) {
    const key = `${entry.op} ${entry.at.slice(0, 19)} ${entry.detail ?? ''}`;
    const group = groups.get(key);
    if (group) group.times++;
    else groups.set(key, { entry, times: 1 });
  }
  return [...groups.values()];
}

function OperationCard({ op, snapshot, points, histogram }: { op: OperationName; snapshot: MetricsSnapshot; points: MetricsPoint[]; histogram: Histogram | undefined }) {
  const total = snapshot.latencyTotal[op];
  const last = snapshot.latency[op];
  const green = cssColor('--c-green');
  const amber = cssColor('--c-amber');
  const buckets = histogram ? toBuckets(histogram) : [];
  return (
    <Panel
      className="op-card"
      testId={`op-${op}`}
      title={<span className={`op op-${op}`}>{op}</span>}
      meta={<span className="muted small">{OP_ABOUT[op]}</span>}
    >
      <div className="op-figures">
        <Figure label="count" value={formatCount(total.count)} />
        <Figure label="p50" value={formatMs(total.p50Ms)} />
        <Figure label="p99" value={formatMs(total.p99Ms)} />
        <Figure label="max" value={formatMs(total.maxMs)} />
        <Figure label="last s" value={last.count > 0 ? `${formatCount(last.count)} · p99 ${formatMs(last.p99Ms)}` : 'idle'} wide testId="figure-last-s" />
      </div>
      {total.count === 0 ? (
        <Empty title={`No ${op} yet`} />
      ) : (
        <>
          <div className="op-chart-label muted small">Distribution since start</div>
          {buckets.length === 0 ? <Loading /> : <Bars data={buckets} height={110} color={cssColor('--c-blue')} format={formatCount} testId={`histogram-${op}`} name="operations" />}
          <div className="op-chart-label">
            <span className="muted small">p50 / p99 per second</span>
            <Legend items={[{ name: 'p50', color: green }, { name: 'p99', color: amber }]} />
          </div>
          <TimeChart
            data={points}
            height={100}
            format={(v) => formatMs(v)}
            emptyText="Idle"
            series={[
              { key: `${op}P50`, name: 'p50', color: green },
              { key: `${op}P99`, name: 'p99', color: amber },
            ]}
          />
        </>
      )}
    </Panel>
  );
}

function Figure({ label, value, wide, testId }: { label: string; value: string; wide?: boolean; testId?: string }) {
  return (
    <div className={`figure ${wide ? 'figure-wide' : ''}`}>
      <div className="figure-label">{label}</div>
      <div className="figure-value num" data-testid={testId}>
        {value}
      </div>
    </div>
  );
}

/**
 * Bucket bounds as labels, from the first bucket with anything in it to the last. The open-ended top bucket's bound
 * is Infinity, which JSON carries as null.
 */
function toBuckets(histogram: Histogram): BarDatum[] {
  const first = histogram.findIndex((b) => b.count > 0);
  if (first === -1) return [];
  let last = histogram.length - 1;
  while (last > first && histogram[last]!.count === 0) last--;
  const from = Math.max(0, Math.min(first, last - 3));
  return histogram.slice(from, last + 1).map((bucket, i) => {
    const index = from + i;
    const bound = bucket.upToMs;
    const label = bound === null || !Number.isFinite(bound) ? `>${formatMs(histogram[index - 1]?.upToMs ?? 0)}` : `≤${formatMs(bound)}`;
    return { label, value: bucket.count };
  });
}

/**
 * The since-start histograms of every operation, fetched on open and every few seconds while open; an operation
 * whose count has not moved is not asked again.
 */
function useHistograms(latest: MetricsSnapshot | null): Partial<Record<OperationName, Histogram>> {
  const transport = useTransport();
  const connection = useConnection();
  const [histograms, setHistograms] = useState<Partial<Record<OperationName, Histogram>>>({});
  const latestRef = useRef(latest);
  useEffect(() => {
    latestRef.current = latest;
  }, [latest]);

  useEffect(() => {
    if (connection !== 'open') return;
    let live = true;
    const fetchedAt = new Map<OperationName, number>();
    const refresh = () => {
      const snapshot = latestRef.current;
      for (const op of OPERATIONS) {
        const count = snapshot?.latencyTotal[op].count ?? -1;
        if (count === 0 || fetchedAt.get(op) === count) continue;
        fetchedAt.set(op, count);
        invoke(transport, 'metrics.histogram', { op }).then(
          (buckets) => live && setHistograms((current) => ({ ...current, [op]: buckets })),
          () => fetchedAt.delete(op),
        );
      }
    };
    refresh();
    const timer = setInterval(refresh, HISTOGRAM_REFRESH_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [transport, connection]);

  return histograms;
}
