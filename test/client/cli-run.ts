/**
 * Runs the `devenviro` command line as a child process from its source (node --import tsx src/client/cli/main.ts), so
 * CLI tests need no build, in the environment of a user with nothing configured.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const CLI = path.join(ROOT, 'src/client/cli/main.ts');
/** tsx by its file, so the CLI can run from any working directory. */
export const TSX = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

/** The environment of a user with nothing configured (no DEVENVIRO_* variables), plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined && !name.startsWith('DEVENVIRO_')) env[name] = value;
  return { ...env, ...extra };
}

export interface CliOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export function startCli(args: string[], options: CliOptions = {}): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ['--import', TSX, CLI, ...args], { cwd: options.cwd ?? ROOT, env: options.env ?? cleanEnv() });
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs one command to its end, with `input` on its stdin. */
export function runCli(args: string[], options: CliOptions & { input?: string } = {}): Promise<CliRun> {
  const child = startCli(args, options);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  child.stdin.end(options.input ?? '');
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
