/** Chart helpers on Recharts: theme colours, round axis ticks, and the cockpit's time-series charts. */
import { memo, useCallback, useRef, type ReactNode } from 'react';
import { Area, AreaChart, Bar, BarChart, CartesianGrid, Cell, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { formatClock } from '../format';
import { Panel } from './ui';

/** Chart colours come from the theme's CSS variables, read once (SVG attributes need resolved colours). */
const FALLBACK: Record<string, string> = {
  '--c-blue': '#58a6ff',
  '--c-green': '#3fb950',
  '--c-amber': '#d29922',
  '--c-violet': '#a371f7',
  '--c-pink': '#db61a2',
  '--c-cyan': '#39c5cf',
  '--c-orange': '#db6d28',
  '--c-red': '#f85149',
  '--line': '#262c35',
  '--muted': '#8b95a3',
  '--panel': '#171b21',
  '--text': '#e4e8ee',
};
const resolved = new Map<string, string>();
export function cssColor(variable: keyof typeof FALLBACK | string): string {
  let value = resolved.get(variable);
  if (!value) {
    value = getComputedStyle(document.documentElement).getPropertyValue(variable).trim() || FALLBACK[variable] || '#888';
    resolved.set(variable, value);
  }
  return value;
}

/**
 * Keeps a chart out of the tab order: its values are in the legends and figures beside it, and a page of charts
 * must not be dozens of tab stops. Recharts' SVG layers listen for focus, which makes Chromium tab to them, so each
 * layer is given tabindex -1 as it is drawn. A callback ref for the chart's container.
 */
export function useNotTabbable(): (element: HTMLElement | null) => void {
  const observer = useRef<MutationObserver | null>(null);
  return useCallback((element: HTMLElement | null) => {
    observer.current?.disconnect();
    observer.current = null;
    if (!element) return;
    const mark = () => element.querySelectorAll('svg, svg g').forEach((node) => node.getAttribute('tabindex') !== '-1' && node.setAttribute('tabindex', '-1'));
    mark();
    observer.current = new MutationObserver(mark);
    observer.current.observe(element, { childList: true, subtree: true });
  }, []);
}

export interface SeriesSpec<T> {
  key: keyof T & string;
  name: string;
  color: string;
  /** Filled area under the line (one series per chart reads best). */
  area?: boolean;
  dashed?: boolean;
}

const AXIS_TICK = { fontSize: 11 } as const;

/**
 * The value side of a chart with the time (or the runs) along the bottom: horizontal grid lines and a y axis from 0
 * to the last of `ticks`, one label per tick. Spread onto `<CartesianGrid>` and `<YAxis>`.
 */
export function valueAxisProps(format: (value: number) => string, ticks: number[]) {
  return {
    grid: { stroke: cssColor('--line'), strokeDasharray: '2 4', vertical: false },
    yAxis: {
      tickFormatter: (v: number) => format(v),
      tick: AXIS_TICK,
      stroke: cssColor('--muted'),
      tickLine: false,
      axisLine: false,
      width: 58,
      domain: [0, ticks[ticks.length - 1]!],
      ticks,
      interval: 0,
    },
  };
}
const tooltipStyle = () => ({
  contentStyle: {
    background: cssColor('--panel'),
    border: `1px solid ${cssColor('--line')}`,
    borderRadius: 6,
    fontSize: 12,
    padding: '6px 10px',
  },
  labelStyle: { color: cssColor('--muted'), marginBottom: 4 },
  itemStyle: { padding: 0 },
  cursor: { stroke: cssColor('--muted'), strokeDasharray: '3 3' },
});

/**
 * Round axis ticks from 0 to just above the maximum, about `intervals` of them (1, 2, 2.5, 5 × 10ⁿ steps). `binary` picks
 * the steps in KB/MB/GB, so byte axes read "50 MB, 100 MB" rather than "52 MB, 105 MB".
 */
export function niceTicks(max: number, binary = false, intervals = 5): number[] {
  if (!(max > 0) || !Number.isFinite(max)) return [0, binary ? 1024 : 1];
  const unit = binary ? 1024 ** Math.max(0, Math.floor(Math.log(max) / Math.log(1024))) : 1;
  const raw = max / unit / intervals;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].find((s) => s * magnitude >= raw)! * magnitude * unit;
  const count = Math.max(1, Math.ceil(max / step - 1e-9));
  return Array.from({ length: count + 1 }, (_, i) => Number((i * step).toPrecision(12)));
}

function seriesMax<T>(data: T[], series: SeriesSpec<T>[]): number {
  let max = 0;
  for (const point of data) {
    for (const { key } of series) {
      const value = point[key] as unknown;
      if (typeof value === 'number' && value > max) max = value;
    }
  }
  return max;
}

/**
 * A dot only where a point has no neighbour to draw a line to (a burst inside one tick, between idle seconds), so a
 * lone value still shows; elsewhere the line says it all.
 */
function isolatedDot<T>(data: T[], key: keyof T, color: string) {
  const present = (index: number) => typeof data[index]?.[key] === 'number';
  return function Dot(props: { cx?: number; cy?: number; index?: number }) {
    const { cx, cy, index = -1 } = props;
    if (cx === undefined || cy === undefined || !present(index) || present(index - 1) || present(index + 1)) return <g key={index} />;
    return <circle key={index} cx={cx} cy={cy} r={2.5} fill={color} stroke="none" />;
  };
}

/** What a time chart spans: the two minutes of ticks the hub keeps (metrics.history) and the cockpit draws. */
export const TIME_WINDOW_MS = 120_000;
const TIME_TICK_MS = 30_000;

/**
 * The time axis: always the whole window ending at the newest point, with a label every 30 s on the half minute, so
 * the axis stands still while the lines move through it (not stretched over whatever few seconds exist yet).
 */
function timeAxis(data: Array<{ t: number }>, windowMs: number): { domain: [number, number]; ticks: number[] } {
  const end = data.length > 0 ? data[data.length - 1]!.t : Date.now();
  const start = end - windowMs;
  const ticks: number[] = [];
  for (let t = Math.ceil(start / TIME_TICK_MS) * TIME_TICK_MS; t <= end; t += TIME_TICK_MS) ticks.push(t);
  return { domain: [start, end], ticks };
}

/**
 * "No messages" said of the time the chart really covers: "in the last two minutes" only once two minutes of ticks
 * exist, else "since" the first one.
 */
function emptySince(emptyText: string, data: Array<{ t: number }>, windowMs: number): string {
  if (data.length === 0) return emptyText;
  const first = data[0]!.t;
  const covered = data[data.length - 1]!.t - first >= windowMs - 5000;
  return covered ? `${emptyText} in the last ${windowMs === TIME_WINDOW_MS ? 'two minutes' : `${Math.round(windowMs / 1000)} s`}` : `${emptyText} since ${formatClock(first)}`;
}

/**
 * A rolling time series (one point per metrics tick). No animation: it redraws once a second, and animating every
 * redraw would keep the page busy and the lines never still.
 */
function TimeChartImpl<T extends { t: number }>({
  data,
  series,
  format,
  height = 180,
  testId,
  emptyText,
  binary = false,
  windowMs = TIME_WINDOW_MS,
}: {
  data: T[];
  series: SeriesSpec<T>[];
  format: (value: number) => string;
  height?: number;
  /** Byte values: ticks in binary units. */
  binary?: boolean;
  testId?: string;
  /** Shown over the chart while every value is empty or zero ("No messages"), with the time it covers after it. */
  emptyText?: string;
  windowMs?: number;
}) {
  const max = seriesMax(data, series);
  const hasValues = data.some((point) => series.some(({ key }) => typeof point[key] === 'number'));
  const showEmpty = emptyText && (!hasValues || max === 0);
  const ticks = niceTicks(max, binary, height < 140 ? 3 : 5);
  const Chart = series.some((s) => s.area) ? AreaChart : LineChart;
  const axes = valueAxisProps(format, ticks);
  const time = timeAxis(data, windowMs);
  const notTabbable = useNotTabbable();
  return (
    <div className="chart" ref={notTabbable} data-testid={testId} data-max={max} data-points={data.length} data-from={time.domain[0]} data-to={time.domain[1]}>
      <ResponsiveContainer width="100%" height={height} minWidth={0} initialDimension={{ width: 400, height }}>
        <Chart data={data} margin={{ top: 6, right: 8, bottom: 0, left: 0 }} accessibilityLayer={false}>
          <CartesianGrid {...axes.grid} />
          <XAxis
            dataKey="t"
            type="number"
            scale="time"
            domain={time.domain}
            ticks={time.ticks}
            allowDataOverflow
            tickFormatter={(t: number) => formatClock(t)}
            tick={AXIS_TICK}
            stroke={cssColor('--muted')}
            tickLine={false}
            minTickGap={24}
          />
          <YAxis {...axes.yAxis} />
          <Tooltip
            {...tooltipStyle()}
            isAnimationActive={false}
            labelFormatter={(t) => formatClock(Number(t))}
            formatter={(value) => (typeof value === 'number' ? format(value) : '—')}
          />
          {series.map((s) =>
            s.area ? (
              <Area
                key={s.key}
                type="linear"
                dataKey={s.key as string}
                name={s.name}
                stroke={s.color}
                fill={s.color}
                fillOpacity={0.12}
                strokeWidth={1.5}
                dot={false}
                isAnimationActive={false}
                connectNulls={false}
              />
            ) : (
              <Line
                key={s.key}
                type="linear"
                dataKey={s.key}
                name={s.name}
                stroke={s.color}
                strokeWidth={1.5}
                strokeDasharray={s.dashed ? '4 3' : undefined}
                dot={isolatedDot(data, s.key, s.color)}
                activeDot={{ r: 3 }}
                isAnimationActive={false}
                connectNulls={false}
              />
            ),
          )}
        </Chart>
      </ResponsiveContainer>
      {showEmpty && (
        <div className="chart-empty" data-testid="chart-empty">
          {emptySince(emptyText, data, windowMs)}
        </div>
      )}
    </div>
  );
}
export const TimeChart = memo(TimeChartImpl) as typeof TimeChartImpl;

type TimeChartProps<T extends { t: number }> = Parameters<typeof TimeChartImpl<T>>[0];

/**
 * A panel of one time chart, its header a legend of the same series with each one's current value, so a series is
 * named (and coloured) once for both.
 */
export function TimeChartPanel<T extends { t: number }>({
  title,
  testId,
  chartTestId,
  series,
  ...chart
}: Omit<TimeChartProps<T>, 'testId' | 'series'> & {
  title: ReactNode;
  testId?: string;
  chartTestId?: string;
  series: Array<SeriesSpec<T> & { value: ReactNode }>;
}) {
  return (
    <Panel title={title} testId={testId} meta={<Legend items={series} />}>
      <TimeChart {...chart} series={series} testId={chartTestId} />
    </Panel>
  );
}

/** Swatches and latest values for a chart's series, for its panel header. */
export function Legend({ items }: { items: Array<{ name: string; color: string; value?: ReactNode; dashed?: boolean }> }) {
  return (
    <div className="legend">
      {items.map((item) => (
        <span key={item.name} className="legend-item">
          <span className={`swatch ${item.dashed ? 'swatch-dashed' : ''}`} style={{ backgroundColor: item.color, borderColor: item.color }} />
          <span className="legend-name">{item.name}</span>
          {item.value !== undefined && <span className="legend-value num">{item.value}</span>}
        </span>
      ))}
    </div>
  );
}

export interface BarDatum {
  label: string;
  value: number;
  color?: string;
}

/** Categories against counts: vertical bars, or horizontal ones (`horizontal`) for long labels. */
function BarsImpl({
  data,
  format = (v) => String(v),
  height = 180,
  color = cssColor('--c-blue'),
  horizontal = false,
  testId,
  name = 'count',
  labelWidth = 110,
  binary = false,
}: {
  data: BarDatum[];
  format?: (value: number) => string;
  height?: number;
  color?: string;
  horizontal?: boolean;
  testId?: string;
  name?: string;
  labelWidth?: number;
  /** Byte values: ticks in binary units. */
  binary?: boolean;
}) {
  const valueTicks = binary ? niceTicks(Math.max(0, ...data.map((d) => d.value)), true) : undefined;
  const valueDomain = valueTicks ? [0, valueTicks[valueTicks.length - 1]!] : undefined;
  const chartHeight = horizontal ? Math.max(70, Math.min(data.length, 14) * 26 + 30) : height;
  const notTabbable = useNotTabbable();
  return (
    <div className="chart" ref={notTabbable} data-testid={testId} data-bars={data.length}>
      <ResponsiveContainer width="100%" height={chartHeight} minWidth={0} initialDimension={{ width: 400, height: chartHeight }}>
        <BarChart
          accessibilityLayer={false}
          data={data}
          layout={horizontal ? 'vertical' : 'horizontal'}
          margin={{ top: 6, right: 12, bottom: 0, left: 0 }}
          barCategoryGap={horizontal ? 4 : '18%'}
        >
          <CartesianGrid stroke={cssColor('--line')} strokeDasharray="2 4" vertical={horizontal} horizontal={!horizontal} />
          {horizontal ? (
            <>
              <XAxis type="number" tickFormatter={format} tick={AXIS_TICK} stroke={cssColor('--muted')} tickLine={false} allowDecimals={false} ticks={valueTicks} domain={valueDomain} />
              <YAxis
                type="category"
                dataKey="label"
                tick={AXIS_TICK}
                stroke={cssColor('--muted')}
                tickLine={false}
                width={labelWidth}
                interval={0}
              />
            </>
          ) : (
            <>
              <XAxis dataKey="label" tick={AXIS_TICK} stroke={cssColor('--muted')} tickLine={false} interval="preserveStartEnd" />
              <YAxis tickFormatter={format} tick={AXIS_TICK} stroke={cssColor('--muted')} tickLine={false} axisLine={false} width={48} allowDecimals={false} />
            </>
          )}
          <Tooltip
            {...tooltipStyle()}
            cursor={{ fill: cssColor('--line'), fillOpacity: 0.5 }}
            isAnimationActive={false}
            formatter={(value) => (typeof value === 'number' ? format(value) : '—')}
          />
          <Bar dataKey="value" name={name} fill={color} radius={horizontal ? [0, 3, 3, 0] : [3, 3, 0, 0]} isAnimationActive={false} maxBarSize={42}>
            {data.map((datum) => (
              <Cell key={datum.label} fill={datum.color ?? color} />
            ))}
          </Bar>
        </BarChart>
      </ResponsiveContainer>
    </div>
  );
}
export const Bars = memo(BarsImpl);
