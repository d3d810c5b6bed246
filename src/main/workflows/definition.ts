/**
 * Validation of a declared workflow, and its plan: every problem found at once, each naming its step (schema,
 * unknown steps, cycles, references, fan-out sources, limits, and — given the registry's view — agents able to run
 * each step), then the steps by level for the engine. Pure code, linear in the graph (plus n²/32 words of bitsets
 * for "is upstream"): bench/workflow-definitions.ts times it up to the limits.
 */
import { z } from 'zod';
import { nestsDeeperThan } from '../../shared/json-depth';
import {
  LITERAL_KEY,
  MAX_WORKFLOW_BYTES,
  MAX_WORKFLOW_DEPTH,
  MAX_WORKFLOW_STEPS,
  REF_KEY,
  STEP_FIELDS,
  STEP_ID_PATTERN,
  STEP_ID_RULE,
  WorkflowDefinition,
  WorkflowStep,
  type AgentView,
  type TaskTemplate,
  type WorkflowPlan,
  type WorkflowProblem,
  type WorkflowProblemCode,
} from '../../shared/workflow-protocol';
import { parseRefPath, type RefSegments } from './refs';
import { describe, follow, isPlainObject } from './values';

export type ValidationResult = { ok: true; definition: WorkflowDefinition; plan: WorkflowPlan } | { ok: false; problems: WorkflowProblem[] };

export interface ValidateOptions {
  /** The registry's view: when given, every task-like step must have an agent of the project able to run it. */
  agents?: readonly AgentView[];
  /** The project the workflow runs in (default: the definition's, else `default`). */
  project?: string;
  /** The definition's JSON size when the caller has it (an HTTP body); measured otherwise. */
  bytes?: number;
}

/** The definition with its steps left unparsed: each step is parsed on its own. */
const Envelope = WorkflowDefinition.extend({
  steps: z.record(z.string(), z.unknown()).refine((steps) => Object.keys(steps).length > 0, 'a workflow has at least one step'),
});

const problem = (code: WorkflowProblemCode, step: string | null, path: string, message: string): WorkflowProblem => ({ code, step, path, message });

/** JSON text to a value, or the problem with it (size, depth, syntax), before anything walks it. */
export function parseWorkflowJson(text: string): { ok: true; value: unknown; bytes: number } | { ok: false; problems: WorkflowProblem[] } {
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_WORKFLOW_BYTES) return { ok: false, problems: [problem('too_large', null, '', `the definition is ${bytes} bytes, over the ${MAX_WORKFLOW_BYTES} allowed`)] };
  if (nestsDeeperThan(Buffer.from(text))) return { ok: false, problems: [problem('invalid_json', null, '', 'the JSON nests too deep')] };
  try {
    return { ok: true, value: JSON.parse(text) as unknown, bytes };
  } catch (error) {
    return { ok: false, problems: [problem('invalid_json', null, '', `not JSON: ${(error as Error).message}`)] };
  }
}

/** Checks a definition (parsed JSON) and plans it. Never throws on bad input: it answers the problems. */
export function validateWorkflow(raw: unknown, options: ValidateOptions = {}): ValidationResult {
  const problems: WorkflowProblem[] = [];
  const bytes = options.bytes ?? Buffer.byteLength(JSON.stringify(raw) ?? '');
  if (bytes > MAX_WORKFLOW_BYTES) return { ok: false, problems: [problem('too_large', null, '', `the definition is ${bytes} bytes, over the ${MAX_WORKFLOW_BYTES} allowed`)] };
  const rawSteps = isPlainObject(raw) && isPlainObject(raw.steps) ? raw.steps : undefined;
  if (rawSteps && Object.keys(rawSteps).length > MAX_WORKFLOW_STEPS) {
    return { ok: false, problems: [problem('too_many_steps', null, 'steps', `${Object.keys(rawSteps).length} steps, over the ${MAX_WORKFLOW_STEPS} allowed`)] };
  }

  // The shape: the workflow's own fields, then each step on its own (zod once per step), so one bad step hides
  // nothing about the others.
  const envelope = Envelope.safeParse(raw);
  if (!envelope.success) {
    for (const issue of envelope.error.issues) {
      problems.push(problem('invalid_definition', null, issue.path.join('.'), `${issue.path.join('.') || 'definition'}: ${issue.message}`));
    }
  }
  const steps = new Map<string, WorkflowStep>();
  /** Every step's id with the dependencies we could read, parsed or not: the graph is checked for all of them. */
  const dependsOn = new Map<string, string[]>();
  for (const [id, value] of Object.entries(rawSteps ?? {})) {
    if (!STEP_ID_PATTERN.test(id)) {
      problems.push(problem('invalid_definition', id, `steps.${id}`, `step id \`${id}\`: ${STEP_ID_RULE}`));
    }
    const step = WorkflowStep.safeParse(value);
    if (step.success) {
      steps.set(id, step.data);
      dependsOn.set(id, step.data.dependsOn);
    } else {
      for (const issue of step.error.issues) {
        const path = ['steps', id, ...issue.path].join('.');
        problems.push(problem('invalid_definition', id, path, `step \`${id}\`: ${issue.path.join('.') || 'step'}: ${issue.message}`));
      }
      const deps = isPlainObject(value) && Array.isArray(value.dependsOn) ? value.dependsOn.filter((d): d is string => typeof d === 'string') : [];
      dependsOn.set(id, deps);
    }
  }

  const graph = buildGraph(dependsOn, problems);
  const parts = components(graph);
  const cyclic = reportCycles(graph, parts, problems);
  const levels = cyclic ? null : levelsOf(graph, parts);
  if (levels) {
    const depth = Math.max(0, ...levels.level) + 1;
    if (depth > MAX_WORKFLOW_DEPTH) {
      const deepest = graph.ids[levels.level.indexOf(depth - 1)]!;
      problems.push(problem('too_deep', deepest, `steps.${deepest}.dependsOn`, `step \`${deepest}\` ends a chain of ${depth} dependent steps, over the ${MAX_WORKFLOW_DEPTH} allowed`));
    }
  }

  const input = isPlainObject(raw) ? raw.input : undefined;
  const hasInput = isPlainObject(raw) && Object.hasOwn(raw, 'input');
  const upstream = upstreamSets(graph, parts);
  for (const [id, step] of steps) checkStepRefs(id, step, { steps, graph, upstream, input, hasInput }, problems);

  const project = options.project ?? (envelope.success ? envelope.data.project : undefined) ?? 'default';
  if (options.agents) for (const [id, step] of steps) checkAgents(id, step, project, options.agents, problems);

  if (problems.length > 0 || !envelope.success || !levels) return { ok: false, problems };
  const definition: WorkflowDefinition = { ...envelope.data, steps: Object.fromEntries(steps) };
  return { ok: true, definition, plan: { levels: groupLevels(graph.ids, levels.level) } };
}

/** The plan of a definition already valid (levels of step ids); throws on a cycle. */
export function planWorkflow(definition: WorkflowDefinition): WorkflowPlan {
  const graph = buildGraph(new Map(Object.entries(definition.steps).map(([id, step]) => [id, step.dependsOn])), []);
  const levels = levelsOf(graph, components(graph));
  if (!levels) throw new Error('the workflow has a cycle: validate it first');
  return { levels: groupLevels(graph.ids, levels.level) };
}

// --- The graph --------------------------------------------------------------------------------------------------------

interface Graph {
  ids: string[];
  index: Map<string, number>;
  /** deps[i]: indexes of the steps step i depends on (known ones, no duplicates). */
  deps: number[][];
}

function buildGraph(dependsOn: Map<string, string[]>, problems: WorkflowProblem[]): Graph {
  const ids = [...dependsOn.keys()];
  const index = new Map(ids.map((id, i) => [id, i]));
  const deps = ids.map((id) => {
    const seen = new Set<number>();
    dependsOn.get(id)!.forEach((dep, k) => {
      const j = index.get(dep);
      if (j === undefined) problems.push(problem('unknown_step', id, `steps.${id}.dependsOn.${k}`, `step \`${id}\` depends on \`${dep}\`, which is not a step of this workflow`));
      else seen.add(j);
    });
    return [...seen];
  });
  return { ids, index, deps };
}

/**
 * Strongly connected components (Tarjan, iterative), in the order they complete: a component's dependencies
 * always complete before it, so this order is a topological order of the condensed graph.
 */
interface Components {
  /** of[step]: its component's index in `list`. */
  of: Int32Array;
  list: number[][];
}

function components(graph: Graph): Components {
  const n = graph.ids.length;
  const order = new Int32Array(n).fill(-1);
  const low = new Int32Array(n);
  const onStack = new Uint8Array(n);
  const of = new Int32Array(n).fill(-1);
  const stack: number[] = [];
  const list: number[][] = [];
  let counter = 0;
  for (let root = 0; root < n; root++) {
    if (order[root] !== -1) continue;
    const work: [node: number, next: number][] = [[root, 0]];
    order[root] = low[root] = counter++;
    stack.push(root);
    onStack[root] = 1;
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const [v, k] = frame;
      const edges = graph.deps[v]!;
      if (k < edges.length) {
        frame[1]++;
        const w = edges[k]!;
        if (order[w] === -1) {
          order[w] = low[w] = counter++;
          stack.push(w);
          onStack[w] = 1;
          work.push([w, 0]);
        } else if (onStack[w]) low[v] = Math.min(low[v]!, order[w]!);
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1]![0];
        low[parent] = Math.min(low[parent]!, low[v]!);
      }
      if (low[v] === order[v]) {
        const members: number[] = [];
        let w: number;
        do {
          w = stack.pop()!;
          onStack[w] = 0;
          of[w] = list.length;
          members.push(w);
        } while (w !== v);
        list.push(members.sort((a, b) => a - b));
      }
    }
  }
  return { of, list };
}

/** One problem per circle of steps, naming a concrete cycle through its first step. True when there was one. */
function reportCycles(graph: Graph, { of, list }: Components, problems: WorkflowProblem[]): boolean {
  let found = false;
  for (const members of list) {
    const start = members[0]!;
    const selfLoop = members.length === 1 && graph.deps[start]!.includes(start);
    if (members.length === 1 && !selfLoop) continue;
    found = true;
    const cycle = selfLoop ? [start, start] : cycleThrough(graph, start, of);
    const names = cycle.map((i) => graph.ids[i]!);
    const extra = members.length > cycle.length - 1 ? ` (${members.length} steps are caught in this circle)` : '';
    problems.push(
      problem('cycle', names[0]!, `steps.${names[0]}.dependsOn`, `steps depend on each other in a circle: ${names.join(' -> ')}${extra}`),
    );
  }
  return found;
}

/** A shortest path start -> ... -> start inside start's component (breadth first over dependencies). */
function cycleThrough(graph: Graph, start: number, of: Int32Array): number[] {
  const from = new Map<number, number>();
  const queue = [start];
  for (let head = 0; head < queue.length; head++) {
    const v = queue[head]!;
    for (const w of graph.deps[v]!) {
      if (of[w] !== of[start]) continue;
      if (w === start) {
        const path = [start];
        for (let u = v; u !== start; u = from.get(u)!) path.push(u);
        path.push(start);
        // Built backwards along dependencies; read as "a depends on b depends on ... a".
        return [start, ...path.slice(1, -1).reverse(), start];
      }
      if (!from.has(w)) {
        from.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

/** Each step's level (one more than its deepest dependency's), or null when the graph has a cycle. */
function levelsOf(graph: Graph, { list }: Components): { level: Int32Array } | null {
  const level = new Int32Array(graph.ids.length).fill(-1);
  for (const members of list) {
    if (members.length > 1) return null;
    const v = members[0]!;
    let deepest = -1;
    for (const d of graph.deps[v]!) {
      if (d === v) return null;
      deepest = Math.max(deepest, level[d]!);
    }
    level[v] = deepest + 1;
  }
  return { level };
}

function groupLevels(ids: string[], level: Int32Array): string[][] {
  const levels: string[][] = [];
  ids.forEach((id, i) => (levels[level[i]!] ??= []).push(id));
  return levels.map((ids) => ids.sort());
}

/** Whether step a is upstream of step b: a bitset of ancestors per component, built in topological order. */
type Upstream = (ancestor: string, of: string) => boolean;

function upstreamSets(graph: Graph, { of, list }: Components): Upstream {
  const words = (graph.ids.length + 31) >>> 5;
  const bits = new Uint32Array(list.length * words);
  list.forEach((members, c) => {
    const base = c * words;
    for (const v of members) {
      for (const d of graph.deps[v]!) {
        const dc = of[d]!;
        bits[base + (d >>> 5)]! |= 1 << (d & 31);
        if (dc === c) continue;
        const dBase = dc * words;
        for (let k = 0; k < words; k++) bits[base + k]! |= bits[dBase + k]!;
      }
    }
  });
  return (ancestor, step) => {
    const a = graph.index.get(ancestor);
    const s = graph.index.get(step);
    if (a === undefined || s === undefined) return false;
    return (bits[of[s]! * words + (a >>> 5)]! & (1 << (a & 31))) !== 0;
  };
}

// --- References -------------------------------------------------------------------------------------------------------

interface RefContext {
  steps: Map<string, WorkflowStep>;
  graph: Graph;
  upstream: Upstream;
  input: unknown;
  hasInput: boolean;
}

/** Which roots a place allows beyond `input` and `steps`. */
type Place = 'plain' | 'fan-out' | 'fan-in';

function checkStepRefs(id: string, step: WorkflowStep, context: RefContext, problems: WorkflowProblem[]): void {
  const base = `steps.${id}`;
  const checkTemplate = (task: TaskTemplate, path: string, place: Place) => {
    if (task.input !== undefined) walkRefs(task.input, `${path}.input`, place, id, context, problems);
    const affinity = task.affinity;
    if (affinity && 'step' in affinity) checkStepName(affinity.step, `${path}.affinity.step`, id, context, problems, 'affinity');
  };
  switch (step.kind) {
    case 'task':
      checkTemplate(step, base, 'plain');
      break;
    case 'fan-out':
      checkTemplate(step.task, `${base}.task`, 'fan-out');
      if (!Array.isArray(step.items)) checkFanOutSource(id, step.items.$ref, context, problems);
      break;
    case 'fan-in':
      if (step.aggregate.use === 'task') checkTemplate(step.aggregate.task, `${base}.aggregate.task`, 'fan-in');
      break;
    case 'approval':
      if (step.subject !== undefined) walkRefs(step.subject, `${base}.subject`, 'plain', id, context, problems);
      break;
  }
}

/** Finds every `$ref` in a value (iteratively: inputs may be large) and checks it; `$literal` values are skipped. */
function walkRefs(value: unknown, path: string, place: Place, stepId: string, context: RefContext, problems: WorkflowProblem[]): void {
  const stack: [unknown, string][] = [[value, path]];
  while (stack.length > 0) {
    const [v, p] = stack.pop()!;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${p}.${i}`]);
      continue;
    }
    if (!isPlainObject(v)) continue;
    if (Object.hasOwn(v, REF_KEY)) {
      const extra = Object.keys(v).filter((k) => k !== REF_KEY && k !== 'default');
      if (extra.length > 0) {
        problems.push(problem('bad_ref', stepId, p, `a reference holds only \`$ref\` and \`default\`, not ${extra.map((k) => `\`${k}\``).join(', ')} (wrap an object with a \`$ref\` key in \`{ "$literal": ... }\`)`));
        continue;
      }
      checkRef(v[REF_KEY], p, place, stepId, context, problems);
      continue;
    }
    if (Object.hasOwn(v, LITERAL_KEY)) {
      if (Object.keys(v).length > 1) problems.push(problem('bad_ref', stepId, p, '`$literal` stands alone in its object'));
      continue;
    }
    for (const [k, child] of Object.entries(v)) stack.push([child, `${p}.${k}`]);
  }
}

function checkRef(ref: unknown, path: string, place: Place, stepId: string, context: RefContext, problems: WorkflowProblem[]): RefSegments | null {
  const parsed = parseRefPath(ref);
  if (!parsed.ok) {
    problems.push(problem('bad_ref', stepId, path, `reference: ${parsed.error}`));
    return null;
  }
  const segments = parsed.segments;
  const [root] = segments;
  const shown = segments.join('.');
  switch (root) {
    case 'input':
      if (context.hasInput) {
        const found = follow(context.input, segments.slice(1), 'input');
        if (!found.ok) problems.push(problem('unknown_ref', stepId, path, `reference \`${shown}\`: ${found.error}`));
      }
      return segments;
    case 'steps': {
      const [target, field] = segments.slice(1, 3).map(String);
      if (target === undefined || field === undefined) {
        problems.push(problem('bad_ref', stepId, path, `reference \`${shown}\`: name a step and what to read of it: steps.<id>.result`));
        return null;
      }
      if (!context.graph.index.has(target)) {
        problems.push(problem('unknown_ref', stepId, path, `reference \`${shown}\`: there is no step \`${target}\``));
        return null;
      }
      if (!(STEP_FIELDS as readonly string[]).includes(field)) {
        problems.push(problem('bad_ref', stepId, path, `reference \`${shown}\`: a step offers ${STEP_FIELDS.map((f) => `\`${f}\``).join(', ')}, not \`${field}\``));
        return null;
      }
      const targetStep = context.steps.get(target);
      if (field !== 'result' && targetStep && !isTaskLike(targetStep)) {
        problems.push(problem('bad_ref', stepId, path, `reference \`${shown}\`: only a task step (or a fan-in task) has \`${field}\`; step \`${target}\` is ${kindOf(targetStep)}`));
        return null;
      }
      if (!context.upstream(target, stepId)) {
        problems.push(problem('ref_not_upstream', stepId, path, `reference \`${shown}\`: step \`${target}\` is not upstream of \`${stepId}\` (add it to dependsOn, directly or through a step that depends on it)`));
        return null;
      }
      return segments;
    }
    case 'item':
    case 'index':
      if (place !== 'fan-out') {
        problems.push(problem('bad_ref', stepId, path, `reference \`${shown}\`: \`${root}\` exists only in a fan-out's task input`));
        return null;
      }
      if (root === 'index' && segments.length > 1) {
        problems.push(problem('bad_ref', stepId, path, `reference \`${shown}\`: \`index\` is a number, with nothing inside`));
        return null;
      }
      return segments;
    case 'results':
      if (place !== 'fan-in') {
        problems.push(problem('bad_ref', stepId, path, `reference \`${shown}\`: \`results\` exists only in a fan-in task's input`));
        return null;
      }
      return segments;
    default:
      problems.push(problem('bad_ref', stepId, path, `reference \`${shown}\`: it starts with one of input, steps, item, index, results, not \`${String(root)}\``));
      return null;
  }
}

function checkStepName(target: string, path: string, stepId: string, context: RefContext, problems: WorkflowProblem[], what: string): void {
  const step = context.steps.get(target);
  if (!context.graph.index.has(target)) {
    problems.push(problem('unknown_step', stepId, path, `step \`${stepId}\`: its ${what} names \`${target}\`, which is not a step of this workflow`));
  } else if (step && !isTaskLike(step)) {
    problems.push(problem('bad_ref', stepId, path, `step \`${stepId}\`: its ${what} names \`${target}\`, ${kindOf(step)}: only a task step (or a fan-in task) has one agent`));
  } else if (!context.upstream(target, stepId)) {
    problems.push(problem('ref_not_upstream', stepId, path, `step \`${stepId}\`: its ${what} names \`${target}\`, which is not upstream (it must have run first)`));
  }
}

/** A fan-out's items by reference: the reference must be sound and able to hold a list. */
function checkFanOutSource(stepId: string, ref: unknown, context: RefContext, problems: WorkflowProblem[]): void {
  const path = `steps.${stepId}.items`;
  const segments = checkRef(ref, path, 'plain', stepId, context, problems);
  if (!segments) return;
  const shown = segments.join('.');
  const notList = (what: string) => problems.push(problem('fan_out_not_list', stepId, path, `step \`${stepId}\`: its items \`${shown}\` ${what}, not a list`));
  if (segments[0] === 'input') {
    if (!context.hasInput) return;
    const found = follow(context.input, segments.slice(1), 'input');
    if (found.ok && !Array.isArray(found.value)) notList(`are ${describe(found.value)} in the workflow input`);
    return;
  }
  const [target, field] = segments.slice(1, 3).map(String);
  if (field === 'text') {
    notList('are a text');
    return;
  }
  const step = context.steps.get(target!);
  if (!step || field !== 'result' || segments.length > 3) return;
  const kind = resultKind(step);
  if (kind === 'object') notList(`are the result of ${step.kind === 'fan-in' ? `a \`${step.aggregate.use}\` fan-in` : 'the step'}: an object`);
}

/** What a step's result is known to be before it runs, where the definition decides it. */
function resultKind(step: WorkflowStep): 'list' | 'object' | 'unknown' {
  if (step.kind === 'fan-out') return 'list';
  if (step.kind === 'fan-in') {
    if (step.aggregate.use === 'collect' || step.aggregate.use === 'concat') return 'unknown'; // concat joins texts too
    if (step.aggregate.use === 'merge') return 'object';
  }
  if (step.kind === 'approval' && step.subject !== undefined && !isRef(step.subject)) return Array.isArray(step.subject) ? 'list' : 'object';
  return 'unknown';
}

// --- Agents -----------------------------------------------------------------------------------------------------------

function checkAgents(id: string, step: WorkflowStep, project: string, agents: readonly AgentView[], problems: WorkflowProblem[]): void {
  const pool = agents.filter((agent) => !agent.revoked && agent.project === project);
  const checkTemplate = (task: TaskTemplate, path: string) => {
    const fits = (agent: AgentView) => (task.tier === undefined || agent.tier === task.tier) && task.capabilities.every((c) => agent.capabilities.includes(c));
    if (task.assignee !== undefined) {
      const assignee = pool.find((agent) => agent.id === task.assignee);
      if (!assignee) problems.push(problem('unknown_assignee', id, `${path}.assignee`, `step \`${id}\`: its assignee ${task.assignee} is not an agent of project ${project}`));
      else if (!fits(assignee)) problems.push(problem('unknown_assignee', id, `${path}.assignee`, `step \`${id}\`: its assignee ${task.assignee} ${whyNot(assignee, task)}`));
      return;
    }
    if (pool.some(fits)) return;
    let candidates = pool;
    if (task.tier !== undefined) {
      candidates = candidates.filter((agent) => agent.tier === task.tier);
      if (candidates.length === 0) {
        problems.push(problem('no_capable_agent', id, `${path}.tier`, `step \`${id}\`: no agent of tier ${task.tier} in project ${project}`));
        return;
      }
    }
    const missing = task.capabilities.filter((c) => !candidates.some((agent) => agent.capabilities.includes(c)));
    const tier = task.tier === undefined ? '' : ` of tier ${task.tier}`;
    const message =
      missing.length > 0
        ? `no agent${tier} with capability ${missing.map((c) => `\`${c}\``).join(', ')} in project ${project}`
        : `no single agent${tier} has every capability of ${task.capabilities.map((c) => `\`${c}\``).join(', ')} in project ${project}`;
    problems.push(problem('no_capable_agent', id, `${path}.capabilities`, `step \`${id}\`: ${pool.length === 0 ? `no agent in project ${project}` : message}`));
  };
  switch (step.kind) {
    case 'task':
      return checkTemplate(step, `steps.${id}`);
    case 'fan-out':
      return checkTemplate(step.task, `steps.${id}.task`);
    case 'fan-in':
      if (step.aggregate.use === 'task') checkTemplate(step.aggregate.task, `steps.${id}.aggregate.task`);
      return;
    case 'approval':
      if (step.approvers === 'strategic' && !pool.some((agent) => agent.tier === 'strategic')) {
        problems.push(problem('no_approver', id, `steps.${id}.approvers`, `step \`${id}\`: only a strategic agent may approve it, and project ${project} has none`));
      }
      return;
  }
}

function whyNot(agent: AgentView, task: TaskTemplate): string {
  if (task.tier !== undefined && agent.tier !== task.tier) return `is of tier ${agent.tier}, not ${task.tier}`;
  const missing = task.capabilities.filter((c) => !agent.capabilities.includes(c));
  return `lacks capability ${missing.map((c) => `\`${c}\``).join(', ')}`;
}

// --- Small helpers ----------------------------------------------------------------------------------------------------

function isRef(value: unknown): boolean {
  return isPlainObject(value) && Object.hasOwn(value, REF_KEY);
}

function kindOf(step: WorkflowStep): string {
  return step.kind === 'approval' ? 'an approval' : step.kind === 'fan-in' ? `a \`${step.aggregate.use}\` fan-in` : `a ${step.kind}`;
}

function isTaskLike(step: WorkflowStep): boolean {
  return step.kind === 'task' || (step.kind === 'fan-in' && step.aggregate.use === 'task');
}
