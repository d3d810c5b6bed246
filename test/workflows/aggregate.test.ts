/** The fan-in aggregators: collect, merge (conflict rules), concat, majority (tie rules), first success, failures. */
import { describe, expect, it } from 'vitest';
import { aggregate, collect, concat, firstSuccess, majority, merge } from '../../src/main/workflows';
import { Aggregate, type Outcome } from '../../src/shared/workflow-protocol';

const ok = (source: string, value: unknown, finishedAt?: number): Outcome => ({ source, ok: true, value, ...(finishedAt === undefined ? {} : { finishedAt }) });
const failed = (source: string, error: string, finishedAt?: number): Outcome => ({ source, ok: false, error, ...(finishedAt === undefined ? {} : { finishedAt }) });

describe('collect', () => {
  it('lists the results in order', () => {
    expect(collect([ok('a', 1), ok('b', { x: 1 }), ok('c', null)])).toEqual({ ok: true, value: [1, { x: 1 }, null] });
  });

  it('fails on a failed dependency unless failures are allowed, and on none succeeding', () => {
    expect(collect([ok('a', 1), failed('b', 'boom'), failed('c', 'bang')])).toEqual({ ok: false, error: '`b` failed: boom (and 1 more failed)' });
    expect(collect([ok('a', 1), failed('b', 'boom')], { allowFailures: true })).toEqual({ ok: true, value: [1] });
    expect(collect([failed('a', 'x'), failed('b', 'y')], { allowFailures: true })).toEqual({ ok: false, error: 'all 2 failed' });
    expect(collect([])).toEqual({ ok: false, error: 'there are no results to aggregate' });
  });
});

describe('merge', () => {
  it('merges objects deeply; equal values agree', () => {
    const merged = merge([ok('a', { files: { 'a.ts': 1 }, owner: 'x', tags: ['t'] }), ok('b', { files: { 'b.ts': 2 }, owner: 'x', tags: ['t'] }), ok('c', { extra: { deep: { k: 1 } } })]);
    expect(merged).toEqual({ ok: true, value: { files: { 'a.ts': 1, 'b.ts': 2 }, owner: 'x', tags: ['t'], extra: { deep: { k: 1 } } } });
  });

  it('on a conflict fails naming the key and both sources, or keeps the first, or takes the last', () => {
    const outcomes = [ok('a', { cfg: { port: 1, host: 'h' } }), ok('b', { cfg: { port: 2 } }), ok('c', { cfg: { port: 3 } })];
    expect(merge(outcomes)).toEqual({ ok: false, error: 'merge conflict at `cfg.port`: `a` gave 1, `b` gave 2' });
    expect(merge(outcomes, { onConflict: 'first' })).toEqual({ ok: true, value: { cfg: { port: 1, host: 'h' } } });
    expect(merge(outcomes, { onConflict: 'last' })).toEqual({ ok: true, value: { cfg: { port: 3, host: 'h' } } });
    // A list is a leaf: lists that differ conflict, even when one extends the other.
    expect(merge([ok('a', { l: [1] }), ok('b', { l: [1, 2] })])).toEqual({ ok: false, error: 'merge conflict at `l`: `a` gave [1], `b` gave [1,2]' });
    // An object against a leaf conflicts too.
    expect(merge([ok('a', { k: { x: 1 } }), ok('b', { k: 'flat' })]).ok).toBe(false);
  });

  it('refuses a result that is not an object, and does not change the results it merges', () => {
    expect(merge([ok('a', { x: 1 }), ok('b', [1])])).toEqual({ ok: false, error: 'merge takes objects, and `b` gave a list' });
    const first = { nested: { a: 1 } };
    merge([ok('a', first), ok('b', { nested: { b: 2 } })]);
    expect(first).toEqual({ nested: { a: 1 } });
  });
});

describe('concat', () => {
  it('concatenates lists, or joins texts with the separator', () => {
    expect(concat([ok('a', [1, 2]), ok('b', []), ok('c', [[3]])])).toEqual({ ok: true, value: [1, 2, [3]] });
    expect(concat([ok('a', 'one'), ok('b', 'two')])).toEqual({ ok: true, value: 'one\ntwo' });
    expect(concat([ok('a', 'one'), ok('b', 'two')], { separator: ', ' })).toEqual({ ok: true, value: 'one, two' });
  });

  it('refuses a mix, or values that are neither', () => {
    expect(concat([ok('a', [1]), ok('b', 'x')])).toEqual({ ok: false, error: 'concat joins lists or texts, and `b` gave a text after `a` gave a list' });
    expect(concat([ok('a', 'x'), ok('b', 3)])).toEqual({ ok: false, error: 'concat joins lists or texts, and `b` gave a number after `a` gave a text' });
    expect(concat([ok('a', { x: 1 })])).toEqual({ ok: false, error: 'concat joins lists or texts, and `a` gave an object' });
  });
});

describe('majority', () => {
  it('picks the value most results agree on, comparing JSON whatever the key order', () => {
    expect(majority([ok('a', 'yes'), ok('b', 'no'), ok('c', 'yes')])).toEqual({ ok: true, value: 'yes' });
    expect(majority([ok('a', { v: 1, w: 2 }), ok('b', { w: 2, v: 1 }), ok('c', { v: 9 })])).toEqual({ ok: true, value: { v: 1, w: 2 } });
  });

  it('breaks a tie by the earliest first vote, or fails naming the tied values', () => {
    const tied = [ok('a', 'no'), ok('b', 'yes'), ok('c', 'yes'), ok('d', 'no'), ok('e', 'maybe')];
    expect(majority(tied)).toEqual({ ok: true, value: 'no' });
    expect(majority(tied, { tie: 'fail' })).toEqual({ ok: false, error: 'no majority: "no" (`a`, `d`) ties with "yes" (`b`, `c`), 2 votes each' });
    expect(majority([ok('a', 1)], { tie: 'fail' })).toEqual({ ok: true, value: 1 });
  });

  it('counts only successes when failures are allowed', () => {
    expect(majority([failed('a', 'x'), ok('b', 'y'), failed('c', 'z')], { allowFailures: true })).toEqual({ ok: true, value: 'y' });
    expect(majority([failed('a', 'x'), ok('b', 'y')]).ok).toBe(false);
  });
});

describe('first success', () => {
  it('takes the earliest finished success, skipping failures; ties and unknown times go by order', () => {
    expect(firstSuccess([ok('a', 'slow', 300), failed('b', 'x', 50), ok('c', 'fast', 100), ok('d', 'also fast', 100)])).toEqual({ ok: true, value: 'fast' });
    expect(firstSuccess([ok('a', 'no time'), ok('b', 'timed', 500)])).toEqual({ ok: true, value: 'timed' });
    expect(firstSuccess([ok('a', 'first'), ok('b', 'second')])).toEqual({ ok: true, value: 'first' });
  });

  it('fails only when every one failed', () => {
    expect(firstSuccess([failed('a', 'x'), failed('b', 'y')])).toEqual({ ok: false, error: 'all 2 failed; the first: `a`: x' });
  });
});

describe('aggregate, from a declared fan-in', () => {
  it('runs the aggregator a definition names, with its options and shorthand', () => {
    const outcomes = [ok('a', { k: 1 }), ok('b', { k: 2 })];
    expect(aggregate(Aggregate.parse('collect'), outcomes)).toEqual({ ok: true, value: [{ k: 1 }, { k: 2 }] });
    expect(aggregate(Aggregate.parse({ use: 'merge', onConflict: 'last' }), outcomes)).toEqual({ ok: true, value: { k: 2 } });
    expect(aggregate(Aggregate.parse('merge'), outcomes).ok).toBe(false);
    expect(aggregate(Aggregate.parse({ use: 'majority', tie: 'fail' }), outcomes).ok).toBe(false);
    expect(aggregate(Aggregate.parse('first-success'), [failed('a', 'x'), ok('b', 2)])).toEqual({ ok: true, value: 2 });
    expect(aggregate(Aggregate.parse({ use: 'concat', separator: '|' }), [ok('a', 'x'), ok('b', 'y')])).toEqual({ ok: true, value: 'x|y' });
    expect(aggregate(Aggregate.parse({ use: 'task', task: { title: 'sum' } }), outcomes)).toEqual({ ok: true, value: [{ k: 1 }, { k: 2 }] });
  });
});
