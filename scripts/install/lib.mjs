// Small helpers shared by the install steps in this folder (built-ins only).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * Runs a command without a shell, captures its output, and kills it (with its whole process group on POSIX)
 * when it takes longer than `timeoutMs`. Never rejects: the result says what happened.
 * @param {string} command
 * @param {string[]} args
 * @param {{ cwd?: string, env?: NodeJS.ProcessEnv, timeoutMs: number, onLine?: (line: string) => void }} options
 * @returns {Promise<{ ok: boolean, code: number | null, signal: string | null, timedOut: boolean, error?: Error, output: string, ms: number }>}
 */
export function run(command, args, { cwd, env, timeoutMs, onLine }) {
  const started = Date.now();
  return new Promise((resolve) => {
    let output = '';
    let pending = '';
    let timedOut = false;
    let settled = false;
    const posix = process.platform !== 'win32';
    let child;
    try {
      child = spawn(command, args, {
        cwd,
        env: env ?? process.env,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: posix, // own process group, so a timeout can kill cmake/make/compilers too
        windowsHide: true,
      });
    } catch (error) {
      resolve({ ok: false, code: null, signal: null, timedOut: false, error, output: '', ms: 0 });
      return;
    }
    const onData = (chunk) => {
      const text = chunk.toString();
      output += text;
      if (output.length > 2_000_000) output = output.slice(-1_000_000);
      if (onLine) {
        pending += text;
        const lines = pending.split(/\r?\n/);
        pending = lines.pop() ?? '';
        for (const line of lines) if (line.trim()) onLine(line);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const kill = () => {
      try {
        if (posix && child.pid) process.kill(-child.pid, 'SIGKILL');
        else child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, timeoutMs);
    const finish = (result) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (onLine && pending.trim()) onLine(pending);
      resolve({ output, timedOut, ms: Date.now() - started, ...result });
    };
    child.on('error', (error) => finish({ ok: false, code: null, signal: null, error }));
    child.on('close', (code, signal) => finish({ ok: code === 0 && !timedOut, code, signal }));
  });
}

/** Describes a failed `run` result in one line. */
export function describeFailure(result, timeoutMs) {
  if (result.timedOut) return `timed out after ${seconds(timeoutMs)}`;
  if (result.error) return result.error.message;
  if (result.signal) return `killed by ${result.signal}`;
  return `exit code ${result.code}`;
}

/** The last `count` non-empty lines of some output. */
export function tail(output, count) {
  return output
    .split(/\r?\n/)
    .filter((line) => line.trim())
    .slice(-count);
}

/** Absolute path of an executable on PATH, or undefined. */
export function which(name) {
  const exts = process.platform === 'win32' ? (process.env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';') : [''];
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    for (const ext of exts) {
      const candidate = path.join(dir, name + ext);
      try {
        if (statSync(candidate).isFile()) return candidate;
      } catch {
        /* not here */
      }
    }
  }
  return undefined;
}

/** Directory of an installed package, resolved from `fromDir` (node resolution, so hoisting is handled). */
export function packageDir(name, fromDir) {
  try {
    const require = createRequire(path.join(fromDir, 'package.json'));
    return path.dirname(require.resolve(`${name}/package.json`));
  } catch {
    const direct = path.join(fromDir, 'node_modules', name);
    return existsSync(path.join(direct, 'package.json')) ? direct : undefined;
  }
}

/** Absolute path of a package's bin script (from its package.json `bin`), or undefined. */
export function packageBin(name, binName, fromDir) {
  const dir = packageDir(name, fromDir);
  if (!dir) return undefined;
  const require = createRequire(path.join(fromDir, 'package.json'));
  const pkg = require(path.join(dir, 'package.json'));
  const rel = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.[binName ?? name];
  if (!rel) return undefined;
  const file = path.join(dir, rel);
  return existsSync(file) ? file : undefined;
}

/** Reads a package.json as JSON. */
export function readPackageJson(dir) {
  const require = createRequire(path.join(dir, 'package.json'));
  return require(path.join(dir, 'package.json'));
}

/**
 * Checks in a child process (a broken addon can abort the process) that `code` runs under plain Node.
 * The code gets the argument list as `process.argv.slice(1)`. Returns { ok, detail }.
 */
export function checkInChild(code, args, { cwd, timeoutMs = 60_000 } = {}) {
  const result = spawnSync(process.execPath, ['-e', code, ...args], {
    cwd,
    encoding: 'utf8',
    timeout: timeoutMs,
    windowsHide: true,
  });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim();
  if (result.error) return { ok: false, detail: result.error.message };
  if (result.status !== 0) {
    const why = result.signal ? `killed by ${result.signal}` : `exit code ${result.status}`;
    return { ok: false, detail: `${why}: ${tail(output, 3).join(' | ') || '(no output)'}` };
  }
  return { ok: true, detail: output };
}

/** Seconds with one decimal, for progress lines. */
export function seconds(ms) {
  return `${(ms / 1000).toFixed(1)} s`;
}
