/**
 * Screenshots of every view at a desk monitor's width (1440 px) and a laptop's (1024 px), written by the e2e run for
 * review: test-results/<this test>/<view>-<width>.png. A few agents, a conversation and a stored memory first, so
 * the views show something. Each view must render without errors and without sideways scrolling.
 */
import { expect, test } from './hub';
import { openCockpit, TestAgent, watchConsole } from './test-agent';

const VIEWS = ['overview', 'agents', 'connect', 'reservations', 'workflows', 'tasks', 'messages', 'memory', 'backup', 'performance', 'cluster', 'status'] as const;

// The cockpit's own look (the system's dark setting); e2e/cockpit-keyboard.spec.ts covers the light one.
test.use({ colorScheme: 'dark' });

for (const width of [1440, 1024]) {
  test(`every view at ${width} px, as screenshots`, async ({ page, hub }, testInfo) => {
    test.setTimeout(180_000);
    const problems = watchConsole(page);
    await page.setViewportSize({ width, height: width === 1440 ? 900 : 768 });
    const alpha = await TestAgent.connect(hub, { name: 'alpha', project: 'shop', tier: 'strategic' });
    const beta = await TestAgent.connect(hub, { name: 'beta', project: 'shop' });
    const gamma = await TestAgent.connect(hub, { name: 'gamma', project: 'search', tier: 'memory' });
    alpha.setStatus('busy', 'planning the checkout release');
    beta.setStatus('busy', 'running the integration tests');
    const question = await alpha.send(beta, 'Is the checkout branch green?', { subject: 'release', importance: 'high' });
    await beta.send(alpha, 'Yes: 412 tests pass. Merging after review.', { replyTo: question.id });
    await gamma.send({ type: 'broadcast' }, 'Reindexing the vector store tonight at two.');
    await alpha.burst(beta, 150, (i) => `progress report ${i}`);
    await gamma.storeMemory('The checkout service retries payments three times before giving up.', 'fact');

    await openCockpit(page, hub, 'overview');
    for (const view of VIEWS) {
      await page.getByTestId(`nav-${view}`).click();
      await expect(page).toHaveURL(new RegExp(`#/${view}$`));
      await expect(page.locator(`[data-testid="view-${view}"], main h1`).first()).toBeVisible();
      // Live figures settle: the charts have their history, lists their first answer.
      await page.waitForTimeout(view === 'memory' ? 3000 : 1200);
      expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth), `${view} scrolls sideways`).toBeLessThanOrEqual(0);
      await page.screenshot({ path: testInfo.outputPath(`${view}-${width}.png`) });
    }
    expect(problems).toEqual([]);
  });
}
