/** The Backup view's history: recent runs charted and tabled (what each stored new and reused), with failure reasons. */
import { Fragment, useMemo, useState } from 'react';
import { Bar, BarChart, CartesianGrid, Cell, ResponsiveContainer, Tooltip, XAxis, YAxis, type TooltipContentProps } from 'recharts';
import { cssColor, niceTicks, useNotTabbable, valueAxisProps } from '../../components/charts';
import { Empty, Panel, Tag } from '../../components/ui';
import { formatAgo, formatBytes, formatClock, formatCount, formatMs } from '../../format';
import { useNow } from '../../hooks';
import { dedupOf, formatRatio, formatStamp, runDurationMs, TRIGGER_LABEL, type RunRecord } from './model';

type Measure = 'duration' | 'bytes' | 'stored';
const MEASURES: Array<{ key: Measure; label: string }> = [
  { key: 'duration', label: 'Duration' },
  { key: 'bytes', label: 'Size' },
  { key: 'stored', label: 'New vs reused' },
];

interface RunPoint {
  id: string;
  value: number;
  /** 'stored': the bytes this run stored new (value) and those it found already stored (reused), stacked. */
  reused: number;
  run: RunRecord;
  color: string;
}

const statusColor = (status: RunRecord['status']) =>
  cssColor(status === 'ok' ? '--c-green' : status === 'failed' ? '--c-red' : status === 'running' ? '--c-blue' : '--muted');

/** The recent runs: a chart of one measure across them, and the table with every figure and each failure's reason. */
export function HistoryPanel({ runs }: { runs: RunRecord[] }) {
  const [measure, setMeasure] = useState<Measure>('duration');
  const now = useNow(10_000);
  const failed = runs.filter((run) => run.status === 'failed').length;
  return (
    <Panel
      title="History"
      testId="backup-history"
      meta={
        runs.length > 0 && (
          <span className="num">
            last {runs.length} run{runs.length === 1 ? '' : 's'}
            {failed > 0 && <span className="text-down"> · {failed} failed</span>}
          </span>
        )
      }
      actions={
        runs.length > 0 && (
          <div className="segmented segmented-small" role="group" aria-label="Chart">
            {MEASURES.map((m) => (
              <button key={m.key} type="button" className={measure === m.key ? 'on' : ''} aria-pressed={measure === m.key} onClick={() => setMeasure(m.key)}>
                {m.label}
              </button>
            ))}
          </div>
        )
      }
    >
      {runs.length === 0 ? (
        <Empty title="No runs yet">Runs appear here as they happen — on schedule, on demand and when the hub quits — with how long each took and what it stored.</Empty>
      ) : (
        <>
          <RunsChart runs={runs} measure={measure} />
          <div className="table-scroll table-scroll-short">
            <table className="table table-tight" data-testid="history-table">
              <thead>
                <tr>
                  <th>Status</th>
                  <th>Trigger</th>
                  <th>When</th>
                  <th className="right">Took</th>
                  <th className="right">Files</th>
                  <th className="right">Size</th>
                  <th className="right" title="Objects (small files and chunks of large ones) this run added to the backup folder, and their bytes">
                    Stored new
                  </th>
                  <th className="right" title="Bytes this run found already in the backup folder (unchanged files and chunks, duplicates), and size ÷ new">
                    Reused
                  </th>
                </tr>
              </thead>
              <tbody>
                {runs.map((run) => (
                  <HistoryRow key={run.id} run={run} now={now} />
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </Panel>
  );
}

function HistoryRow({ run, now }: { run: RunRecord; now: number }) {
  const duration = runDurationMs(run);
  return (
    <Fragment>
      <tr data-testid="history-row" data-run-id={run.id} data-status={run.status} className={run.error ? 'has-detail' : ''}>
        <td>
          <RunStatus status={run.status} />
        </td>
        <td>
          <Tag tone={run.trigger === 'manual' ? 'accent' : undefined}>{TRIGGER_LABEL[run.trigger]}</Tag>
        </td>
        <td className="nowrap" title={formatStamp(run.startedAt)}>
          <span className="num">{formatClock(run.startedAt)}</span> <span className="muted small">{formatAgo(run.startedAt, now)}</span>
        </td>
        <td className="num right">{duration === null ? '—' : formatMs(duration)}</td>
        <td className="num right">{formatCount(run.files)}</td>
        <td className="num right">{formatBytes(run.bytes)}</td>
        <td className="num right nowrap" title={`${formatCount(run.newObjects)} objects, ${formatBytes(run.newBytes)} new`} data-testid="history-new">
          {formatBytes(run.newBytes)} <span className="muted">· {formatCount(run.newObjects)}</span>
        </td>
        <ReusedCell run={run} />
      </tr>
      {run.error && (
        <tr className="detail-row" data-testid="history-error">
          <td colSpan={8}>
            <span className="run-failure-inline">
              {run.errorCode && <span className="num">{run.errorCode}: </span>}
              {run.error}
            </span>
          </td>
        </tr>
      )}
    </Fragment>
  );
}

function ReusedCell({ run }: { run: RunRecord }) {
  if (run.status !== 'ok') return <td className="num right muted">—</td>;
  const dedup = dedupOf(run);
  return (
    <td
      className="num right nowrap"
      data-testid="history-reused"
      data-reused-bytes={dedup.reusedBytes}
      title={`${Math.round(dedup.reusedShare * 100)}% of the run's ${formatBytes(run.bytes)} reused; size ÷ new: ${formatRatio(dedup.ratio)}`}
    >
      {formatBytes(dedup.reusedBytes)}
    </td>
  );
}

export function RunStatus({ status }: { status: RunRecord['status'] }) {
  const tone = status === 'ok' ? 'up' : status === 'failed' ? 'revoked' : status === 'running' ? 'accent' : 'muted';
  return (
    <span className={`status-badge status-${tone}`} data-status={status}>
      <span className="status-dot" aria-hidden="true" />
      {status}
    </span>
  );
}

function RunsChart({ runs, measure }: { runs: RunRecord[]; measure: Measure }) {
  const data = useMemo<RunPoint[]>(
    () =>
      runs
        .filter((run) => run.status !== 'running')
        .slice()
        .reverse()
        .map((run) => ({
          id: run.id,
          run,
          color: measure === 'stored' && run.status === 'ok' ? cssColor('--c-blue') : statusColor(run.status),
          value: measure === 'duration' ? (runDurationMs(run) ?? 0) : measure === 'bytes' ? run.bytes : run.newBytes,
          reused: measure === 'stored' && run.status === 'ok' ? dedupOf(run).reusedBytes : 0,
        })),
    [runs, measure],
  );
  const binary = measure !== 'duration';
  const max = Math.max(0, ...data.map((d) => d.value + d.reused));
  const ticks = niceTicks(max, binary, 3);
  const axes = valueAxisProps(binary ? formatBytes : formatMs, ticks);
  const labels = new Map(data.map((d) => [d.id, formatClock(d.run.startedAt)]));
  const notTabbable = useNotTabbable();
  return (
    <div className="chart runs-chart" ref={notTabbable} data-testid="history-chart" data-bars={data.length} data-measure={measure}>
      <ResponsiveContainer width="100%" height={120} minWidth={0} initialDimension={{ width: 400, height: 120 }}>
        <BarChart data={data} margin={{ top: 6, right: 8, bottom: 0, left: 0 }} barCategoryGap="20%" accessibilityLayer={false}>
          <CartesianGrid {...axes.grid} />
          <XAxis dataKey="id" tickFormatter={(id: string) => labels.get(id) ?? ''} tick={{ fontSize: 11 }} stroke={cssColor('--muted')} tickLine={false} interval="preserveStartEnd" minTickGap={24} />
          <YAxis {...axes.yAxis} />
          <Tooltip content={RunTooltip} cursor={{ fill: cssColor('--line'), fillOpacity: 0.5 }} isAnimationActive={false} />
          <Bar dataKey="value" stackId="run" radius={measure === 'stored' ? undefined : [3, 3, 0, 0]} isAnimationActive={false} maxBarSize={32} minPointSize={2}>
            {data.map((d) => (
              <Cell key={d.id} fill={d.color} />
            ))}
          </Bar>
          {measure === 'stored' && (
            <Bar dataKey="reused" stackId="run" radius={[3, 3, 0, 0]} isAnimationActive={false} maxBarSize={32} fill={cssColor('--muted')} fillOpacity={0.45} />
          )}
        </BarChart>
      </ResponsiveContainer>
      {measure === 'stored' && (
        <div className="muted small" data-testid="history-chart-legend">
          Solid: stored new by the run · faded: already in the backup folder, reused
        </div>
      )}
    </div>
  );
}

function RunTooltip({ active, payload }: TooltipContentProps) {
  const point = active ? (payload?.[0]?.payload as RunPoint | undefined) : undefined;
  if (!point) return null;
  const { run } = point;
  const duration = runDurationMs(run);
  return (
    <div className="chart-tooltip">
      <div className="muted">
        {formatStamp(run.startedAt)} · {TRIGGER_LABEL[run.trigger]}
      </div>
      <div>
        <strong>{run.status}</strong> {duration !== null && <>in {formatMs(duration)}</>}
      </div>
      <div className="num">
        {formatCount(run.files)} files · {formatBytes(run.bytes)} · {formatBytes(run.newBytes)} stored new
        {run.status === 'ok' && <> · {formatBytes(dedupOf(run).reusedBytes)} reused</>}
      </div>
      {run.error && <div className="text-down">{run.error}</div>}
    </div>
  );
}
