/** The templates of common shapes give definitions the validator accepts, runnable by the agents their roles name. */
import { describe, expect, it } from 'vitest';
import { validateWorkflow } from '../../src/main/workflows';
import { mapReduceOverFiles, planImplementReviewMerge } from '../../src/shared/workflow-templates';
import type { AgentView } from '../../src/shared/workflow-protocol';

const agents: AgentView[] = [
  { id: '01HZZZZZZZZZZZZZZZZZZZZZZ1', project: 'shop', tier: 'strategic', capabilities: [], revoked: false },
  { id: '01HZZZZZZZZZZZZZZZZZZZZZZ2', project: 'shop', tier: 'development', capabilities: ['code'], revoked: false },
  { id: '01HZZZZZZZZZZZZZZZZZZZZZZ3', project: 'shop', tier: 'development', capabilities: ['review'], revoked: false },
];

describe('templates', () => {
  it('plan -> implement in parallel -> review -> approve -> merge is valid, and plans five levels', () => {
    const definition = planImplementReviewMerge({ name: 'feature', project: 'shop', goal: 'add a cart' });
    const result = validateWorkflow(definition, { agents });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    expect(result.plan.levels).toEqual([['plan'], ['implement'], ['review'], ['approve'], ['merge']]);
    expect(result.definition.steps.implement).toMatchObject({ kind: 'fan-out', items: { $ref: 'steps.plan.result.parts' }, concurrency: 4 });
    expect(result.definition.steps.merge).toMatchObject({ input: { review: { $ref: 'steps.approve.result' } } });
  });

  it('without the gate, merge follows the review; with roles no agent fills, the steps are named', () => {
    const direct = validateWorkflow(planImplementReviewMerge({ name: 'f', project: 'shop', goal: 'g', approval: false }), { agents });
    expect(direct.ok && direct.plan.levels).toEqual([['plan'], ['implement'], ['review'], ['merge']]);
    const unstaffed = validateWorkflow(planImplementReviewMerge({ name: 'f', project: 'shop', goal: 'g', reviewer: { capabilities: ['security'] } }), { agents });
    expect(!unstaffed.ok && unstaffed.problems.map((p) => `${p.code} ${p.step}`)).toEqual(['no_capable_agent review']);
  });

  it('map-reduce over files is valid with each reducer, and with a reduce task', () => {
    for (const reduce of ['collect', 'merge', 'concat', 'majority', 'first-success'] as const) {
      const result = validateWorkflow(mapReduceOverFiles({ name: 'lint', files: ['a.ts', 'b.ts'], map: { title: 'lint', instructions: 'lint it' }, reduce }));
      if (!result.ok) throw new Error(`${reduce}: ${JSON.stringify(result.problems)}`);
      expect(result.plan.levels).toEqual([['map'], ['reduce']]);
    }
    const tolerant = validateWorkflow(
      mapReduceOverFiles({ name: 'sum', project: 'shop', files: ['a.ts'], map: { title: 'm', instructions: 'x', capabilities: ['code'] }, reduce: { title: 'r', instructions: 'y', tier: 'strategic' }, tolerateFailures: true }),
      { agents },
    );
    if (!tolerant.ok) throw new Error(JSON.stringify(tolerant.problems));
    expect(tolerant.definition.steps.map).toMatchObject({ onItemFailure: 'continue', items: { $ref: 'input.files' } });
    expect(tolerant.definition.steps.reduce).toMatchObject({ aggregate: { use: 'task', allowFailures: true } });
  });
});
