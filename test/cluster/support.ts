/** What the cluster tests share: waiting on a condition, a real redis-server per test, an in-process hub joined to it. */
import { onTestFinished } from 'vitest';
import type { AppConfig } from '../../src/main/config/config';
import { startHub, type TestHub } from '../hub/harness';
import { tempDir } from '../helpers';
import { startRedis, type RedisServer } from '../support/redis-server';

/** Polls `probe` until it gives a truthy value (returned), or fails naming `what` after `timeoutMs`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A redis-server of the test's own, on a free port in a temporary folder, stopped when the test ends. */
export async function redis(): Promise<RedisServer> {
  const server = await startRedis(tempDir('devenviro-redis-'));
  onTestFinished(() => server.stop());
  return server;
}

/** An in-process hub joined to `server` as `hubName`, announcing itself every 200 ms with a 1 s time to live. */
export function clusterHub(server: RedisServer, hubName: string, options: { bodyFileBytes?: number; configure?: (config: AppConfig) => void } = {}): Promise<TestHub> {
  const { configure, ...rest } = options;
  return startHub({
    ...rest,
    configure: (config) => {
      config.cluster.redis = server.url;
      config.cluster.hubName = hubName;
      config.cluster.heartbeatMs = 200;
      config.cluster.hubTtlMs = 1_000;
      configure?.(config);
    },
  });
}

/** Waits until each of `hubs` is connected to Redis and sees all of them alive. */
export async function joined(hubs: TestHub[]): Promise<void> {
  for (const hub of hubs) {
    await until('the hubs joined', async () => {
      const state = (await hub.api('/cluster', { token: hub.app.cockpitToken })).body;
      return state.connected && state.hubs.filter((h: { alive: boolean }) => h.alive).length === hubs.length;
    });
  }
}
