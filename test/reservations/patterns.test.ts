/** The overlap rule of reservation patterns (src/main/reservations/patterns.ts): when two patterns can share a path. */
import picomatch from 'picomatch';
import { describe, expect, it } from 'vitest';
import { compilePattern, patternsOverlap } from '../../src/main/reservations/patterns';

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
});
