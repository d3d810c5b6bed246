/**
 * The advisor in the browser cockpit: a hub whose WAL has grown past a low threshold (config.json `advisor.walBytes`)
 * and whose memory index is flat past its threshold (automatic builds off) shows both in the Performance view's
 * advice; the checkpoint is clicked and its before/after shown; a CPU profile is taken and downloaded.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { startHub, stopHub, type RunningHub } from './hub';

const notes = (JSON.parse(readFileSync(new URL('../test/memory/fixtures/retrieval-quality.json', import.meta.url), 'utf8')) as { notes: Array<{ kind: string; text: string }> }).notes;

async function api(hub: RunningHub, route: string, token: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${hub.baseUrl}/api/v1${route}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

test('the Performance view names a grown WAL and a flat index, checkpoints on a click, and profiles the hub', async ({ page }, testInfo) => {
  test.setTimeout(120_000);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'devenviro-e2e-'));
  writeFileSync(
    path.join(dataDir, 'config.json'),
    JSON.stringify({ advisor: { walBytes: 64 * 1024, flatIndexVectors: 100 }, memory: { index: { ivfThreshold: 100, autoBuild: false } } }),
  );
  const hub = await startHub([], dataDir);
  try {
    const register = async (name: string) => (await api(hub, '/agents/register', hub.token, { name, project: 'e2e' })).body as { agent: { id: string }; token: string };
    const a = await register('a');
    const b = await register('b');
    for (let i = 0; i < 60; i++) await api(hub, `/agents/${b.agent.id}/messages`, a.token, { body: `message ${i} ${'x'.repeat(2000)}` });
    const stored = await api(hub, '/memory/store', a.token, { memories: notes.map(({ kind, text }) => ({ kind, text })) });
    expect(stored.status).toBe(201);

    await page.setViewportSize({ width: 1440, height: 1000 });
    await page.goto(`${hub.cockpitUrl}#/performance`);
    const panel = page.getByTestId('panel-advice');
    const wal = panel.locator('[data-advice="sqlite-wal.hub"]');
    await expect(wal.getByTestId('advice-title')).toHaveText(/^the hub database's WAL is [\d.]+ (KB|MB)$/);
    await expect(wal.getByTestId('advice-suggestion')).toContainText('checkpoint');
    const flat = panel.locator('[data-advice="search-latency.flat"]');
    await expect(flat.getByTestId('advice-title')).toContainText(/every search scans all \d+ vectors \(flat index\)/);
    await expect(flat.getByTestId('advice-fix')).toHaveText('Build the IVF index');
    await page.screenshot({ path: testInfo.outputPath('advice-1440.png'), fullPage: true });

    await wal.getByTestId('advice-fix').click();
    // The before/after stays under Recent fixes once the advice has left the list (the WAL is empty now).
    await page.getByTestId('advice-refresh').click();
    await expect(panel.locator('[data-testid="advice-item"][data-advice="sqlite-wal.hub"]')).toHaveCount(0);
    const fixed = panel.locator('[data-testid="recent-fix"][data-advice="sqlite-wal.hub"]');
    await expect(fixed.getByTestId('fix-after')).toHaveText('0 B');
    await expect(fixed.getByTestId('fix-before')).toHaveText(/^[\d.]+ (KB|MB)$/);
    await page.screenshot({ path: testInfo.outputPath('advice-fixed-1440.png'), fullPage: true });

    // A CPU profile of one second, with its progress, then the download.
    await page.getByTestId('profile-seconds').fill('1');
    await page.getByTestId('profile-cpu').click();
    const item = page.getByTestId('profile-item').first();
    await expect(item).toHaveAttribute('data-state', 'done', { timeout: 15_000 });
    const [download] = await Promise.all([page.waitForEvent('download'), item.getByTestId('profile-download').click()]);
    expect(download.suggestedFilename()).toMatch(/^devenviro-hub-cpu-.*\.cpuprofile$/);
    const file = testInfo.outputPath('hub.cpuprofile');
    await download.saveAs(file);
    expect((JSON.parse(readFileSync(file, 'utf8')) as { nodes: unknown[] }).nodes.length).toBeGreaterThan(1);

    await page.setViewportSize({ width: 1024, height: 900 });
    await page.screenshot({ path: testInfo.outputPath('advice-1024.png'), fullPage: true });
  } finally {
    await stopHub(hub);
  }
});
