/**
 * Where a workflow's steps go on screen: a layered layout by dagre (steps left to right along their dependencies,
 * crossings kept few), as node boxes and edge polylines in one coordinate space. Pure code: the SVG is WorkflowGraph.
 */
import dagre from '@dagrejs/dagre';
import type { StepKind, WorkflowDefinition } from '../../../shared/workflow-protocol';

/** What the layout needs of a step: a declared one (from a definition) or a running one (a WorkflowStepRun). */
export interface GraphStep {
  id: string;
  kind: StepKind;
  dependsOn: readonly string[];
}

export interface PlacedNode<S extends GraphStep = GraphStep> {
  step: S;
  /** Top-left corner and size. */
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface PlacedEdge {
  from: string;
  to: string;
  points: Array<{ x: number; y: number }>;
}

export interface GraphLayout<S extends GraphStep = GraphStep> {
  nodes: PlacedNode<S>[];
  edges: PlacedEdge[];
  width: number;
  height: number;
}

export const NODE_WIDTH = 196;
export const NODE_HEIGHT = 68;
const MARGIN = 12;

/** The steps of a definition as the graph draws them, in the definition's order. */
export function stepsOfDefinition(definition: Pick<WorkflowDefinition, 'steps'>): GraphStep[] {
  return Object.entries(definition.steps).map(([id, step]) => ({ id, kind: step.kind, dependsOn: step.dependsOn ?? [] }));
}

/**
 * Lays the steps out left to right: a step sits right of everything it depends on. A dependency on a step that is
 * not in the list is left out (the graph draws what it was given).
 */
export function layoutWorkflow<S extends GraphStep>(steps: readonly S[], options: { direction?: 'LR' | 'TB' } = {}): GraphLayout<S> {
  const graph = new dagre.graphlib.Graph<Record<string, unknown>, { width: number; height: number; x?: number; y?: number }, { points?: Array<{ x: number; y: number }> }>();
  graph.setGraph({ rankdir: options.direction ?? 'LR', nodesep: 18, ranksep: 56, edgesep: 10, marginx: MARGIN, marginy: MARGIN });
  graph.setDefaultEdgeLabel(() => ({}));
  const ids = new Set(steps.map((step) => step.id));
  for (const step of steps) graph.setNode(step.id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  for (const step of steps) for (const dep of step.dependsOn) if (ids.has(dep)) graph.setEdge(dep, step.id);
  dagre.layout(graph);

  const nodes = steps.map((step) => {
    const placed = graph.node(step.id);
    return { step, x: (placed.x ?? 0) - NODE_WIDTH / 2, y: (placed.y ?? 0) - NODE_HEIGHT / 2, width: NODE_WIDTH, height: NODE_HEIGHT };
  });
  const edges = graph.edges().map((edge) => ({ from: edge.v, to: edge.w, points: graph.edge(edge)?.points ?? [] }));
  const label = graph.graph() as { width?: number; height?: number };
  const width = Math.max(label.width ?? 0, ...nodes.map((n) => n.x + n.width + MARGIN));
  const height = Math.max(label.height ?? 0, ...nodes.map((n) => n.y + n.height + MARGIN));
  return { nodes, edges, width, height };
}

/** An SVG path through the points: straight ends, rounded bends (a quadratic curve through each inner point). */
export function edgePath(points: ReadonlyArray<{ x: number; y: number }>): string {
  if (points.length === 0) return '';
  const [first, ...rest] = points;
  if (rest.length === 0) return `M${first!.x},${first!.y}`;
  let d = `M${first!.x},${first!.y}`;
  for (let i = 0; i < rest.length - 1; i++) {
    const control = rest[i]!;
    const next = rest[i + 1]!;
    const mid = { x: (control.x + next.x) / 2, y: (control.y + next.y) / 2 };
    d += ` Q${control.x},${control.y} ${i === rest.length - 2 ? `${next.x},${next.y}` : `${mid.x},${mid.y}`}`;
  }
  if (rest.length === 1) d += ` L${rest[0]!.x},${rest[0]!.y}`;
  return d;
}
