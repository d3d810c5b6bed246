/**
 * Restoring: a source of a snapshot into a folder (every path checked first, every file's hash checked as it is
 * written), and the hub's own data beside its live folder, with each restored database checked.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { RestoreReport } from '../../../shared/backup-protocol';
import { renameIntoPlace, syncDir, writeFileSynced } from '../../../shared/node/durable-file';
import { errorCode } from '../../../shared/node/fs-errors';
import { HUB_SOURCE } from '../config';
import { BackupError } from '../errors';
import { fileObjects, resolveInside, unsafePathReason, type ManifestDir, type ManifestFile } from '../manifest';
import { isInside } from '../paths';
import type { Repository } from '../repository';
import { sum, type EngineContext, type RestoreOptions } from './context';
import { phaseProgress, progressReporter } from './progress';
import { checkSnapshotId } from './snapshots';
import { hasSqliteHeader, integrityCheck, SQLITE_NAME } from './sqlite';

/** The restore, and the manifest entries it wrote (or tried to: those that failed are in the report). */
export async function restoreSnapshot(ctx: EngineContext, snapshotId: string, options: RestoreOptions): Promise<{ report: RestoreReport; files: ManifestFile[] }> {
  const repo = ctx.repository(ctx.options.settings());
  const manifest = await repo.readManifest(checkSnapshotId(snapshotId, repo));
  if (!manifest.sources.some((s) => s.name === options.source) && !manifest.files.some((f) => f.source === options.source)) {
    const names = manifest.sources.map((s) => `"${s.name}"`).join(', ');
    throw new BackupError('source_missing', `Snapshot ${manifest.id} has no source named "${options.source}" (it has ${names}).`);
  }
  const prefixes = options.paths?.map((p) => p.replace(/\/+$/, ''));
  const wanted = (entry: { source: string; path: string }) =>
    entry.source === options.source && (!prefixes || prefixes.some((p) => entry.path === p || entry.path.startsWith(`${p}/`)));
  const files = manifest.files.filter(wanted);
  // Folders (version 2 manifests): made even when empty, their modes set once their files are in.
  const dirs = manifest.dirs.filter(wanted);

  // Refuse the whole restore if any path is unsafe: such a manifest was not written by this program.
  const unsafe = [...files, ...dirs]
    .map((f) => ({ path: f.path, reason: unsafePathReason(f.path, ctx.platform) }))
    .filter((u): u is { path: string; reason: string } => u.reason !== null);
  if (unsafe.length > 0) {
    const list = unsafe.slice(0, 5).map((u) => `"${u.path}" (${u.reason})`).join(', ');
    throw new BackupError(
      'unsafe_path',
      `Refusing to restore snapshot ${manifest.id}: ${unsafe.length} path(s) would escape the destination folder: ${list}${unsafe.length > 5 ? ', …' : ''}.`,
    );
  }

  const requested = path.resolve(options.destination);
  if (isInside(requested, ctx.dataDir) || isInside(ctx.dataDir, requested)) {
    throw new BackupError(
      'unsafe_path',
      `Refusing to restore into ${requested}: it overlaps the hub's live data folder ${ctx.dataDir}. Restore the hub's data with restoreHubData (it writes beside it), or choose another folder.`,
    );
  }
  try {
    await fsp.mkdir(requested, { recursive: true });
  } catch (error) {
    throw new BackupError('restore_failed', `Cannot create the folder ${requested} to restore into: ${(error as Error).message}`, { cause: error });
  }
  const root = await fsp.realpath(requested);
  if (!(await fsp.stat(root)).isDirectory()) throw new BackupError('restore_failed', `${requested} is a file, not a folder.`);
  if (!options.overwrite && (await fsp.readdir(root)).length > 0) {
    throw new BackupError('destination_not_empty', `The folder ${root} is not empty. Choose an empty folder, or allow replacing files.`);
  }

  const failed: RestoreReport['failed'] = [];
  const madeDirs = new Set<string>();
  for (const d of dirs) {
    try {
      await ensureParents(root, resolveInside(root, d.path, ctx.platform), madeDirs, true);
    } catch (error) {
      if (error instanceof BackupError && error.code !== 'restore_failed') throw error;
      failed.push({ path: `${d.path}/`, reason: (error as Error).message });
    }
  }
  const progress = phaseProgress(progressReporter(options.onProgress), 'copying', { files: files.length, bytes: sum(files.map((f) => f.size)) });
  for (const f of files) {
    const target = resolveInside(root, f.path, ctx.platform);
    try {
      await ensureParents(root, target, madeDirs);
      const existing = await fsp.lstat(target).catch(() => undefined);
      if (existing?.isSymbolicLink()) throw new BackupError('unsafe_path', `refusing to restore "${f.path}": a symbolic link is in its place`);
      if (existing?.isDirectory()) throw new Error('a folder is in its place');
      await restoreFile(repo, f, target);
    } catch (error) {
      if (error instanceof BackupError && error.code !== 'restore_failed' && error.code !== 'snapshot_damaged') throw error;
      failed.push({ path: f.path, reason: (error as Error).message });
    }
    progress.step(f.size);
  }
  // The restored names survive a power cut only once their folders are flushed: each folder once, at the end.
  try {
    for (const dir of [root, ...madeDirs]) await syncDir(dir);
  } catch (error) {
    throw new BackupError('restore_failed', `Cannot save the restored files in ${root}: ${(error as Error).message}`, { cause: error });
  }
  await applyDirModes(root, dirs, ctx.platform, failed);
  progress.finish();
  const restored: RestoreReport = {
    snapshotId: manifest.id,
    source: options.source,
    destination: root,
    ok: failed.length === 0,
    files: files.length - failed.length,
    bytes: progress.done.bytes - sum(failed.map((x) => files.find((f) => f.path === x.path)?.size ?? 0)),
    failed,
  };
  return { report: restored, files };
}

async function restoreFile(repo: Repository, f: ManifestFile, target: string): Promise<void> {
  const temp = path.join(path.dirname(target), `.${path.basename(target).slice(0, 100)}.restore-${randomBytes(6).toString('hex')}`);
  // The stored objects in order (one, or the file's chunks), each read under the backup folder's time limit and
  // checked against its name; the whole content is checked against the file's sha256. Damage throws before the flush.
  const buffer = Buffer.allocUnsafe(1024 * 1024);
  async function* content(): AsyncGenerator<Buffer> {
    const whole = createHash('sha256');
    let size = 0;
    for (const [sha256, expectedSize] of fileObjects(f)) {
      const object = await repo.openObject(sha256);
      if (!object) throw new BackupError('restore_failed', `its stored content (${sha256.slice(0, 12)}…) is missing from the backup`);
      try {
        const hash = createHash('sha256');
        let objectSize = 0;
        for (;;) {
          const { bytesRead } = await repo.op('reading a stored file', () => object.read(buffer, 0, buffer.length, objectSize));
          if (bytesRead === 0) break;
          const piece = buffer.subarray(0, bytesRead);
          hash.update(piece);
          whole.update(piece);
          objectSize += bytesRead;
          size += bytesRead;
          yield piece;
        }
        const actual = hash.digest('hex');
        if (actual !== sha256 || objectSize !== expectedSize) {
          throw new BackupError('restore_failed', `its stored content is damaged (expected sha256 ${sha256.slice(0, 12)}…, found ${actual.slice(0, 12)}…)`);
        }
      } finally {
        await object.close().catch(() => undefined);
      }
    }
    const actual = whole.digest('hex');
    if (actual !== f.sha256 || size !== f.size) {
      throw new BackupError('restore_failed', `its stored content is damaged (expected sha256 ${f.sha256.slice(0, 12)}…, found ${actual.slice(0, 12)}…)`);
    }
  }
  let renamed = false;
  try {
    await writeFileSynced(temp, content(), { mode: 0o600, exclusive: true });
    await fsp.chmod(temp, f.mode & 0o777);
    const mtime = new Date(f.mtime);
    await fsp.utimes(temp, mtime, mtime);
    // The folders are flushed once each when every file is in place (restoreSnapshot).
    await renameIntoPlace(temp, target);
    renamed = true;
  } finally {
    if (!renamed) await fsp.rm(temp, { force: true }).catch(() => undefined);
  }
}

/**
 * Restores the hub's data from a snapshot beside the live data folder, into `<dataDir>.restore-<timestamp>`, checks
 * every restored database (PRAGMA integrity_check), and returns that folder. Swapping it in needs the hub stopped.
 */
export async function restoreHubDataBeside(ctx: EngineContext, snapshotId: string, dataDir: string = ctx.dataDir): Promise<string> {
  const folder = `${path.resolve(dataDir)}.restore-${ctx.now().toISOString().replace(/[-:.]/g, '')}`;
  let report: RestoreReport;
  let files: ManifestFile[];
  try {
    ({ report, files } = await ctx.exclusive('restore', () => restoreSnapshot(ctx, snapshotId, { source: HUB_SOURCE, destination: folder })));
  } catch (error) {
    if (!(error instanceof BackupError && error.code === 'destination_not_empty')) await fsp.rm(folder, { recursive: true, force: true }).catch(() => undefined);
    throw error;
  }
  const problems = report.failed.map((f) => `${f.path}: ${f.reason}`);
  if (problems.length === 0) {
    for (const f of files) {
      if (!SQLITE_NAME.test(f.path)) continue;
      const file = path.join(folder, ...f.path.split('/'));
      if (!hasSqliteHeader(file)) continue;
      const result = integrityCheck(file);
      if (result !== 'ok') problems.push(`${f.path}: integrity_check says ${result}`);
    }
  }
  if (problems.length > 0) {
    await fsp.rm(folder, { recursive: true, force: true }).catch(() => undefined);
    throw new BackupError('restore_failed', `The hub's data could not be restored from ${snapshotId}: ${problems.slice(0, 5).join('; ')}`);
  }
  return folder;
}

/**
 * Sets the recorded mode and time of each restored folder, deepest first (a read-only folder is made read-only only
 * once everything inside it is written, and setting a folder's time after its children keeps it).
 */
async function applyDirModes(root: string, dirs: ManifestDir[], platform: NodeJS.Platform, failed: RestoreReport['failed']): Promise<void> {
  const deepestFirst = [...dirs].sort((a, b) => b.path.split('/').length - a.path.split('/').length);
  for (const d of deepestFirst) {
    const dir = resolveInside(root, d.path, platform);
    try {
      const stat = await fsp.lstat(dir);
      if (!stat.isDirectory()) continue;
      if (platform !== 'win32') await fsp.chmod(dir, d.mode & 0o7777);
      const mtime = new Date(d.mtime);
      await fsp.utimes(dir, mtime, mtime);
    } catch (error) {
      failed.push({ path: `${d.path}/`, reason: `its mode or time could not be set: ${(error as Error).message}` });
    }
  }
}

/**
 * Creates the folders between root and file one by one (and, with `andSelf`, the folder `file` itself), refusing to
 * pass through a symbolic link.
 */
async function ensureParents(root: string, file: string, made: Set<string>, andSelf = false): Promise<void> {
  const dir = andSelf ? path.resolve(file) : path.dirname(file);
  if (made.has(dir) || dir === root) return;
  const rel = path.relative(root, dir);
  let current = root;
  for (const segment of rel.split(path.sep)) {
    current = path.join(current, segment);
    if (made.has(current)) continue;
    const stat = await fsp.lstat(current).catch((error: unknown) => {
      if (errorCode(error) === 'ENOENT') return null;
      throw error;
    });
    if (stat === null) await fsp.mkdir(current);
    else if (stat.isSymbolicLink()) {
      throw new BackupError('unsafe_path', `refusing to restore into ${current}: it is a symbolic link, which could lead outside ${root}`);
    } else if (!stat.isDirectory()) {
      throw new BackupError('restore_failed', `cannot restore into ${current}: a file is in the way`);
    }
    made.add(current);
  }
}
