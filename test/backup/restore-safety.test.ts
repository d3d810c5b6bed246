/** Restore never writes outside its destination, whatever a (crafted) manifest says. */
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveInside, serializeManifest, unsafePathReason, type Manifest } from '../../src/main/backup/manifest';
import { tempDir } from '../helpers';
import { makeFixture, readTree, writeTree, type Fixture } from './harness';

/** A real snapshot, then a forged manifest in the same repository whose one file has the given path. */
async function forge(fx: Fixture, paths: string[], n: number): Promise<string> {
  const run = await fx.engine.run();
  const real = await fx.engine.manifest(run.snapshotId!);
  const file = real.files.find((f) => f.source === 'proj')!;
  const id = `20240101T000000${String(n).padStart(3, '0')}Z-deadbeef`;
  const forged: Manifest = { ...real, id, files: paths.map((p) => ({ ...file, path: p })) };
  writeFileSync(path.join(fx.repoDir, 'snapshots', `${id}.json`), serializeManifest(forged));
  return id;
}

function setup(platform?: NodeJS.Platform) {
  const project = tempDir();
  writeTree(project, { 'payload.txt': 'not where it belongs' });
  const fx = makeFixture({ settings: { sources: [{ name: 'proj', path: project }] }, engine: platform ? { platform } : {} });
  const area = tempDir(); // dest lives inside; anything written beside it escaped
  const dest = path.join(area, 'dest');
  return { fx, area, dest };
}

const MALICIOUS: Array<[string, string]> = [
  ['../escape.txt', 'has a ".." segment'],
  ['a/../../escape.txt', 'has a ".." segment'],
  ['a/b/../../../escape.txt', 'has a ".." segment'],
  ['/tmp/escape-absolute.txt', 'is absolute'],
  ['C:/Windows/escape.txt', 'starts with a drive letter'],
  ['C:escape.txt', 'starts with a drive letter'],
  ['c:\\escape.txt', 'starts with a drive letter'],
  ['a\\..\\..\\escape.txt', 'has a ".." segment (between backslashes)'],
  ['a/..\\escape.txt', 'has a ".." segment (between backslashes)'],
  ['\\\\server\\share\\escape.txt', 'starts with a backslash'],
  ['\\escape.txt', 'starts with a backslash'],
  ['./escape.txt', 'has a "." segment'],
  ['a//escape.txt', 'has an empty segment'],
  ['escape.txt\0.png', 'contains NUL'],
];

describe('restore path safety', () => {
  it.each(MALICIOUS)('refuses %j (%s) and writes nothing anywhere', async (bad, reason) => {
    const { fx, area, dest } = setup();
    const id = await forge(fx, ['fine.txt', bad], 1);
    const error = await fx.engine.restore(id, { source: 'proj', destination: dest }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'unsafe_path', status: 422 });
    expect((error as Error).message).toContain(reason);
    // Refused as a whole: not even the harmless file was written, and nothing landed beside the destination.
    expect(readTree(area)).toEqual({});
    expect(existsSync('/tmp/escape-absolute.txt')).toBe(false);
  });

  it('refuses to follow a symbolic link in the destination out of it', async () => {
    const { fx, area, dest } = setup();
    const outside = path.join(area, 'outside');
    mkdirSync(outside);
    mkdirSync(dest);
    symlinkSync(outside, path.join(dest, 'link'), 'dir');
    const id = await forge(fx, ['link/pwned.txt'], 2);
    await expect(fx.engine.restore(id, { source: 'proj', destination: dest, overwrite: true })).rejects.toMatchObject({
      code: 'unsafe_path',
      message: expect.stringContaining('symbolic link'),
    });
    expect(readdirSync(outside)).toEqual([]);
  });

  it('refuses to replace a symbolic link standing where a file goes', async () => {
    const { fx, area, dest } = setup();
    const outside = path.join(area, 'outside.txt');
    writeFileSync(outside, 'precious');
    mkdirSync(dest);
    symlinkSync(outside, path.join(dest, 'payload.txt'));
    const run = await fx.engine.run();
    await expect(fx.engine.restore(run.snapshotId!, { source: 'proj', destination: dest, overwrite: true })).rejects.toMatchObject({
      code: 'unsafe_path',
    });
    expect(readTree(area)['outside.txt']!.toString()).toBe('precious');
  });

  it('on Windows also refuses device names and names Windows would alter', async () => {
    for (const [i, bad] of ['CON', 'sub/aux.txt', 'lpt1', 'trailing.', 'trailing ', 'what?.txt', 'file.txt:stream', 'a\\b.txt'].entries()) {
      const { fx, area, dest } = setup('win32');
      const id = await forge(fx, [bad], 10 + i);
      await expect(fx.engine.restore(id, { source: 'proj', destination: dest })).rejects.toMatchObject({ code: 'unsafe_path' });
      expect(readTree(area)).toEqual({});
    }
    // The same names are ordinary on Linux and macOS.
    expect(unsafePathReason('trailing.', 'linux')).toBeNull();
    expect(unsafePathReason('CON', 'darwin')).toBeNull();
    expect(unsafePathReason('file.txt:not-a-stream', 'linux')).toBeNull();
    expect(unsafePathReason('back\\slash.txt', 'linux')).toBeNull();
  });

  it('restores a well-formed forged path normally (the checks are not over-eager)', async () => {
    const { fx, dest } = setup();
    const id = await forge(fx, ['deep/ly/nested/file name with spaces.txt', '..hidden-but-fine', 'dots...in.name'], 3);
    const report = await fx.engine.restore(id, { source: 'proj', destination: dest });
    expect(report).toMatchObject({ ok: true, files: 3 });
    expect(Object.keys(readTree(dest)).sort()).toEqual(['..hidden-but-fine', 'deep/ly/nested/file name with spaces.txt', 'dots...in.name']);
  });

  it('refuses to restore into the live data folder and into a non-empty folder unless asked', async () => {
    const { fx, dest } = setup();
    const run = await fx.engine.run();
    await expect(fx.engine.restore(run.snapshotId!, { source: 'proj', destination: fx.dataDir })).rejects.toMatchObject({ code: 'unsafe_path' });
    await expect(fx.engine.restore(run.snapshotId!, { source: 'proj', destination: path.join(fx.dataDir, 'sub') })).rejects.toMatchObject({
      code: 'unsafe_path',
    });
    writeTree(dest, { 'existing.txt': 'x' });
    await expect(fx.engine.restore(run.snapshotId!, { source: 'proj', destination: dest })).rejects.toMatchObject({ code: 'destination_not_empty' });
    expect(await fx.engine.restore(run.snapshotId!, { source: 'proj', destination: dest, overwrite: true })).toMatchObject({ ok: true, files: 1 });
    await expect(fx.engine.restore(run.snapshotId!, { source: 'nope', destination: tempDir() })).rejects.toMatchObject({ code: 'source_missing' });
    await expect(fx.engine.restore('../../etc', { source: 'proj', destination: tempDir() })).rejects.toMatchObject({ code: 'snapshot_not_found' });
  });

  it('resolveInside checks containment on both path flavours', () => {
    expect(resolveInside('/data/dest', 'a/b.txt', 'linux')).toBe('/data/dest/a/b.txt');
    expect(resolveInside('C:\\dest', 'a/b.txt', 'win32')).toBe('C:\\dest\\a\\b.txt');
    expect(() => resolveInside('C:\\dest', 'D:/x', 'win32')).toThrow(/drive letter/);
    expect(() => resolveInside('/data/dest', '../x', 'linux')).toThrow(/\.\./);
  });
});
