/** Test fixture: a real headless hub, built by `electron-vite build`, in a fresh data directory per test. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test as base } from '@playwright/test';

export interface RunningHub {
  process: ChildProcess;
  dataDir: string;
  /** The URL the hub printed, token included. */
  cockpitUrl: string;
  baseUrl: string;
  token: string;
  output(): string;
}

/** Starts a hub in a fresh data directory, or in `dataDir` (one a stopped hub kept: a restart). */
export async function startHub(extraArgs: string[] = [], dataDir = mkdtempSync(path.join(os.tmpdir(), 'devenviro-e2e-'))): Promise<RunningHub> {
  const child = spawn(process.execPath, ['out/main/headless.js', '--data-dir', dataDir, '--port', '0', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const cockpitUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the hub did not print its URL within 20 s:\n${output}`)), 20_000);
    const onData = () => {
      const match = /Open the cockpit: (\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`the hub exited with ${code}:\n${output}`)));
  });
  const url = new URL(cockpitUrl);
  return {
    process: child,
    dataDir,
    cockpitUrl,
    baseUrl: url.origin,
    token: url.searchParams.get('token')!,
    output: () => output,
  };
}

/** Stops the hub and removes its data directory, unless `keepData` (to start it again on the same data). */
export async function stopHub(hub: RunningHub, { keepData = false }: { keepData?: boolean } = {}): Promise<void> {
  if (hub.process.exitCode === null) {
    const exited = new Promise((resolve) => hub.process.once('exit', resolve));
    hub.process.kill('SIGTERM');
    await exited;
  }
  if (!keepData) rmSync(hub.dataDir, { recursive: true, force: true });
}

export const test = base.extend<{ hub: RunningHub }>({
  // Playwright reads the fixture's dependencies from this destructuring, so it must be there even when empty.
  // eslint-disable-next-line no-empty-pattern
  hub: async ({}, use) => {
    const hub = await startHub();
    await use(hub);
    await stopHub(hub);
  },
});

export { expect } from '@playwright/test';
