/** Snapshots: incremental copies, verification, interrupted runs, retention and garbage collection. */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BackupProgress } from '../../src/main/backup/engine';
import { snapshotsToKeep } from '../../src/main/backup/retention';
import { tempDir } from '../helpers';
import { ageTree, digestTree, makeFixture, manifestFiles, writeTree } from './harness';

function projectFiles(n: number, tag = ''): Record<string, string> {
  const files: Record<string, string> = {};
  for (let i = 0; i < n; i++) files[`dir${i % 4}/file${i}.txt`] = `content ${i}${tag}\n`.repeat(1 + (i % 7));
  return files;
}

const objectCount = (repoDir: string) =>
  readdirSync(path.join(repoDir, 'objects')).filter((d) => /^[0-9a-f]{2}$/.test(d)).reduce((n, d) => n + readdirSync(path.join(repoDir, 'objects', d)).length, 0);

describe('incremental snapshots', () => {
  it('stores each content once and copies only what changed on the next run', async () => {
    const project = tempDir();
    writeTree(project, { ...projectFiles(40), 'dup/a.txt': 'same', 'dup/b.txt': 'same', 'big.bin': Buffer.alloc(9 * 1024 * 1024, 3) });
    ageTree(project);
    const fx = makeFixture({ settings: { sources: [{ name: 'proj', path: project }] } });

    const first = await fx.engine.run();
    expect(first).toMatchObject({ status: 'ok', files: 43, newObjects: 42, hashed: 43 }); // dup/a and dup/b share one object
    expect(fx.objectWrites).toHaveLength(42);
    expect(objectCount(fx.repoDir)).toBe(42);

    fx.objectWrites.length = 0;
    const second = await fx.engine.run();
    expect(second).toMatchObject({ status: 'ok', files: 43, newObjects: 0, hashed: 0 }); // the cache knew every file
    expect(fx.objectWrites).toHaveLength(0);

    writeFileSync(path.join(project, 'dir0/file0.txt'), 'changed\n');
    writeFileSync(path.join(project, 'dir1/file1.txt'), 'changed too\n');
    writeTree(project, { 'new/file.txt': 'new\n', 'new/copy-of-existing.txt': 'content 2\ncontent 2\ncontent 2\n' });
    rmSync(path.join(project, 'dir3/file3.txt'));
    fx.objectWrites.length = 0;
    const third = await fx.engine.run();
    // Two changed files and one new content; the copy of an existing file costs nothing.
    expect(third).toMatchObject({ status: 'ok', files: 44, newObjects: 3, hashed: 4 });
    expect(fx.objectWrites).toHaveLength(3);

    const manifest = await fx.engine.manifest(third.snapshotId!);
    expect(manifest.files.some((f) => f.path === 'dir3/file3.txt')).toBe(false);
    const dest = tempDir();
    await fx.engine.restore(third.snapshotId!, { source: 'proj', destination: dest });
    expect(digestTree(dest)).toEqual(digestTree(project));
    // Restored files keep their times and modes.
    const restoredEntry = manifest.files.find((f) => f.path === 'dir2/file2.txt')!;
    expect(Math.abs((await import('node:fs')).statSync(path.join(dest, 'dir2/file2.txt')).mtimeMs - restoredEntry.mtime)).toBeLessThan(2);
  });

  it('re-hashes a file changed within the same second and size (the cache is keyed on mtime and ctime)', async () => {
    const project = tempDir();
    writeTree(project, { 'a.txt': 'aaaa' });
    ageTree(project);
    const fx = makeFixture({ settings: { sources: [{ name: 'proj', path: project }] } });
    await fx.engine.run();
    writeFileSync(path.join(project, 'a.txt'), 'bbbb'); // same size; new mtime/ctime
    const run = await fx.engine.run();
    expect(run.newObjects).toBe(1);
    const manifest = await fx.engine.manifest(run.snapshotId!);
    const dest = tempDir();
    await fx.engine.restore(manifest.id, { source: 'proj', destination: dest });
    expect(readFileSync(path.join(dest, 'a.txt'), 'utf8')).toBe('bbbb');
  });
});

describe('verify', () => {
  it('detects a corrupted and a missing object, and restore refuses their content', async () => {
    const project = tempDir();
    writeTree(project, projectFiles(10));
    const fx = makeFixture({ settings: { sources: [{ name: 'proj', path: project }] } });
    const run = await fx.engine.run();
    expect(await fx.engine.verify(run.snapshotId!)).toMatchObject({ ok: true, files: 10, objects: 10, missing: [], corrupt: [] });

    const manifest = await fx.engine.manifest(run.snapshotId!);
    const victim = manifest.files.find((f) => f.path === 'dir1/file5.txt')!;
    const gone = manifest.files.find((f) => f.path === 'dir2/file6.txt')!;
    const object = (sha: string) => path.join(fx.repoDir, 'objects', sha.slice(0, 2), sha);
    const bytes = readFileSync(object(victim.sha256));
    bytes[0] = bytes[0]! ^ 0x01; // one flipped bit
    writeFileSync(object(victim.sha256), bytes);
    rmSync(object(gone.sha256));

    const report = await fx.engine.verify(run.snapshotId!);
    expect(report.ok).toBe(false);
    expect(report.corrupt).toEqual([{ sha256: victim.sha256, actual: expect.stringMatching(/^[0-9a-f]{64}$/), paths: ['proj/dir1/file5.txt'] }]);
    expect(report.missing).toEqual([{ sha256: gone.sha256, paths: ['proj/dir2/file6.txt'] }]);

    const dest = tempDir();
    const restore = await fx.engine.restore(run.snapshotId!, { source: 'proj', destination: dest });
    expect(restore.ok).toBe(false);
    expect(restore.files).toBe(8);
    expect(restore.failed.map((f) => f.path).sort()).toEqual(['dir1/file5.txt', 'dir2/file6.txt']);
    expect(existsSync(path.join(dest, 'dir1/file5.txt'))).toBe(false);
    // No temporary file is left where the damaged one would have gone.
    expect(readdirSync(path.join(dest, 'dir1')).filter((n) => n.includes('.restore-'))).toEqual([]);

    // Verify only reads: the damaged copy is still there, and a second verification reports the same.
    expect(readFileSync(object(victim.sha256))).toEqual(bytes);
    expect(await fx.engine.verify(run.snapshotId!)).toEqual(report);

    // Repair moves the damaged copy aside (kept in quarantine, with a note), deletes nothing, and says so.
    const repair = await fx.engine.repair(run.snapshotId!);
    expect(repair.quarantined).toEqual([{ ...report.corrupt[0], movedTo: path.join(repair.quarantineFolder!, victim.sha256) }]);
    expect(repair.missing).toEqual(report.missing);
    expect(repair.quarantineFolder!.startsWith(path.join(fx.repoDir, 'quarantine'))).toBe(true);
    expect(readFileSync(path.join(repair.quarantineFolder!, victim.sha256))).toEqual(bytes);
    expect(JSON.parse(readFileSync(path.join(repair.quarantineFolder!, 'repair.json'), 'utf8'))).toEqual(repair);
    expect(repair.next).toMatch(/next backup run stores 2 objects again/);
    expect(existsSync(object(victim.sha256))).toBe(false);
    // Moved aside, the content now counts as missing until a run stores it again.
    expect((await fx.engine.verify(run.snapshotId!)).missing.map((m) => m.sha256).sort()).toEqual([victim.sha256, gone.sha256].sort());

    // The next run stores both contents again from the project (the cache still knows the files) and heals the old snapshot.
    const healed = await fx.engine.run();
    expect(healed.newObjects).toBe(2);
    expect(await fx.engine.verify(run.snapshotId!)).toMatchObject({ ok: true, missing: [], corrupt: [] });
    const again = await fx.engine.repair(run.snapshotId!);
    expect(again).toMatchObject({ quarantined: [], missing: [], quarantineFolder: null });
  });
});

describe('an interrupted backup', () => {
  it('leaves the previous snapshot intact and verifiable, and no half manifest', async () => {
    const project = tempDir();
    writeTree(project, projectFiles(20));
    let failAfter = Number.POSITIVE_INFINITY;
    let writes = 0;
    const fx = makeFixture({
      settings: { sources: [{ name: 'proj', path: project }] },
      engine: {
        hooks: {
          afterObjectWrite: () => {
            if (++writes > failAfter) throw new Error('power cut (simulated) mid-copy');
          },
        },
      },
    });
    const good = await fx.engine.run();
    const original = digestTree(project);

    writeTree(project, projectFiles(20, ' v2'));
    failAfter = writes + 5;
    await expect(fx.engine.run()).rejects.toMatchObject({ code: 'target_failed', message: expect.stringContaining('power cut') });
    expect(writes).toBeGreaterThan(failAfter); // it did stop mid-copy

    expect(manifestFiles(fx.repoDir)).toEqual([`${good.snapshotId}.json`]);
    expect(await fx.engine.verify(good.snapshotId!)).toMatchObject({ ok: true });
    const dest = tempDir();
    await fx.engine.restore(good.snapshotId!, { source: 'proj', destination: dest });
    expect(digestTree(dest)).toEqual(original);
    const history = fx.engine.state.recentRuns();
    expect(history[0]).toMatchObject({ status: 'failed', errorCode: 'target_failed', snapshotId: null });
    expect(history[1]).toMatchObject({ status: 'ok', snapshotId: good.snapshotId });

    // The next run completes and stores what the interrupted one had not.
    failAfter = Number.POSITIVE_INFINITY;
    const next = await fx.engine.run();
    expect(await fx.engine.verify(next.snapshotId!)).toMatchObject({ ok: true, objects: 20 });
  });

  it('fails before publishing when interrupted while the manifest is written, leaving no temporary manifest', async () => {
    const project = tempDir();
    writeTree(project, projectFiles(5));
    let failManifest = false;
    const fx = makeFixture({
      settings: { sources: [{ name: 'proj', path: project }] },
      engine: {
        hooks: {
          beforeManifestCommit: () => {
            if (failManifest) throw new Error('crash just before the rename (simulated)');
          },
        },
      },
    });
    const good = await fx.engine.run();
    writeTree(project, { 'more.txt': 'more' });
    failManifest = true;
    await expect(fx.engine.run()).rejects.toThrow(/crash just before the rename/);
    expect(manifestFiles(fx.repoDir)).toEqual([`${good.snapshotId}.json`]);
    expect(await fx.engine.verify(good.snapshotId!)).toMatchObject({ ok: true });
  });

  it('is cancelled by its abort signal with earlier snapshots untouched', async () => {
    const project = tempDir();
    writeTree(project, projectFiles(50));
    const controller = new AbortController();
    const fx = makeFixture({
      settings: { sources: [{ name: 'proj', path: project }] },
      engine: { copyConcurrency: 1, hooks: { afterObjectWrite: () => controller.abort() } },
    });
    await expect(fx.engine.run({ signal: controller.signal })).rejects.toMatchObject({ code: 'cancelled' });
    expect(manifestFiles(fx.repoDir)).toEqual([]);
    expect(fx.engine.state.recentRuns()[0]).toMatchObject({ status: 'cancelled' });
  });
});

describe('retention', () => {
  const at = (iso: string) => new Date(iso);

  it('keeps the last N, one per day for the most recent days and one per week for the most recent weeks', () => {
    const snapshots = [
      // three a day for ten days, 2024-03-01 (a Friday) … 2024-03-10
      ...Array.from({ length: 10 }, (_, d) =>
        [9, 13, 17].map((h) => ({ id: `d${d + 1}-${h}`, time: at(`2024-03-${String(d + 1).padStart(2, '0')}T${String(h).padStart(2, '0')}:00:00Z`) })),
      ).flat(),
      // older, one a week
      { id: 'feb-20', time: at('2024-02-20T12:00:00Z') },
      { id: 'feb-10', time: at('2024-02-10T12:00:00Z') },
      { id: 'jan-30', time: at('2024-01-30T12:00:00Z') },
      { id: 'jan-01', time: at('2024-01-01T12:00:00Z') },
    ];
    const keep = snapshotsToKeep(snapshots, { last: 4, daily: 7, weekly: 4 }, { timeZone: 'utc' });
    expect([...keep].sort()).toEqual(
      [
        // last 4
        'd10-17', 'd10-13', 'd10-9', 'd9-17',
        // newest of each of the 7 most recent days (d10 … d4)
        'd8-17', 'd7-17', 'd6-17', 'd5-17', 'd4-17',
        // newest of each of the 4 most recent ISO weeks: W10 (Mar 4-10) → d10-17, W09 (Feb 26-Mar 3) → d3-17, W08 → feb-20, W06 → feb-10
        'd3-17', 'feb-20', 'feb-10',
      ].sort(),
    );
  });

  it('prunes manifests, then collects only the objects no kept manifest needs; never touches another hub\'s snapshots', async () => {
    const project = tempDir();
    let clock = Date.parse('2024-03-01T10:00:00Z');
    const fx = makeFixture({
      settings: { sources: [{ name: 'proj', path: project }], keep: { last: 2, daily: 0, weekly: 0 } },
      engine: { now: () => new Date(clock), retention: { timeZone: 'utc' } },
    });
    // Another machine's hub backs up into the same drive folder.
    const otherProject = tempDir();
    writeTree(otherProject, { 'theirs.txt': 'v1 shared' });
    const other = makeFixture({ settings: { sources: [{ name: 'theirs', path: otherProject }], keep: { last: 1, daily: 0, weekly: 0 } }, engine: { host: 'other-machine' } });
    other.settings = { ...other.settings, target: fx.target };
    const theirs = await other.engine.run();

    const ids: string[] = [];
    for (let v = 1; v <= 4; v++) {
      writeTree(project, { 'stable.txt': 'never changes', 'changing.txt': `version ${v}`, 'shared.txt': 'v1 shared'.repeat(v === 1 ? 1 : 2) });
      clock += 3600_000;
      ids.push((await fx.engine.run()).snapshotId!);
    }
    const listed = await fx.engine.listSnapshots();
    expect(listed.snapshots.map((s) => s.id).sort()).toEqual([ids[2], ids[3], theirs.snapshotId].sort());
    expect(listed.snapshots.find((s) => s.id === theirs.snapshotId)).toMatchObject({ own: false });
    expect(fx.engine.state.recentRuns()[0]).toMatchObject({ pruned: 1 });

    // Objects: stable, changing v3, changing v4, shared×2 (v2+), plus the other hub's "v1 shared" (still needed by it).
    const needed = new Set<string>();
    for (const id of [ids[2]!, ids[3]!, theirs.snapshotId!]) for (const f of (await fx.engine.manifest(id)).files) needed.add(f.sha256);
    const stored = new Set(
      readdirSync(path.join(fx.repoDir, 'objects'))
        .filter((d) => /^[0-9a-f]{2}$/.test(d))
        .flatMap((d) => readdirSync(path.join(fx.repoDir, 'objects', d))),
    );
    expect(stored).toEqual(needed);
    for (const id of [ids[2]!, ids[3]!, theirs.snapshotId!]) expect(await fx.engine.verify(id)).toMatchObject({ ok: true });
  });

  it('keeps unreferenced objects younger than the grace period (another hub may be about to use them)', async () => {
    const project = tempDir();
    writeTree(project, { 'a.txt': 'one' });
    const fx = makeFixture({ settings: { sources: [{ name: 'proj', path: project }], keep: { last: 1, daily: 0, weekly: 0 } }, engine: { gcGraceMs: 3_600_000 } });
    await fx.engine.run();
    writeTree(project, { 'a.txt': 'two' });
    await fx.engine.run();
    expect(manifestFiles(fx.repoDir)).toHaveLength(1);
    expect(objectCount(fx.repoDir)).toBe(2); // "one" is unreferenced but young
    const report = await fx.engine.prune({ gcGraceMs: 0 });
    expect(report).toMatchObject({ removed: [], objectsRemoved: 1 });
    expect(objectCount(fx.repoDir)).toBe(1);
  });
});

describe('progress', () => {
  it('starts each phase at zero, never counts past its totals, and ends verify and restore at their totals', async () => {
    const project = tempDir();
    writeTree(project, projectFiles(12));
    ageTree(project);
    const fx = makeFixture({ settings: { sources: [{ name: 'proj', path: project }] } });
    const sane = (events: BackupProgress[]) => {
      for (const p of events) {
        expect(p.filesDone).toBeLessThanOrEqual(p.filesTotal);
        expect(p.bytesDone).toBeLessThanOrEqual(p.bytesTotal);
      }
    };

    const run: BackupProgress[] = [];
    const record = await fx.engine.run({ onProgress: (p) => run.push(p) });
    const firsts = run.filter((p, i) => i === 0 || run[i - 1]!.phase !== p.phase);
    expect(firsts.map((p) => p.phase)).toEqual(['scanning', 'hashing', 'copying', 'manifest', 'pruning']);
    for (const p of firsts.slice(1)) expect(p).toMatchObject({ filesDone: 0, bytesDone: 0 });
    const hashing = firsts.find((p) => p.phase === 'hashing')!;
    expect(hashing.filesTotal).toBe(record.hashed);
    sane(run.filter((p) => p.phase !== 'scanning'));

    const verify: BackupProgress[] = [];
    const report = await fx.engine.verify(record.snapshotId!, { onProgress: (p) => verify.push(p) });
    expect(verify[0]).toMatchObject({ phase: 'hashing', filesDone: 0, filesTotal: report.objects, bytesDone: 0, bytesTotal: report.bytes });
    expect(verify.at(-1)).toMatchObject({ filesDone: report.objects, bytesDone: report.bytes });
    sane(verify);

    const restore: BackupProgress[] = [];
    const restored = await fx.engine.restore(record.snapshotId!, { source: 'proj', destination: tempDir(), onProgress: (p) => restore.push(p) });
    expect(restore[0]).toMatchObject({ phase: 'copying', filesDone: 0, filesTotal: 12, bytesDone: 0, bytesTotal: restored.bytes });
    expect(restore.at(-1)).toMatchObject({ filesDone: 12, filesTotal: 12, bytesDone: restored.bytes });
    sane(restore);
  });
});
