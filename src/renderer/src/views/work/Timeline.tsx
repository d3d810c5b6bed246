/**
 * Who ran what, when: a run's tasks as bars on a time axis, one lane per agent (tasks no agent has held yet in a lane
 * of their own), coloured by the task's state, labelled with the step (and fan-out item). A bar is faint from the
 * task's creation until its agent started it (waiting, or offered and not started yet), solid while it ran.
 */
import { memo } from 'react';
import type { WorkflowTimelineEntry } from '../../../../shared/workflow-run-protocol';
import { formatDuration } from '../../format';

const ROW_HEIGHT = 20;
const LANE_GAP = 6;
const LABEL_WIDTH = 120;
const WIDTH = 900;
const AXIS_HEIGHT = 20;

/** An offset on the axis: tenths of a second while the run is short, else the largest units. */
function formatOffset(ms: number, span: number): string {
  return span < 20_000 ? `${(ms / 1000).toFixed(1)} s` : formatDuration(ms);
}

export interface Lane {
  agentId: string | null;
  entries: WorkflowTimelineEntry[];
  /** Each entry's row within the lane: tasks an agent ran at the same time sit one above the other. */
  rows: number[];
  rowCount: number;
}

/** Rows for bars in start order: each goes in the first row whose last bar ended before it begins. */
function packRows(entries: readonly WorkflowTimelineEntry[], now: number): { rows: number[]; rowCount: number } {
  const ends: number[] = [];
  const rows = entries.map((entry) => {
    const start = Date.parse(entry.createdAt);
    const end = entry.finishedAt ? Date.parse(entry.finishedAt) : now;
    let row = ends.findIndex((last) => last <= start);
    if (row === -1) row = ends.push(end) - 1;
    else ends[row] = end;
    return row;
  });
  return { rows, rowCount: Math.max(1, ends.length) };
}

/** The entries by agent, lanes in the order their agents first ran something; the unassigned lane last. */
export function lanesOf(timeline: readonly WorkflowTimelineEntry[], now = Date.now()): Lane[] {
  const lanes = new Map<string | null, WorkflowTimelineEntry[]>();
  const ordered = [...timeline].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  for (const entry of ordered) {
    const key = entry.agentId;
    let lane = lanes.get(key);
    if (!lane) lanes.set(key, (lane = []));
    lane.push(entry);
  }
  return [...lanes.entries()].sort(([a], [b]) => (a === null ? 1 : b === null ? -1 : 0)).map(([agentId, entries]) => ({ agentId, entries, ...packRows(entries, now) }));
}

export const Timeline = memo(function Timeline({ timeline, now, agentName }: { timeline: readonly WorkflowTimelineEntry[]; now: number; agentName: (id: string) => string }) {
  const lanes = lanesOf(timeline, now);
  const starts = timeline.map((e) => Date.parse(e.createdAt));
  const ends = timeline.map((e) => (e.finishedAt ? Date.parse(e.finishedAt) : now));
  const from = Math.min(...starts);
  const to = Math.max(from + 1000, ...ends);
  const span = to - from;
  const plot = WIDTH - LABEL_WIDTH - 10;
  const x = (t: number) => LABEL_WIDTH + ((t - from) / span) * plot;
  const tops = lanes.reduce<number[]>((acc, lane, i) => [...acc, i === 0 ? AXIS_HEIGHT : acc[i - 1]! + lanes[i - 1]!.rowCount * ROW_HEIGHT + LANE_GAP], []);
  const height = (lanes.length === 0 ? AXIS_HEIGHT : tops.at(-1)! + lanes.at(-1)!.rowCount * ROW_HEIGHT) + 4;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => from + f * span);

  return (
    <svg className="wf-timeline" viewBox={`0 0 ${WIDTH} ${height}`} role="img" aria-label="Timeline of the run's tasks by agent" data-testid="wf-timeline">
      {ticks.map((t) => (
        <g key={t}>
          <line className="wf-tl-grid" x1={x(t)} x2={x(t)} y1={AXIS_HEIGHT - 4} y2={height} />
          <text className="wf-tl-tick" x={x(t)} y={12} textAnchor={t === from ? 'start' : t === to ? 'end' : 'middle'}>
            +{formatOffset(t - from, span)}
          </text>
        </g>
      ))}
      {lanes.map((lane, i) => {
        const top = tops[i]!;
        const name = lane.agentId === null ? 'not taken yet' : agentName(lane.agentId);
        return (
          <g key={lane.agentId ?? 'none'} data-testid="wf-lane" data-agent={name}>
            <text className="wf-tl-lane" x={0} y={top + 14}>
              {name.length > 16 ? `${name.slice(0, 15)}…` : name}
            </text>
            {lane.entries.map((entry, j) => {
              const y = top + lane.rows[j]! * ROW_HEIGHT;
              const created = Date.parse(entry.createdAt);
              const end = entry.finishedAt ? Date.parse(entry.finishedAt) : now;
              const start = entry.startedAt ? Date.parse(entry.startedAt) : end;
              const left = x(created);
              const width = Math.max(3, x(end) - left);
              const ran = Math.max(entry.startedAt ? 3 : 0, x(end) - x(start));
              const label = entry.itemIndex === null ? entry.stepId : `${entry.stepId}[${entry.itemIndex}]`;
              return (
                <g key={entry.taskId} data-testid="wf-bar" data-step={entry.stepId} data-state={entry.state}>
                  <title>{`${label}: ${entry.state.replace('_', ' ')}, attempt ${entry.attempt}; waited ${formatDuration(start - created)}, ran ${entry.startedAt ? formatDuration(end - start) : '—'}`}</title>
                  <rect className={`wf-tl-bar wf-tl-wait wf-tl-${entry.state}`} x={left} y={y + 2} width={width} height={ROW_HEIGHT - 4} rx={3} />
                  {ran > 0 && <rect className={`wf-tl-bar wf-tl-${entry.state}`} x={x(start)} y={y + 2} width={ran} height={ROW_HEIGHT - 4} rx={3} />}
                  {width > label.length * 6 + 8 && (
                    <text className="wf-tl-label" x={left + 4} y={y + 14}>
                      {label}
                    </text>
                  )}
                </g>
              );
            })}
          </g>
        );
      })}
    </svg>
  );
});
