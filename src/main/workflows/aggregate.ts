/**
 * The fan-in aggregators as pure functions over outcomes (a dependency's result, or one fan-out item's), in order:
 * collect, merge (objects, deep, with a conflict rule), concat (lists or texts), majority vote (with a tie rule) and
 * first success. docs/workflows.md ("Aggregators") states the same rules.
 */
import type { Aggregate, AggregateResult, Outcome } from '../../shared/workflow-protocol';
import { canonicalJson, describe, isPlainObject } from './values';

/** Runs a fan-in's built-in aggregator; a `task` fan-in gets the collected results (the engine makes the task). */
export function aggregate(spec: Aggregate, outcomes: readonly Outcome[]): AggregateResult {
  switch (spec.use) {
    case 'collect':
    case 'task':
      return collect(outcomes, spec);
    case 'merge':
      return merge(outcomes, spec);
    case 'concat':
      return concat(outcomes, spec);
    case 'majority':
      return majority(outcomes, spec);
    case 'first-success':
      return firstSuccess(outcomes);
  }
}

/**
 * The outcomes an aggregator works on: all of them when every one succeeded; with `allowFailures`, the succeeded
 * ones (at least one). Otherwise the first failure is the fan-in's error.
 */
function succeeded(outcomes: readonly Outcome[], allowFailures: boolean): { ok: true; values: Outcome[] } | { ok: false; error: string } {
  if (outcomes.length === 0) return { ok: false, error: 'there are no results to aggregate' };
  const failed = outcomes.filter((o) => !o.ok);
  if (failed.length > 0 && !allowFailures) {
    const first = failed[0]!;
    const more = failed.length > 1 ? ` (and ${failed.length - 1} more failed)` : '';
    return { ok: false, error: `\`${first.source}\` failed: ${first.error ?? 'no reason given'}${more}` };
  }
  const ok = outcomes.filter((o) => o.ok);
  if (ok.length === 0) return { ok: false, error: `all ${outcomes.length} failed` };
  return { ok: true, values: ok };
}

/** The results as a list, in order. */
export function collect(outcomes: readonly Outcome[], { allowFailures = false } = {}): AggregateResult {
  const ok = succeeded(outcomes, allowFailures);
  return ok.ok ? { ok: true, value: ok.values.map((o) => o.value ?? null) } : ok;
}

/**
 * Objects merged deeply, in order: nested objects merge key by key; any other value (text, number, list, null) is a
 * leaf. Two results that set one leaf to the same JSON agree; to different JSON, conflict: `error` fails naming the
 * key and both sources, `first` keeps the earlier value, `last` takes the later one. A result that is not an object
 * fails the merge.
 */
export function merge(outcomes: readonly Outcome[], { onConflict = 'error', allowFailures = false }: { onConflict?: 'error' | 'first' | 'last'; allowFailures?: boolean } = {}): AggregateResult {
  const ok = succeeded(outcomes, allowFailures);
  if (!ok.ok) return ok;
  const merged: Record<string, unknown> = {};
  /** Who set each leaf, by its key path: named in a conflict. */
  const setBy = new Map<string, string>();
  for (const outcome of ok.values) {
    if (!isPlainObject(outcome.value)) return { ok: false, error: `merge takes objects, and \`${outcome.source}\` gave ${describe(outcome.value)}` };
    const error = mergeInto(merged, outcome.value, [], outcome.source, setBy, onConflict);
    if (error) return { ok: false, error };
  }
  return { ok: true, value: merged };
}

function mergeInto(
  target: Record<string, unknown>,
  source: Record<string, unknown>,
  path: string[],
  from: string,
  setBy: Map<string, string>,
  onConflict: 'error' | 'first' | 'last',
): string | null {
  for (const [key, value] of Object.entries(source)) {
    if (value === undefined) continue;
    const keyPath = [...path, key];
    const shown = keyPath.join('.');
    if (!Object.hasOwn(target, key)) {
      target[key] = isPlainObject(value) ? structuredClone(value) : value;
      setBy.set(shown, from);
      continue;
    }
    const existing = target[key];
    if (isPlainObject(existing) && isPlainObject(value)) {
      const error = mergeInto(existing, value, keyPath, from, setBy, onConflict);
      if (error) return error;
      continue;
    }
    if (canonicalJson(existing) === canonicalJson(value)) continue;
    const earlier = setBy.get(shown) ?? ownerOf(setBy, keyPath) ?? 'an earlier result';
    if (onConflict === 'error') {
      return `merge conflict at \`${shown}\`: \`${earlier}\` gave ${canonicalJson(existing)}, \`${from}\` gave ${canonicalJson(value)}`;
    }
    if (onConflict === 'last') {
      target[key] = isPlainObject(value) ? structuredClone(value) : value;
      setBy.set(shown, from);
    }
  }
  return null;
}

/** Who set the object a nested key path sits in (when a whole object was set at once). */
function ownerOf(setBy: Map<string, string>, keyPath: string[]): string | undefined {
  for (let n = keyPath.length - 1; n > 0; n--) {
    const owner = setBy.get(keyPath.slice(0, n).join('.'));
    if (owner) return owner;
  }
  return undefined;
}

/** Lists concatenated in order, or texts joined with `separator`; a mix, or any other value, fails. */
export function concat(outcomes: readonly Outcome[], { separator = '\n', allowFailures = false } = {}): AggregateResult {
  const ok = succeeded(outcomes, allowFailures);
  if (!ok.ok) return ok;
  const first = ok.values[0]!;
  if (Array.isArray(first.value)) {
    const odd = ok.values.find((o) => !Array.isArray(o.value));
    if (odd) return { ok: false, error: `concat joins lists or texts, and \`${odd.source}\` gave ${describe(odd.value)} after \`${first.source}\` gave a list` };
    return { ok: true, value: ok.values.flatMap((o) => o.value as unknown[]) };
  }
  if (typeof first.value === 'string') {
    const odd = ok.values.find((o) => typeof o.value !== 'string');
    if (odd) return { ok: false, error: `concat joins lists or texts, and \`${odd.source}\` gave ${describe(odd.value)} after \`${first.source}\` gave a text` };
    return { ok: true, value: ok.values.map((o) => o.value as string).join(separator) };
  }
  return { ok: false, error: `concat joins lists or texts, and \`${first.source}\` gave ${describe(first.value)}` };
}

/**
 * The value most results agree on, comparing JSON with sorted keys (so key order does not matter). A tie for the most
 * votes: `first` picks, of the tied values, the one whose first vote came earliest in order; `fail` fails naming them.
 */
export function majority(outcomes: readonly Outcome[], { tie = 'first', allowFailures = false }: { tie?: 'first' | 'fail'; allowFailures?: boolean } = {}): AggregateResult {
  const ok = succeeded(outcomes, allowFailures);
  if (!ok.ok) return ok;
  // Map keeps insertion order: the order of each value's first vote.
  const votes = new Map<string, { value: unknown; count: number; sources: string[] }>();
  for (const outcome of ok.values) {
    const key = canonicalJson(outcome.value ?? null);
    const entry = votes.get(key);
    if (entry) {
      entry.count++;
      entry.sources.push(outcome.source);
    } else votes.set(key, { value: outcome.value ?? null, count: 1, sources: [outcome.source] });
  }
  const most = Math.max(...[...votes.values()].map((v) => v.count));
  const leaders = [...votes.entries()].filter(([, v]) => v.count === most);
  if (leaders.length > 1 && tie === 'fail') {
    return { ok: false, error: `no majority: ${leaders.map(([key, v]) => `${key} (${v.sources.map((s) => `\`${s}\``).join(', ')})`).join(' ties with ')}, ${most} vote${most === 1 ? '' : 's'} each` };
  }
  return { ok: true, value: leaders[0]![1].value };
}

/**
 * The result of the dependency that succeeded first: the earliest `finishedAt`, outcomes without one after those
 * with one, ties by order. Failures are skipped; it fails only when every one failed.
 */
export function firstSuccess(outcomes: readonly Outcome[]): AggregateResult {
  let best: Outcome | undefined;
  for (const outcome of outcomes) {
    if (!outcome.ok) continue;
    if (!best || (outcome.finishedAt ?? Infinity) < (best.finishedAt ?? Infinity)) best = outcome;
  }
  if (best) return { ok: true, value: best.value ?? null };
  if (outcomes.length === 0) return { ok: false, error: 'there are no results to aggregate' };
  return { ok: false, error: `all ${outcomes.length} failed; the first: \`${outcomes[0]!.source}\`: ${outcomes[0]!.error ?? 'no reason given'}` };
}
