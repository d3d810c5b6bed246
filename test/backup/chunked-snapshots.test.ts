/**
 * Snapshots of large files in content-defined chunks: an edit inside a file stores about the edit, chunks are shared
 * across files and projects, old whole-file snapshots (manifest version 1) stay readable, and folders (empty ones
 * too) come back with their modes.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, cpSync, mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BACKUP_CHUNK_SIZES } from '../../src/main/backup/chunker';
import { fileObjects } from '../../src/main/backup/manifest';
import { tempDir } from '../helpers';
import { ageTree, digestTree, makeFixture, writeTree } from './harness';

const MiB = 1024 * 1024;

describe('large files in chunks', () => {
  it('stores an edit inside a large file as a few chunks, reads an unchanged one not at all, and restores both exactly', async () => {
    const project = tempDir();
    const big = randomBytes(6 * MiB);
    writeTree(project, { 'big.bin': big, 'small.txt': 'small\n' });
    ageTree(project);
    const fx = makeFixture({ settings: { sources: [{ name: 'proj', path: project }] } });

    const first = await fx.engine.run();
    expect(first.newBytes).toBe(big.length + 6);
    const firstManifest = await fx.engine.manifest(first.snapshotId!);
    expect(firstManifest.version).toBe(2);
    const firstBig = firstManifest.files.find((f) => f.path === 'big.bin')!;
    expect(firstBig.chunks!.length).toBeGreaterThan(3);
    expect(firstBig.chunks!.reduce((n, [, size]) => n + size, 0)).toBe(big.length);
    expect(firstManifest.files.find((f) => f.path === 'small.txt')!.chunks).toBeUndefined();

    // Unchanged: the cache knows the file and the repository has every chunk, so it is not read.
    const second = await fx.engine.run();
    expect(second).toMatchObject({ newObjects: 0, newBytes: 0, hashed: 0 });

    // 100 KB overwritten in the middle: only the chunks around the edit are new.
    const edited = Buffer.from(big);
    randomBytes(100 * 1024).copy(edited, 3 * MiB);
    writeFileSync(path.join(project, 'big.bin'), edited);
    const anHourAgo = new Date(Date.now() - 3600_000);
    utimesSync(path.join(project, 'big.bin'), anHourAgo, anHourAgo);
    const third = await fx.engine.run();
    expect(third.hashed).toBe(1);
    expect(third.newBytes).toBeGreaterThanOrEqual(100 * 1024);
    expect(third.newBytes).toBeLessThanOrEqual(100 * 1024 + 2 * BACKUP_CHUNK_SIZES.max);
    expect(third.newBytes).toBeLessThan(big.length / 3);

    for (const [snapshot, content] of [
      [first.snapshotId!, big],
      [third.snapshotId!, edited],
    ] as const) {
      const dest = tempDir();
      const report = await fx.engine.restore(snapshot, { source: 'proj', destination: dest });
      expect(report).toMatchObject({ ok: true, files: 2 });
      expect(readFileSync(path.join(dest, 'big.bin')).equals(content)).toBe(true);
      expect(await fx.engine.verify(snapshot)).toMatchObject({ ok: true });
    }
  });

  it('shares chunks across files and projects, and a damaged chunk fails only the files that use it', async () => {
    const a = tempDir();
    const b = tempDir();
    const shared = randomBytes(2 * MiB);
    writeTree(a, { 'copy1.bin': shared });
    writeTree(b, { 'copy2.bin': Buffer.concat([shared, Buffer.from('tail')]), 'other.bin': randomBytes(MiB) });
    const fx = makeFixture({ settings: { sources: [{ name: 'a', path: a }, { name: 'b', path: b }] } });
    const run = await fx.engine.run();
    expect(run.bytes).toBe(5 * MiB + 4);
    const manifest = await fx.engine.manifest(run.snapshotId!);
    const chunksOf = (p: string) => manifest.files.find((f) => f.path === p)!.chunks!;
    // The chunks of the shared 2 MiB (all but the last, which ends where copy1 ends) are the same objects in both
    // projects: stored once, so the run stored exactly the distinct chunks and reused the rest.
    const inCopy1 = new Set(chunksOf('copy1.bin').map(([sha]) => sha));
    const commonChunks = chunksOf('copy2.bin').filter(([sha]) => inCopy1.has(sha));
    const common = commonChunks.map(([sha]) => sha);
    expect(common.length).toBeGreaterThan(0);
    const distinct = new Map(manifest.files.flatMap((f) => fileObjects(f)));
    expect(run.newBytes).toBe([...distinct.values()].reduce((n, size) => n + size, 0));
    expect(run.bytes - run.newBytes).toBe(commonChunks.reduce((n, [, size]) => n + size, 0));

    const victim = common[0]!;
    const object = path.join(fx.repoDir, 'objects', victim.slice(0, 2), victim);
    const bytes = readFileSync(object);
    bytes[10] = bytes[10]! ^ 0xff;
    writeFileSync(object, bytes);
    const report = await fx.engine.verify(run.snapshotId!);
    expect(report.corrupt).toEqual([{ sha256: victim, actual: expect.any(String), paths: ['a/copy1.bin', 'b/copy2.bin'] }]);
    const dest = tempDir();
    const restored = await fx.engine.restore(run.snapshotId!, { source: 'b', destination: dest });
    expect(restored.failed.map((f) => f.path)).toEqual(['copy2.bin']);
    expect(readFileSync(path.join(dest, 'other.bin')).length).toBe(MiB);

    // Repair moves it aside; the next run reads the two files again and stores the chunk again.
    const repair = await fx.engine.repair(run.snapshotId!);
    expect(repair.quarantined.map((q) => q.sha256)).toEqual([victim]);
    const healed = await fx.engine.run();
    expect(healed.newObjects).toBe(1);
    expect(await fx.engine.verify(run.snapshotId!)).toMatchObject({ ok: true });
  });
});

describe('snapshots written by the whole-file format (manifest version 1)', () => {
  /** The project the checked-in repository (test/backup/fixtures/v1-repository) was made from. */
  function oldProject(root: string): Record<string, Buffer> {
    const data = Buffer.alloc(300 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = ((i * 2654435761) >>> 13) & 0xff;
    const files: Record<string, Buffer> = {
      'README.md': Buffer.from('# old project\n\nbacked up by the whole-file format (manifest version 1)\n'),
      'src/main.ts': Buffer.from('export const answer = 42;\n'),
      'src/lib/util.ts': Buffer.from('export function twice(n: number) { return 2 * n; }\n'),
      'data.bin': data,
      'run.sh': Buffer.from('#!/bin/sh\necho hi\n'),
    };
    writeTree(root, files);
    chmodSync(path.join(root, 'run.sh'), 0o755);
    return files;
  }

  it('lists, verifies and restores them, and a new run beside them reuses their objects and keeps them', async () => {
    const fx = makeFixture();
    cpSync(path.join(__dirname, 'fixtures', 'v1-repository'), fx.repoDir, { recursive: true });
    const oldId = '20261102T080000000Z-1e833e4c';

    const { snapshots } = await fx.engine.listSnapshots();
    expect(snapshots).toEqual([expect.objectContaining({ id: oldId, version: 1, own: false, totals: expect.objectContaining({ files: 5 }) })]);
    expect(await fx.engine.verify(oldId)).toMatchObject({ ok: true, files: 5, objects: 5 });

    const expected = oldProject(tempDir());
    const dest = tempDir();
    expect(await fx.engine.restore(oldId, { source: 'web', destination: dest })).toMatchObject({ ok: true, files: 5 });
    expect(Object.keys(digestTree(dest)).sort()).toEqual(Object.keys(expected).sort());
    for (const [rel, content] of Object.entries(expected)) expect(readFileSync(path.join(dest, rel)).equals(content)).toBe(true);
    expect(statSync(path.join(dest, 'run.sh')).mode & 0o777).toBe(0o755);

    // The same project backed up now: the small files' objects are the old ones; data.bin is chunked anew.
    const project = tempDir();
    oldProject(project);
    fx.settings = { ...fx.settings, sources: [{ name: 'web', path: project }] };
    const run = await fx.engine.run();
    expect(run.status).toBe('ok');
    const manifest = await fx.engine.manifest(run.snapshotId!);
    const dataChunks = manifest.files.find((f) => f.path === 'data.bin')!.chunks!;
    expect(dataChunks.reduce((n, [, size]) => n + size, 0)).toBe(300 * 1024);
    // Nothing is new but those of data.bin's chunks the old snapshot does not have (a chunk that is the whole file
    // is its old object).
    const oldObjects = new Set((await fx.engine.manifest(oldId)).files.map((f) => f.sha256));
    expect(run.newBytes).toBe(dataChunks.filter(([sha]) => !oldObjects.has(sha)).reduce((n, [, size]) => n + size, 0));
    // Pruning and garbage collection read both formats: the old snapshot's whole-file object is kept.
    await fx.engine.prune({ gcGraceMs: 0 });
    expect(await fx.engine.verify(oldId)).toMatchObject({ ok: true });
    expect(await fx.engine.verify(run.snapshotId!)).toMatchObject({ ok: true });
  });
});

describe('folders', () => {
  it('records folders with their modes and restores them, empty ones too', async () => {
    const project = tempDir();
    writeTree(project, { 'src/app.ts': 'app\n', 'locked/readme.txt': 'read only folder\n' });
    mkdirSync(path.join(project, 'empty'));
    mkdirSync(path.join(project, 'deep/er/still-empty'), { recursive: true });
    chmodSync(path.join(project, 'empty'), 0o700);
    chmodSync(path.join(project, 'deep/er'), 0o750);
    chmodSync(path.join(project, 'locked'), 0o555);
    const when = new Date('2026-01-02T03:04:05Z');
    utimesSync(path.join(project, 'empty'), when, when);
    const fx = makeFixture({ settings: { sources: [{ name: 'proj', path: project }] } });
    const run = await fx.engine.run();
    const manifest = await fx.engine.manifest(run.snapshotId!);
    expect(manifest.dirs.map((d) => d.path).sort()).toEqual(['deep', 'deep/er', 'deep/er/still-empty', 'empty', 'locked', 'src']);

    const dest = tempDir();
    const report = await fx.engine.restore(run.snapshotId!, { source: 'proj', destination: dest });
    expect(report).toMatchObject({ ok: true, files: 2, failed: [] });
    const mode = (rel: string) => statSync(path.join(dest, rel)).mode & 0o7777;
    expect(statSync(path.join(dest, 'deep/er/still-empty')).isDirectory()).toBe(true);
    expect(mode('empty')).toBe(0o700);
    expect(mode('deep/er')).toBe(0o750);
    expect(mode('locked')).toBe(0o555);
    expect(readFileSync(path.join(dest, 'locked/readme.txt'), 'utf8')).toBe('read only folder\n');
    expect(statSync(path.join(dest, 'empty')).mtimeMs).toBe(when.getTime());
    // Restoring only a folder brings back that folder's empty subfolders.
    const part = tempDir();
    await fx.engine.restore(run.snapshotId!, { source: 'proj', destination: part, paths: ['deep'] });
    expect(statSync(path.join(part, 'deep/er/still-empty')).isDirectory()).toBe(true);
    chmodSync(path.join(dest, 'locked'), 0o755); // so the temporary folder can be removed
    chmodSync(path.join(project, 'locked'), 0o755);
  });
});
