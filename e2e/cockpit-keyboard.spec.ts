/**
 * Keyboard and themes: a skip link is the first tab stop and lands in the view, focus is always visible, charts are
 * not tab stops, and the cockpit follows the system's light or dark setting with readable text in both.
 */
import type { Page } from '@playwright/test';
import { expect, test } from './hub';
import { openCockpit, TestAgent, watchConsole } from './test-agent';

test.use({ viewport: { width: 1024, height: 768 } });

/** Contrast ratio (WCAG) of two theme colours, read from the page's CSS variables. */
async function contrasts(page: Page, pairs: Array<[string, string]>): Promise<Record<string, number>> {
  return page.evaluate((pairs) => {
    const style = getComputedStyle(document.documentElement);
    const luminance = (hex: string) => {
      const value = hex.trim().replace('#', '');
      const full = value.length === 3 ? [...value].map((c) => c + c).join('') : value;
      const [r, g, b] = [0, 2, 4].map((i) => parseInt(full.slice(i, i + 2), 16) / 255).map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
      return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
    };
    const out: Record<string, number> = {};
    for (const [fg, bg] of pairs) {
      const [a, b] = [luminance(style.getPropertyValue(fg)), luminance(style.getPropertyValue(bg))];
      out[`${fg} on ${bg}`] = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    }
    return out;
  }, pairs);
}

const TEXT_PAIRS: Array<[string, string]> = [
  ['--text', '--panel'],
  ['--text', '--bg'],
  ['--muted', '--panel'],
  ['--muted', '--bg'],
  ['--faint', '--panel'],
  ['--faint', '--bg-deep'],
  ['--accent', '--panel'],
  ['--up', '--panel'],
  ['--starting', '--panel'],
  ['--down', '--panel'],
];

test('a skip link, visible focus, charts that are not tab stops', async ({ page, hub }) => {
  const problems = watchConsole(page);
  const alpha = await TestAgent.connect(hub, { name: 'alpha' });
  const beta = await TestAgent.connect(hub, { name: 'beta' });
  await alpha.burst(beta, 200);
  await openCockpit(page, hub, 'performance');
  await expect(page.getByTestId('histogram-send')).toBeVisible({ timeout: 10_000 });

  // The first Tab shows the skip link; Enter moves focus into the view, past the sidebar.
  await page.keyboard.press('Tab');
  const skip = page.getByTestId('skip-link');
  await expect(skip).toBeFocused();
  await expect(skip).toBeInViewport();
  await page.keyboard.press('Enter');
  await expect(page.locator('main#view')).toBeFocused();

  // Charts are drawings, not controls: none of them, nor anything in them, is a tab stop.
  const focusableInCharts = await page.locator('.chart').evaluateAll(
    (charts) => charts.flatMap((chart) => [chart, ...chart.querySelectorAll('*')]).filter((el) => (el as HTMLElement).tabIndex >= 0).length,
  );
  expect(focusableInCharts).toBe(0);
  // From the view, Tab goes to a control of the view, not through dozens of charts.
  await page.keyboard.press('Tab');
  const active = await page.evaluate(() => {
    const el = document.activeElement!;
    return { inChart: el.closest('.chart') !== null, tag: el.tagName, text: (el.textContent ?? '').slice(0, 40) };
  });
  expect(active.inChart).toBe(false);

  // Focus is visible: an outline on a focused sidebar link.
  await page.getByTestId('nav-agents').focus();
  await page.keyboard.press('Tab');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
  expect(outline).not.toBe('none');
  expect(problems).toEqual([]);
});

for (const scheme of ['dark', 'light'] as const) {
  test(`follows the system's ${scheme} setting, with readable text`, async ({ page, hub }, testInfo) => {
    await page.emulateMedia({ colorScheme: scheme });
    await openCockpit(page, hub, 'overview');
    const background = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
    const [r, g, b] = background.match(/\d+/g)!.map(Number);
    const light = (r! + g! + b!) / 3 > 128;
    expect(light).toBe(scheme === 'light');
    for (const [pair, ratio] of Object.entries(await contrasts(page, TEXT_PAIRS))) expect(ratio, `${scheme}: ${pair}`).toBeGreaterThanOrEqual(4.5);
    await page.screenshot({ path: testInfo.outputPath(`overview-${scheme}.png`) });
  });
}
