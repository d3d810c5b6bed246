/** Failures a person can act on: drive missing, full, read-only, slow; retried later; the last good snapshot kept. */
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BackupSettingsSchema } from '../../src/main/backup/config';
import { classifyTargetError } from '../../src/main/backup/errors';
import { BackupScheduler, type BackupEvent } from '../../src/main/backup/scheduler';
import { tempDir } from '../helpers';
import { errnoError, makeFixture, manifestFiles, writeTree, type FixtureOptions } from './harness';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

function projectFixture(hooks: FixtureOptions = {}) {
  const project = tempDir();
  writeTree(project, { 'a.txt': 'a', 'b.txt': 'b', 'c/d.txt': 'd' });
  const fx = makeFixture({ ...hooks, settings: { sources: [{ name: 'proj', path: project }], ...hooks.settings } });
  return { fx, project };
}

describe('backup errors', () => {
  it('says clearly when no folder is chosen', async () => {
    const { fx } = projectFixture({ settings: { target: null } });
    await expect(fx.engine.run()).rejects.toMatchObject({ code: 'no_target', message: expect.stringContaining('No backup folder is chosen') });
  });

  it('fails with target_missing when the sync drive is not mounted, without creating the folder', async () => {
    const { fx } = projectFixture();
    const unmounted = path.join(fx.root, 'G-drive', 'My Drive');
    fx.settings = BackupSettingsSchema.parse({ ...fx.settings, target: unmounted });
    const error = await fx.engine.run().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'target_missing', status: 503 });
    expect((error as Error).message).toContain(`The backup folder ${unmounted} is not there`);
    expect((error as Error).message).toMatch(/drive is connected .* signed in/);
    expect((error as Error).message).toContain('Earlier backups are untouched');
    expect(existsSync(unmounted)).toBe(false); // an unmounted drive is never replaced by a local folder
    expect(fx.engine.state.recentRuns()[0]).toMatchObject({ status: 'failed', errorCode: 'target_missing', error: (error as Error).message });
  });

  it('fails with target_missing when the drive goes away in the middle of a run, keeping the last good snapshot', async () => {
    let unmount = false;
    const { fx, project } = projectFixture({
      engine: {
        hooks: {
          beforeTargetWrite: (kind) => {
            if (unmount && kind === 'object') {
              rmSync(fx.target, { recursive: true, force: true });
              throw errnoError('ENOENT');
            }
          },
        },
      },
    });
    const good = await fx.engine.run();
    const saved = path.join(fx.root, 'saved-repo');
    // Keep a copy of the drive's content to check the good snapshot afterwards ("the drive comes back").
    const { cpSync } = await import('node:fs');
    cpSync(fx.target, saved, { recursive: true });
    writeFileSync(path.join(project, 'a.txt'), 'changed');
    unmount = true;
    await expect(fx.engine.run()).rejects.toMatchObject({ code: 'target_missing' });
    unmount = false;
    cpSync(saved, fx.target, { recursive: true });
    expect(await fx.engine.verify(good.snapshotId!)).toMatchObject({ ok: true });
  });

  it('reports a full drive (ENOSPC) and leaves the previous snapshot intact', async () => {
    let full = false;
    const { fx, project } = projectFixture({
      engine: { hooks: { beforeTargetWrite: (kind) => { if (full && kind === 'object') throw errnoError('ENOSPC'); } } },
    });
    const good = await fx.engine.run();
    writeFileSync(path.join(project, 'new.txt'), 'needs space');
    full = true;
    const error = await fx.engine.run().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'target_full', status: 507 });
    expect((error as Error).message).toMatch(/is full: there is no space left on its drive/);
    expect((error as Error).message).toMatch(/Free some space there or choose another folder/);
    expect(manifestFiles(fx.repoDir)).toEqual([`${good.snapshotId}.json`]);
    expect(await fx.engine.verify(good.snapshotId!)).toMatchObject({ ok: true });
  });

  it('reports a read-only drive (EROFS) with what to do', async () => {
    const { fx } = projectFixture({ engine: { hooks: { beforeTargetWrite: () => { throw errnoError('EROFS'); } } } });
    const error = await fx.engine.run().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'target_read_only', status: 403 });
    expect((error as Error).message).toContain('the drive is read-only');
    expect((error as Error).message).toContain('Make the folder writable for your user, or choose another folder');
  });

  it('reports a folder without write permission (chmod 0555) as read-only — or, as root, where chmod does not bind, succeeds', async () => {
    const { fx } = projectFixture();
    chmodSync(fx.target, 0o555);
    try {
      if (isRoot) {
        // root ignores the permission bits: the write succeeds, which is the behaviour to expect there. A folder
        // that binds root too (a read-only mount, chattr +i) is tested in read-only-target.test.ts.
        const run = await fx.engine.run();
        expect(run.status).toBe('ok');
        expect(manifestFiles(fx.repoDir)).toHaveLength(1);
      } else {
        const error = await fx.engine.run().catch((e: unknown) => e);
        expect(error).toMatchObject({ code: 'target_read_only' });
        expect((error as Error).message).toMatch(/EACCES: permission denied|EPERM/);
        expect(existsSync(fx.repoDir)).toBe(false);
      }
    } finally {
      chmodSync(fx.target, 0o755);
    }
  });

  it('gives up on a drive that does not answer within the time limit (offline / very slow)', async () => {
    let hang = false;
    const { fx } = projectFixture({
      settings: { timeoutSeconds: 1 },
      engine: { hooks: { beforeTargetWrite: (kind) => (hang && kind === 'object' ? new Promise<void>(() => undefined) : undefined) } },
    });
    const good = await fx.engine.run();
    writeFileSync(path.join(fx.root, 'x'), '');
    writeTree(fx.settings.sources[0]!.path, { 'slow.txt': 'slow' });
    hang = true;
    const started = Date.now();
    const error = await fx.engine.run().catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(error).toMatchObject({ code: 'target_timeout', status: 504 });
    expect((error as Error).message).toMatch(/did not answer within 1 s while storing a file: its drive may be offline or very slow/);
    expect(manifestFiles(fx.repoDir)).toEqual([`${good.snapshotId}.json`]);
  });

  it('classifies other errno codes', () => {
    expect(classifyTargetError(errnoError('EDQUOT'), '/t', 'x', true).code).toBe('target_full');
    expect(classifyTargetError(errnoError('EACCES'), '/t', 'x', true).code).toBe('target_read_only');
    expect(classifyTargetError(errnoError('ENOTCONN'), '/t', 'x', true).code).toBe('target_offline');
    expect(classifyTargetError(errnoError('EIO'), '/t', 'x', true).message).toMatch(/stopped answering \(EIO\)/);
    expect(classifyTargetError(errnoError('ENOENT'), '/t', 'x', false).code).toBe('target_missing');
    expect(classifyTargetError(errnoError('ENOENT'), '/t', 'x', true).code).toBe('target_failed');
  });
});

describe('BackupScheduler', () => {
  it('retries a failed run with a growing delay, and runs on the interval once the drive is back', async () => {
    const { fx } = projectFixture({ settings: { intervalMinutes: 60 } });
    const realTarget = fx.target;
    fx.settings = BackupSettingsSchema.parse({ ...fx.settings, target: path.join(fx.root, 'not-mounted') });
    const events: BackupEvent[] = [];
    let now = Date.parse('2024-05-01T10:00:00Z');
    const scheduler = new BackupScheduler({
      engine: fx.engine,
      settings: () => fx.settings,
      onEvent: (e) => events.push(e),
      startDelayMs: 30_000,
      now: () => now,
    });
    scheduler.start();
    // No good run yet: the first one waits for the start-up delay.
    expect(scheduler.status().nextRunAt).toBe(new Date(now + 30_000).toISOString());

    const first = scheduler.runNow();
    await expect(first.done).rejects.toMatchObject({ code: 'target_missing' });
    expect(scheduler.status()).toMatchObject({ consecutiveFailures: 1, lastError: { code: 'target_missing' } });
    expect(scheduler.status().nextRunAt).toBe(new Date(now + 60_000).toISOString()); // retry in 1 minute
    await expect(scheduler.runNow('retry').done).rejects.toMatchObject({ code: 'target_missing' });
    expect(scheduler.status().nextRunAt).toBe(new Date(now + 2 * 60_000).toISOString()); // then 2
    await expect(scheduler.runNow('retry').done).rejects.toMatchObject({ code: 'target_missing' });
    expect(scheduler.status().nextRunAt).toBe(new Date(now + 5 * 60_000).toISOString()); // then 5

    fx.settings = BackupSettingsSchema.parse({ ...fx.settings, target: realTarget });
    const ok = await scheduler.runNow('retry').done;
    expect(ok.status).toBe('ok');
    expect(scheduler.status()).toMatchObject({ consecutiveFailures: 0, lastError: null });
    // Next regular run: an interval after the last good one.
    expect(Date.parse(scheduler.status().nextRunAt!)).toBe(Date.parse(ok.finishedAt!) + 60 * 60_000);

    const kinds = events.map((e) => e.kind);
    expect(kinds.filter((k) => k === 'run-started')).toHaveLength(4);
    expect(kinds.filter((k) => k === 'run-finished')).toHaveLength(4);
    expect(events.some((e) => e.kind === 'progress' && e.progress.phase === 'copying')).toBe(true);
    const finished = events.filter((e): e is Extract<BackupEvent, { kind: 'run-finished' }> => e.kind === 'run-finished');
    expect(finished.map((e) => e.run.status)).toEqual(['failed', 'failed', 'failed', 'ok']);
    now += 1;
    await scheduler.stop();
  });

  it('refuses a second run while one is going, and the quit hook waits for (or takes) a last backup', async () => {
    const { fx } = projectFixture({ settings: { intervalMinutes: null, runOnQuit: true } });
    const scheduler = new BackupScheduler({ engine: fx.engine, settings: () => fx.settings });
    scheduler.start();
    expect(scheduler.status().nextRunAt).toBeNull();
    const running = scheduler.runNow();
    expect(() => scheduler.runNow()).toThrow(expect.objectContaining({ code: 'busy', status: 409 }));
    const onQuit = await scheduler.onQuit(30_000);
    expect(onQuit?.id).toBe(running.runId);

    const again = new BackupScheduler({ engine: fx.engine, settings: () => fx.settings });
    const last = await again.onQuit(30_000);
    expect(last).toMatchObject({ status: 'ok', trigger: 'quit' });
  });

  it('cancels a run the quit hook cannot wait for, leaving earlier snapshots intact', async () => {
    let slow = false;
    const { fx } = projectFixture({
      engine: { copyConcurrency: 1, hooks: { beforeTargetWrite: async (kind) => { if (slow && kind === 'object') await new Promise((r) => setTimeout(r, 300)); } } },
    });
    const good = await fx.engine.run();
    mkdirSync(path.join(fx.settings.sources[0]!.path, 'many'));
    writeTree(fx.settings.sources[0]!.path, Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`many/${i}.txt`, `n${i}`])));
    slow = true;
    const scheduler = new BackupScheduler({ engine: fx.engine, settings: () => fx.settings });
    const result = await scheduler.onQuit(500);
    expect(result).toBeNull();
    expect(fx.engine.state.recentRuns()[0]).toMatchObject({ status: 'cancelled', trigger: 'quit' });
    expect(manifestFiles(fx.repoDir)).toEqual([`${good.snapshotId}.json`]);
  });
});
