/**
 * Errors that span several lines, kept whole: stack traces (JavaScript/TypeScript, Python, Java, Go, Rust, vitest),
 * Rust compiler diagnostics, npm error dumps, and a failing-test line together with the trace under it.
 * Single-line errors ("Error: …", log lines at ERROR level, exit codes, TS diagnostics) are matched per sentence by
 * `matchSingleLineError`.
 */

export type TraceLanguage = 'javascript' | 'python' | 'java' | 'go' | 'rust' | 'npm' | 'unknown';

export interface ErrorBlock {
  /** 0-based line indices of the working text, inclusive. */
  startLine: number;
  endLine: number;
  language: TraceLanguage;
  errorType: string | null;
  message: string | null;
  frames: number;
  /** Where it happened: the innermost frame that has a file. */
  path?: string;
  line?: number;
  column?: number;
  function?: string;
  /** The failing test this trace belongs to. */
  test?: string;
}

const JS_FRAME = /^\s*at\s+(?:async\s+)?(?:new\s+)?(?:(\S+?)\s+\((.+?):(\d+)(?::(\d+))?\)|(\S+?):(\d+)(?::(\d+))?|(\S+)\s+\((?:native|<anonymous>|index \d+)\))\s*$/;
const JAVA_FRAME = /^\s*at\s+([\w$.<>/]+)\(([^():]*?)(?::(\d+))?\)\s*$/;
const VITEST_FRAME = /^\s*❯\s+(?:(\S+)\s+)?(\S+?):(\d+):(\d+)\s*$/;
const MORE_FRAMES = /^\s*\.\.\. \d+ (?:more|common frames omitted)\s*$/;
const CAUSE = /^\s*(?:Caused by:|\[cause\]:|Suppressed:)\s*/;
const HEADER =
  /^\s*(?:Uncaught\s+(?:\(in promise\)\s+)?)?(?:Exception in thread "[^"]*"\s+)?((?:[A-Za-z_$][\w$]*\.)*[A-Za-z_$][\w$]*(?:Error|Exception|Failure|Fault|Panic)|Error|AssertionError)(?:\s*\[[\w-]+\])?(?::\s*(.*)|\s*$)/;
const PY_TRACEBACK = /^\s*Traceback \(most recent call last\):\s*$/;
const PY_FRAME = /^\s*File "([^"]+)", line (\d+)(?:, in (\S+))?/;
const PY_CHAIN = /^\s*(?:During handling of the above exception|The above exception was the direct cause)/;
const GO_PANIC = /^\s*(?:panic|fatal error):\s+(.*)$/;
const GO_LINE = /^(?:goroutine \d+ \[.*\]:|\[signal .*\]|created by .+|exit status \d+|\s+.+\.go:\d+(?: \+0x[0-9a-f]+)?|[\w./*()[\]{}-]+\(.*\)|\t.+)$/;
const GO_FILE = /^\s+(\S+\.go):(\d+)/;
const RUST_PANIC = /^\s*thread '([^']*)' panicked at (?:'(.*)', )?(\S+?):(\d+):(\d+):?\s*$/;
const RUST_LINE = /^\s*(?:note: .*|stack backtrace:|\d+:\s+.+|at\s+.+:\d+(?::\d+)?|error: .*)$/;
const RUST_DIAGNOSTIC = /^\s*(error|warning)(\[E\d{4}\])?:\s+(.+)$/;
const RUST_LOCATION = /^\s*-->\s+(\S+?):(\d+):(\d+)/;
const NPM_ERROR = /^\s*(?:npm|gyp|yarn|pnpm) (?:ERR!|error)\s/;
const CARET = /^\s*\^+\s*$/;

/** Lines that name a failing test (vitest/jest, pytest, go test, cargo test). */
const TEST_FAILURES: Array<[RegExp, number]> = [
  [/^\s*(?:FAIL|✗|×|✕|❌)\s+(.+?)(?:\s+\d+\s*ms)?\s*$/, 1],
  [/^\s*●\s+(.+ › .+?)\s*$/, 1],
  [/^\s*FAILED\s+(\S+::\S+)(?:\s+-\s+.*)?$/, 1],
  [/^\s*(\S+::\S+)\s+FAILED\b/, 1],
  [/^\s*--- FAIL:\s+(\S+)/, 1],
  [/^\s*test\s+(\S+)\s+\.\.\.\s+FAILED\s*$/, 1],
];

export function matchTestFailure(line: string): string | null {
  for (const [pattern, group] of TEST_FAILURES) {
    const match = pattern.exec(line);
    if (match) return match[group]!.trim();
  }
  return null;
}

/** Tool-output gutters ("  ⎿  FAIL …" in Claude Code transcripts) are indentation, not content. */
export function stripGutters(lines: string[]): string[] {
  return lines.map((line) => (line.includes('⎿') ? line.replace(/^(\s*)⎿\s?/, '$1 ') : line));
}

/** Finds multi-line error blocks among the lines for which `allowed(i)` holds (e.g. outside code fences). */
export function findErrorBlocks(lines: string[], allowed: (line: number) => boolean, from = 0, to = lines.length): ErrorBlock[] {
  const blocks: ErrorBlock[] = [];
  const ok = (i: number) => i >= from && i < to && allowed(i);
  for (let i = from; i < to; i++) {
    if (!ok(i)) continue;
    const block = scanAt(lines, i, ok);
    if (block && block.endLine > block.startLine) {
      blocks.push(block);
      i = block.endLine;
    }
  }
  return blocks;
}

function scanAt(lines: string[], i: number, ok: (i: number) => boolean): ErrorBlock | null {
  const line = lines[i]!;
  if (PY_TRACEBACK.test(line)) return scanPython(lines, i, ok);
  const go = GO_PANIC.exec(line);
  if (go) return scanGo(lines, i, ok, go[1]!);
  const rust = RUST_PANIC.exec(line);
  if (rust) return scanRustPanic(lines, i, ok, rust);
  const diagnostic = RUST_DIAGNOSTIC.exec(line);
  if (diagnostic && ok(i + 1) && RUST_LOCATION.test(lines[i + 1]!)) return scanRustDiagnostic(lines, i, ok, diagnostic);
  if (NPM_ERROR.test(line) && ok(i + 1) && NPM_ERROR.test(lines[i + 1]!)) {
    let end = i;
    while (ok(end + 1) && NPM_ERROR.test(lines[end + 1]!)) end++;
    const texts = lines.slice(i, end + 1).map((l) => l.replace(NPM_ERROR, '').replace(/^stack\s+/, '').trim());
    // The line that names the error says more than the first one ("find VS" before "Error: Could not find…").
    const named = texts.map((t) => INLINE_EXCEPTION.exec(t)).find((m) => m !== null);
    const message = named?.[2]?.trim() ?? texts.find((l) => l !== '') ?? null;
    const frames = texts.filter((t) => /^at\s/.test(t)).length;
    return { startLine: i, endLine: end, language: 'npm', errorType: named?.[1] ?? `${/^\s*(\w+)/.exec(line)![1]} ERR!`, message, frames };
  }
  if (PYTEST_SECTION.test(line)) {
    const block = scanPytest(lines, i, ok);
    if (block) return block;
  }
  const test = matchTestFailure(line);
  if (test !== null) {
    // The trace printed under a failing test belongs to it.
    for (let j = i + 1; j <= i + 4 && ok(j); j++) {
      const trace = scanHeaderWithFrames(lines, j, ok) ?? (PY_TRACEBACK.test(lines[j]!) ? scanPython(lines, j, ok) : null);
      if (trace && trace.endLine > trace.startLine) return { ...trace, startLine: i, test };
    }
    return null;
  }
  return scanHeaderWithFrames(lines, i, ok);
}

const PYTEST_SECTION = /^_{3,} (\S.*?) _{3,}\s*$/;
const PYTEST_E_LINE = /^E\s+(.*)$/;
const PYTEST_LOCATION = /^(\S+\.py):(\d+): (\w[\w.]*)\s*$/;

/** A pytest failure section: "____ test_name ____", the test's source, "E   ValueError: …" and "path.py:14: ValueError". */
function scanPytest(lines: string[], i: number, ok: (i: number) => boolean): ErrorBlock | null {
  const test = PYTEST_SECTION.exec(lines[i]!)![1]!;
  let end = i;
  let message: string | null = null;
  let errorType: string | null = null;
  let where: Pick<ErrorBlock, 'path' | 'line'> | null = null;
  let frames = 0;
  for (let j = i + 1; ok(j) && j <= i + 200; j++) {
    const text = lines[j]!;
    if (/^(?:_{3,} |={3,})/.test(text)) break;
    const e = PYTEST_E_LINE.exec(text);
    if (e && message === null) {
      const typed = /^([A-Za-z_][\w.]*(?:Error|Exception|Failure|Warning|Exit)?):\s*(.*)$/.exec(e[1]!.trim());
      errorType = typed?.[1] ?? null;
      message = (typed?.[2] ?? e[1]!).trim();
    }
    const location = PYTEST_LOCATION.exec(text);
    if (location) {
      frames++;
      where = { path: location[1]!, line: Number(location[2]) };
      errorType ??= location[3]!;
    }
    if (text.trim() !== '') end = j;
  }
  if (message === null && where === null) return null;
  return { startLine: i, endLine: end, language: 'python', errorType, message, frames, test, ...(where ?? {}) };
}

/** Where an error is the program's own, not a runtime's or a dependency's: the frame worth pointing at. */
function isUserFrame(location: Pick<ErrorBlock, 'path'>): boolean {
  const path = location.path ?? '';
  return path !== '' && !/^(?:node:|internal\/|<anonymous>|native)|node_modules[\\/]/.test(path);
}

/** "TypeError: x" (at a line's start, or after a log record's prefix) followed by stack frames. */
function scanHeaderWithFrames(lines: string[], i: number, ok: (i: number) => boolean): ErrorBlock | null {
  const header = HEADER.exec(lines[i]!) ?? (/Error|Exception/.test(lines[i]!) ? INLINE_EXCEPTION.exec(lines[i]!) : null);
  if (!header) return null;
  let first = -1;
  for (let j = i + 1; j <= i + 12 && ok(j); j++) {
    if (isFrame(lines[j]!)) {
      first = j;
      break;
    }
    if (HEADER.test(lines[j]!) && j > i + 1) break;
  }
  if (first === -1) return null;
  let end = first;
  let frames = 0;
  let where: Pick<ErrorBlock, 'path' | 'line' | 'column' | 'function'> | null = null;
  const java = /^Exception in thread|^\s*(?:java|javax|kotlin|scala|org|com)\.\w/.test(lines[i]!) || /\.(?:java|kt|scala):\d+\)\s*$/.test(lines[first]!);
  for (let j = first; ok(j); j++) {
    const text = lines[j]!;
    if (isFrame(text)) {
      frames++;
      // The first frame in the program's own code is the one that matters (not node:fs, not node_modules).
      const location = frameLocation(text);
      if (location && (where === null || (!isUserFrame(where) && isUserFrame(location)))) where = location;
      end = j;
    } else if (CAUSE.test(text) || (HEADER.test(text) && ok(j + 1) && isFrame(lines[j + 1]!))) {
      end = j;
    } else if (text.trim() === '' && ok(j + 1) && (isFrame(lines[j + 1]!) || CAUSE.test(lines[j + 1]!))) {
      continue;
    } else break;
  }
  // Node prints the error's own properties in braces after the frames, and its version last.
  if (/\{\s*$/.test(lines[end]!) || (ok(end + 1) && /^\s*\{\s*$/.test(lines[end + 1]!)) || /\{\s*$/.test(lines[i]!)) {
    for (let j = end + 1; j <= end + 20 && ok(j); j++) {
      if (/^\s*\}\s*$/.test(lines[j]!)) {
        end = j;
        break;
      }
      if (!/^\s+[\w'"[\]]+:\s|^\s*\{\s*$/.test(lines[j]!)) break;
    }
  }
  if (ok(end + 1) && /^\s*Node\.js v\d/.test(lines[end + 1]!)) end++;
  else if (ok(end + 2) && lines[end + 1]!.trim() === '' && /^\s*Node\.js v\d/.test(lines[end + 2]!)) end += 2;
  let start = i;
  // A log record that announces the error ("ERROR [api] unhandled error in GET /x") belongs with it.
  if (ok(i - 1) && LOG_LEVEL_ERROR.test(lines[i - 1]!) && !HEADER.test(lines[i - 1]!)) start = i - 1;
  // Node prints "file.js:12", the source line and a caret above the error.
  for (let k = i - 1; k >= Math.max(0, i - 4); k--) {
    if (!ok(k)) break;
    if (CARET.test(lines[k]!) && k >= 2 && ok(k - 2) && /:\d+\s*$/.test(lines[k - 2]!)) {
      start = k - 2;
      break;
    }
  }
  return {
    startLine: start,
    endLine: end,
    language: java ? 'java' : 'javascript',
    errorType: header[1]!,
    message: header[2]?.trim() || null,
    frames,
    ...(where ?? {}),
  };
}

function isFrame(line: string): boolean {
  return JS_FRAME.test(line) || JAVA_FRAME.test(line) || VITEST_FRAME.test(line) || MORE_FRAMES.test(line);
}

function frameLocation(line: string): Pick<ErrorBlock, 'path' | 'line' | 'column' | 'function'> | null {
  const vitest = VITEST_FRAME.exec(line);
  if (vitest) return { path: vitest[2]!, line: Number(vitest[3]), column: Number(vitest[4]), ...(vitest[1] ? { function: vitest[1] } : {}) };
  const js = JS_FRAME.exec(line);
  if (js) {
    if (js[2]) return { function: js[1]!, path: cleanFramePath(js[2]), line: Number(js[3]), ...(js[4] ? { column: Number(js[4]) } : {}) };
    if (js[5]) return { path: cleanFramePath(js[5]), line: Number(js[6]), ...(js[7] ? { column: Number(js[7]) } : {}) };
    return null;
  }
  const java = JAVA_FRAME.exec(line);
  if (java) return { function: java[1]!, ...(java[2] ? { path: java[2] } : {}), ...(java[3] ? { line: Number(java[3]) } : {}) };
  return null;
}

function cleanFramePath(path: string): string {
  return path.replace(/^file:\/\//, '');
}

function scanPython(lines: string[], i: number, ok: (i: number) => boolean): ErrorBlock {
  let end = i;
  let frames = 0;
  let where: Pick<ErrorBlock, 'path' | 'line' | 'function'> | null = null;
  let errorType: string | null = null;
  let message: string | null = null;
  let j = i + 1;
  for (;;) {
    while (ok(j) && (/^\s+\S/.test(lines[j]!) || lines[j]!.trim() === '' && ok(j + 1) && /^\s+\S/.test(lines[j + 1]!))) {
      const frame = PY_FRAME.exec(lines[j]!);
      if (frame) {
        frames++;
        where = { path: frame[1]!, line: Number(frame[2]), ...(frame[3] ? { function: frame[3] } : {}) };
      }
      end = j++;
    }
    // The exception line ends the traceback.
    if (ok(j) && /^[A-Za-z_][\w.]*(?::\s*.*)?$/.test(lines[j]!.trim()) && lines[j]!.trim() !== '') {
      const exception = /^([A-Za-z_][\w.]*)(?::\s*(.*))?$/.exec(lines[j]!.trim())!;
      errorType = exception[1]!;
      message = exception[2]?.trim() || null;
      end = j++;
    }
    // Chained exceptions: "During handling of the above exception, another exception occurred:" + a new traceback.
    let k = j;
    while (ok(k) && lines[k]!.trim() === '') k++;
    if (ok(k) && PY_CHAIN.test(lines[k]!)) {
      let t = k + 1;
      while (ok(t) && lines[t]!.trim() === '') t++;
      if (ok(t) && PY_TRACEBACK.test(lines[t]!)) {
        end = t;
        j = t + 1;
        continue;
      }
    }
    break;
  }
  return { startLine: i, endLine: end, language: 'python', errorType, message, frames, ...(where ?? {}) };
}

function scanGo(lines: string[], i: number, ok: (i: number) => boolean, message: string): ErrorBlock {
  let end = i;
  let frames = 0;
  let where: Pick<ErrorBlock, 'path' | 'line'> | null = null;
  for (let j = i + 1; ok(j); j++) {
    const text = lines[j]!;
    if (text.trim() === '') {
      if (ok(j + 1) && GO_LINE.test(lines[j + 1]!)) continue;
      break;
    }
    if (!GO_LINE.test(text)) break;
    const file = GO_FILE.exec(text);
    if (file) {
      frames++;
      where ??= { path: file[1]!, line: Number(file[2]) };
    }
    end = j;
  }
  return { startLine: i, endLine: end, language: 'go', errorType: 'panic', message, frames, ...(where ?? {}) };
}

function scanRustPanic(lines: string[], i: number, ok: (i: number) => boolean, header: RegExpExecArray): ErrorBlock {
  let end = i;
  let frames = 0;
  let message = header[2] ?? null;
  for (let j = i + 1; ok(j); j++) {
    const text = lines[j]!;
    if (text.trim() === '') break;
    if (RUST_LINE.test(text)) {
      if (/^\s*\d+:\s/.test(text)) frames++;
      end = j;
    } else if (message === null && j === i + 1) {
      message = text.trim();
      end = j;
    } else break;
  }
  return { startLine: i, endLine: end, language: 'rust', errorType: 'panic', message, frames, path: header[3]!, line: Number(header[4]), column: Number(header[5]) };
}

function scanRustDiagnostic(lines: string[], i: number, ok: (i: number) => boolean, header: RegExpExecArray): ErrorBlock {
  let end = i;
  for (let j = i + 1; ok(j) && lines[j]!.trim() !== ''; j++) end = j;
  const location = RUST_LOCATION.exec(lines[i + 1]!)!;
  return {
    startLine: i,
    endLine: end,
    language: 'rust',
    errorType: header[2] ? header[2].slice(1, -1) : header[1]!,
    message: header[3]!.trim(),
    frames: 0,
    path: location[1]!,
    line: Number(location[2]),
    column: Number(location[3]),
  };
}

export interface SingleLineError {
  errorType: string | null;
  message: string;
  exitCode?: number;
  path?: string;
  line?: number;
  column?: number;
  code?: string;
  test?: string;
  /** How sure: 1 for explicit error syntax, lower for prose mentions. */
  strength: number;
}

const MAYBE_ERROR = /err|fail|fatal|exception|critical|panic|severe|exit|status|code|✗|×|✕|❌|●|E[A-Z]{3,}|not found|No such|denied|fault|dumped|Killed|memory/i;
const TS_DIAGNOSTIC = /(?<!\S)(\S+?\.[cm]?[jt]sx?)(?:\((\d+),(\d+)\)|:(\d+):(\d+))\s*[:-]?\s*error\s+(TS\d+)\s*:\s*(.+)$/;
const LOG_LEVEL_ERROR = /^\s*(?:\[?[\d\-T:.,+Z/ ]{8,}\]?\s*)?(?:\[\s*)?(?:ERROR|FATAL|CRITICAL|PANIC|SEVERE)\b\s*\]?\s*[:\-|]?\s*(.*)$/;
const PREFIX_ERROR = /^\s*(?:[\w.-]+:\s+)?(?:error|fatal|failed|failure)(?:\[[\w-]+\])?\s*:\s*(\S.*)$/i;
const INLINE_EXCEPTION = /\b((?:[A-Z][\w$]*)?(?:Error|Exception))\b(?:\s*\[[\w-]+\])?:\s+(\S.*)$/;
const EXIT_CODE = /\b(?:exit(?:ed)?\s+(?:with\s+)?(?:code|status)|exit code|(?:returned|failed with)\s+(?:a\s+)?(?:non-zero\s+)?(?:exit\s+)?(?:code|status))\s*:?\s*(-?\d+)/i;
const MAKE_ERROR = /^\s*make(?:\[\d+\])?: \*\*\* .*Error (\d+)/;
const ERRNO = /\b(ENOENT|EACCES|EPERM|ECONNREFUSED|ECONNRESET|EADDRINUSE|ETIMEDOUT|EEXIST|ENOTFOUND|EMFILE|ERR_[A-Z_]{4,})\b/;
const SHELL_FAILURES = /\b(?:command not found|No such file or directory|Permission denied|Segmentation fault|core dumped|Killed|out of memory|OOMKilled)\b/;

/** An error stated on one line or sentence, or null. */
export function matchSingleLineError(text: string): SingleLineError | null {
  // Cheap screens first: most sentences mention no error at all.
  if (!MAYBE_ERROR.test(text)) return null;
  const ts = text.includes('TS') ? TS_DIAGNOSTIC.exec(text) : null;
  if (ts) {
    return {
      errorType: ts[6]!,
      message: ts[7]!.trim(),
      path: ts[1]!,
      line: Number(ts[2] ?? ts[4]),
      column: Number(ts[3] ?? ts[5]),
      code: ts[6]!,
      strength: 1,
    };
  }
  const test = matchTestFailure(text);
  if (test !== null) return { errorType: 'test failure', message: text.trim(), test, strength: 1 };
  const header = /Error|Exception/.test(text) ? HEADER.exec(text) ?? INLINE_EXCEPTION.exec(text) : null;
  if (header) {
    const errno = ERRNO.exec(text)?.[1];
    return { errorType: header[1]!, message: (header[2] ?? '').trim() || text.trim(), ...(errno ? { code: errno } : {}), strength: 1 };
  }
  const level = LOG_LEVEL_ERROR.exec(text);
  if (level) return { errorType: 'log error', message: level[1]!.trim() || text.trim(), strength: 0.9 };
  const prefixed = PREFIX_ERROR.exec(text);
  if (prefixed) return { errorType: 'error', message: prefixed[1]!.trim(), strength: 0.9 };
  const make = MAKE_ERROR.exec(text);
  if (make) return { errorType: 'exit code', message: text.trim(), exitCode: Number(make[1]), strength: 0.9 };
  const exit = EXIT_CODE.exec(text);
  if (exit && Number(exit[1]) !== 0) return { errorType: 'exit code', message: text.trim(), exitCode: Number(exit[1]), strength: 0.8 };
  const errno = ERRNO.exec(text);
  if (errno) return { errorType: errno[1]!, message: text.trim(), code: errno[1]!, strength: 0.8 };
  if (SHELL_FAILURES.test(text)) return { errorType: 'shell', message: text.trim(), strength: 0.7 };
  return null;
}
