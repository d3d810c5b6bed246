/**
 * Whether two reservation patterns can match a common path: the geometry behind the conflict rule. Sound, not exact:
 * when two globs might share a path the answer is yes, so a conflict is never missed (at worst one is reported that
 * no real file would hit).
 *
 * A pattern is split into '/'-separated segments, each one of:
 * - a literal segment (no glob syntax): matches itself;
 * - `**`: any number of segments, none included (as picomatch's globstar);
 * - a glob segment (`*.ts`, `a?c`, `[id]`, `*.{ts,tsx}`): matches within one segment.
 * A plain path (no glob syntax at all) names a file or a folder with everything in it, so it is read as `path/**`;
 * except when its last name has an extension (`a.ts`, `README.md`: a dot after the first character), which names a
 * file (a folder named like that is reserved as `v1.2/**`).
 * Two sequences overlap when some path matches both, decided by walking both with the globstars free to take any
 * number of segments. Two segments overlap when: both literal and equal; literal and glob, when picomatch says the
 * glob matches the literal (or it is the same text, for names such as Next's `[id]` folders); both globs, when their
 * fixed starts (before the first glob character) and fixed ends (after the last) can belong to one name. A brace or
 * extglob group that spans a '/' makes the rest of that pattern `**` (after its fixed base, from picomatch's scan).
 * Matching is case-sensitive, as git is, and `*` matches names starting with a dot.
 */
import picomatch from 'picomatch';

type Segment =
  | { kind: 'globstar' }
  | { kind: 'literal'; text: string }
  | { kind: 'glob'; text: string; head: string; tail: string; matches: (name: string) => boolean };

export interface CompiledPattern {
  readonly source: string;
  readonly segments: readonly Segment[];
}

const GLOB_CHAR = /[*?[\]{}()!+@]/;
const GLOBSTAR: Segment = { kind: 'globstar' };
/** A name with an extension: a file, not a folder. */
const FILE_NAME = /^.+\.[^.]+$/;

/**
 * A concrete file, named as git names it: every segment literal, whatever characters it holds (a Next.js
 * `app/[id]/page.tsx`, a `notes/*draft*.md`), and a file, never a folder. Held globs still match it as globs.
 */
export function compileFile(source: string): CompiledPattern {
  return { source, segments: source.split('/').map(literal) };
}

export function compilePattern(source: string): CompiledPattern {
  const scan = picomatch.scan(source);
  if (!scan.isGlob) {
    const names = source.split('/').map(literal);
    return { source, segments: FILE_NAME.test(source.slice(source.lastIndexOf('/') + 1)) ? names : [...names, GLOBSTAR] };
  }
  const base = scan.base ? scan.base.split('/').map(literal) : [];
  const rest = scan.glob;
  // A group such as {a,b/c} or @(x|y/z) may stand for several segments: anything under the base may match.
  if (/[{(]/.test(rest) && rest.includes('/')) return { source, segments: [...base, GLOBSTAR] };
  return { source, segments: [...base, ...rest.split('/').map(segment)] };
}

/**
 * Whether some path can match both patterns. Matching is anchored at both ends, so leading and trailing segments
 * that are not globstars must overlap pairwise (most pairs fail right there, in a few string comparisons). What is
 * left in the middle: if both middles hold a globstar, a path exists (one side's globstar takes the other's fixed
 * segments); otherwise a walk of both settles it.
 */
export function patternsOverlap(a: CompiledPattern, b: CompiledPattern): boolean {
  const x = a.segments;
  const y = b.segments;
  let [i0, i1, j0, j1] = [0, x.length, 0, y.length];
  while (i0 < i1 && j0 < j1 && x[i0]!.kind !== 'globstar' && y[j0]!.kind !== 'globstar') {
    if (!segmentsOverlap(x[i0++]!, y[j0++]!)) return false;
  }
  while (i0 < i1 && j0 < j1 && x[i1 - 1]!.kind !== 'globstar' && y[j1 - 1]!.kind !== 'globstar') {
    if (!segmentsOverlap(x[--i1]!, y[--j1]!)) return false;
  }
  const xs = x.slice(i0, i1);
  const ys = y.slice(j0, j1);
  const xStar = xs.some((segment) => segment.kind === 'globstar');
  const yStar = ys.some((segment) => segment.kind === 'globstar');
  if (xStar && yStar) return true;
  return sequencesOverlap(xs, ys);
}

function literal(text: string): Segment {
  return { kind: 'literal', text };
}

function segment(text: string): Segment {
  if (text === '**') return GLOBSTAR;
  if (!picomatch.scan(text).isGlob) return literal(text);
  const first = text.search(GLOB_CHAR);
  let last = text.length - 1;
  while (last >= 0 && !GLOB_CHAR.test(text[last]!)) last--;
  return { kind: 'glob', text, head: text.slice(0, first), tail: text.slice(last + 1), matches: picomatch(text, { dot: true }) };
}

function segmentsOverlap(a: Segment, b: Segment): boolean {
  if (a.kind === 'literal' && b.kind === 'literal') return a.text === b.text;
  if (a.kind === 'literal' && b.kind === 'glob') return literalFits(a.text, b);
  if (a.kind === 'glob' && b.kind === 'literal') return literalFits(b.text, a);
  if (a.kind === 'glob' && b.kind === 'glob') {
    if (a.text === b.text) return true;
    const headsFit = a.head.startsWith(b.head) || b.head.startsWith(a.head);
    const tailsFit = a.tail.endsWith(b.tail) || b.tail.endsWith(a.tail);
    return headsFit && tailsFit;
  }
  return true;
}

/** A literal name against a glob name: the same text (Next's `[id]`), or picomatch's match (after a cheap look at the fixed ends). */
function literalFits(name: string, glob: Extract<Segment, { kind: 'glob' }>): boolean {
  if (name === glob.text) return true;
  return name.startsWith(glob.head) && name.endsWith(glob.tail) && glob.matches(name);
}

/** Walks both sequences at once; a globstar may take none or any number of the other side's segments. */
function sequencesOverlap(a: readonly Segment[], b: readonly Segment[]): boolean {
  const seen = new Set<number>();
  const width = b.length + 1;
  const walk = (i: number, j: number): boolean => {
    const key = i * width + j;
    if (seen.has(key)) return false;
    seen.add(key);
    if (i === a.length && j === b.length) return true;
    const x = a[i];
    const y = b[j];
    if (x?.kind === 'globstar') return walk(i + 1, j) || (j < b.length && walk(i, j + 1));
    if (y?.kind === 'globstar') return walk(i, j + 1) || (i < a.length && walk(i + 1, j));
    if (!x || !y) return false;
    return segmentsOverlap(x, y) && walk(i + 1, j + 1);
  };
  return walk(0, 0);
}
