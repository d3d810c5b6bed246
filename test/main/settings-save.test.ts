/** Saving backup settings from the cockpit writes the backup section of config.json only. */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultConfig, loadConfig } from '../../src/main/config/config';
import { tempDir } from '../helpers';
import { startHub } from '../hub/harness';

describe('saving settings from the cockpit', () => {
  it('writes the backup section only: a port given for this run stays out of config.json', async () => {
    const dataDir = tempDir();
    const file = path.join(dataDir, 'config.json');
    writeFileSync(file, JSON.stringify({ api: { port: 4999 } }));
    const before = loadConfig(dataDir);
    // The harness runs it on port 0, set in memory as a command-line --port is.
    const hub = await startHub({ dataDir });
    expect(hub.app.status().apiUrl).not.toContain(':4999');

    const settings = { ...defaultConfig().backup, intervalMinutes: 90 };
    await hub.app.handlers['backup.saveSettings'](settings);

    const after = JSON.parse(readFileSync(file, 'utf8'));
    expect(after.backup.intervalMinutes).toBe(90);
    expect(after.api).toEqual(before.api);
    expect(after.api.port).toBe(4999);
  });
});
