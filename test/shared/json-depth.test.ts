/** The nesting check behind MAX_JSON_DEPTH: brackets inside strings (escaped quotes included) never count. */
import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH } from '../../src/shared/agent-protocol';
import { nestsDeeperThan } from '../../src/shared/json-depth';

const bytes = (text: string) => Buffer.from(text);
const nested = (depth: number, inner = '0') => '['.repeat(depth) + inner + ']'.repeat(depth);

describe('nestsDeeperThan', () => {
  it('counts objects and arrays up to the limit and one past it', () => {
    expect(nestsDeeperThan(bytes(nested(MAX_JSON_DEPTH)))).toBe(false);
    expect(nestsDeeperThan(bytes(nested(MAX_JSON_DEPTH + 1)))).toBe(true);
    expect(nestsDeeperThan(bytes(nested(4)), 3)).toBe(true);
    expect(nestsDeeperThan(bytes(`{"a":${nested(3)}}`.padEnd(40)), 4)).toBe(false);
  });

  it('skips string contents, however many brackets and escaped quotes they hold', () => {
    const brackets = '['.repeat(MAX_JSON_DEPTH * 2);
    expect(nestsDeeperThan(bytes(JSON.stringify({ body: brackets })))).toBe(false);
    // Escaped quotes (\") inside the string do not end it; an escaped backslash before the closing quote (\\") does.
    expect(nestsDeeperThan(bytes(JSON.stringify({ body: `say "${brackets}" and \\`, then: [[[[0]]]] })), 3)).toBe(true);
    expect(nestsDeeperThan(bytes(JSON.stringify({ body: `\\"${brackets}\\\\"` }) + ' '.repeat(10)), 3)).toBe(false);
    expect(nestsDeeperThan(bytes(`["\\\\\\"${brackets}"]`))).toBe(false);
  });

  it('brackets after a string that ends in backslashes count again', () => {
    // "a\\\\" ends after two escaped backslashes: the brackets that follow are structure.
    const text = `["a\\\\\\\\", ${nested(5)}]`;
    expect(JSON.parse(text)).toHaveLength(2);
    expect(nestsDeeperThan(bytes(text), 5)).toBe(true);
    expect(nestsDeeperThan(bytes(text), 6)).toBe(false);
  });

  it('an unterminated string ends the scan without throwing', () => {
    expect(nestsDeeperThan(bytes(`["${'['.repeat(2000)}`))).toBe(false);
  });
});
