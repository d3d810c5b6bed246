/** Retention and garbage collection: old snapshots of this hub are removed, then the stored files no snapshot needs. */
import { promises as fsp } from 'node:fs';
import type { BackupSettings } from '../config';
import { BackupError } from '../errors';
import { fileObjects, snapshotTime } from '../manifest';
import type { Repository } from '../repository';
import { snapshotsToKeep } from '../retention';
import type { EngineContext, PruneReport } from './context';
import { phaseProgress, progressReporter, type ProgressReporter } from './progress';
import { isOwn } from './snapshots';

/** A prune asked for outside a run: retention, then garbage collection even when no snapshot was removed. */
export async function pruneOnRequest(ctx: EngineContext, options: { gcGraceMs?: number }): Promise<PruneReport> {
  const settings = ctx.options.settings();
  const repo = ctx.repository(settings);
  await repo.prepare(false);
  return pruneWith(ctx, repo, settings, null, progressReporter(undefined), { force: true, graceMs: options.gcGraceMs });
}

/** Applies retention to this hub's snapshots (never `justWritten`), then collects objects no manifest needs. */
export async function pruneWith(
  ctx: EngineContext,
  repo: Repository,
  settings: BackupSettings,
  justWritten: string | null,
  report: ProgressReporter,
  options: { force?: boolean; graceMs?: number } = {},
): Promise<PruneReport> {
  const warnings: string[] = [];
  const own: Array<{ id: string; time: Date }> = [];
  let unreadable = 0;
  for (const id of await repo.listSnapshotIds()) {
    try {
      const header = await repo.readManifestHeader(id);
      if (isOwn(ctx, header)) own.push({ id, time: snapshotTime(id) });
    } catch (error) {
      if (!(error instanceof BackupError && error.code === 'snapshot_damaged')) throw error;
      unreadable++;
    }
  }
  const keep = snapshotsToKeep(own, settings.keep, ctx.options.retention);
  if (justWritten) keep.add(justWritten);
  const removed = own.filter((s) => !keep.has(s.id)).map((s) => s.id);
  const progress = phaseProgress(report, 'pruning', { files: removed.length, bytes: 0 });
  // Manifests first: an object is only ever deleted once no manifest names it.
  for (const id of removed) {
    await repo.deleteManifest(id);
    progress.step();
  }
  if (removed.length > 0) await repo.syncSnapshotsDir();
  let objectsRemoved = 0;
  let bytesRemoved = 0;
  if (removed.length > 0 || options.force) {
    if (unreadable > 0) {
      warnings.push(`${unreadable} snapshot manifest(s) could not be read, so no stored file was deleted (they might need them).`);
    } else {
      const gc = await collectGarbage(repo, options.graceMs ?? ctx.options.gcGraceMs ?? 60 * 60 * 1000);
      objectsRemoved = gc.objects;
      bytesRemoved = gc.bytes;
      if (gc.blocked) warnings.push(gc.blocked);
    }
  }
  progress.finish();
  return { kept: own.filter((s) => keep.has(s.id)).map((s) => s.id), removed, objectsRemoved, bytesRemoved, warnings };
}

/**
 * Deletes objects no manifest references (reading every manifest in full, after the prune), and temporary files
 * left by interrupted runs. Anything younger than the grace period is left: another hub writing to the same folder
 * may be about to publish a manifest that needs it.
 */
async function collectGarbage(repo: Repository, graceMs: number): Promise<{ objects: number; bytes: number; blocked?: string }> {
  const referenced = new Set<string>();
  for (const id of await repo.listSnapshotIds()) {
    try {
      for (const f of (await repo.readManifest(id)).files) for (const [sha256] of fileObjects(f)) referenced.add(sha256);
    } catch (error) {
      if (error instanceof BackupError && error.code === 'snapshot_not_found') continue; // pruned meanwhile by another hub
      if (error instanceof BackupError && error.code === 'snapshot_damaged') {
        return { objects: 0, bytes: 0, blocked: `The snapshot ${id} could not be read, so no stored file was deleted.` };
      }
      throw error;
    }
  }
  const now = Date.now();
  const listing = await repo.listObjects(now);
  let objects = 0;
  let bytes = 0;
  for (const sha256 of listing.objects) {
    if (referenced.has(sha256)) continue;
    const stat = await repo.op('checking a stored file', () => fsp.stat(repo.objectPath(sha256))).catch(() => undefined);
    if (!stat || now - stat.mtimeMs < graceMs) continue;
    await repo.deleteObject(sha256);
    objects++;
    bytes += stat.size;
  }
  for (const temp of listing.temps) if (temp.ageMs >= graceMs) await repo.deleteFile(temp.file);
  for (const temp of await repo.listManifestTemps()) {
    const stat = await fsp.stat(temp).catch(() => undefined);
    if (stat && now - stat.mtimeMs >= graceMs) await repo.deleteFile(temp);
  }
  return { objects, bytes };
}
