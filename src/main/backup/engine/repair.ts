/**
 * Repairing a snapshot, asked for explicitly after a failed verification: its objects are checked again, and each
 * damaged one is moved aside into `<repo>/quarantine/<time>/` (kept as evidence, with a repair.json saying what it
 * was), so the next run finds the content missing and stores it again from the sources that still hold it. Missing
 * objects need no move: the next run stores them again the same way. Nothing is deleted.
 */
import type { BackupProgress, RepairReport } from '../../../shared/backup-protocol';
import type { EngineContext } from './context';
import { checkSnapshotId } from './snapshots';
import { checkObjects } from './verify';

export async function repairSnapshot(
  ctx: EngineContext,
  snapshotId: string,
  options: { onProgress?: (p: BackupProgress) => void; signal?: AbortSignal },
): Promise<RepairReport> {
  const repo = ctx.repository(ctx.options.settings());
  const manifest = await repo.readManifest(checkSnapshotId(snapshotId, repo));
  // Checked again here rather than trusting an earlier verification's list: the repair moves only what is damaged now.
  const check = await checkObjects(repo, manifest, options);
  const folderName = `${ctx.now().toISOString().replace(/[-:.]/g, '')}-${manifest.id}`;
  let quarantineFolder: string | null = null;
  const quarantined: RepairReport['quarantined'] = [];
  for (const damaged of check.corrupt) {
    quarantineFolder = await repo.quarantineObject(damaged.sha256, folderName);
    quarantined.push({ ...damaged, movedTo: `${quarantineFolder}/${damaged.sha256}` });
  }
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  const next =
    quarantined.length + check.missing.length === 0
      ? `Every stored object of snapshot ${manifest.id} is intact; nothing was changed.`
      : `${quarantined.length > 0 ? `Moved ${count(quarantined.length, 'damaged object')} aside into ${quarantineFolder}. ` : ''}` +
        `The next backup run stores ${count(quarantined.length + check.missing.length, 'object')} again from the project folders and the hub's data ` +
        'where they still hold the same content; run a backup, then verify again. Content no source holds any more cannot be brought back.';
  const report: RepairReport = {
    snapshotId: manifest.id,
    objects: check.objects,
    quarantined,
    quarantineFolder,
    missing: check.missing,
    next,
  };
  if (quarantineFolder) await repo.writeQuarantineNote(folderName, `${JSON.stringify(report, null, 2)}\n`);
  return report;
}
