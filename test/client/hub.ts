/**
 * Test support for the client tests: a real hub in-process or as a process of its own, a TCP proxy that can cut
 * connections, polling.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, onTestFinished } from 'vitest';
import { createApp, type App } from '../../src/main/app';
import { defaultConfig } from '../../src/main/config/config';

export interface RunningHub {
  app: App;
  url: string;
  port: number;
  dataDir: string;
  stop(): Promise<void>;
}

const running = new Set<RunningHub>();
afterEach(async () => {
  await Promise.all([...running].map((hub) => hub.stop()));
});

/** Starts a hub on the data directory (a free port unless given), stopped after the test. */
export async function startHub(dataDir: string, options: { port?: number; maxBytes?: number } = {}): Promise<RunningHub> {
  const config = defaultConfig();
  const app = createApp({
    dataDir,
    runtime: 'headless',
    config: { ...config, api: { host: '127.0.0.1', port: options.port ?? 0 }, messages: { ...config.messages, maxBytes: options.maxBytes ?? config.messages.maxBytes } },
    rendererDir: null,
  });
  const { apiUrl } = await app.start();
  let stopped = false;
  const hub: RunningHub = {
    app,
    url: apiUrl,
    port: Number(new URL(apiUrl).port),
    dataDir,
    async stop() {
      running.delete(hub);
      if (stopped) return;
      stopped = true;
      await app.stop();
    },
  };
  running.add(hub);
  return hub;
}

export interface HubProcess {
  child: ChildProcess;
  url: string;
  /** Everything the hub printed. */
  output(): string;
  cockpitToken(): string;
  /** Signals the hub (SIGTERM: a clean stop; SIGKILL: a crash) and waits for the process to end. */
  kill(signal: 'SIGTERM' | 'SIGKILL'): Promise<void>;
}

const ROOT = path.resolve(import.meta.dirname, '../..');

/**
 * The hub as users run it (src/main/headless.ts, through tsx), on a fixed port so that a restart comes back at the
 * same address. Killed (and waited for) when the test finishes, before its data directory is removed.
 */
export function startHubProcess(dataDir: string, port: number): Promise<HubProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main/headless.ts', '--data-dir', dataDir, '--port', String(port)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = async (signal: 'SIGTERM' | 'SIGKILL') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  onTestFinished(() => kill('SIGKILL'));
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the hub did not start within 60 s:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Open the cockpit: (http:\/\/[^/?]+)/.exec(output);
      if (!match) return;
      clearTimeout(timer);
      resolve({
        child,
        url: match[1]!,
        output: () => output,
        cockpitToken: () => readFileSync(path.join(dataDir, 'cockpit-token'), 'utf8').trim(),
        kill,
      });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`the hub exited before it was up (${child.exitCode ?? child.signalCode}):\n${output}`));
    });
  });
}

/** A port nothing listens on right now (the kernel's pick), for a hub that must come back on the same one. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface CuttableProxy {
  url: string;
  /** Drops every connection through the proxy, as a network failure would. */
  cut(): void;
  /** Looks at each chunk from the hub; returning 'cut' drops it and every connection. */
  inspect?: (chunk: Buffer) => 'pass' | 'cut';
  connections(): number;
  close(): Promise<void>;
}

/** A TCP proxy in front of the hub, so a test can kill sockets from the outside. */
export async function startProxy(targetPort: number): Promise<CuttableProxy> {
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    const pair = { client, upstream };
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => {
      if (proxy.inspect?.(chunk) === 'cut') {
        proxy.cut();
        return;
      }
      client.write(chunk);
    });
    for (const socket of [client, upstream]) {
      socket.on('close', drop);
      socket.on('error', drop);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const proxy: CuttableProxy = {
    url: `http://127.0.0.1:${port}`,
    cut() {
      for (const { client, upstream } of [...pairs]) {
        client.destroy();
        upstream.destroy();
      }
      pairs.clear();
    },
    connections: () => pairs.size,
    close() {
      proxy.cut();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  onTestFinished(() => proxy.close());
  return proxy;
}
