/** The app's lifecycle: a start that cannot listen closes what it opened, leaves the hub stopped, and can be retried. */
import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createApp } from '../../src/main/app';
import { defaultConfig } from '../../src/main/config/config';
import { HUB_RUNTIME_FILE } from '../../src/shared/hub-location';
import { tempDir } from '../helpers';
import { startHub } from '../hub/harness';

/** Files under `dir` this process holds open (Linux: /proc/self/fd). */
function openFilesUnder(dir: string): string[] {
  const open: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(path.join('/proc/self/fd', fd));
      if (target.startsWith(dir + path.sep)) open.push(path.relative(dir, target));
    } catch {
      // Closed between the listing and the read.
    }
  }
  return open.sort();
}

describe('app lifecycle', () => {
  // Open files are read from /proc, which only Linux has (CI runs Debian).
  it.runIf(process.platform === 'linux')('a start on a port in use fails with the reason, closes what it opened, and can be retried', async () => {
    const other = await startHub();
    const dataDir = tempDir();
    const config = defaultConfig();
    config.api.port = Number(new URL(other.url).port);
    const app = createApp({ dataDir, runtime: 'headless', config, rendererDir: null });
    onTestFinished(() => app.stop());

    await expect(app.start()).rejects.toThrow(/in use: another hub may be running/);
    expect(() => app.hub()).toThrow('the hub is not started');
    expect(app.status().apiUrl).toBeNull();
    // The databases it had opened are closed again; the running hub's hub.json is not its to remove.
    expect(openFilesUnder(dataDir)).toEqual([]);
    expect(existsSync(path.join(dataDir, HUB_RUNTIME_FILE))).toBe(false);
    expect(existsSync(path.join(other.dataDir, HUB_RUNTIME_FILE))).toBe(true);

    config.api.port = 0;
    const { apiUrl } = await app.start();
    expect(app.status().apiUrl).toBe(apiUrl);
    const registered = await fetch(`${apiUrl}/api/v1/agents/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'after-retry', project: 'test' }),
    });
    expect(registered.status).toBe(201);
    expect(openFilesUnder(dataDir)).toContain('hub.sqlite');

    await app.stop();
    expect(openFilesUnder(dataDir)).toEqual([]);
    expect(existsSync(path.join(dataDir, HUB_RUNTIME_FILE))).toBe(false);
  });
});
