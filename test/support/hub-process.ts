/**
 * The hub as a real child process (from source, through tsx) for kill -9 tests: start it on a data folder, kill it
 * with SIGKILL (a real crash: no shutdown code runs), stop it gracefully, and call its HTTP API.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface HubProcess {
  child: ChildProcess;
  /** http://127.0.0.1:<port> */
  url: string;
  /** kill -9, and wait until it is gone. */
  kill9(): Promise<void>;
  /** SIGTERM, and wait until it exited (so its shutdown cannot race the removal of its data folder). */
  stop(): Promise<void>;
  /** What it printed so far (stdout and stderr), for a failing test's message. */
  output(): string;
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
      if (output.length > 256 * 1024) output = output.slice(-128 * 1024);
      const match = /Open the cockpit: (http:\/\/[^/]+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1]!, kill9: () => end('SIGKILL'), stop: () => end('SIGTERM'), output: () => output });
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

/** A hub's place in a cluster: its Redis, its name, and short heartbeats so a killed hub is seen gone quickly. */
export interface ClusterHubOptions {
  redisUrl: string;
  hubName: string;
  /** 200 ms by default (the product's default is 1,000). */
  heartbeatMs?: number;
  /** 1,000 ms by default (the product's default is 5,000). */
  hubTtlMs?: number;
  /** Other settings of config.json, merged at the top level (e.g. { messages: { maxBytes: 1048576 } }). */
  config?: Record<string, unknown>;
}

/** Writes `<dataDir>/config.json` joining the hub to the cluster, as a user would before starting it. */
export function writeClusterConfig(dataDir: string, options: ClusterHubOptions): void {
  mkdirSync(dataDir, { recursive: true });
  const config = {
    ...options.config,
    cluster: { redis: options.redisUrl, hubName: options.hubName, heartbeatMs: options.heartbeatMs ?? 200, hubTtlMs: options.hubTtlMs ?? 1_000 },
  };
  writeFileSync(path.join(dataDir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
}

/** Starts a hub process on `dataDir` joined to the cluster of `options` (config.json written first). */
export function startClusterHub(dataDir: string, options: ClusterHubOptions): Promise<HubProcess> {
  writeClusterConfig(dataDir, options);
  return startHubProcess(dataDir);
}

/** The cockpit's token of a running hub (printed in its cockpit URL), for its cockpit-only routes. */
export function cockpitToken(hub: HubProcess): string {
  const match = /Open the cockpit: \S*[?&]token=([^&\s]+)/.exec(hub.output());
  if (!match) throw new Error(`no cockpit token in the hub's output:\n${hub.output()}`);
  return decodeURIComponent(match[1]!);
}

/**
 * Registers an agent on a hub (201), or presents its token to get the same identity on another hub (200), as an
 * agent moving between machines does.
 */
export async function registerOn(hub: Pick<HubProcess, 'url'>, name: string, project = 'shop', token?: string): Promise<{ id: string; token: string }> {
  const answer = await hubCall(hub, '/agents/register', token, { name, project });
  if (answer.status !== 201 && answer.status !== 200) throw new Error(`register ${name} on ${hub.url}: ${answer.status} ${JSON.stringify(answer.body)}`);
  return { id: answer.body.agent.id, token: answer.body.token ?? token };
}
