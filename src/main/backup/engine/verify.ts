/**
 * Verifying a snapshot: every stored object it needs (whole files and chunks) is re-hashed and compared with its
 * name. Verification only reads: damaged objects stay where they are, as evidence, and a second verification reports
 * the same; `repair` (repair.ts) is what moves them aside.
 */
import type { BackupProgress, VerifyReport } from '../../../shared/backup-protocol';
import { fileObjects, type Manifest } from '../manifest';
import type { Repository } from '../repository';
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
  return checkObjects(repo, manifest, options);
}

/** The objects a manifest names, each with its size and (up to five) of the files that use it. */
export function objectsOf(manifest: Manifest): Map<string, { size: number; paths: string[] }> {
  const objects = new Map<string, { size: number; paths: string[] }>();
  for (const f of manifest.files) {
    const label = `${f.source}/${f.path}`;
    for (const [sha256, size] of fileObjects(f)) {
      const o = objects.get(sha256);
      if (!o) objects.set(sha256, { size, paths: [label] });
      else if (o.paths.length < 5 && !o.paths.includes(label)) o.paths.push(label);
    }
  }
  return objects;
}

export async function checkObjects(
  repo: Repository,
  manifest: Manifest,
  options: { onProgress?: (p: BackupProgress) => void; signal?: AbortSignal },
): Promise<VerifyReport> {
  const objects = objectsOf(manifest);
  const report = progressReporter(options.onProgress);
  const list = [...objects.entries()];
  const total = { files: list.length, bytes: sum(list.map(([, o]) => o.size)) };
  const missing: VerifyReport['missing'] = [];
  const corrupt: VerifyReport['corrupt'] = [];
  const progress = phaseProgress(report, 'hashing', total);
  await forEachLimit(list, 4, options.signal, async ([sha256, o]) => {
    const { actual } = await repo.hashObject(sha256);
    if (actual === null) missing.push({ sha256, paths: o.paths });
    else if (actual !== sha256) corrupt.push({ sha256, actual, paths: o.paths });
    progress.step(o.size);
  });
  progress.finish();
  // Listed in a stable order (the checks above finish in any order).
  missing.sort((a, b) => a.sha256.localeCompare(b.sha256));
  corrupt.sort((a, b) => a.sha256.localeCompare(b.sha256));
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
