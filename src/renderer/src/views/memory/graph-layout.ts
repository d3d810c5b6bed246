/**
 * Places a memory's neighbourhood with d3-force: links pull, memories push apart and never overlap, and each memory
 * sits on a ring by how many links it is from the centre (the centre fixed in the middle), so depth reads at a
 * glance. A neighbourhood has no natural direction, which a layered layout (dagre) would invent.
 * Runs to rest synchronously: the calls cap a neighbourhood at 200 memories (the view asks for 40), a few
 * milliseconds of the page's own thread.
 */
import { forceCollide, forceLink, forceManyBody, forceRadial, forceSimulation, type SimulationLinkDatum, type SimulationNodeDatum } from 'd3-force';

export const NODE_WIDTH = 184;
export const NODE_HEIGHT = 62;
const RING = 230;

interface ForceNode extends SimulationNodeDatum {
  id: string;
  hops: number;
}

/** Links from the centre to each memory, breadth first; a memory no link reaches counts as the outermost ring. */
export function hopsFrom(center: string, ids: readonly string[], links: ReadonlyArray<{ from: string; to: string }>): Map<string, number> {
  const neighbours = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const link of links) {
    neighbours.get(link.from)?.push(link.to);
    neighbours.get(link.to)?.push(link.from);
  }
  const hops = new Map<string, number>([[center, 0]]);
  let frontier = [center];
  while (frontier.length > 0) {
    const next: string[] = [];
    for (const id of frontier) {
      for (const other of neighbours.get(id) ?? []) {
        if (hops.has(other)) continue;
        hops.set(other, hops.get(id)! + 1);
        next.push(other);
      }
    }
    frontier = next;
  }
  const outer = Math.max(1, ...hops.values()) + 1;
  for (const id of ids) if (!hops.has(id)) hops.set(id, outer);
  return hops;
}

/** Top-left corners for React Flow (nodes are NODE_WIDTH x NODE_HEIGHT), the centre's at the origin's middle. */
export function layoutNeighbourhood(
  center: string,
  ids: readonly string[],
  links: ReadonlyArray<{ from: string; to: string; weight: number }>,
): Map<string, { x: number; y: number }> {
  const hops = hopsFrom(center, ids, links);
  const nodes: ForceNode[] = ids.map((id) => ({ id, hops: hops.get(id)! }));
  const centre = nodes.find((node) => node.id === center);
  if (centre) {
    centre.fx = 0;
    centre.fy = 0;
  }
  const known = new Set(ids);
  const edges: Array<SimulationLinkDatum<ForceNode> & { weight: number }> = links
    .filter((link) => known.has(link.from) && known.has(link.to) && link.from !== link.to)
    .map((link) => ({ source: link.from, target: link.to, weight: link.weight }));

  const simulation = forceSimulation(nodes)
    .force(
      'link',
      forceLink<ForceNode, SimulationLinkDatum<ForceNode> & { weight: number }>(edges)
        .id((node) => node.id)
        .distance(RING * 0.9)
        .strength(0.15),
    )
    .force('charge', forceManyBody<ForceNode>().strength(-900))
    // Boxes are wider than tall: a radius of half the width keeps labels apart side by side.
    .force('collide', forceCollide<ForceNode>(NODE_WIDTH * 0.58))
    .force('ring', forceRadial<ForceNode>((node) => node.hops * RING, 0, 0).strength(0.7))
    .stop();
  const ticks = Math.ceil(Math.log(simulation.alphaMin()) / Math.log(1 - simulation.alphaDecay()));
  simulation.tick(ticks);

  return new Map(nodes.map((node) => [node.id, { x: (node.x ?? 0) - NODE_WIDTH / 2, y: (node.y ?? 0) - NODE_HEIGHT / 2 }]));
}

/**
 * The memory nearest to `from` in an arrow key's direction (within 60 degrees either side of it), for moving
 * through the graph with the keyboard as it is drawn; null when nothing lies that way.
 */
export function nearestInDirection(
  from: { x: number; y: number },
  others: ReadonlyArray<{ id: string; x: number; y: number }>,
  direction: 'left' | 'right' | 'up' | 'down',
): string | null {
  const [dx, dy] = { left: [-1, 0], right: [1, 0], up: [0, -1], down: [0, 1] }[direction] as [number, number];
  let best: { id: string; score: number } | null = null;
  for (const other of others) {
    const vx = other.x - from.x;
    const vy = other.y - from.y;
    const distance = Math.hypot(vx, vy);
    if (distance < 1) continue;
    const along = (vx * dx + vy * dy) / distance;
    if (along < 0.5) continue;
    // Straight ahead beats the same distance off to the side.
    const score = distance * (2 - along);
    if (!best || score < best.score) best = { id: other.id, score };
  }
  return best?.id ?? null;
}
