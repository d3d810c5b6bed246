/**
 * References in a step's input (`{ "$ref": "steps.plan.result.files" }`, see workflow-protocol.ts): parsing a path,
 * and resolving a value against the workflow's input and its finished steps' outputs when a step starts. Pure code;
 * every failure is a RefError that says which reference and why.
 */
import type { TaskResult } from '../../shared/task-protocol';
import {
  LITERAL_KEY,
  MAX_FAN_OUT_ITEMS,
  MAX_REF_SEGMENTS,
  REF_KEY,
  type FanOutStep,
  type StepOutput,
  type WorkflowStep,
} from '../../shared/workflow-protocol';
import { describe, follow, isPlainObject } from './values';

export type RefSegments = (string | number)[];

/** A dot path or an array of segments, to segments; a whole-number text segment stays text (follow decides). */
export function parseRefPath(ref: unknown): { ok: true; segments: RefSegments } | { ok: false; error: string } {
  let segments: RefSegments;
  if (typeof ref === 'string') {
    segments = ref.split('.');
    if (segments.some((s) => s === '')) return { ok: false, error: `\`${ref}\` has an empty segment (two dots, or a dot at an end)` };
  } else if (Array.isArray(ref) && ref.length > 0 && ref.every((s) => (typeof s === 'string' && s !== '') || (Number.isInteger(s) && (s as number) >= 0))) {
    segments = ref as RefSegments;
  } else {
    return { ok: false, error: '`$ref` is a dot path ("steps.plan.result") or a non-empty array of keys and indexes' };
  }
  if (segments.length > MAX_REF_SEGMENTS) return { ok: false, error: `the path has ${segments.length} segments, over the ${MAX_REF_SEGMENTS} allowed` };
  return { ok: true, segments };
}

/** What a reference can read when a step starts. */
export interface RefScope {
  input?: unknown;
  /** Succeeded steps' outputs, by id; a step absent here has not succeeded. */
  steps: Readonly<Record<string, StepOutput | undefined>>;
  /** In a fan-out item's task. */
  item?: unknown;
  index?: number;
  /** In a fan-in task: its dependencies' collected results. */
  results?: unknown[];
}

export type RefErrorCode = 'bad_ref' | 'step_not_succeeded' | 'missing_path' | 'not_a_list' | 'too_many_items';

export interface RefError {
  code: RefErrorCode;
  /** Where the reference sits in the value resolved ("task.input.files.0"). */
  at: string;
  message: string;
}

export type Resolved<T = unknown> = { ok: true; value: T } | { ok: false; errors: RefError[] };

/**
 * A copy of `value` with every reference replaced by what it points to, and every `{ "$literal": v }` by v. All
 * broken references are reported, not only the first. `at` names the value in errors.
 */
export function resolveValue(value: unknown, scope: RefScope, at = 'input'): Resolved {
  const errors: RefError[] = [];
  const out = resolveInto(value, scope, at, errors);
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value: out };
}

function resolveInto(value: unknown, scope: RefScope, at: string, errors: RefError[]): unknown {
  if (Array.isArray(value)) return value.map((v, i) => resolveInto(v, scope, `${at}.${i}`, errors));
  if (!isPlainObject(value)) return value;
  if (Object.hasOwn(value, REF_KEY)) return resolveRef(value, scope, at, errors);
  if (Object.hasOwn(value, LITERAL_KEY) && Object.keys(value).length === 1) return value[LITERAL_KEY];
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = resolveInto(v, scope, `${at}.${k}`, errors);
  return out;
}

function resolveRef(ref: Record<string, unknown>, scope: RefScope, at: string, errors: RefError[]): unknown {
  const parsed = parseRefPath(ref[REF_KEY]);
  if (!parsed.ok) {
    errors.push({ code: 'bad_ref', at, message: `reference at ${at}: ${parsed.error}` });
    return undefined;
  }
  const segments = parsed.segments;
  const shown = segments.join('.');
  const hasDefault = Object.hasOwn(ref, 'default');
  const fail = (code: RefErrorCode, why: string) => {
    errors.push({ code, at, message: `reference \`${shown}\` at ${at}: ${why}` });
    return undefined;
  };
  let base: unknown;
  let rest: RefSegments;
  let root: string;
  switch (segments[0]) {
    case 'input':
      [base, rest, root] = [scope.input, segments.slice(1), 'input'];
      if (scope.input === undefined && !hasDefault) return fail('missing_path', 'the workflow has no input');
      break;
    case 'steps': {
      const [, id, field] = segments;
      if (id === undefined || (field !== 'result' && field !== 'text' && field !== 'refs')) return fail('bad_ref', 'name a step and one of result, text, refs');
      const output = Object.hasOwn(scope.steps, String(id)) ? scope.steps[String(id)] : undefined;
      if (!output) return fail('step_not_succeeded', `step \`${id}\` has no result: it has not succeeded`);
      [base, rest, root] = [output[field], segments.slice(3), `steps.${id}.${field}`];
      if (base === undefined && !hasDefault) return fail('missing_path', `step \`${id}\` has no ${field}`);
      break;
    }
    case 'item':
    case 'index':
    case 'results': {
      const name = segments[0];
      const present = name === 'item' ? Object.hasOwn(scope, 'item') : scope[name] !== undefined;
      if (!present) return fail('bad_ref', `\`${name}\` exists only in ${name === 'results' ? "a fan-in task's" : "a fan-out item's"} input`);
      [base, rest, root] = [scope[name], segments.slice(1), name];
      break;
    }
    default:
      return fail('bad_ref', 'it starts with one of input, steps, item, index, results');
  }
  const found = follow(base, rest, root);
  if (found.ok && found.value !== undefined) return found.value;
  if (hasDefault) return ref.default;
  return fail('missing_path', found.ok ? 'nothing is there' : found.error);
}

/** A step's input (task step, fan-in task) or approval subject, resolved; undefined when it declares none. */
export function resolveStepInput(step: WorkflowStep, scope: RefScope): Resolved {
  switch (step.kind) {
    case 'task':
      return step.input === undefined ? { ok: true, value: undefined } : resolveValue(step.input, scope, 'input');
    case 'fan-in':
      if (step.aggregate.use !== 'task') return { ok: true, value: undefined };
      // A fan-in task that declares no input is given the collected results as its input.
      if (step.aggregate.task.input === undefined) return { ok: true, value: scope.results ?? [] };
      return resolveValue(step.aggregate.task.input, scope, 'aggregate.task.input');
    case 'approval':
      return step.subject === undefined ? { ok: true, value: undefined } : resolveValue(step.subject, scope, 'subject');
    case 'fan-out':
      return { ok: false, errors: [{ code: 'bad_ref', at: 'task.input', message: 'a fan-out resolves its items (resolveFanOutItems), then each item\'s input (resolveFanOutItemInput)' }] };
  }
}

/** A fan-out's items: its literal list, or the list its reference points to. */
export function resolveFanOutItems(step: FanOutStep, scope: RefScope): Resolved<unknown[]> {
  const resolved = Array.isArray(step.items) ? { ok: true as const, value: step.items } : resolveValue(step.items, scope, 'items');
  if (!resolved.ok) return resolved;
  if (!Array.isArray(resolved.value)) {
    return { ok: false, errors: [{ code: 'not_a_list', at: 'items', message: `the fan-out's items are ${describe(resolved.value)}, not a list` }] };
  }
  if (resolved.value.length > MAX_FAN_OUT_ITEMS) {
    return { ok: false, errors: [{ code: 'too_many_items', at: 'items', message: `the fan-out has ${resolved.value.length} items, over the ${MAX_FAN_OUT_ITEMS} allowed` }] };
  }
  return { ok: true, value: resolved.value };
}

/** One fan-out item's task input, with `item` and `index` bound; the item itself when the template declares none. */
export function resolveFanOutItemInput(step: FanOutStep, scope: RefScope, item: unknown, index: number): Resolved {
  if (step.task.input === undefined) return { ok: true, value: item };
  return resolveValue(step.task.input, { ...scope, item, index }, 'task.input');
}

/** A task step's output from the task's result: its JSON, else its text, else null, is the step's `result`. */
export function taskStepOutput(result: TaskResult | null | undefined): StepOutput {
  const output: StepOutput = { result: result?.json ?? result?.text ?? null };
  if (result?.text !== undefined) output.text = result.text;
  if (result?.refs !== undefined) output.refs = result.refs;
  return output;
}
