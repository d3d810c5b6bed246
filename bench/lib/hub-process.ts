/**
 * The hub under test, as its own process: `node out/main/headless.js` on a fresh temporary data directory and a
 * free port, exactly as a user runs it. Optionally with `--cpu-prof`, whose profile is written when it stops.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stopChild, track } from './children';
import { benchDir, repoRoot } from './paths';
import { HUB_V8_FLAGS } from '../../scripts/hub-v8-flags.mjs';

const ENTRY = path.join(repoRoot, 'out/main/headless.js');
/** What the headless build is made from; newer files than the build mean it is stale. */
const SOURCES = ['src/main', 'src/shared', 'package.json', 'electron.vite.config.ts'];

function newestMtime(target: string): number {
  if (!existsSync(target)) return 0;
  const stat = statSync(target);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(target)) newest = Math.max(newest, newestMtime(path.join(target, entry)));
  return newest;
}

/** The reason the build is stale, or null if out/main/headless.js is newer than every source. */
export function buildStaleness(): string | null {
  if (!existsSync(ENTRY)) return `${path.relative(repoRoot, ENTRY)} does not exist`;
  const built = statSync(ENTRY).mtimeMs;
  for (const source of SOURCES) {
    if (newestMtime(path.join(repoRoot, source)) > built) return `${source} changed after the last build`;
  }
  return null;
}

export interface BuildState {
  /** true when this run rebuilt out/. */
  built: boolean;
  /** Why out/ was (or is) stale; null when it was current. */
  stale: string | null;
  /** When the build that is measured was made. */
  builtAt: string | null;
}

/**
 * Builds when stale (`npm run build`, a few seconds). With build=false a stale build is measured as it is, with a
 * warning (useful while someone else's half-done change breaks the build); a failing build stops the bench.
 */
export function ensureBuilt(build: boolean): BuildState {
  const stale = buildStaleness();
  const builtAt = () => (existsSync(ENTRY) ? statSync(ENTRY).mtime.toISOString() : null);
  if (!stale) return { built: false, stale: null, builtAt: builtAt() };
  if (!build) {
    if (!existsSync(ENTRY)) throw new Error(`there is no hub build (${stale}): run \`npm run build\` first`);
    console.warn(`WARNING: measuring a stale hub build from ${builtAt()} (${stale}); run \`npm run build\` to measure the current code.`);
    return { built: false, stale, builtAt: builtAt() };
  }
  console.log(`The hub build is stale (${stale}): running \`npm run build\`…`);
  const result = spawnSync('npm', ['run', 'build'], { cwd: repoRoot, stdio: 'inherit' });
  if (result.status !== 0) {
    throw new Error(
      `npm run build failed (exit ${result.status}). Fix the build, or pass --no-build to measure the existing build in out/ as it is.`,
    );
  }
  return { built: true, stale, builtAt: builtAt() };
}

/**
 * A private copy of the built hub (out/main, or the folder of `entry`), so a rebuild by someone else during the run
 * cannot change the code under test between phases. It lives under bench/results/ (gitignored) so the hub still
 * finds node_modules/ and resources/ by walking up. Returns the copied entry and a cleanup function.
 */
export function snapshotBuild(entry = ENTRY): { entry: string; remove(): void } {
  const source = path.dirname(path.resolve(entry));
  mkdirSync(path.join(benchDir, 'results'), { recursive: true });
  const target = mkdtempSync(path.join(benchDir, 'results', '.hub-build-'));
  cpSync(source, path.join(target, 'main'), { recursive: true });
  return { entry: path.join(target, 'main', path.basename(entry)), remove: () => rmSync(target, { recursive: true, force: true }) };
}

export interface HubOptions {
  /** The headless entry to run (default out/main/headless.js). */
  entry?: string;
  /** Written to <dataDir>/config.json before start, e.g. { messages: { maxBytes: 67108864 } }. */
  config?: Record<string, unknown>;
  /** Directory for a V8 CPU profile (node --cpu-prof), written when the hub stops. */
  cpuProfDir?: string;
  /** Keep the data directory after stop (for looking at the database). */
  keepData?: boolean;
  label?: string;
  /** Where the temporary data directory is made (default: the OS temp dir), e.g. /dev/shm to take the disk out. */
  dataRoot?: string;
  /** Run on this existing data directory instead of a fresh one (a kept, seeded one); never removed. */
  dataDir?: string;
  /** A command the hub's command line is appended to (it must exec it, keeping the pid), e.g. a CPU quota group's. */
  launcher?: string[];
}

export interface RunningHub {
  label: string;
  pid: number;
  dataDir: string;
  /** http://127.0.0.1:PORT */
  baseUrl: string;
  wsBase: string;
  /** The cockpit token: full authority over the hub's API. */
  cockpitToken: string;
  process: ChildProcess;
  output(): string;
  /** Stops the hub (SIGTERM: it commits and closes cleanly) and returns its main thread's CPU profile, if any. */
  stop(): Promise<{ code: number | null; profile: string | null }>;
}

export async function startHub(options: HubOptions = {}): Promise<RunningHub> {
  const label = options.label ?? 'hub';
  const dataDir = options.dataDir ?? mkdtempSync(path.join(options.dataRoot ?? os.tmpdir(), 'devenviro-bench-'));
  if (options.config) writeFileSync(path.join(dataDir, 'config.json'), JSON.stringify(options.config, null, 2) + '\n');
  // Started the way `npm start` starts it, V8 flags included.
  const nodeArgs: string[] = [...HUB_V8_FLAGS];
  // Each hub profiles into a folder of its own; V8 writes one file per thread (CPU.<date>.<time>.<pid>.<thread>.<n>).
  if (options.cpuProfDir) mkdirSync(options.cpuProfDir, { recursive: true });
  const profileDir = options.cpuProfDir ? mkdtempSync(path.join(options.cpuProfDir, `${label}-`)) : undefined;
  if (profileDir) nodeArgs.push('--cpu-prof', '--cpu-prof-dir', profileDir);
  const command = [...(options.launcher ?? []), process.execPath, ...nodeArgs, options.entry ?? ENTRY, '--data-dir', dataDir, '--port', '0'];
  const child = track(spawn(command[0]!, command.slice(1), { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] }));
  let output = '';
  const keep = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > 64 * 1024) output = output.slice(-32 * 1024);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);

  const cockpitUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the hub did not print its URL within 30 s:\n${output}`)), 30_000);
    const onData = () => {
      const match = /Open the cockpit: (\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the hub exited with ${code} before it was ready:\n${output}`));
    });
  });
  const url = new URL(cockpitUrl);

  return {
    label,
    pid: child.pid!,
    dataDir,
    baseUrl: url.origin,
    wsBase: url.origin.replace(/^http/, 'ws'),
    cockpitToken: url.searchParams.get('token')!,
    process: child,
    output: () => output,
    async stop() {
      const { code } = await stopChild(child);
      if (!options.keepData && !options.dataDir) rmSync(dataDir, { recursive: true, force: true });
      let profile: string | null = null;
      if (profileDir) {
        const files = readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile'));
        // The main thread is thread 0; worker threads (if the hub starts any) get their own files.
        const main = files.find((f) => f.split('.')[4] === '0') ?? files.sort((a, b) => statSync(path.join(profileDir, b)).size - statSync(path.join(profileDir, a)).size)[0];
        profile = main ? path.join(profileDir, main) : null;
      }
      return { code, profile };
    },
  };
}
