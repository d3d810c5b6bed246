/**
 * The Status view's Cluster section against real hubs joined through a real redis-server: both hubs listed alive,
 * then the second stopped and shown gone once its announcement expires. A hub without cluster.redis says it runs
 * on its own. The Cluster view of one hub shows every hub with its health and agents, the messages between the hubs
 * (both sides' counts), and says when Redis is lost with the sends waiting, until they are forwarded.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { redisUnavailable, startRedis } from '../test/support/redis-server';
import { expect, startHub, stopHub, test, type RunningHub } from './hub';
import { TestAgent } from './test-agent';

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

  test(`the Cluster view shows every hub's health and agents, the traffic between them, and says when Redis is lost${unavailable ? ` (skipped: ${unavailable})` : ''}`, async ({ page }, testInfo) => {
    test.skip(unavailable !== null, unavailable ?? '');
    const redisDir = mkdtempSync(path.join(os.tmpdir(), 'devenviro-redis-'));
    const redis = await startRedis(redisDir);
    const started: RunningHub[] = [];
    const agents: TestAgent[] = [];
    try {
      const laptop = await startHub([], clusterDataDir(redis.url, 'laptop'));
      started.push(laptop);
      const build = await startHub([], clusterDataDir(redis.url, 'build-1'));
      started.push(build);
      // Agents on each hub: two on build-1 talking to each other, one on the laptop.
      const builder = await TestAgent.connect(build, { name: 'builder', project: 'shop' });
      const tester = await TestAgent.connect(build, { name: 'tester', project: 'shop' });
      const planner = await TestAgent.connect(laptop, { name: 'planner', project: 'shop' });
      agents.push(builder, tester, planner);

      // A laptop's width, as the docs' screenshots are.
      await page.setViewportSize({ width: 1024, height: 900 });
      await page.goto(`${laptop.cockpitUrl}#/status`);
      await page.getByTestId('cluster-open-view').click();
      await expect(page.getByTestId('view-cluster')).toBeVisible();
      await expect(page.getByTestId('nav-cluster')).toHaveAttribute('aria-current', 'page');

      const buildCard = page.getByTestId('hub-card-build-1');
      const laptopCard = page.getByTestId('hub-card-laptop');
      await expect(buildCard).toHaveAttribute('data-alive', 'true', { timeout: 20_000 });
      await expect(laptopCard).toHaveAttribute('data-alive', 'true');
      await expect(laptopCard).toContainText('this hub');
      await expect(buildCard).not.toContainText('this hub');
      await expect(buildCard).toContainText(build.baseUrl);
      // Hub B's health as it announced it: memory, loop delay and its round trip to Redis are measured figures.
      await expect(buildCard.getByTestId('hub-rss')).toHaveText(/^\d+(\.\d)? MB$/, { timeout: 20_000 });
      await expect(buildCard.getByTestId('hub-loop')).toHaveText(/^(0|<1 µs|\d+ µs|[\d.]+ m?s)$/, { timeout: 20_000 });
      await expect(buildCard.getByTestId('hub-rtt')).toHaveText(/^(<1 µs|\d+ µs|[\d.]+ m?s)$/, { timeout: 20_000 });
      await expect(buildCard).toContainText('Agents 2 connected of 2', { timeout: 20_000 });
      await expect(buildCard.getByTestId('hub-agent-builder')).toContainText('online');
      await expect(buildCard.getByTestId('hub-agent-tester')).toBeVisible();
      await expect(laptopCard.getByTestId('hub-agent-planner')).toBeVisible();
      // The cockpit's own socket (this page) is not counted as an agent.
      await expect(laptopCard.getByTestId('hub-agents')).toHaveText('1');
      await expect(buildCard.getByTestId('hub-agents')).toHaveText('2');
      await expect(buildCard.getByTestId('hub-agent-planner')).toHaveCount(0);
      // Both hubs count cross-hub messages, none so far.
      await expect(page.getByTestId('cluster-traffic-none')).toContainText('No messages between hubs yet', { timeout: 20_000 });

      // Messages between build-1's agents: the laptop's cockpit sees build-1's message rate rise.
      let sending = true;
      const sends = (async () => {
        while (sending) {
          await builder.burst(tester, 20);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      })();
      await expect(buildCard.getByTestId('hub-sent')).not.toHaveText(/^(0\/s|—)$/, { timeout: 20_000 });
      sending = false;
      await sends;

      // Messages across hubs, paced over a few seconds so the rate chart has a line: the planner on the laptop
      // writes to the builder on build-1, and the builder answers now and then.
      const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
      await Promise.all([
        (async () => {
          for (let i = 0; i < 30; i++) await planner.send(builder, `cross-hub ${i}`).then(() => pause(200));
        })(),
        (async () => {
          for (let i = 0; i < 5; i++) await builder.send(planner, `answer ${i}`).then(() => pause(1_200));
        })(),
      ]);
      await builder.waitForMessage((message) => message.body === 'cross-hub 29', 20_000);
      await planner.waitForMessage((message) => message.body === 'answer 4', 20_000);
      // Each side as its hub announces it: the laptop sent 30 to build-1, which took 30; 5 the other way.
      const out = page.getByTestId('traffic-laptop → build-1');
      await expect(out.getByTestId('traffic-sent')).toHaveText('30', { timeout: 20_000 });
      await expect(out.getByTestId('traffic-received')).toHaveText('30', { timeout: 20_000 });
      const back = page.getByTestId('traffic-build-1 → laptop');
      await expect(back.getByTestId('traffic-sent')).toHaveText('5', { timeout: 20_000 });
      await expect(back.getByTestId('traffic-received')).toHaveText('5', { timeout: 20_000 });
      await expect(page.getByTestId('traffic-bars')).toHaveAttribute('data-bars', '2');
      await page.screenshot({ path: testInfo.outputPath('cluster-view.png'), fullPage: true });

      // Redis goes away: the laptop's cockpit says so at the top, and again once Redis is back, no more.
      await redis.kill9();
      await expect(page.getByTestId('cluster-redis-lost')).toContainText('This hub has lost Redis', { timeout: 20_000 });
      // Sends across hubs meanwhile are acknowledged and wait in the laptop's database: the banner counts them.
      for (let i = 0; i < 3; i++) await planner.send(builder, `while Redis is away ${i}`);
      await expect(page.getByTestId('cluster-redis-lost')).toContainText('This hub has lost Redis: 3 sends queued', { timeout: 20_000 });
      await expect(laptopCard).toHaveAttribute('data-alive', 'true');
      await expect(page.getByTestId('view-cluster')).toContainText('2 of 2 hubs alive, as last seen before Redis was lost');
      await page.screenshot({ path: testInfo.outputPath('cluster-redis-lost.png'), fullPage: true });
      await redis.restart();
      await expect(page.getByTestId('cluster-redis-lost')).toHaveCount(0, { timeout: 20_000 });
      // Forwarded once Redis is back: the builder gets them, and the laptop's count of sends to build-1 grows by 3.
      await builder.waitForMessage((message) => message.body === 'while Redis is away 2', 20_000);
      await expect(out.getByTestId('traffic-sent')).toHaveText('33', { timeout: 20_000 });
      await expect(page.getByTestId('cluster-catching-up')).toHaveCount(0);
    } finally {
      for (const agent of agents) agent.close();
      for (const hub of started) await stopHub(hub);
      await redis.stop();
      rmSync(redisDir, { recursive: true, force: true });
    }
  });
});
