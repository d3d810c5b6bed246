/**
 * A memory's neighbourhood drawn with React Flow: one box per memory (its kind and first words, coloured by kind or
 * topic), one line per link styled by its kind, the centre fixed in the middle (graph-layout.ts places the rest).
 * Pan and zoom with the mouse; a click on a memory re-centres the graph on it. The keyboard reaches the graph as
 * one tab stop: the arrow keys move between memories as they are drawn, Enter re-centres.
 */
import {
  BaseEdge,
  Background,
  Controls,
  getStraightPath,
  Handle,
  MarkerType,
  Position,
  ReactFlow,
  useInternalNode,
  type Edge,
  type EdgeProps,
  type Node,
  type NodeProps,
  type ReactFlowInstance,
} from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import { memo, useEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import type { MemoryLink, MemoryLinkKind, MemoryNeighbourhood } from '../../../../shared/memory-graph-protocol';
import type { Memory } from '../../../../shared/memory-protocol';
import { layoutNeighbourhood, nearestInDirection, NODE_HEIGHT, NODE_WIDTH } from './graph-layout';
import { clip, KIND_COLOR, LINK_STYLE, topicColor, topicLabel } from './model';

export type ColourBy = 'kind' | 'topic';

type MemoryNodeData = { memory: Memory; color: string; center: boolean; active: boolean; topic: string | null };
type MemoryNode = Node<MemoryNodeData, 'memory'>;
type LinkEdgeData = { link: MemoryLink; offset: number };
type LinkEdge = Edge<LinkEdgeData, 'link'>;

const FIT = { padding: 0.12, maxZoom: 1.1 };

const ARROW_COLOR: Partial<Record<MemoryLinkKind, string>> = { derived: 'var(--muted)', supersedes: 'var(--c-amber)' };

/** What a memory's box says to a screen reader and in its tooltip. */
function describe(memory: Memory, topic: string | null): string {
  return `${memory.kind}${memory.supersededBy ? ' (history)' : ''}: ${clip(memory.text, 160)}${topic ? ` (topic ${topic})` : ''}`;
}

export const MemoryGraph = memo(function MemoryGraph({
  hood,
  colourBy,
  onOpen,
}: {
  hood: MemoryNeighbourhood;
  colourBy: ColourBy;
  onOpen(id: string): void;
}) {
  const positions = useMemo(() => layoutNeighbourhood(hood.center, hood.memories.map((m) => m.id), hood.links), [hood]);
  const [active, setActive] = useState(hood.center);
  const cursor = positions.has(active) ? active : hood.center;

  const topicIndex = useMemo(() => new Map(hood.topics.map((topic, index) => [topic.id, index])), [hood.topics]);
  const topicName = (id: string) => {
    const topicId = hood.topicOf[id];
    const topic = topicId ? hood.topics.find((t) => t.id === topicId) : undefined;
    return topic ? topicLabel(topic.label) : null;
  };

  const nodes = useMemo<MemoryNode[]>(
    () =>
      hood.memories.map((memory) => ({
        id: memory.id,
        type: 'memory',
        position: positions.get(memory.id) ?? { x: 0, y: 0 },
        data: {
          memory,
          color: colourBy === 'kind' ? KIND_COLOR[memory.kind] : topicColor(topicIndex.get(hood.topicOf[memory.id] ?? '') ?? -1),
          center: memory.id === hood.center,
          active: memory.id === cursor,
          topic: topicName(memory.id),
        },
        width: NODE_WIDTH,
        height: NODE_HEIGHT,
      })),
    // topicName reads only hood, which is listed.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [hood, positions, colourBy, topicIndex, cursor],
  );

  const edges = useMemo<LinkEdge[]>(() => {
    // Two memories linked twice (a shared path and near in meaning) get two lines side by side, not one over the other.
    const perPair = new Map<string, number>();
    const seen = new Map<string, number>();
    const pair = (link: MemoryLink) => [link.from, link.to].sort().join(' ');
    for (const link of hood.links) perPair.set(pair(link), (perPair.get(pair(link)) ?? 0) + 1);
    return hood.links.map((link, index) => {
      const key = pair(link);
      const at = seen.get(key) ?? 0;
      seen.set(key, at + 1);
      const arrow = ARROW_COLOR[link.kind];
      return {
        id: `${index}:${link.kind}:${link.from}:${link.to}`,
        source: link.from,
        target: link.to,
        type: 'link',
        data: { link, offset: (at - ((perPair.get(key) ?? 1) - 1) / 2) * 9 },
        ...(arrow && { markerEnd: { type: MarkerType.ArrowClosed, color: arrow, width: 18, height: 18 } }),
      };
    });
  }, [hood.links]);

  const move = (event: KeyboardEvent<HTMLDivElement>) => {
    const direction = { ArrowLeft: 'left', ArrowRight: 'right', ArrowUp: 'up', ArrowDown: 'down' } as const;
    if (event.key in direction) {
      event.preventDefault();
      const from = positions.get(cursor);
      if (!from) return;
      const others = [...positions].filter(([id]) => id !== cursor).map(([id, at]) => ({ id, ...at }));
      const next = nearestInDirection(from, others, direction[event.key as keyof typeof direction]);
      if (next) setActive(next);
    } else if (event.key === 'Home') {
      event.preventDefault();
      setActive(hood.center);
    } else if ((event.key === 'Enter' || event.key === ' ') && cursor !== hood.center) {
      event.preventDefault();
      onOpen(cursor);
    }
  };

  // The whole neighbourhood stays in view when the panel changes size (a narrower window, a wrapped header).
  const flow = useRef<ReactFlowInstance<MemoryNode, LinkEdge> | null>(null);
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const observer = new ResizeObserver(() => void flow.current?.fitView(FIT));
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  const activeMemory = hood.memories.find((m) => m.id === cursor);
  return (
    <div
      ref={box}
      className="mem-graph"
      tabIndex={0}
      role="listbox"
      aria-label={`Links of this memory: ${hood.memories.length} memories. Arrow keys move between them, Enter opens one, Home returns to the centre.`}
      aria-activedescendant={`mem-node-${cursor}`}
      onKeyDown={move}
      data-testid="memory-graph"
      data-center={hood.center}
    >
      <ReactFlow<MemoryNode, LinkEdge>
        nodes={nodes}
        edges={edges}
        nodeTypes={NODE_TYPES}
        edgeTypes={EDGE_TYPES}
        onNodeClick={(_, node) => (node.id === hood.center ? setActive(node.id) : onOpen(node.id))}
        onInit={(instance) => (flow.current = instance)}
        fitView
        fitViewOptions={FIT}
        minZoom={0.15}
        maxZoom={2}
        nodesDraggable={false}
        nodesConnectable={false}
        nodesFocusable={false}
        edgesFocusable={false}
        elementsSelectable={false}
        zoomOnDoubleClick={false}
        colorMode="dark"
        // Credited in docs/cockpit.md; the badge would be a link out of the cockpit's window.
        proOptions={{ hideAttribution: true }}
      >
        <Background gap={24} size={1} />
        <Controls showInteractive={false} position="bottom-right" />
      </ReactFlow>
      <div className="sr-only" aria-live="polite">
        {activeMemory && describe(activeMemory, topicName(activeMemory.id))}
      </div>
    </div>
  );
});

function MemoryNodeBox({ data }: NodeProps<MemoryNode>) {
  const { memory, color, center, active, topic } = data;
  return (
    <div
      id={`mem-node-${memory.id}`}
      role="option"
      aria-selected={active}
      aria-label={describe(memory, topic)}
      title={describe(memory, topic)}
      className={`mem-node ${center ? 'mem-node-center' : ''} ${active ? 'mem-node-active' : ''} ${memory.supersededBy ? 'mem-node-history' : ''}`}
      style={{ ['--node-color' as string]: `var(${color})` }}
      data-testid="memory-graph-node"
      data-memory-id={memory.id}
      data-kind={memory.kind}
    >
      {/* Links start and end at the box's edge (LinkLine computes where); the handles only anchor them. */}
      <Handle type="target" position={Position.Top} className="mem-handle" isConnectable={false} />
      <Handle type="source" position={Position.Bottom} className="mem-handle" isConnectable={false} />
      <div className="mem-node-kind">
        {memory.kind}
        {memory.supersededBy && ' · history'}
        {memory.shared && ' · shared'}
      </div>
      <div className="mem-node-text">{clip(memory.text, 64)}</div>
    </div>
  );
}

/** Where the line from one box's centre to another's leaves the box. */
function boxExit(cx: number, cy: number, width: number, height: number, dx: number, dy: number): { x: number; y: number } {
  const sx = dx === 0 ? Infinity : width / 2 / Math.abs(dx);
  const sy = dy === 0 ? Infinity : height / 2 / Math.abs(dy);
  const s = Math.min(sx, sy);
  return { x: cx + dx * s, y: cy + dy * s };
}

/** A link as a straight line between the two boxes' edges, shifted sideways when the pair has several links. */
function LinkLine({ id, source, target, data, markerEnd }: EdgeProps<LinkEdge>) {
  const from = useInternalNode(source);
  const to = useInternalNode(target);
  if (!from || !to || !data) return null;
  const size = (node: typeof from) => ({ w: node.measured.width ?? NODE_WIDTH, h: node.measured.height ?? NODE_HEIGHT });
  const a = size(from);
  const b = size(to);
  const ax = from.internals.positionAbsolute.x + a.w / 2;
  const ay = from.internals.positionAbsolute.y + a.h / 2;
  const bx = to.internals.positionAbsolute.x + b.w / 2;
  const by = to.internals.positionAbsolute.y + b.h / 2;
  const length = Math.hypot(bx - ax, by - ay) || 1;
  const ux = (bx - ax) / length;
  const uy = (by - ay) / length;
  const start = boxExit(ax, ay, a.w, a.h, ux, uy);
  const end = boxExit(bx, by, b.w, b.h, -ux, -uy);
  const shift = { x: -uy * data.offset, y: ux * data.offset };
  const [path, labelX, labelY] = getStraightPath({ sourceX: start.x + shift.x, sourceY: start.y + shift.y, targetX: end.x + shift.x, targetY: end.y + shift.y });
  const { link } = data;
  const entity = link.kind === 'entity' && link.entity ? clip(link.entity.value, 28) : undefined;
  return (
    <BaseEdge
      id={id}
      path={path}
      markerEnd={markerEnd}
      className={`mem-link mem-link-${link.kind}`}
      style={link.kind === 'similar' ? { strokeWidth: 1 + Math.max(0, Math.min(1, (link.weight - 0.5) * 2)) * 2.5 } : undefined}
      label={entity}
      labelX={labelX}
      labelY={labelY}
      labelShowBg
      labelBgPadding={[4, 2]}
      labelBgBorderRadius={3}
      data-testid="memory-graph-edge"
      data-link-kind={link.kind}
      data-from={link.from}
      data-to={link.to}
    >
      <title>{`${LINK_STYLE[link.kind].label}${link.entity ? `: ${link.entity.kind} ${link.entity.value}` : ''}${link.kind === 'similar' ? ` (${link.weight.toFixed(2)})` : ''}`}</title>
    </BaseEdge>
  );
}

const NODE_TYPES = { memory: MemoryNodeBox };
const EDGE_TYPES = { link: LinkLine };
