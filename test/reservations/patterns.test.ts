/** The overlap rule of reservation patterns (src/main/reservations/patterns.ts): when two patterns can share a path. */
import picomatch from 'picomatch';
import { describe, expect, it } from 'vitest';
import { compilePattern, patternsOverlap } from '../../src/main/reservations/patterns';
import { mulberry32 } from '../support/seeded-random';

const overlap = (a: string, b: string) => patternsOverlap(compilePattern(a), compilePattern(b));

describe('reservation pattern overlap', () => {
  it.each([
    ['src/a.ts', 'src/a.ts', true],
    ['src/a.ts', 'src/b.ts', false],
    ['src', 'src/a.ts', true], // a plain path without an extension is a folder with all in it
    ['src/auth', 'src/authz.ts', false],
    ['src/a.ts', 'src/a.ts/x', false], // a name with an extension is a file
    ['.github', '.github/workflows/ci.yml', true],
    ['src/**', 'src/a/b.ts', true],
    ['src/*.ts', 'src/a.ts', true],
    ['src/*.ts', 'src/a.md', false],
    ['src/*.ts', 'src/auth', false], // one segment deep: nothing under src/auth
    ['src/**/*.ts', 'src/auth', true],
    ['**/*.ts', 'README.md', false],
    ['*.ts', '*.md', false],
    ['src/*.ts', 'src/a*', true],
    ['src/a?.ts', 'src/ab.ts', true],
    ['test/*.test.ts', 'test/*.spec.ts', false],
    ['docs/**', 'src/**', false],
    ['app/[id]/page.tsx', 'app/[id]/page.tsx', true], // a literal bracket folder, as Next.js names them
    ['app/[id]/page.tsx', 'app/x/page.tsx', false],
    ['src/{a,b}/c.ts', 'src/b/c.ts', true],
    ['src/{a,b}/c.ts', 'lib/b/c.ts', false],
    ['*', '.env', true],
    ['src/*/x.ts', 'src/a/b/x.ts', false],
    ['src/**/x.ts', 'src/a/b/x.ts', true],
    ['a/**/b', 'a/b', true],
    ['src/**/*.test.ts', 'src/**/fixtures/**', true],
  ])('%s and %s: %s', (a, b, expected) => {
    expect(overlap(a, b)).toBe(expected);
    expect(overlap(b, a)).toBe(expected);
  });

  it('never misses a path that picomatch says both globs match', () => {
    const globs = ['src/**', 'src/*.ts', '**/*.ts', 'src/**/*.test.ts', '*.json', 'src/a?.ts', 'src/[ab].ts', 'docs/**/*.md', 'src/*/index.ts', '**/index.*'];
    const paths = ['src/a.ts', 'src/ab.ts', 'src/b.ts', 'src/x/index.ts', 'src/x/y.test.ts', 'package.json', 'docs/a/b.md', 'lib/index.js', 'src/index.ts'];
    for (const a of globs) {
      for (const b of globs) {
        const shared = paths.filter((path) => picomatch(a, { dot: true })(path) && picomatch(b, { dot: true })(path));
        if (shared.length > 0) expect(overlap(a, b), `${a} and ${b} share ${shared[0]}`).toBe(true);
      }
    }
  });

  it('is sound on random globs: whenever picomatch finds a path both match, they are said to overlap', () => {
    const random = mulberry32(1206);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
    const SEGMENTS = ['a', 'b', 'ab', '*', 'a*', '*b', '?', '??', '**', '[ab]', '{a,ba}', '.a', '*.x', 'a.x'] as const;
    const NAMES = ['a', 'b', 'ab', 'ba', 'aa', '.a', 'a.x', 'b.x'] as const;
    const randomPattern = () => Array.from({ length: 1 + Math.floor(random() * 4) }, () => pick(SEGMENTS)).join('/');
    // Every path of 1 to 4 names: 8 + 64 + 512 + 4096.
    const paths: string[] = [];
    const grow = (prefix: string[], depth: number): void => {
      if (prefix.length > 0) paths.push(prefix.join('/'));
      if (depth === 0) return;
      for (const name of NAMES) grow([...prefix, name], depth - 1);
    };
    grow([], 4);
    let overlapping = 0;
    for (let round = 0; round < 300; round++) {
      const [a, b] = [randomPattern(), randomPattern()];
      const [matchA, matchB] = [picomatch(a, { dot: true }), picomatch(b, { dot: true })];
      const shared = paths.find((path) => matchA(path) && matchB(path));
      if (shared === undefined) continue;
      overlapping++;
      expect(overlap(a, b), `${a} and ${b} both match ${shared}`).toBe(true);
      expect(overlap(b, a), `${b} and ${a} both match ${shared}`).toBe(true);
    }
    // The draw is fixed: enough pairs that do overlap for the check to mean something.
    expect(overlapping).toBeGreaterThan(30);
  });
});
