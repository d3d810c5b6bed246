/**
 * The Status view's Cluster section against real hubs joined through a real redis-server: both hubs listed alive,
 * then the second stopped and shown gone once its announcement expires. A hub without cluster.redis says it runs
 * on its own.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { redisUnavailable, startRedis } from '../test/support/redis-server';
import { expect, startHub, stopHub, test, type RunningHub } from './hub';

const unavailable = redisUnavailable();

/** A fresh data directory whose config.json joins the hub to `redisUrl` under `hubName`, with quick expiry. */
function clusterDataDir(redisUrl: string, hubName: string): string {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'devenviro-e2e-'));
  const cluster = { redis: redisUrl, hubName, heartbeatMs: 300, hubTtlMs: 1_500 };
  writeFileSync(path.join(dataDir, 'config.json'), JSON.stringify({ cluster }, null, 2));
  return dataDir;
}

test.describe('cockpit cluster section', () => {
  test('a hub on its own says so', async ({ page, hub }) => {
    await page.goto(`${hub.cockpitUrl}#/status`);
    await expect(page.getByTestId('cluster-off')).toHaveText('This hub runs on its own (cluster.redis is not set; see docs/cluster.md)');
    await expect(page.getByTestId('cluster-hubs')).toHaveCount(0);
  });

  test(`lists the hubs joined through Redis, alive then gone${unavailable ? ` (skipped: ${unavailable})` : ''}`, async ({ page }, testInfo) => {
    test.skip(unavailable !== null, unavailable ?? '');
    const redisDir = mkdtempSync(path.join(os.tmpdir(), 'devenviro-redis-'));
    const redis = await startRedis(redisDir);
    const started: RunningHub[] = [];
    try {
      const laptop = await startHub([], clusterDataDir(redis.url, 'laptop'));
      started.push(laptop);
      const build = await startHub([], clusterDataDir(redis.url, 'build-1'));
      started.push(build);

      await page.goto(`${laptop.cockpitUrl}#/status`);
      await expect(page.getByTestId('cluster-link')).toHaveAttribute('data-connected', 'true', { timeout: 20_000 });
      await expect(page.getByTestId('cluster-link')).toContainText(`joined through Redis at`);
      const laptopRow = page.getByTestId('cluster-hub-laptop');
      const buildRow = page.getByTestId('cluster-hub-build-1');
      await expect(laptopRow).toHaveAttribute('data-alive', 'true', { timeout: 20_000 });
      await expect(buildRow).toHaveAttribute('data-alive', 'true', { timeout: 20_000 });
      await expect(laptopRow).toContainText('(this hub)');
      await expect(buildRow).toContainText(build.baseUrl);
      await expect(buildRow.getByTestId('cluster-hub-state')).toHaveText('alive');
      await page.screenshot({ path: testInfo.outputPath('cluster-alive.png'), fullPage: true });

      // The second hub stops: its announcement expires and the view, refreshing on its own, shows it gone.
      await stopHub(build);
      await expect(buildRow).toHaveAttribute('data-alive', 'false', { timeout: 20_000 });
      await expect(buildRow.getByTestId('cluster-hub-state')).toHaveText('gone');
      await expect(laptopRow).toHaveAttribute('data-alive', 'true');
      await page.screenshot({ path: testInfo.outputPath('cluster-gone.png'), fullPage: true });
    } finally {
      for (const hub of started) await stopHub(hub);
      await redis.stop();
      rmSync(redisDir, { recursive: true, force: true });
    }
  });
});
