/**
 * A backup folder that cannot be written is reported as `target_read_only`, found by a probe file before the run.
 *
 * Tests run as root, and root ignores permission bits (a chmod 0555 folder is writable to it), so read-only-ness is
 * made real here with the two means that bind root too, both of which work on this machine: a read-only bind mount
 * (`mount --bind` + `mount -o remount,ro,bind`: EROFS) and the immutable attribute (`chattr +i`: EPERM). A mount
 * read-only in a way that answers mkdir with ENOENT (as the issue saw on a sync drive) cannot be made here, so that
 * answer is injected at the mkdir through the repository's write hook.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { tempDir } from '../helpers';
import { errnoError, makeFixture, manifestFiles, writeTree } from './harness';

/** Makes `dir` a read-only bind mount of itself until the test ends. */
function mountReadOnly(dir: string): void {
  execFileSync('mount', ['--bind', dir, dir]);
  onTestFinished(() => {
    execFileSync('umount', [dir]);
  });
  execFileSync('mount', ['-o', 'remount,ro,bind', dir]);
}

/** Sets the immutable attribute on `dir` until the test ends (no entry can be added to or removed from it). */
function makeImmutable(dir: string): void {
  execFileSync('chattr', ['+i', dir]);
  onTestFinished(() => {
    execFileSync('chattr', ['-i', dir]);
  });
}

function projectFixture() {
  const project = tempDir();
  writeTree(project, { 'a.txt': 'a', 'src/b.txt': 'b' });
  return { project, fx: makeFixture({ settings: { sources: [{ name: 'proj', path: project }] } }) };
}

describe('a backup folder that cannot be written', () => {
  it('is target_read_only on a read-only mount where the backup folders already exist, and the last snapshot stays good', async () => {
    const { fx } = projectFixture();
    const good = await fx.engine.run();
    mountReadOnly(fx.target);
    const error = await fx.engine.run().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'target_read_only', status: 403 });
    expect((error as Error).message).toContain('EROFS: the drive is read-only');
    expect((error as Error).message).toContain('checking that the backup folder can be written');
    expect(fx.engine.state.recentRuns()[0]).toMatchObject({ status: 'failed', errorCode: 'target_read_only' });
    // Found before anything was attempted: the good snapshot is the only one and still verifies.
    expect(manifestFiles(fx.repoDir)).toEqual([`${good.snapshotId}.json`]);
    expect(await fx.engine.verify(good.snapshotId!)).toMatchObject({ ok: true });
  });

  it('is target_read_only on a read-only mount with no backup folder yet (mkdir fails)', async () => {
    const { fx } = projectFixture();
    mountReadOnly(fx.target);
    const error = await fx.engine.run().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'target_read_only' });
    expect((error as Error).message).toContain('creating the backup folders');
    expect(existsSync(fx.repoDir)).toBe(false);
  });

  it('is target_read_only when the backup folder is immutable (chattr +i, which binds root too)', async () => {
    const { fx } = projectFixture();
    await fx.engine.run();
    makeImmutable(fx.repoDir);
    const error = await fx.engine.run().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'target_read_only' });
    expect((error as Error).message).toContain('EPERM');
    expect(readdirSync(fx.repoDir).filter((name) => name.startsWith('.tmp-'))).toEqual([]);
  });

  it('is target_read_only, not target_failed, when mkdir answers ENOENT inside a folder that is there', async () => {
    let refuse = true;
    const project = tempDir();
    writeTree(project, { 'a.txt': 'a' });
    const fx = makeFixture({
      settings: { sources: [{ name: 'proj', path: project }] },
      engine: {
        hooks: {
          beforeTargetWrite: (kind, file) => {
            if (refuse && file.endsWith(`${path.sep}objects`)) throw errnoError('ENOENT');
          },
        },
      },
    });
    const error = await fx.engine.run().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'target_read_only' });
    expect((error as Error).message).toContain('ENOENT');
    refuse = false;
    expect((await fx.engine.run()).status).toBe('ok');
  });
});
