/**
 * The programs that run in a worker thread or a child process, and how to start them. Each is a real TypeScript
 * module with its own build entry (electron.vite.config.ts reads PROGRAMS), built to `out/main/<name>.js` beside the
 * main bundle. Run from sources (vitest, tsx, bench) there is no bundle, so the .ts is started through
 * scripts/program-loader.mjs, which registers tsx first. tsx is a devDependency: only that loader imports it, and
 * the built app never loads the loader (it is named here by path, on the from-sources branch only).
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import programList from './programs.json';

/**
 * Program name → its source, relative to the repository root; the name is the built file's name. The list itself is
 * programs.json, which the layer rules (.dependency-cruiser.cjs) read too; each program's file says what it does.
 */
export const PROGRAMS: Readonly<typeof programList> = programList;

export type ProgramName = keyof typeof PROGRAMS;

/** Built chunks go to out/main/chunks/ (electron.vite.config.ts), entries and programs to out/main/. */
export const CHUNKS_DIR = 'chunks';

const here = path.dirname(fileURLToPath(import.meta.url));
/** True when this module runs as TypeScript (vitest, tsx), not from the bundle. */
const fromSources = import.meta.url.endsWith('.ts');

/** What to run: a script and the arguments after it (from sources: the loader, and the program for it to load). */
export interface ProgramLaunch {
  script: string;
  args: string[];
}

export function programLaunch(name: ProgramName): ProgramLaunch {
  if (!fromSources) {
    const mainDir = path.basename(here) === CHUNKS_DIR ? path.dirname(here) : here;
    return { script: path.join(mainDir, `${name}.js`), args: [] };
  }
  const root = path.resolve(here, '..', '..');
  return { script: path.join(root, 'scripts', 'program-loader.mjs'), args: [pathToFileURL(path.join(root, PROGRAMS[name])).href] };
}

/** Starts a program in a worker thread. */
export function startWorker(name: ProgramName, options: Omit<WorkerOptions, 'argv' | 'eval'> = {}): Worker {
  const { script, args } = programLaunch(name);
  return new Worker(script, { ...options, argv: args });
}

/** Starts a program in a child process of this executable (`nodeArgs` go before the script). */
export function spawnProgram(name: ProgramName, nodeArgs: string[], options: SpawnOptions): ChildProcess {
  const { script, args } = programLaunch(name);
  return spawn(process.execPath, [...nodeArgs, script, ...args], options);
}
