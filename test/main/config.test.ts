/** The data directory, config.json, the cockpit token and durable writes. */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { writeFileDurableSync } from '../../src/shared/node/durable-file';
import { ConfigError, configFile, defaultConfig, loadCockpitToken, loadConfig } from '../../src/main/config/config';
import { resolveDataDir } from '../../src/shared/node/data-dir';
import { tempDir } from '../helpers';

// Records the order of flushes and renames (the real functions still run).
const fsCalls = vi.hoisted(() => [] as string[]);
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const fsyncSync: typeof fs.fsyncSync = (fd) => {
    fsCalls.push('fsync');
    fs.fsyncSync(fd);
  };
  const renameSync: typeof fs.renameSync = (from, to) => {
    fsCalls.push(`rename ${path.basename(String(to))}`);
    fs.renameSync(from, to);
  };
  return { ...fs, default: { ...fs, fsyncSync, renameSync }, fsyncSync, renameSync };
});

describe('data directory', () => {
  it('prefers the flag, then DEVENVIRO_HOME, then Electron userData, then ~/.devenviro', () => {
    const env = { DEVENVIRO_HOME: '/from/env' };
    expect(resolveDataDir({ flag: '/from/flag', env, electronUserData: '/electron' })).toBe(path.resolve('/from/flag'));
    expect(resolveDataDir({ env, electronUserData: '/electron' })).toBe(path.resolve('/from/env'));
    expect(resolveDataDir({ env: {}, electronUserData: '/electron' })).toBe(path.resolve('/electron'));
    expect(resolveDataDir({ env: {} })).toBe(path.join(os.homedir(), '.devenviro'));
  });
});

describe('config file', () => {
  it('is created with its defaults on first start, in a folder created for it', () => {
    const dataDir = path.join(tempDir(), 'nested', 'hub');
    const config = loadConfig(dataDir);
    expect(config).toEqual(defaultConfig());
    expect(config.api.host).toBe('127.0.0.1');
    expect(config.messages.maxBytes).toBe(10 * 1024 * 1024);
    expect(JSON.parse(readFileSync(configFile(dataDir), 'utf8'))).toEqual(defaultConfig());
  });

  it('keeps a person\'s settings and fills in the ones they left out', () => {
    const dataDir = tempDir();
    writeFileSync(configFile(dataDir), JSON.stringify({ api: { port: 5000 } }));
    const config = loadConfig(dataDir);
    expect(config.api).toEqual({ host: '127.0.0.1', port: 5000 });
    expect(JSON.parse(readFileSync(configFile(dataDir), 'utf8'))).toEqual({ api: { port: 5000 } });
  });

  it('refuses a malformed file with the setting at fault, and leaves the file alone', () => {
    const dataDir = tempDir();
    writeFileSync(configFile(dataDir), JSON.stringify({ api: { port: 'eighty' }, colour: 'blue' }));
    expect(() => loadConfig(dataDir)).toThrow(ConfigError);
    expect(() => loadConfig(dataDir)).toThrow(/api\.port/);
    writeFileSync(configFile(dataDir), '{ not json');
    expect(() => loadConfig(dataDir)).toThrow(/not valid JSON/);
    expect(readFileSync(configFile(dataDir), 'utf8')).toBe('{ not json');
  });
});

describe('cockpit token', () => {
  it('is random, stable across restarts, and readable by its owner only', () => {
    const dataDir = tempDir();
    const first = loadCockpitToken(dataDir);
    expect(first).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(loadCockpitToken(dataDir)).toBe(first);
    expect(loadCockpitToken(tempDir())).not.toBe(first);
    if (process.platform !== 'win32') expect(statSync(path.join(dataDir, 'cockpit-token')).mode & 0o777).toBe(0o600);
    expect(existsSync(path.join(dataDir, `.cockpit-token.${process.pid}.tmp`))).toBe(false);
  });
});

describe('durable writes', () => {
  it('flush the new content to disk before renaming it into place', () => {
    const dir = tempDir();
    const file = path.join(dir, 'config.json');
    fsCalls.length = 0;
    writeFileDurableSync(file, '{"a":1}\n');
    // The file is flushed before the rename, and the folder after it, so the new name itself survives a power cut.
    expect(fsCalls).toEqual(['fsync', 'rename config.json', 'fsync']);
    expect(readFileSync(file, 'utf8')).toBe('{"a":1}\n');
    if (process.platform !== 'win32') expect(statSync(file).mode & 0o777).toBe(0o644);
    expect(readdirSync(dir)).toEqual(['config.json']);
  });

  it('leave the old file and no temporary file when the write cannot complete', () => {
    const dir = tempDir();
    const blocked = path.join(dir, 'taken');
    mkdirSync(path.join(blocked, 'inside'), { recursive: true });
    expect(() => writeFileDurableSync(blocked, 'x')).toThrow();
    expect(readdirSync(dir)).toEqual(['taken']);
  });
});
