/** A backup engine on a fresh data directory and a fresh "cloud drive" folder, plus small file-tree helpers. */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { onTestFinished } from 'vitest';
import { BackupSettingsSchema, type BackupSettings, type BackupSettingsInput } from '../../src/main/backup/config';
import { BackupEngine, type BackupEngineOptions } from '../../src/main/backup/engine';
import { REPO_DIR } from '../../src/main/backup/repository';
import { tempDir } from '../helpers';

export interface Fixture {
  root: string;
  dataDir: string;
  /** The folder standing in for the cloud drive. */
  target: string;
  repoDir: string;
  settings: BackupSettings;
  engine: BackupEngine;
  /** Object writes seen by the afterObjectWrite hook. */
  objectWrites: string[];
}

export interface FixtureOptions {
  settings?: Partial<BackupSettingsInput>;
  engine?: Partial<BackupEngineOptions>;
}

export function makeFixture(options: FixtureOptions = {}): Fixture {
  const root = tempDir('devenviro-backup-');
  const dataDir = path.join(root, 'data');
  const target = path.join(root, 'drive');
  mkdirSync(dataDir, { recursive: true });
  mkdirSync(target, { recursive: true });
  const objectWrites: string[] = [];
  const fixture: Fixture = {
    root,
    dataDir,
    target,
    repoDir: path.join(target, REPO_DIR),
    settings: BackupSettingsSchema.parse({ target, intervalMinutes: null, ...options.settings }),
    engine: undefined as unknown as BackupEngine,
    objectWrites,
  };
  const hooks = options.engine?.hooks ?? {};
  fixture.engine = new BackupEngine({
    dataDir,
    settings: () => fixture.settings,
    gcGraceMs: 0,
    ...options.engine,
    hooks: {
      ...hooks,
      afterObjectWrite: async (sha, bytes) => {
        objectWrites.push(sha);
        await hooks.afterObjectWrite?.(sha, bytes);
      },
    },
  });
  // Registered after tempDir's cleanup, so it runs first.
  onTestFinished(() => fixture.engine.close());
  return fixture;
}

export function writeTree(root: string, files: Record<string, string | Buffer>): void {
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(root, ...rel.split('/'));
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
}

/** Every regular file under root, by '/'-separated relative path. */
export function readTree(root: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  const walk = (dir: string, rel: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const r = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(path.join(dir, entry.name), r);
      else if (entry.isFile()) out[r] = readFileSync(path.join(dir, entry.name));
    }
  };
  walk(root, '');
  return out;
}

/** Every regular file under root, by path, as its sha256 (cheap to compare and to print when different). */
export function digestTree(root: string): Record<string, string> {
  return Object.fromEntries(Object.entries(readTree(root)).map(([rel, content]) => [rel, createHash('sha256').update(content).digest('hex')]));
}

/** Moves every file's mtime an hour back, so the hash cache trusts it (files modified seconds ago are re-hashed). */
export function ageTree(root: string, seconds = 3600): void {
  const when = new Date(Date.now() - seconds * 1000);
  for (const rel of Object.keys(readTree(root))) utimesSync(path.join(root, ...rel.split('/')), when, when);
}

export function manifestFiles(repoDir: string): string[] {
  return readdirSync(path.join(repoDir, 'snapshots')).sort();
}

export function errnoError(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: simulated`), { code });
}
