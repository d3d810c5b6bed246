/**
 * The cockpit at a laptop's width (1024 px), where views once cut off columns or covered the stream: every part a
 * person needs is inside the window, without scrolling sideways.
 */
import type { Locator, Page } from '@playwright/test';
import { expect, test } from './hub';
import { openCockpit, TestAgent, watchConsole } from './test-agent';

/** The element's box (it must be laid out). */
async function box(locator: Locator) {
  const found = await locator.boundingBox();
  expect(found, 'the element is laid out').not.toBeNull();
  return found!;
}

function overlaps(a: { x: number; y: number; width: number; height: number }, b: { x: number; y: number; width: number; height: number }) {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

/** Whether the element's own text is cut off (ellipsis or hidden overflow). */
async function clipped(locator: Locator): Promise<boolean> {
  return locator.evaluate((el) => el.scrollWidth > el.clientWidth + 1);
}

async function noSidewaysScroll(page: Page) {
  expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBeLessThanOrEqual(0);
}

for (const width of [1024, 1100]) {
  test(`messages at ${width} px: the thread panel and composer sit beside the stream, not over it`, async ({ page, hub }, testInfo) => {
    const problems = watchConsole(page);
    await page.setViewportSize({ width, height: 768 });
    const alpha = await TestAgent.connect(hub, { name: 'alpha' });
    const beta = await TestAgent.connect(hub, { name: 'beta' });
    const first = await alpha.send(beta, 'the build is green again', { subject: 'CI' });
    for (let i = 0; i < 30; i++) await beta.send(alpha, `status line ${i}`, { replyTo: first.id });
    await openCockpit(page, hub, `messages/${first.threadId}`);
    const stream = page.getByTestId('message-stream');
    await expect(stream.getByTestId('message-row').first()).toBeVisible();
    await expect(page.getByTestId('thread-panel').getByTestId('thread-message').first()).toBeVisible();

    const streamBox = await box(stream);
    for (const id of ['thread-panel', 'composer']) expect(overlaps(streamBox, await box(page.getByTestId(id))), `${id} overlaps the stream`).toBe(false);
    // The stream shows a screenful of rows, and what sits at its middle is a row, not a panel laid over it.
    expect(streamBox.height).toBeGreaterThan(300);
    const middle = await page.evaluate(({ x, y }) => document.elementFromPoint(x, y)?.closest('[data-testid]')?.getAttribute('data-testid'), {
      x: streamBox.x + streamBox.width / 2,
      y: streamBox.y + streamBox.height / 2,
    });
    expect(middle).toBe('message-row');
    // Each row has room for its text, not only its sender and time.
    expect((await box(stream.getByTestId('message-row').first().locator('.msg-text'))).width).toBeGreaterThan(150);
    // The composer's send button is reachable.
    await expect(page.getByTestId('composer-send')).toBeInViewport();
    await noSidewaysScroll(page);
    await page.screenshot({ path: testInfo.outputPath(`messages-${width}.png`) });
    expect(problems).toEqual([]);
  });
}

test('agents at 1024 px: Inbox, In/Out and Link columns are inside the table, with the drawer closed and open', async ({ page, hub }, testInfo) => {
  const problems = watchConsole(page);
  await page.setViewportSize({ width: 1024, height: 768 });
  const alpha = await TestAgent.connect(hub, { name: 'alpha-with-a-long-name', project: 'payments-platform-backend' });
  const beta = await TestAgent.connect(hub, { name: 'beta', project: 'search' });
  alpha.setStatus('busy', 'running the whole integration test suite against staging before the release');
  await alpha.send(beta, 'hello');
  await openCockpit(page, hub, 'agents');
  const row = page.locator('[data-testid=agent-row][data-name=beta]');
  await expect(row.getByTestId('agent-inout')).toHaveText('1/0');

  const check = async (label: string) => {
    const table = page.getByTestId('agents-table');
    const panel = await box(table.locator('xpath=ancestor::section[1]'));
    for (const name of ['Inbox', 'In / out', 'Link']) {
      const header = await box(table.getByRole('columnheader', { name }));
      expect(header.x + header.width, `${label}: ${name} ends inside the panel`).toBeLessThanOrEqual(panel.x + panel.width + 0.5);
    }
    for (const cell of [row.getByTestId('agent-inout'), row.getByTestId('agent-connected')]) {
      const cellBox = await box(cell);
      expect(cellBox.x + cellBox.width, `${label}: the cell ends inside the panel`).toBeLessThanOrEqual(panel.x + panel.width + 0.5);
    }
    expect(await table.evaluate((el) => el.parentElement!.scrollWidth - el.parentElement!.clientWidth), `${label}: no sideways scroll`).toBeLessThanOrEqual(0);
  };
  await check('drawer closed');
  await row.click();
  const drawer = page.getByTestId('agent-detail');
  await expect(drawer).toContainText('beta');
  await expect(drawer).toBeInViewport();
  await check('drawer open');
  await noSidewaysScroll(page);
  await page.screenshot({ path: testInfo.outputPath('agents-1024.png'), fullPage: true });
  expect(problems).toEqual([]);
});

test('performance at 1024 px: "last s" is whole and the slowest operations say what they were', async ({ page, hub }, testInfo) => {
  const problems = watchConsole(page);
  await page.setViewportSize({ width: 1024, height: 768 });
  const alpha = await TestAgent.connect(hub, { name: 'alpha' });
  const beta = await TestAgent.connect(hub, { name: 'beta' });
  await openCockpit(page, hub, 'performance');
  // Traffic in every tick while "last s" is checked.
  const sendCard = page.getByTestId('op-send');
  const lastS = sendCard.getByTestId('figure-last-s');
  let flowing = true;
  const flow = (async () => {
    while (flowing) await alpha.burst(beta, 100);
  })();
  await expect(lastS).toContainText('p99', { timeout: 10_000 });
  flowing = false;
  await flow;
  expect(await clipped(lastS)).toBe(false);
  for (const figure of await sendCard.locator('.figure-value').all()) expect(await clipped(figure)).toBe(false);

  const slowest = page.getByTestId('panel-slowest');
  const firstRow = slowest.locator('tbody tr').first();
  await expect(firstRow).toBeVisible();
  const detail = firstRow.getByTestId('slow-detail');
  await expect(detail).not.toHaveText('');
  // The table is redrawn every tick: a row replaced between finding it and measuring it has no box, so measure again.
  await expect(async () => expect((await box(detail)).width).toBeGreaterThan(60)).toPass({ timeout: 10_000 });
  await noSidewaysScroll(page);
  await page.screenshot({ path: testInfo.outputPath('performance-1024.png'), fullPage: true });
  expect(problems).toEqual([]);
});
