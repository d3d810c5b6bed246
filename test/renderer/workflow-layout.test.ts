/**
 * The workflow graph's layout (dagre): every step placed once, left of the steps that depend on it, no two boxes
 * overlapping, an edge per dependency; the templates' definitions and a wide fan laid out as the cockpit draws them.
 */
import { describe, expect, it } from 'vitest';
import { edgePath, layoutWorkflow, stepsOfDefinition, type GraphStep } from '../../src/renderer/src/components/workflow-layout';
import { WorkflowDefinition } from '../../src/shared/workflow-protocol';
import { planImplementReviewMerge } from '../../src/shared/workflow-templates';

function overlaps(a: { x: number; y: number; width: number; height: number }, b: typeof a): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

function checkLayout(steps: GraphStep[]) {
  const layout = layoutWorkflow(steps);
  expect(layout.nodes.map((n) => n.step.id)).toEqual(steps.map((s) => s.id));
  const byId = new Map(layout.nodes.map((n) => [n.step.id, n]));
  for (let i = 0; i < layout.nodes.length; i++) {
    for (let j = i + 1; j < layout.nodes.length; j++) expect(overlaps(layout.nodes[i]!, layout.nodes[j]!), `${layout.nodes[i]!.step.id} / ${layout.nodes[j]!.step.id}`).toBe(false);
  }
  const expectedEdges = steps.flatMap((s) => s.dependsOn.map((d) => `${d}->${s.id}`)).sort();
  expect(layout.edges.map((e) => `${e.from}->${e.to}`).sort()).toEqual(expectedEdges);
  for (const step of steps) {
    for (const dep of step.dependsOn) expect(byId.get(dep)!.x + byId.get(dep)!.width).toBeLessThan(byId.get(step.id)!.x);
  }
  for (const node of layout.nodes) {
    expect(node.x).toBeGreaterThanOrEqual(0);
    expect(node.y).toBeGreaterThanOrEqual(0);
    expect(node.x + node.width).toBeLessThanOrEqual(layout.width);
    expect(node.y + node.height).toBeLessThanOrEqual(layout.height);
  }
  for (const edge of layout.edges) expect(edge.points.length).toBeGreaterThanOrEqual(2);
  return layout;
}

describe('workflow graph layout', () => {
  it('places the plan -> implement -> review -> approve -> merge template in five columns', () => {
    const definition = WorkflowDefinition.parse(planImplementReviewMerge({ name: 'cart', goal: 'add a cart' }));
    const layout = checkLayout(stepsOfDefinition(definition));
    const columns = new Set(layout.nodes.map((n) => Math.round(n.x)));
    expect(columns.size).toBe(5);
  });

  it('places a parallel branch side by side and joins it', () => {
    const steps: GraphStep[] = [
      { id: 'plan', kind: 'task', dependsOn: [] },
      { id: 'backend', kind: 'task', dependsOn: ['plan'] },
      { id: 'frontend', kind: 'fan-out', dependsOn: ['plan'] },
      { id: 'approve', kind: 'approval', dependsOn: ['frontend'] },
      { id: 'merge', kind: 'fan-in', dependsOn: ['backend', 'approve'] },
    ];
    const layout = checkLayout(steps);
    const byId = new Map(layout.nodes.map((n) => [n.step.id, n]));
    // The two branches run side by side: different rows, both between the plan and the merge.
    expect(byId.get('backend')!.y).not.toBe(byId.get('frontend')!.y);
    expect(byId.get('backend')!.x).toBeLessThan(byId.get('merge')!.x);
  });

  it('lays out a fan of 60 steps and a chain of 40 without overlap, ignoring dependencies on steps it was not given', () => {
    const fan: GraphStep[] = [{ id: 'root', kind: 'task', dependsOn: ['elsewhere'] }];
    for (let i = 0; i < 60; i++) fan.push({ id: `leaf${i}`, kind: 'task', dependsOn: ['root'] });
    const fanLayout = layoutWorkflow(fan);
    expect(fanLayout.edges).toHaveLength(60);
    checkLayout(fan.map((s) => (s.id === 'root' ? { ...s, dependsOn: [] } : s)));
    const chain: GraphStep[] = Array.from({ length: 40 }, (_, i) => ({ id: `s${i}`, kind: 'task', dependsOn: i === 0 ? [] : [`s${i - 1}`] }));
    checkLayout(chain);
  });

  it('draws an edge as a path through its points', () => {
    expect(edgePath([])).toBe('');
    expect(edgePath([{ x: 0, y: 0 }, { x: 10, y: 0 }])).toBe('M0,0 L10,0');
    expect(edgePath([{ x: 0, y: 0 }, { x: 10, y: 0 }, { x: 20, y: 10 }])).toBe('M0,0 Q10,0 20,10');
  });
});
