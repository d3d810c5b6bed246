/** Test support for the client tests: a real hub in-process, a TCP proxy that can cut connections, polling. */
import net from 'node:net';
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
