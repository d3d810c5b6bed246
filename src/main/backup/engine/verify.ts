/** Verifying a snapshot: every stored file it needs is re-hashed; damaged copies are removed so a run stores them again. */
import type { BackupProgress, VerifyReport } from '../../../shared/backup-protocol';
import { forEachLimit, sum, type EngineContext } from './context';
import { phaseProgress, progressReporter } from './progress';
import { checkSnapshotId } from './snapshots';

/** Re-hashes every object the snapshot names; reports those missing or whose content no longer matches. */
export async function verifySnapshot(
  ctx: EngineContext,
  snapshotId: string,
  options: { onProgress?: (p: BackupProgress) => void; signal?: AbortSignal },
): Promise<VerifyReport> {
  const repo = ctx.repository(ctx.options.settings());
  const manifest = await repo.readManifest(checkSnapshotId(snapshotId, repo));
  const objects = new Map<string, { size: number; paths: string[] }>();
  for (const f of manifest.files) {
    const o = objects.get(f.sha256);
    const label = `${f.source}/${f.path}`;
    if (o) {
      if (o.paths.length < 5) o.paths.push(label);
    } else objects.set(f.sha256, { size: f.size, paths: [label] });
  }
  const report = progressReporter(options.onProgress);
  const list = [...objects.entries()];
  const total = { files: list.length, bytes: sum(list.map(([, o]) => o.size)) };
  const missing: VerifyReport['missing'] = [];
  const corrupt: VerifyReport['corrupt'] = [];
  const progress = phaseProgress(report, 'hashing', total);
  await forEachLimit(list, 4, options.signal, async ([sha256, o]) => {
    const { actual } = await repo.hashObject(sha256);
    if (actual === null) missing.push({ sha256, paths: o.paths });
    else if (actual !== sha256) {
      corrupt.push({ sha256, actual, paths: o.paths });
      // A run copies only contents it does not hold yet: a damaged copy left in place would be trusted by every
      // later snapshot. Removed, the next run stores the content again from the source, if it still has it.
      await repo.deleteObject(sha256).catch(() => undefined);
    }
    progress.step(o.size);
  });
  progress.finish();
  return {
    snapshotId: manifest.id,
    ok: missing.length === 0 && corrupt.length === 0,
    files: manifest.files.length,
    objects: objects.size,
    bytes: total.bytes,
    missing,
    corrupt,
  };
}
