/**
 * The memory graph's layout (d3-force): the centre in the middle, every memory placed once, no two boxes
 * overlapping, memories two links away further out than direct ones; and the keyboard's move to the nearest memory
 * in an arrow's direction.
 */
import { describe, expect, it } from 'vitest';
import { hopsFrom, layoutNeighbourhood, nearestInDirection, NODE_HEIGHT, NODE_WIDTH } from '../../src/renderer/src/views/memory/graph-layout';

const centreOf = (at: { x: number; y: number }) => ({ x: at.x + NODE_WIDTH / 2, y: at.y + NODE_HEIGHT / 2 });

function overlaps(a: { x: number; y: number }, b: { x: number; y: number }): boolean {
  return a.x < b.x + NODE_WIDTH && b.x < a.x + NODE_WIDTH && a.y < b.y + NODE_HEIGHT && b.y < a.y + NODE_HEIGHT;
}

/** A centre with `direct` neighbours, each with `further` of their own, and a few cross links. */
function star(direct: number, further: number) {
  const ids = ['c'];
  const links: Array<{ from: string; to: string; weight: number }> = [];
  for (let i = 0; i < direct; i++) {
    ids.push(`d${i}`);
    links.push({ from: 'c', to: `d${i}`, weight: 1 });
    for (let j = 0; j < further; j++) {
      ids.push(`d${i}.${j}`);
      links.push({ from: `d${i}`, to: `d${i}.${j}`, weight: 0.8 });
    }
  }
  links.push({ from: 'd0', to: 'd1', weight: 0.9 });
  return { ids, links };
}

describe('memory graph layout', () => {
  it('counts links from the centre, breadth first, and puts unreachable memories outermost', () => {
    const hops = hopsFrom('c', ['c', 'a', 'b', 'x'], [
      { from: 'a', to: 'c' },
      { from: 'a', to: 'b' },
    ]);
    expect(Object.fromEntries(hops)).toEqual({ c: 0, a: 1, b: 2, x: 3 });
  });

  it('fixes the centre in the middle, places every memory without overlap, direct links nearer than two steps', () => {
    const { ids, links } = star(6, 3);
    const positions = layoutNeighbourhood('c', ids, links);
    expect([...positions.keys()].sort()).toEqual([...ids].sort());
    expect(centreOf(positions.get('c')!)).toEqual({ x: 0, y: 0 });
    const placed = [...positions.entries()];
    for (let i = 0; i < placed.length; i++) {
      for (let j = i + 1; j < placed.length; j++) expect(overlaps(placed[i]![1], placed[j]![1]), `${placed[i]![0]} / ${placed[j]![0]}`).toBe(false);
    }
    const distance = (id: string) => Math.hypot(centreOf(positions.get(id)!).x, centreOf(positions.get(id)!).y);
    const direct = ids.filter((id) => /^d\d+$/.test(id)).map(distance);
    const outer = ids.filter((id) => id.includes('.')).map(distance);
    expect(Math.max(...direct)).toBeLessThan(Math.min(...outer));
  });

  it('lays out the same neighbourhood the same way every time', () => {
    const { ids, links } = star(4, 2);
    expect([...layoutNeighbourhood('c', ids, links)]).toEqual([...layoutNeighbourhood('c', ids, links)]);
  });

  it('moves to the nearest memory in an arrow’s direction, preferring straight ahead, and nowhere when none lies that way', () => {
    const others = [
      { id: 'right-near', x: 100, y: 0 },
      { id: 'right-far', x: 300, y: 10 },
      { id: 'right-side', x: 90, y: 80 },
      { id: 'up', x: 0, y: -200 },
    ];
    expect(nearestInDirection({ x: 0, y: 0 }, others, 'right')).toBe('right-near');
    expect(nearestInDirection({ x: 0, y: 0 }, others, 'up')).toBe('up');
    expect(nearestInDirection({ x: 0, y: 0 }, others, 'down')).toBe('right-side');
    expect(nearestInDirection({ x: 0, y: 0 }, others, 'left')).toBeNull();
  });
});
