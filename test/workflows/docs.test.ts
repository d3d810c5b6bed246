/** docs/workflows.md says what the code does: its worked example is valid as printed, and it lists every problem code. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateWorkflow } from '../../src/main/workflows';
import { WORKFLOW_PROBLEM_CODES } from '../../src/shared/workflow-protocol';

const doc = readFileSync(path.resolve(import.meta.dirname, '../../docs/workflows.md'), 'utf8');
const section = doc.slice(doc.indexOf('## Declaring a workflow'), doc.indexOf('## Not built yet'));

describe('docs/workflows.md, "Declaring a workflow"', () => {
  it("its worked example is valid and plans the levels shown, for the example's agents", () => {
    const example = section.slice(section.indexOf('### Worked example'));
    const json = /```json\n([\s\S]*?)\n```/.exec(example)![1]!;
    const agents = [
      { id: '01HZZZZZZZZZZZZZZZZZZZZZZ1', project: 'shop', tier: 'strategic', capabilities: [], revoked: false },
      { id: '01HZZZZZZZZZZZZZZZZZZZZZZ2', project: 'shop', tier: 'development', capabilities: ['code', 'docs'], revoked: false },
    ];
    const result = validateWorkflow(JSON.parse(json), { agents });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    expect(result.plan.levels).toEqual([['summarise'], ['draft'], ['approve'], ['publish']]);
    expect(example).toContain('4 steps in 4 levels');
  });

  it('lists every validation problem code in its table, and no other', () => {
    const table = section.slice(section.indexOf('### Validation errors'), section.indexOf('### The plan'));
    const listed = [...table.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);
    expect(listed.sort()).toEqual(Object.keys(WORKFLOW_PROBLEM_CODES).sort());
  });
});
