/**
 * A cockpit link with a wrong token says so, and how to get the right one, instead of "reconnecting" forever; the
 * command it names prints the link that works.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, test } from './hub';
import { watchConsole } from './test-agent';

const run = promisify(execFile);

test.use({ viewport: { width: 1024, height: 768 } });

test('a wrong ?token= says the token is not valid and names the command that prints the URL, which works', async ({ page, hub }) => {
  const problems = watchConsole(page);
  await page.goto(`${hub.baseUrl}/?token=${'x'.repeat(43)}#/overview`);
  const refused = page.getByTestId('token-refused');
  await expect(refused).toContainText('token is not valid');
  await expect(refused).toContainText('devenviro cockpit-url');
  await expect(page.getByTestId('connection')).toHaveText('token not valid');
  // It stays said: no retrying, no "reconnecting" banner.
  await page.waitForTimeout(2000);
  await expect(page.getByText(/reconnecting/i)).toHaveCount(0);
  await expect(refused).toBeVisible();

  const { stdout } = await run(process.execPath, ['bin/devenviro.mjs', 'cockpit-url', '--data-dir', hub.dataDir]);
  expect(stdout.trim()).toBe(hub.cockpitUrl);
  await page.goto(`${stdout.trim()}#/overview`);
  await expect(page.getByTestId('connection')).toHaveText('connected');
  await expect(page.getByTestId('token-refused')).toHaveCount(0);
  // The browser logs the refused socket's close; nothing else may go wrong.
  expect(problems.filter((p) => !/WebSocket/.test(p))).toEqual([]);
});
