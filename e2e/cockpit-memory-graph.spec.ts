/**
 * The Memory view's topics and graph against a real headless hub: agents of two projects store memories over HTTP;
 * the person browses a project's topics, opens a memory, sees its links drawn as a graph, follows a link (by mouse
 * and by keyboard), edits its tags and importance, shares it and deletes it; each change reaches the hub (read back
 * over HTTP with the agents' tokens). At a desk monitor's width and at 1024 px.
 */
import type { Page } from '@playwright/test';
import { expect, test, type RunningHub } from './hub';
import { openCockpit, TestAgent, watchConsole } from './test-agent';

const SHOP = [
  ['The connection pool in src/db/pool.ts is capped at 20 connections per worker.', 'fact'],
  ['SHOP-142: checkout times out when src/db/pool.ts runs out of connections under load.', 'error'],
  ['We decided to raise the pool size in src/db/pool.ts only after adding a query timeout.', 'decision'],
  ['The payment webhook retries three times with exponential backoff before giving up.', 'fact'],
  ['Stripe webhook signatures are checked in src/payments/webhook.ts before anything is parsed.', 'code'],
  ['The checkout API timeout is 30 seconds.', 'fact'],
  ['The checkout API timeout is 45 seconds.', 'fact'],
] as const;

/** One subject, many distinct notes in one shape: a topic larger than a page. */
const RELEASE = [
  'Release checklist: run the full end-to-end suite on the release branch.',
  'Release checklist: draft the release notes in the release channel.',
  'Release checklist: freeze features on the release branch.',
  'Release checklist: sign the release artifacts with the team key.',
  'Release checklist: generate the changelog from merged pull requests.',
  'Release checklist: copy the checklist into the release issue.',
  'Release checklist: install the candidate on the staging fleet.',
  'Release checklist: freeze the translations for the release.',
  'Release checklist: annotate the release tag.',
  'Release checklist: close every release blocker issue.',
  'Release checklist: notarize the desktop release packages.',
  'Release checklist: upload from the protected release runner.',
  'Release checklist: close the release milestone.',
  'Release checklist: publish the release documentation.',
  'Release checklist: mirror the release downloads.',
  'Release checklist: check the release dashboard for unpublished packages.',
  'Release checklist: announce the release on the mailing list.',
  'Release checklist: soak the release candidate on staging.',
  'Release checklist: ask a second reviewer to approve the release.',
  'Release checklist: strip debug symbols from the release build.',
  'Release checklist: disable telemetry in the release build.',
  'Release checklist: prepare the rollback plan for the release.',
  'Release checklist: book the release retrospective.',
  'Release checklist: update the release calendar.',
  'Release checklist: verify the release checksums.',
  'Release checklist: confirm the release smoke tests passed.',
  'Release checklist: tell support about the release changes.',
  'Release checklist: move open issues to the next release milestone.',
  'Release checklist: archive the release branch logs.',
  'Release checklist: rotate the release manager for the next release.',
];

const INFRA = [
  ['The CI runner caches node_modules keyed by the lockfile hash.', 'fact'],
  ['Deploys to staging go through the blue-green switch in deploy/switch.sh.', 'fact'],
  ['The nightly backup of the build cache runs at 02:00 UTC on the CI runner.', 'task'],
] as const;

async function readMemory(hub: RunningHub, agent: TestAgent, id: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${hub.baseUrl}/api/v1/memory/${id}`, { headers: { authorization: `Bearer ${agent.token}` } });
  return { status: response.status, body: response.status === 200 ? await response.json() : null };
}

/** No part of the page is wider than the window: nothing to scroll sideways. */
async function expectNoSidewaysScroll(page: Page): Promise<void> {
  const { scrollWidth, width } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, width: window.innerWidth }));
  expect(scrollWidth).toBeLessThanOrEqual(width);
}

test.describe('memory topics and graph', () => {
  test.use({ viewport: { width: 1440, height: 900 } });

  test('browse topics, open a memory with its links as a graph, follow a link, edit, share and delete it', async ({ page, hub }, testInfo) => {
    test.setTimeout(240_000);
    const problems = watchConsole(page);
    const alpha = await TestAgent.connect(hub, { name: 'alpha', project: 'shop' });
    const beta = await TestAgent.connect(hub, { name: 'beta', project: 'infra' });
    const ids: Record<string, string> = {};
    for (const [text, kind] of SHOP) ids[text] = (await alpha.storeMemory(text, kind)).stored[0].memory.id;
    for (const [text, kind] of INFRA) ids[text] = (await beta.storeMemory(text, kind)).stored[0].memory.id;
    const pool = ids[SHOP[0][0]]!;
    const ticket = ids[SHOP[1][0]]!;
    const total = SHOP.length + INFRA.length;

    await openCockpit(page, hub, 'memory');
    await expect(page.getByTestId('memory-total')).toHaveText(String(total), { timeout: 60_000 });

    // Topics of a project, largest first, each with its words, size and examples; another project's are its own.
    await page.getByTestId('memory-tab-topics').click();
    const topics = page.getByTestId('memory-topics');
    await page.getByTestId('memory-topic-project').selectOption('shop');
    await expect(topics.getByTestId('memory-topic').first()).toBeVisible({ timeout: 30_000 });
    const sizes = await topics.locator('.topic-size').allTextContents();
    expect(sizes.map(Number)).toEqual([...sizes.map(Number)].sort((a, b) => b - a));
    // History (the 30-second timeout, superseded) is not counted.
    expect(sizes.map(Number).reduce((sum, n) => sum + n, 0)).toBe(SHOP.length - 1);
    await expect(topics).not.toContainText('CI runner');
    await page.getByTestId('memory-topic-project').selectOption('infra');
    await expect(topics.getByTestId('memory-topic').first()).toContainText(/CI runner|staging/);
    await expect(topics).not.toContainText('pool.ts');

    // Opening a topic lists its memories; one opens in the memory panel (and in the address).
    await topics.getByTestId('memory-topic').first().click();
    const topicMemories = page.getByTestId('memory-topic-memories');
    const first = topicMemories.getByTestId('memory-topic-memory').first();
    await expect(first).toBeVisible();
    const firstId = (await first.getAttribute('data-memory-id'))!;
    await first.click();
    const panel = page.getByTestId('memory-panel');
    await expect(panel).toHaveAttribute('data-memory-id', firstId);
    expect(page.url()).toContain(`#/memory/${firstId}`);

    // A search hit names its topic; the chip opens that topic, where the memory is listed.
    await page.getByTestId('memory-tab-search').click();
    await page.getByTestId('memory-query').fill('connection pool size limit');
    await page.getByTestId('memory-search').click();
    const hit = page.getByTestId('memory-results').locator(`[data-testid=memory-hit][data-memory-id="${pool}"]`);
    await expect(hit).toBeVisible({ timeout: 30_000 });
    await hit.getByTestId('memory-hit-topic').click();
    await expect(page.getByTestId('memory-topic-project')).toHaveValue('shop');
    const poolRow = topicMemories.locator(`[data-testid=memory-topic-memory][data-memory-id="${pool}"]`);
    await expect(poolRow).toBeVisible();
    await poolRow.click();
    await expect(panel).toHaveAttribute('data-memory-id', pool);
    await expect(panel.getByTestId('memory-text')).toHaveText(SHOP[0][0]);
    // The cockpit's searches are not uses.
    await expect(panel.getByTestId('memory-uses')).toContainText('0×');

    // Its links as a graph: the memories naming src/db/pool.ts are linked to it by that entity.
    const graph = panel.getByTestId('memory-graph');
    await expect(graph).toHaveAttribute('data-center', pool);
    const nodes = graph.getByTestId('memory-graph-node');
    await expect(graph.locator(`[data-testid=memory-graph-node][data-memory-id="${ticket}"]`)).toBeVisible();
    expect(await nodes.count()).toBeGreaterThanOrEqual(3);
    const entityEdges = graph.locator('[data-testid=memory-graph-edge][data-link-kind=entity]');
    expect(await entityEdges.count()).toBeGreaterThanOrEqual(2);
    await expect(panel.getByTestId('memory-graph-legend')).toContainText('shared entity');
    const directCount = await nodes.count();
    // One tab stop for the graph itself, whatever its size: its memories are reached with the arrow keys.
    const stopCount = await graph.evaluate((element) =>
      [element, ...element.querySelectorAll<HTMLElement>('a[href], button, input, select, textarea, [tabindex]')].filter((found) => found.tabIndex >= 0 && !(found as HTMLButtonElement).disabled).length,
    );
    // The graph and React Flow's zoom buttons (in, out, fit).
    expect(stopCount).toBeLessThanOrEqual(4);
    // Coloured by topic instead of kind: the legend names the topics, and the three share the pool topic's colour.
    await panel.getByRole('radio', { name: 'by topic' }).click();
    const poolTopic = (await panel.getByTestId('memory-topic-chip').textContent())!.replace('topic: ', '');
    await expect(panel.getByTestId('memory-graph-legend')).toContainText(`Topics:${poolTopic}`);
    const colours = await nodes.evaluateAll((found) => found.map((node) => (node as HTMLElement).style.getPropertyValue('--node-color')));
    expect(new Set(colours).size).toBe(1);
    await panel.getByRole('radio', { name: 'by kind' }).click();
    await expect(panel.getByTestId('memory-graph-legend')).toContainText('Kinds:');
    // Each kind of link is a switch: without entity links the graph is what the other kinds reach.
    const entitySwitch = panel.locator('[data-testid=memory-link-kind][data-link-kind=entity]');
    await expect(entitySwitch).toContainText(String(await entityEdges.count()));
    await entitySwitch.click();
    await expect(entitySwitch).toHaveAttribute('aria-pressed', 'false');
    await expect(panel.locator('[data-testid=memory-graph-edge][data-link-kind=entity]')).toHaveCount(0);
    await entitySwitch.click();
    await expect(entityEdges).not.toHaveCount(0);
    await page.screenshot({ path: testInfo.outputPath('memory-graph-1440.png'), fullPage: true });
    await expectNoSidewaysScroll(page);

    // Two steps out shows at least as much; a click on a memory re-centres the graph on it.
    await panel.getByTestId('memory-depth-2').click();
    await expect.poll(() => nodes.count()).toBeGreaterThanOrEqual(directCount);
    await graph.locator(`[data-testid=memory-graph-node][data-memory-id="${ticket}"]`).click();
    await expect(panel).toHaveAttribute('data-memory-id', ticket);
    await expect(graph).toHaveAttribute('data-center', ticket);
    expect(page.url()).toContain(`#/memory/${ticket}`);
    await expect(panel.getByTestId('memory-text')).toContainText('SHOP-142');

    // The keyboard reaches the graph as one tab stop: arrows move between memories, Enter re-centres.
    await graph.focus();
    let target = ticket;
    for (const key of ['ArrowRight', 'ArrowLeft', 'ArrowDown', 'ArrowUp']) {
      await page.keyboard.press(key);
      target = ((await graph.getAttribute('aria-activedescendant')) ?? '').replace('mem-node-', '');
      if (target !== ticket) break;
    }
    expect(target).not.toBe(ticket);
    await page.keyboard.press('Enter');
    await expect(graph).toHaveAttribute('data-center', target);

    // An update is linked to the value it replaced: an amber arrow to the old memory, drawn as history.
    const newer = ids[SHOP[6][0]]!;
    const older = ids[SHOP[5][0]]!;
    await page.goto(`${hub.cockpitUrl}#/memory/${newer}`);
    await expect(graph).toHaveAttribute('data-center', newer);
    await expect(graph.locator(`[data-testid=memory-graph-edge][data-link-kind=supersedes][data-from="${newer}"][data-to="${older}"]`)).toHaveCount(1);
    await expect(graph.locator(`[data-testid=memory-graph-node][data-memory-id="${older}"]`)).toHaveClass(/mem-node-history/);
    await expect(panel.getByTestId('memory-supersedes-link')).toHaveText(/…/);
    await expect(panel.locator('[data-testid=memory-link-kind][data-link-kind=supersedes]')).toHaveText(/supersedes\s*1$/);

    await page.goto(`${hub.cockpitUrl}#/memory/${pool}`);
    await expect(panel).toHaveAttribute('data-memory-id', pool);

    // Tags: added (comma-separated), one removed; the hub has them.
    await panel.getByTestId('memory-tag-input').fill('database, flaky #capacity');
    await panel.getByTestId('memory-tag-add').click();
    await expect(panel.getByTestId('memory-tag')).toHaveText(['#database×', '#flaky×', '#capacity×']);
    await panel.getByRole('button', { name: 'Remove tag flaky' }).click();
    await expect(panel.getByTestId('memory-tag')).toHaveText(['#database×', '#capacity×']);
    await expect.poll(async () => (await readMemory(hub, alpha, pool)).body?.tags).toEqual(['database', 'capacity']);

    // Importance.
    await panel.getByTestId('memory-importance').fill('0.9');
    await expect(panel.getByTestId('memory-importance-value')).toHaveText('0.90');
    await panel.getByTestId('memory-importance-save').click();
    await expect(panel.getByTestId('memory-importance-save')).toBeDisabled();
    await expect.poll(async () => (await readMemory(hub, alpha, pool)).body?.importance).toBeCloseTo(0.9);

    // Sharing: another project's agent reads it only once it is shared.
    expect((await readMemory(hub, beta, pool)).status).not.toBe(200);
    await panel.getByTestId('memory-share').click();
    await expect(panel.getByTestId('memory-sharing')).toContainText('Shared');
    await expect(panel.getByTestId('memory-share')).toHaveAttribute('aria-pressed', 'true');
    await expect.poll(async () => (await readMemory(hub, beta, pool)).status).toBe(200);

    // A reload reads it all back from the hub.
    await page.reload();
    await expect(panel.getByTestId('memory-tag')).toHaveText(['#database×', '#capacity×'], { timeout: 30_000 });
    await expect(panel.getByTestId('memory-importance-value')).toHaveText('0.90');
    await expect(panel.getByTestId('memory-sharing')).toContainText('Shared');

    // At 1024 px: one column, the open memory first, its graph whole, nothing wider than the window.
    await page.setViewportSize({ width: 1024, height: 800 });
    await expect(graph).toBeVisible();
    const graphBox = (await graph.boundingBox())!;
    expect(graphBox.width).toBeGreaterThan(500);
    expect(graphBox.x + graphBox.width).toBeLessThanOrEqual(1024);
    // The graph fits itself to its new size: every memory in view.
    await expect(async () => {
      for (const node of await nodes.all()) {
        const at = (await node.boundingBox())!;
        expect(at.x).toBeGreaterThanOrEqual(graphBox.x);
        expect(at.y).toBeGreaterThanOrEqual(graphBox.y);
        expect(at.x + at.width).toBeLessThanOrEqual(graphBox.x + graphBox.width);
        expect(at.y + at.height).toBeLessThanOrEqual(graphBox.y + graphBox.height);
      }
    }).toPass({ timeout: 5000 });
    await expectNoSidewaysScroll(page);
    await page.screenshot({ path: testInfo.outputPath('memory-graph-1024.png'), fullPage: true });
    await page.getByTestId('memory-tab-topics').click();
    await page.screenshot({ path: testInfo.outputPath('memory-topics-1024.png'), fullPage: true });
    await expectNoSidewaysScroll(page);

    // Delete asks first; cancelling keeps it; confirming removes it everywhere.
    await panel.getByTestId('memory-delete').click();
    await panel.getByRole('alertdialog').getByRole('button', { name: 'Cancel' }).click();
    expect((await readMemory(hub, alpha, pool)).status).toBe(200);
    await panel.getByTestId('memory-delete').click();
    await expect(panel.getByRole('alertdialog')).toContainText('cannot be undone');
    await panel.getByTestId('memory-delete-confirm').click();
    await expect(panel).toHaveCount(0);
    expect(page.url()).toMatch(/#\/memory$/);
    await expect(page.getByTestId('memory-total')).toHaveText(String(total - 1), { timeout: 10_000 });
    expect((await readMemory(hub, alpha, pool)).status).toBe(404);
    await expect(topicMemories.locator(`[data-memory-id="${pool}"]`)).toHaveCount(0);

    expect(problems).toEqual([]);
    alpha.close();
    beta.close();
  });

  test('a large topic pages through its memories, and its lists move with the keyboard', async ({ page, hub }, testInfo) => {
    test.setTimeout(180_000);
    const problems = watchConsole(page);
    const gamma = await TestAgent.connect(hub, { name: 'gamma', project: 'release' });
    const response = await fetch(`${hub.baseUrl}/api/v1/memory/store`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${gamma.token}` },
      body: JSON.stringify({ memories: RELEASE.map((text) => ({ text, kind: 'note' })) }),
    });
    expect(response.status).toBe(201);

    await openCockpit(page, hub, 'memory');
    await page.getByTestId('memory-tab-topics').click();
    const topic = page.getByTestId('memory-topic').first();
    await expect(topic).toBeVisible({ timeout: 60_000 });
    const size = Number(await topic.locator('.topic-size').textContent());
    expect(size).toBeGreaterThan(20);
    await topic.click();
    const list = page.getByTestId('memory-topic-memories');
    const rows = list.getByTestId('memory-topic-memory');
    await expect(rows).toHaveCount(20);
    await expect(list.getByTestId('memory-topic-range')).toHaveText(`1–20 of ${size}`);
    await expect(list.getByTestId('memory-topic-prev')).toBeDisabled();
    const firstPage = await rows.evaluateAll((found) => found.map((row) => row.getAttribute('data-memory-id')));
    await list.getByTestId('memory-topic-next').click();
    await expect(list.getByTestId('memory-topic-range')).toHaveText(`21–${size} of ${size}`);
    await expect(rows).toHaveCount(size - 20);
    await expect(list.getByTestId('memory-topic-next')).toBeDisabled();
    const secondPage = await rows.evaluateAll((found) => found.map((row) => row.getAttribute('data-memory-id')));
    expect(secondPage.filter((id) => firstPage.includes(id))).toEqual([]);
    await list.getByTestId('memory-topic-prev').click();
    await expect(list.getByTestId('memory-topic-range')).toHaveText(`1–20 of ${size}`);

    // One tab stop per list: the arrow keys and End move within it, Enter opens the memory there.
    await rows.first().focus();
    await page.keyboard.press('ArrowDown');
    await expect(rows.nth(1)).toBeFocused();
    await page.keyboard.press('End');
    await expect(rows.nth(19)).toBeFocused();
    await page.keyboard.press('Enter');
    await expect(page.getByTestId('memory-panel')).toHaveAttribute('data-memory-id', firstPage[19]!);
    expect(await rows.evaluateAll((found) => found.filter((row) => row.getAttribute('tabindex') === '0').length)).toBe(1);

    await page.screenshot({ path: testInfo.outputPath('memory-topic-pages-1440.png'), fullPage: true });
    expect(problems).toEqual([]);
    gamma.close();
  });
});
