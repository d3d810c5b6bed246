/** Listing and reading the snapshots in the backup folder. */
import type { DamagedSnapshot, SnapshotSummary } from '../../../shared/backup-protocol';
import { SNAPSHOT_ID_PATTERN } from '../config';
import { BackupError } from '../errors';
import type { Manifest, ManifestHeader } from '../manifest';
import { snapshotNotFound, type Repository } from '../repository';
import type { EngineContext } from './context';

/** Every snapshot in the target, newest first; unreadable manifests are listed apart. */
export async function listSnapshots(ctx: EngineContext): Promise<{ snapshots: SnapshotSummary[]; damaged: DamagedSnapshot[] }> {
  const repo = ctx.repository(ctx.options.settings());
  await repo.prepare(false).catch((error: unknown) => {
    if (error instanceof BackupError && error.code === 'snapshot_not_found') return;
    throw error;
  });
  const snapshots: SnapshotSummary[] = [];
  const damaged: DamagedSnapshot[] = [];
  for (const id of (await repo.listSnapshotIds()).reverse()) {
    try {
      const header = await repo.readManifestHeader(id);
      snapshots.push({ ...header, own: isOwn(ctx, header) });
    } catch (error) {
      if (error instanceof BackupError && error.code === 'snapshot_damaged') damaged.push({ id, error: error.message });
      else if (!(error instanceof BackupError && error.code === 'snapshot_not_found')) throw error;
    }
  }
  return { snapshots, damaged };
}

export async function readSnapshotManifest(ctx: EngineContext, snapshotId: string): Promise<Manifest> {
  const repo = ctx.repository(ctx.options.settings());
  return repo.readManifest(checkSnapshotId(snapshotId, repo));
}

/** Whether this hub wrote the snapshot (retention only prunes its own). */
export function isOwn(ctx: EngineContext, header: ManifestHeader): boolean {
  return header.origin.host === ctx.host && header.origin.dataDir === ctx.dataDir;
}

export function checkSnapshotId(id: string, repo: Repository): string {
  if (!SNAPSHOT_ID_PATTERN.test(id)) throw snapshotNotFound(id, repo.target);
  return id;
}
