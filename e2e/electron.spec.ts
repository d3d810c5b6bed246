/**
 * The desktop window, driven through Playwright's Electron support. It needs the Electron binary, which cannot be
 * downloaded on some machines (ours among them); there it reports itself skipped, by name, with the reason.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { _electron as electron, expect, test } from '@playwright/test';
import { findElectronBinary } from '../scripts/electron-binary.mjs';

const found = findElectronBinary();
const binary = 'binary' in found ? found.binary : undefined;
const hasDisplay = process.platform !== 'linux' || Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);

test.describe('Electron desktop window', () => {
  test.skip(!binary, `no Electron window here: ${'reason' in found ? found.reason : ''}`);
  test.skip(!hasDisplay, 'no display to open a window on (run under Xvfb)');

  test('opens the cockpit with the security defaults', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'devenviro-electron-'));
    const app = await electron.launch({ executablePath: binary, args: ['.', '--data-dir', dataDir, '--port', '0'] });
    try {
      const window = await app.firstWindow();
      await expect(window.getByTestId('status-runtime')).toHaveText('Desktop (Electron)');
      await expect(window.getByTestId('service-database')).toHaveAttribute('data-state', 'up');
      // No Node in the page, and the bridge exposes two functions only.
      expect(await window.evaluate(() => typeof (globalThis as Record<string, unknown>).require)).toBe('undefined');
      expect(await window.evaluate(() => typeof (globalThis as Record<string, unknown>).process)).toBe('undefined');
      expect(await window.evaluate(() => Object.keys((globalThis as unknown as { cockpit: object }).cockpit).sort())).toEqual(['invoke', 'subscribe']);
      // The page cannot reach Electron's modules either: the preload's world is isolated from it.
      expect(await window.evaluate(() => typeof (globalThis as Record<string, unknown>).ipcRenderer)).toBe('undefined');
    } finally {
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
