/**
 * The hub as a real child process (from source, through tsx) for kill -9 tests: start it on a data folder, kill it
 * with SIGKILL (a real crash: no shutdown code runs), stop it gracefully, and call its HTTP API.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface HubProcess {
  child: ChildProcess;
  /** http://127.0.0.1:<port> */
  url: string;
  /** kill -9, and wait until it is gone. */
  kill9(): Promise<void>;
  /** SIGTERM, and wait until it exited (so its shutdown cannot race the removal of its data folder). */
  stop(): Promise<void>;
}

/** Starts `src/main/headless.ts` on `dataDir` (any free port) and resolves once it listens. */
export function startHubProcess(dataDir: string): Promise<HubProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main/headless.ts', '--data-dir', dataDir, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    await exited;
  };
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hub did not start:\n${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Open the cockpit: (http:\/\/[^/]+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1]!, kill9: () => end('SIGKILL'), stop: () => end('SIGTERM') });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`hub exited (${code}):\n${output}`)));
  });
}

/** One call to the hub's API (`route` under /api/v1): a POST with `body` when given, a GET otherwise. */
export async function hubCall(hub: Pick<HubProcess, 'url'>, route: string, token?: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${hub.url}/api/v1${route}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}
