/**
 * A workflow's steps drawn as a graph in SVG (laid out by dagre, workflow-layout.ts): one box per step showing its
 * kind, id, state (colour), a fan-out's items as a progress bar, and how long it ran; arrows along dependsOn.
 */
import { memo, useMemo } from 'react';
import type { StepItemCounts, StepRunState } from '../../../shared/workflow-run-protocol';
import { formatDuration } from '../format';
import { edgePath, layoutWorkflow, type GraphStep } from './workflow-layout';
import './workflows.css';

/** A step as the graph draws it: its place in the graph, and what is known of its run (nothing for a definition). */
export interface GraphNode extends GraphStep {
  title?: string | null;
  state?: StepRunState;
  items?: StepItemCounts;
  startedAt?: string | null;
  finishedAt?: string | null;
  /** Why it does not progress (no agent can take its tasks). */
  waiting?: string | null;
}

const KIND_LABEL: Record<GraphStep['kind'], string> = { task: 'TASK', 'fan-out': 'FAN-OUT', 'fan-in': 'FAN-IN', approval: 'APPROVAL' };
export const STATE_LABEL: Record<StepRunState, string> = {
  waiting: 'waiting',
  running: 'running',
  awaiting_approval: 'awaiting approval',
  succeeded: 'succeeded',
  failed: 'failed',
  cancelled: 'cancelled',
  timed_out: 'timed out',
  skipped: 'skipped',
};

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** How long a step ran, or has been running (to `now`). */
export function stepDuration(step: Pick<GraphNode, 'startedAt' | 'finishedAt'>, now: number): number | null {
  if (!step.startedAt) return null;
  const end = step.finishedAt ? Date.parse(step.finishedAt) : now;
  return Math.max(0, end - Date.parse(step.startedAt));
}

export const WorkflowGraph = memo(function WorkflowGraph({
  steps,
  now,
  selected,
  onSelect,
  label,
}: {
  steps: readonly GraphNode[];
  now: number;
  selected?: string | null;
  onSelect?: (stepId: string) => void;
  /** What the graph shows, for screen readers. */
  label: string;
}) {
  // Laid out again only when the shape changes, not on every state change or tick.
  const shapeKey = steps.map((s) => `${s.id}:${s.kind}:${s.dependsOn.join(',')}`).join(';');
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const layout = useMemo(() => layoutWorkflow(steps), [shapeKey]);
  const byId = new Map(steps.map((step) => [step.id, step]));

  return (
    <div className="wf-graph-scroll">
      <svg
        className="wf-graph"
        viewBox={`0 0 ${layout.width} ${layout.height}`}
        width={layout.width}
        height={layout.height}
        // Shrinks to fit the panel down to 60 % of its size (still readable); a larger graph scrolls instead.
        style={{ width: '100%', maxWidth: layout.width, minWidth: layout.width * 0.6, height: 'auto' }}
        role="img"
        aria-label={label}
        data-testid="wf-graph"
      >
        <defs>
          <marker id="wf-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0,0 L10,5 L0,10 z" className="wf-arrow-head" />
          </marker>
        </defs>
        {layout.edges.map((edge) => (
          <path key={`${edge.from}->${edge.to}`} d={edgePath(edge.points)} className={`wf-edge wf-edge-${byId.get(edge.from)?.state ?? 'none'}`} markerEnd="url(#wf-arrow)" />
        ))}
        {layout.nodes.map(({ step: placed, x, y, width, height }) => {
          const step = byId.get(placed.id) ?? placed;
          return <StepNode key={step.id} step={step} x={x} y={y} width={width} height={height} now={now} selected={selected === step.id} onSelect={onSelect} />;
        })}
      </svg>
    </div>
  );
});

function StepNode({
  step,
  x,
  y,
  width,
  height,
  now,
  selected,
  onSelect,
}: {
  step: GraphNode;
  x: number;
  y: number;
  width: number;
  height: number;
  now: number;
  selected: boolean;
  onSelect?: (stepId: string) => void;
}) {
  const state = step.state;
  const duration = stepDuration(step, now);
  const items = step.kind === 'fan-out' ? step.items : undefined;
  const tip = [
    `${step.id} (${step.kind})`,
    step.title,
    state && STATE_LABEL[state],
    items && `${items.succeeded} of ${items.total} items done, ${items.active} running, ${items.failed} failed, ${items.queued} queued`,
    duration !== null && `ran ${formatDuration(duration)}`,
    step.waiting,
  ]
    .filter(Boolean)
    .join('\n');
  return (
    <g
      className={`wf-node wf-kind-${step.kind} wf-state-${state ?? 'none'} ${selected ? 'wf-selected' : ''} ${onSelect ? 'wf-clickable' : ''}`}
      transform={`translate(${x},${y})`}
      data-testid="wf-node"
      data-step={step.id}
      data-state={state ?? ''}
      onClick={onSelect ? () => onSelect(step.id) : undefined}
      onKeyDown={onSelect ? (e) => (e.key === 'Enter' || e.key === ' ') && (e.preventDefault(), onSelect(step.id)) : undefined}
      tabIndex={onSelect ? 0 : undefined}
      role={onSelect ? 'button' : undefined}
      aria-label={tip.replace(/\n/g, ', ')}
    >
      <title>{tip}</title>
      <rect className="wf-box" width={width} height={height} rx={step.kind === 'approval' ? 16 : 7} />
      <rect className="wf-band" width={5} height={height} rx={2} />
      <text className="wf-kind" x={14} y={17}>
        {KIND_LABEL[step.kind]}
      </text>
      {state && (
        <text className="wf-state-label" x={width - 10} y={17} textAnchor="end">
          {STATE_LABEL[state]}
        </text>
      )}
      <text className="wf-id" x={14} y={35}>
        {clip(step.id, 24)}
      </text>
      {items && items.total > 0 ? (
        <>
          <ItemsBar items={items} x={14} y={42} width={width - 26} />
          <text className="wf-count num" x={14} y={60}>
            {items.succeeded}/{items.total} done{items.failed > 0 ? ` · ${items.failed} failed` : ''}
          </text>
        </>
      ) : (
        step.title && (
          <text className="wf-title" x={14} y={57}>
            {clip(step.title, duration !== null ? 20 : 28)}
          </text>
        )
      )}
      {duration !== null && (
        <text className="wf-duration num" x={width - 10} y={items && items.total > 0 ? 60 : 57} textAnchor="end">
          {formatDuration(duration)}
        </text>
      )}
    </g>
  );
}

/** A fan-out's items: done (green), failed (red), running (blue), the rest (queued) as the track. */
function ItemsBar({ items, x, y, width }: { items: StepItemCounts; x: number; y: number; width: number }) {
  const scale = width / Math.max(1, items.total);
  const parts: Array<[string, number]> = [
    ['wf-bar-done', items.succeeded],
    ['wf-bar-failed', items.failed + items.cancelled],
    ['wf-bar-active', items.active],
  ];
  let at = 0;
  return (
    <g transform={`translate(${x},${y})`} data-testid="wf-items" data-done={items.succeeded} data-total={items.total}>
      <rect className="wf-bar-track" width={width} height={7} rx={3} />
      {parts.map(([className, n]) => {
        const part = (
          <rect key={className} className={className} x={at * scale} width={n * scale} height={7} rx={n === items.total ? 3 : 0} />
        );
        at += n;
        return n > 0 ? part : null;
      })}
    </g>
  );
}
