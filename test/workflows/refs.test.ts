/** Resolving references in a step's input against the workflow input and finished steps' outputs. */
import { describe, expect, it } from 'vitest';
import {
  parseRefPath,
  resolveFanOutItemInput,
  resolveFanOutItems,
  resolveStepInput,
  resolveValue,
  taskStepOutput,
  validateWorkflow,
  type RefScope,
} from '../../src/main/workflows';
import type { FanOutStep, WorkflowDefinition } from '../../src/shared/workflow-protocol';

const scope: RefScope = {
  input: { files: ['a.ts', 'b.ts'], repo: { name: 'shop', 'dotted.key': 7 } },
  steps: {
    plan: taskStepOutput({ json: { parts: [{ title: 'one', files: ['x'] }, { title: 'two', files: [] }] }, text: 'the plan', refs: [{ kind: 'file', ref: 'plan.md' }] }),
    notes: taskStepOutput({ text: 'only text' }),
    empty: taskStepOutput(null),
  },
};

describe('resolving references', () => {
  it('replaces every reference, deep in lists and objects, and unwraps literals', () => {
    const resolved = resolveValue(
      {
        goal: 'ship',
        first: { $ref: 'steps.plan.result.parts.0.title' },
        files: [{ $ref: 'input.files.1' }, { $ref: ['input', 'repo', 'dotted.key'] }],
        text: { $ref: 'steps.plan.text' },
        refs: { $ref: 'steps.plan.refs.0.ref' },
        notes: { $ref: 'steps.notes.result' },
        nothing: { $ref: 'steps.empty.result' },
        literal: { $literal: { $ref: 'kept as written' } },
        whole: { $ref: 'input.repo' },
      },
      scope,
    );
    expect(resolved).toEqual({
      ok: true,
      value: {
        goal: 'ship',
        first: 'one',
        files: ['b.ts', 7],
        text: 'the plan',
        refs: 'plan.md',
        notes: 'only text',
        nothing: null,
        literal: { $ref: 'kept as written' },
        whole: { name: 'shop', 'dotted.key': 7 },
      },
    });
  });

  it('reports every broken reference with where it is and why', () => {
    const resolved = resolveValue(
      {
        ghost: { $ref: 'steps.review.result' },
        key: { $ref: 'steps.plan.result.nope' },
        index: { $ref: 'steps.plan.result.parts.5' },
        intoText: { $ref: 'steps.notes.result.length' },
        notIndex: { $ref: 'input.files.first' },
        noText: { $ref: 'steps.plan.result.parts.1.files.0' },
        item: { $ref: 'item' },
      },
      scope,
    );
    if (resolved.ok) throw new Error('expected errors');
    const by = Object.fromEntries(resolved.errors.map((e) => [e.at, `${e.code}: ${e.message}`]));
    expect(Object.keys(by)).toHaveLength(7);
    expect(by['input.ghost']).toMatch(/^step_not_succeeded: .*step `review` has no result/);
    expect(by['input.key']).toMatch(/^missing_path: .*`steps.plan.result` has no key `nope`/);
    expect(by['input.index']).toMatch(/^missing_path: .*`steps.plan.result.parts` has 2 items, no index 5/);
    expect(by['input.intoText']).toMatch(/^missing_path: .*`steps.notes.result` is a text, so `length` leads nowhere/);
    expect(by['input.notIndex']).toMatch(/^missing_path: .*`input.files` is a list, so `first` \(not an index\)/);
    expect(by['input.noText']).toMatch(/has 0 items, no index 0/);
    expect(by['input.item']).toMatch(/^bad_ref: .*only in a fan-out item's input/);
  });

  it('uses a default where the path leads nowhere, never for a step that has not succeeded', () => {
    expect(resolveValue({ a: { $ref: 'steps.plan.result.missing', default: [] }, b: { $ref: 'input.files.9', default: null } }, scope)).toEqual({ ok: true, value: { a: [], b: null } });
    const notRun = resolveValue({ $ref: 'steps.review.result', default: 'x' }, scope);
    expect(!notRun.ok && notRun.errors[0]!.code).toBe('step_not_succeeded');
  });

  it('parses dot paths and segment arrays, refusing empty segments', () => {
    expect(parseRefPath('steps.plan.result.0')).toEqual({ ok: true, segments: ['steps', 'plan', 'result', '0'] });
    expect(parseRefPath(['input', 'a.b', 0])).toEqual({ ok: true, segments: ['input', 'a.b', 0] });
    expect(parseRefPath('input..a').ok).toBe(false);
    expect(parseRefPath([]).ok).toBe(false);
    expect(parseRefPath([-1]).ok).toBe(false);
    expect(parseRefPath(42).ok).toBe(false);
  });
});

describe("resolving a step's inputs", () => {
  const definition = (() => {
    const result = validateWorkflow({
      name: 'w',
      input: { files: ['a.ts', 'b.ts', 'c.ts'], goal: 'fix' },
      steps: {
        plan: { kind: 'task', title: 'plan', input: { goal: { $ref: 'input.goal' } } },
        each: { kind: 'fan-out', dependsOn: ['plan'], items: { $ref: 'input.files' }, task: { title: 'x', input: { file: { $ref: 'item' }, at: { $ref: 'index' }, goal: { $ref: 'input.goal' } } } },
        bare: { kind: 'fan-out', items: [{ n: 1 }], task: { title: 'x' } },
        optional: { kind: 'fan-out', dependsOn: ['plan'], items: { $ref: 'steps.plan.result.extra', default: [] }, task: { title: 'x' } },
        parts: { kind: 'fan-out', dependsOn: ['plan'], items: { $ref: 'steps.plan.result.parts' }, task: { title: 'x' } },
        sum: { kind: 'fan-in', dependsOn: ['each'], aggregate: { use: 'task', task: { title: 's', input: { all: { $ref: 'results' }, n: { $ref: 'results.0' } } } } },
        sumBare: { kind: 'fan-in', dependsOn: ['each'], aggregate: { use: 'task', task: { title: 's' } } },
        gate: { kind: 'approval', dependsOn: ['plan'], prompt: 'ok?', subject: { plan: { $ref: 'steps.plan.result' } } },
      },
    });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    return result.definition;
  })() as WorkflowDefinition;
  const fanOut = (id: string) => definition.steps[id] as FanOutStep;

  it('resolves a task input, a fan-out item input, a fan-in task input and an approval subject', () => {
    const run: RefScope = { input: { files: ['a.ts', 'b.ts', 'c.ts'], goal: 'fix' }, steps: { plan: taskStepOutput({ json: { parts: 'not a list' } }) } };
    expect(resolveStepInput(definition.steps.plan!, run)).toEqual({ ok: true, value: { goal: 'fix' } });

    const items = resolveFanOutItems(fanOut('each'), run);
    expect(items).toEqual({ ok: true, value: ['a.ts', 'b.ts', 'c.ts'] });
    expect(resolveFanOutItemInput(fanOut('each'), run, 'b.ts', 1)).toEqual({ ok: true, value: { file: 'b.ts', at: 1, goal: 'fix' } });
    expect(resolveFanOutItemInput(fanOut('bare'), run, { n: 1 }, 0)).toEqual({ ok: true, value: { n: 1 } });
    expect(resolveFanOutItems(fanOut('bare'), run)).toEqual({ ok: true, value: [{ n: 1 }] });

    expect(resolveFanOutItems(fanOut('optional'), run)).toEqual({ ok: true, value: [] });
    const notList = resolveFanOutItems(fanOut('parts'), run);
    expect(!notList.ok && notList.errors[0]).toMatchObject({ code: 'not_a_list', message: "the fan-out's items are a text, not a list" });

    expect(resolveStepInput(definition.steps.sum!, { ...run, results: [1, 2] })).toEqual({ ok: true, value: { all: [1, 2], n: 1 } });
    expect(resolveStepInput(definition.steps.sumBare!, { ...run, results: [1, 2] })).toEqual({ ok: true, value: [1, 2] });
    expect(resolveStepInput(definition.steps.gate!, run)).toEqual({ ok: true, value: { plan: { parts: 'not a list' } } });
  });

  it("makes a task step's output from its task result: JSON first, then text, then null", () => {
    expect(taskStepOutput({ json: [1], text: 't' })).toEqual({ result: [1], text: 't' });
    expect(taskStepOutput({ text: 't' })).toEqual({ result: 't', text: 't' });
    expect(taskStepOutput({ refs: [] })).toEqual({ result: null, refs: [] });
  });
});
