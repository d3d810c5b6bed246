/**
 * The Status view's details stay live (the memory service counted "0 memories" while 22 existed), and the backup has
 * a row there and a card on the Overview: not set up, then its last good run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, test } from './hub';
import { openCockpit, TestAgent, watchConsole } from './test-agent';

test.use({ viewport: { width: 1024, height: 768 } });

test('status details follow the hub, with a backup row; the overview has a backup card', async ({ page, hub }) => {
  test.setTimeout(180_000);
  const problems = watchConsole(page);
  const alpha = await TestAgent.connect(hub, { name: 'alpha' });
  await alpha.storeMemory('The staging database is rebuilt every night at two.', 'fact');
  await openCockpit(page, hub, 'status');
  const memoryRow = page.getByTestId('service-memory');
  await expect(memoryRow).toContainText('1 memory,', { timeout: 60_000 });
  for (const text of ['Deploys go out on Tuesdays.', 'The CI cache lives in the shared bucket.']) await alpha.storeMemory(text, 'fact');
  await expect(memoryRow).toContainText('3 memories', { timeout: 10_000 });

  // The backup: a row among the services, not set up yet, then its last good run.
  const backupRow = page.getByTestId('service-backup');
  await expect(backupRow).toContainText('No backup folder is chosen');
  await page.getByTestId('nav-overview').click();
  await expect(page.getByTestId('stat-backup')).toHaveText('not set up');

  const target = mkdtempSync(path.join(os.tmpdir(), 'devenviro-e2e-backup-'));
  try {
    const put = await fetch(`${hub.baseUrl}/api/v1/backup/settings`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${hub.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ target, intervalMinutes: null }),
    });
    expect(put.status).toBe(200);
    const run = await fetch(`${hub.baseUrl}/api/v1/backup/run`, { method: 'POST', headers: { authorization: `Bearer ${hub.token}`, 'content-type': 'application/json' }, body: '{}' });
    expect(run.status).toBe(202);
    await expect(page.getByTestId('stat-backup')).toHaveText(/^(now|\d+ s ago)$/, { timeout: 60_000 });
    await page.getByTestId('stat-backup-card').click();
    await expect(page).toHaveURL(/#\/backup$/);
    await page.getByTestId('nav-status').click();
    await expect(page.getByTestId('service-backup')).toHaveAttribute('data-state', 'up');
    await expect(page.getByTestId('service-backup')).toContainText('Last good run');
  } finally {
    rmSync(target, { recursive: true, force: true });
  }
  expect(problems).toEqual([]);
});
