/** Validation of declared workflows: every problem named with its step, cycles, references, limits, agents, the plan. */
import { describe, expect, it } from 'vitest';
import { parseWorkflowJson, planWorkflow, validateWorkflow } from '../../src/main/workflows';
import { MAX_WORKFLOW_DEPTH, MAX_WORKFLOW_STEPS, type AgentView, type WorkflowProblem } from '../../src/shared/workflow-protocol';

const task = (extra: Record<string, unknown> = {}) => ({ kind: 'task', title: 'do it', ...extra });

function problemsOf(definition: unknown, options = {}): WorkflowProblem[] {
  const result = validateWorkflow(definition, options);
  if (result.ok) throw new Error('expected the definition to be refused');
  return result.problems;
}

/** The problems as "code step" pairs, sorted: what most assertions compare. */
const pairs = (problems: WorkflowProblem[]) => problems.map((p) => `${p.code} ${p.step}`).sort();

describe('a valid workflow', () => {
  it('validates with defaults filled in and plans its steps by level', () => {
    const result = validateWorkflow({
      name: 'ship',
      input: { files: ['a.ts', 'b.ts'] },
      steps: {
        merge: task({ dependsOn: ['review', 'lint'], input: { review: { $ref: 'steps.review.result' } } }),
        plan: task({ tier: 'strategic' }),
        lint: { kind: 'fan-out', dependsOn: ['plan'], items: { $ref: 'input.files' }, task: { title: 'lint', input: { file: { $ref: 'item' }, n: { $ref: 'index' } } } },
        review: { kind: 'fan-in', dependsOn: ['lint'], aggregate: 'collect' },
      },
    });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    expect(result.plan.levels).toEqual([['plan'], ['lint'], ['review'], ['merge']]);
    const plan = result.definition.steps.plan!;
    expect(plan.kind === 'task' && [plan.priority, plan.maxAttempts, plan.capabilities]).toEqual([50, 3, []]);
    const lint = result.definition.steps.lint!;
    expect(lint.kind === 'fan-out' && [lint.concurrency, lint.onItemFailure]).toEqual([10, 'fail']);
    expect(result.definition.steps.review!.kind === 'fan-in' && result.definition.steps.review!.aggregate).toEqual({ use: 'collect', allowFailures: false });
    expect(planWorkflow(result.definition)).toEqual(result.plan);
  });

  it('puts independent steps on one level, in id order', () => {
    const result = validateWorkflow({ name: 'w', steps: { c: task(), a: task(), b: task({ dependsOn: ['a', 'c'] }), d: task({ dependsOn: ['a'] }) } });
    expect(result.ok && result.plan.levels).toEqual([['a', 'c'], ['b', 'd']]);
  });
});

describe('problems, each naming its step', () => {
  it('reports schema problems of every step, and of the workflow, at once', () => {
    const problems = problemsOf({
      name: '',
      steps: {
        a: task({ priority: 500 }),
        b: { kind: 'dance' },
        c: task({ dependsOn: ['nowhere'] }),
        'bad.id': task(),
      },
    });
    expect(pairs(problems)).toEqual(['invalid_definition a', 'invalid_definition b', 'invalid_definition bad.id', 'invalid_definition null', 'unknown_step c']);
    expect(problems.find((p) => p.step === 'a')!.path).toBe('steps.a.priority');
    expect(problems.find((p) => p.code === 'unknown_step')!.message).toContain('`nowhere`');
    expect(problems.some((p) => p.path === 'name')).toBe(true);
    expect(problems.find((p) => p.step === 'bad.id')!.message).toContain('a step id is a letter');
  });

  it('names a cycle of two, and one of many, and a step depending on itself', () => {
    const two = problemsOf({ name: 'w', steps: { a: task({ dependsOn: ['b'] }), b: task({ dependsOn: ['a'] }), c: task() } });
    expect(two).toHaveLength(1);
    expect(two[0]).toMatchObject({ code: 'cycle', step: 'a' });
    expect(two[0]!.message).toContain('a -> b -> a');

    const steps: Record<string, unknown> = {};
    for (let i = 0; i < 50; i++) steps[`s${i}`] = task({ dependsOn: [`s${(i + 1) % 50}`] });
    steps.outside = task({ dependsOn: ['s10'] });
    const many = problemsOf({ name: 'w', steps });
    expect(pairs(many)).toEqual(['cycle s0']);
    const ring = Array.from({ length: 50 }, (_, i) => `s${i}`).join(' -> ');
    expect(many[0]!.message).toContain(`${ring} -> s0`);

    const self = problemsOf({ name: 'w', steps: { loop: task({ dependsOn: ['loop'] }) } });
    expect(self[0]).toMatchObject({ code: 'cycle', step: 'loop' });
    expect(self[0]!.message).toContain('loop -> loop');
  });

  it('reports two separate cycles as two problems, and the shortest cycle through a tangle', () => {
    const problems = problemsOf({
      name: 'w',
      steps: {
        a: task({ dependsOn: ['b'] }),
        b: task({ dependsOn: ['a'] }),
        x: task({ dependsOn: ['y', 'z'] }),
        y: task({ dependsOn: ['x'] }),
        z: task({ dependsOn: ['y'] }),
      },
    });
    expect(pairs(problems)).toEqual(['cycle a', 'cycle x']);
    const tangle = problems.find((p) => p.step === 'x')!.message;
    expect(tangle).toContain('x -> y -> x');
    expect(tangle).toContain('3 steps are caught');
  });

  it('checks references: unknown steps, not upstream, bad roots and fields, misplaced item/results, input paths', () => {
    const problems = problemsOf({
      name: 'w',
      input: { files: ['a'], title: 'x' },
      steps: {
        first: task(),
        side: task(),
        refs: task({
          dependsOn: ['first'],
          input: {
            ok: { $ref: 'steps.first.result.anything' },
            ghost: { $ref: 'steps.ghost.result' },
            sideways: { $ref: 'steps.side.result' },
            field: { $ref: 'steps.first.output' },
            root: { $ref: 'workflow.name' },
            item: [{ $ref: 'item' }],
            missing: { $ref: 'input.nope' },
            deeper: { $ref: ['input', 'files', 3] },
            extra: { $ref: 'input.title', note: 'x' },
            empty: { $ref: 'input..x' },
            literal: { $literal: { $ref: 'not a reference' } },
          },
        }),
        gate: { kind: 'approval', dependsOn: ['agg'], prompt: 'ok?', subject: { $ref: 'steps.agg.text' } },
        agg: { kind: 'fan-in', dependsOn: ['first'], aggregate: 'merge' },
        results: task({ input: { $ref: 'results' } }),
        later: task({ dependsOn: ['refs'], input: { idx: { $ref: 'index.x' } } }),
      },
    });
    const at = (path: string) => problems.filter((p) => p.path === path).map((p) => `${p.code} ${p.step}`);
    expect(at('steps.refs.input.ok')).toEqual([]);
    expect(at('steps.refs.input.ghost')).toEqual(['unknown_ref refs']);
    expect(at('steps.refs.input.sideways')).toEqual(['ref_not_upstream refs']);
    expect(at('steps.refs.input.field')).toEqual(['bad_ref refs']);
    expect(at('steps.refs.input.root')).toEqual(['bad_ref refs']);
    expect(at('steps.refs.input.item.0')).toEqual(['bad_ref refs']);
    expect(at('steps.refs.input.missing')).toEqual(['unknown_ref refs']);
    expect(at('steps.refs.input.deeper')).toEqual(['unknown_ref refs']);
    expect(at('steps.refs.input.extra')).toEqual(['bad_ref refs']);
    expect(at('steps.refs.input.empty')).toEqual(['bad_ref refs']);
    expect(at('steps.refs.input.literal')).toEqual([]);
    expect(at('steps.gate.subject')).toEqual(['bad_ref gate']);
    expect(at('steps.results.input')).toEqual(['bad_ref results']);
    expect(at('steps.later.input.idx')).toEqual(['bad_ref later']);
    expect(problems).toHaveLength(12);
    expect(problems.find((p) => p.path === 'steps.refs.input.deeper')!.message).toContain('`input.files` has 1 items, no index 3');
    expect(problems.find((p) => p.path === 'steps.refs.input.sideways')!.message).toContain('`side` is not upstream of `refs`');
  });

  it('counts a step upstream through any chain of dependencies, not only direct ones', () => {
    const result = validateWorkflow({
      name: 'w',
      steps: { a: task(), b: task({ dependsOn: ['a'] }), c: task({ dependsOn: ['b'] }), d: task({ dependsOn: ['c'], input: { $ref: 'steps.a.result' } }) },
    });
    expect(result.ok).toBe(true);
    const downstream = problemsOf({ name: 'w', steps: { a: task({ input: { $ref: 'steps.d.result' } }), b: task({ dependsOn: ['a'] }), d: task({ dependsOn: ['b'] }) } });
    expect(pairs(downstream)).toEqual(['ref_not_upstream a']);
  });

  it('checks affinities name an upstream task step', () => {
    const problems = problemsOf({
      name: 'w',
      steps: {
        a: task(),
        fan: { kind: 'fan-out', items: [1, 2], task: { title: 't' } },
        b: task({ dependsOn: ['a', 'fan'], affinity: { step: 'a' } }),
        c: task({ affinity: { step: 'a' } }),
        d: task({ dependsOn: ['fan'], affinity: { step: 'fan' } }),
        e: task({ affinity: { step: 'nope' } }),
      },
    });
    expect(pairs(problems)).toEqual(['bad_ref d', 'ref_not_upstream c', 'unknown_step e']);
  });

  it("refuses fan-out items that cannot be a list, wherever they come from", () => {
    const problems = problemsOf({
      name: 'w',
      input: { files: 'a.ts', list: ['a'] },
      steps: {
        merged: { kind: 'fan-in', dependsOn: ['fromInput'], aggregate: 'merge' },
        fromInput: { kind: 'fan-out', items: { $ref: 'input.files' }, task: { title: 't' } },
        fromList: { kind: 'fan-out', items: { $ref: 'input.list' }, task: { title: 't' } },
        fromMerge: { kind: 'fan-out', dependsOn: ['merged'], items: { $ref: 'steps.merged.result' }, task: { title: 't' } },
        fromMergeDeeper: { kind: 'fan-out', dependsOn: ['merged'], items: { $ref: 'steps.merged.result.files' }, task: { title: 't' } },
        fromText: { kind: 'fan-out', dependsOn: ['plan'], items: { $ref: 'steps.plan.text' }, task: { title: 't' } },
        fromTask: { kind: 'fan-out', dependsOn: ['plan'], items: { $ref: 'steps.plan.result.parts' }, task: { title: 't' } },
        fromFanOut: { kind: 'fan-out', dependsOn: ['fromList'], items: { $ref: 'steps.fromList.result' }, task: { title: 't' } },
        literal: { kind: 'fan-out', items: 'abc', task: { title: 't' } },
        plan: task(),
      },
    });
    expect(pairs(problems)).toEqual(['fan_out_not_list fromInput', 'fan_out_not_list fromMerge', 'fan_out_not_list fromText', 'invalid_definition literal']);
    expect(problems.find((p) => p.step === 'fromInput')!.message).toContain('a text in the workflow input');
  });

  it('enforces the limits: steps, depth, size', () => {
    const tooMany: Record<string, unknown> = {};
    for (let i = 0; i <= MAX_WORKFLOW_STEPS; i++) tooMany[`s${i}`] = task();
    expect(pairs(problemsOf({ name: 'w', steps: tooMany }))).toEqual(['too_many_steps null']);

    const chain: Record<string, unknown> = { s0: task() };
    for (let i = 1; i <= MAX_WORKFLOW_DEPTH; i++) chain[`s${i}`] = task({ dependsOn: [`s${i - 1}`] });
    const deep = problemsOf({ name: 'w', steps: chain });
    expect(pairs(deep)).toEqual([`too_deep s${MAX_WORKFLOW_DEPTH}`]);
    delete chain[`s${MAX_WORKFLOW_DEPTH}`];
    expect(validateWorkflow({ name: 'w', steps: chain }).ok).toBe(true);

    const big = { name: 'w', input: 'x'.repeat(5 * 1024 * 1024), steps: { a: task() } };
    expect(pairs(problemsOf(big))).toEqual(['too_large null']);
    const text = parseWorkflowJson(JSON.stringify(big));
    expect(!text.ok && text.problems[0]!.code).toBe('too_large');
  });

  it('parses JSON text, refusing what is not JSON or nests too deep', () => {
    const bad = parseWorkflowJson('{"name": "w", steps: {}}');
    expect(!bad.ok && bad.problems[0]).toMatchObject({ code: 'invalid_json', step: null });
    const deep = parseWorkflowJson(`{"name":"w","input":${'['.repeat(600)}${']'.repeat(600)},"steps":{}}`);
    expect(!deep.ok && deep.problems[0]!.code).toBe('invalid_json');
    const good = parseWorkflowJson('{"name":"w","steps":{"a":{"kind":"task","title":"t"}}}');
    expect(good.ok && validateWorkflow(good.value, { bytes: good.bytes }).ok).toBe(true);
  });
});

describe('agents able to run each step', () => {
  const agents: AgentView[] = [
    { id: '01HZZZZZZZZZZZZZZZZZZZZZZ1', project: 'shop', tier: 'development', capabilities: ['code', 'test'], revoked: false },
    { id: '01HZZZZZZZZZZZZZZZZZZZZZZ2', project: 'shop', tier: 'strategic', capabilities: ['plan'], revoked: false },
    { id: '01HZZZZZZZZZZZZZZZZZZZZZZ3', project: 'shop', tier: 'development', capabilities: ['review'], revoked: true },
    { id: '01HZZZZZZZZZZZZZZZZZZZZZZ4', project: 'other', tier: 'development', capabilities: ['deploy'], revoked: false },
  ];

  it('names the step whose capability, tier or assignee no agent of the project has', () => {
    const problems = problemsOf(
      {
        name: 'w',
        project: 'shop',
        steps: {
          ok: task({ capabilities: ['code', 'test'] }),
          planner: task({ tier: 'strategic', capabilities: ['plan'] }),
          review: task({ capabilities: ['review'] }),
          deploy: task({ capabilities: ['deploy'] }),
          memory: task({ tier: 'memory' }),
          split: task({ capabilities: ['code', 'plan'] }),
          fan: { kind: 'fan-out', items: [1], task: { title: 't', capabilities: ['review'] } },
          reduce: { kind: 'fan-in', dependsOn: ['fan'], aggregate: { use: 'task', task: { title: 'r', tier: 'strategic', capabilities: ['code'] } } },
          mine: task({ assignee: '01HZZZZZZZZZZZZZZZZZZZZZZ1', capabilities: ['plan'] }),
          theirs: task({ assignee: '01HZZZZZZZZZZZZZZZZZZZZZZ4' }),
          gate: { kind: 'approval', prompt: 'ok?', approvers: 'strategic' },
        },
      },
      { agents },
    );
    expect(pairs(problems)).toEqual([
      'no_capable_agent deploy',
      'no_capable_agent fan',
      'no_capable_agent memory',
      'no_capable_agent reduce',
      'no_capable_agent review',
      'no_capable_agent split',
      'unknown_assignee mine',
      'unknown_assignee theirs',
    ]);
    const message = (step: string) => problems.find((p) => p.step === step)!.message;
    expect(message('review')).toContain('no agent with capability `review` in project shop');
    expect(message('memory')).toContain('no agent of tier memory in project shop');
    expect(message('split')).toContain('no single agent has every capability');
    expect(message('reduce')).toContain('of tier strategic with capability `code`');
    expect(message('mine')).toContain('lacks capability `plan`');
    expect(problems.find((p) => p.step === 'fan')!.path).toBe('steps.fan.task.capabilities');
  });

  it('requires a strategic agent for an approval only strategic agents may give', () => {
    const definition = { name: 'w', project: 'other', steps: { gate: { kind: 'approval', prompt: 'ok?', approvers: 'strategic' }, open: { kind: 'approval', prompt: 'ok?' } } };
    expect(pairs(problemsOf(definition, { agents }))).toEqual(['no_approver gate']);
    expect(validateWorkflow(definition, { agents, project: 'shop' }).ok).toBe(true);
  });
});

describe('a 1,000-step graph', () => {
  /** 100 levels of 10 steps; each depends on 3 steps of the level before and refers to one of them. */
  function layered(): { definition: Record<string, unknown>; ids: string[][] } {
    const steps: Record<string, unknown> = {};
    const ids: string[][] = [];
    for (let level = 0; level < 100; level++) {
      ids.push([]);
      for (let k = 0; k < 10; k++) {
        const id = `l${level}_${k}`;
        ids[level]!.push(id);
        if (level === 0) steps[id] = task();
        else {
          const deps = [0, 1, 2].map((d) => `l${level - 1}_${(k + d * 3) % 10}`);
          const far = `l${Math.floor(level / 2)}_${k}`;
          steps[id] = task({ dependsOn: deps, input: { near: { $ref: `steps.${deps[0]}.result` }, far: level > 1 ? { $ref: `steps.${far}.result` } : null } });
        }
      }
    }
    return { definition: { name: 'big', steps }, ids };
  }

  it('validates, with every reference upstream, and plans 100 levels of 10', () => {
    const { definition, ids } = layered();
    const result = validateWorkflow(definition);
    if (!result.ok) throw new Error(JSON.stringify(result.problems.slice(0, 3)));
    expect(result.plan.levels).toEqual(ids.map((level) => [...level].sort()));
  });

  it('finds the one bad reference and the one cycle among them', () => {
    const { definition } = layered();
    const steps = definition.steps as Record<string, { dependsOn?: string[]; input?: unknown }>;
    steps.l50_5!.input = { $ref: 'steps.l70_5.result' };
    steps.l10_0!.dependsOn!.push('l12_0');
    expect(pairs(problemsOf(definition))).toEqual(['cycle l10_0', 'ref_not_upstream l50_5']);
  });
});
