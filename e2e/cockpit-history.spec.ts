/**
 * Charts after a reload: the hub keeps the last two minutes of ticks (metrics.history), so a reloaded cockpit draws
 * what happened before it opened, on a time axis that always spans the two minutes; an empty chart claims only the
 * time it covers.
 */
import { expect, test } from './hub';
import { openCockpit, TestAgent, watchConsole } from './test-agent';

test.use({ viewport: { width: 1440, height: 900 } });

test('a reload draws the minutes before it from the hub, on a steady two-minute axis, and an empty chart says since when', async ({ page, hub }) => {
  const problems = watchConsole(page);
  await openCockpit(page, hub, 'overview');
  const chart = page.getByTestId('chart-throughput');
  // A few seconds of an idle hub: not "no messages in the last two minutes".
  const empty = chart.getByTestId('chart-empty');
  await expect(empty).toHaveText(/^No messages since \d\d:\d\d:\d\d$/);
  const from = Number(await chart.getAttribute('data-from'));
  const to = Number(await chart.getAttribute('data-to'));
  expect(to - from).toBe(120_000);

  const alpha = await TestAgent.connect(hub, { name: 'alpha' });
  const beta = await TestAgent.connect(hub, { name: 'beta' });
  await alpha.burst(beta, 400);
  // Ten idle seconds after the burst: a page opened now, without the hub's history, would see none of it.
  await page.waitForTimeout(10_000);
  await page.reload();
  await page.getByTestId('connection').filter({ hasText: /^connected$/ }).waitFor();
  const opened = Date.now();
  await expect.poll(async () => Number(await chart.getAttribute('data-max')), { timeout: 3000 }).toBeGreaterThan(0);
  const points = Number(await chart.getAttribute('data-points'));
  const secondsSinceOpen = (Date.now() - opened) / 1000;
  expect(points).toBeGreaterThan(secondsSinceOpen + 8);
  await expect(page.getByTestId('chart-latency')).not.toHaveAttribute('data-max', '0');
  expect(Number(await chart.getAttribute('data-to')) - Number(await chart.getAttribute('data-from'))).toBe(120_000);
  expect(problems).toEqual([]);
});
