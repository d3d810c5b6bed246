/**
 * A backup run. Every earlier snapshot stays complete whatever happens: contents are stored before the manifest
 * that names them is written (temp, fsync, rename), and pruning only follows a published manifest.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { version as appVersion } from '../../../../package.json';
import { BackupError } from '../errors';
import { MANIFEST_FORMAT, MANIFEST_VERSION, snapshotIdFor, type Manifest, type ManifestFile } from '../manifest';
import { STATE_DIR, type BackupRunRecord } from '../state';
import { checkAborted, sum, type EngineContext, type RunOptions } from './context';
import { progressReporter } from './progress';
import { pruneWith } from './prune';
import { scanSources } from './scan';
import { copyMissing, hashEntries } from './store';

/** Takes a snapshot: scan, hash, store, manifest, prune. Records the run in the history whatever its outcome. */
export async function runBackup(ctx: EngineContext, options: RunOptions): Promise<BackupRunRecord> {
  const settings = ctx.options.settings();
  const startedAt = ctx.now();
  const runId = options.runId ?? ctx.newId();
  const signal = options.signal;
  const warnings: string[] = [];
  const stagingRoot = path.join(ctx.dataDir, STATE_DIR, 'staging');
  const staging = path.join(stagingRoot, runId);
  const report = progressReporter(options.onProgress);
  ctx.state.startRun(runId, options.trigger ?? 'manual', settings.target, startedAt);
  const totals = { files: 0, bytes: 0, newObjects: 0, newBytes: 0 };
  try {
    // Database copies left by a run that crashed are of no use (one hub per data folder, one run at a time).
    await fsp.rm(stagingRoot, { recursive: true, force: true });
    const repo = ctx.repository(settings);
    await repo.prepare(true);
    checkAborted(signal);

    const { entries, sources, dirs } = await scanSources(ctx, settings, repo, staging, warnings, signal, report);
    const { hashed: hashedSmall, vanished } = await hashEntries(ctx, entries, report, warnings, signal);
    const { chunkedRead } = await copyMissing(ctx, repo, entries, vanished, report, warnings, totals, signal);
    const hashed = hashedSmall + chunkedRead;
    checkAborted(signal);

    // The manifest, last: once it is there, the snapshot is complete.
    report({ phase: 'manifest', filesDone: 0, filesTotal: 1, bytesDone: 0, bytesTotal: 0 }, true);
    await repo.syncWrittenDirs();
    const files: ManifestFile[] = entries
      .filter((e) => !vanished.has(e))
      .map((e) => ({
        source: e.source,
        path: e.file.path,
        size: e.file.size,
        mtime: e.file.mtimeMs,
        mode: e.file.mode,
        sha256: e.sha256!,
        ...(e.chunks ? { chunks: e.chunks } : {}),
      }));
    // Counted here, not at scan time: files that vanished are left out and sizes are those actually stored.
    const bySource = new Map(sources.map((source) => [source.name, source]));
    for (const f of files) {
      const source = bySource.get(f.source)!;
      source.files++;
      source.bytes += f.size;
    }
    totals.files = files.length;
    totals.bytes = sum(files.map((f) => f.size));
    const createdAt = ctx.now();
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      version: MANIFEST_VERSION,
      id: snapshotIdFor(createdAt, randomBytes(4).toString('hex')),
      createdAt: createdAt.toISOString(),
      origin: { host: ctx.host, dataDir: ctx.dataDir, platform: ctx.platform, app: appVersion },
      sources,
      totals,
      files,
      dirs,
    };
    checkAborted(signal);
    await repo.writeManifest(manifest);
    report({ phase: 'manifest', filesDone: 1, filesTotal: 1, bytesDone: 0, bytesTotal: 0 }, true);

    // Pruning: a failure here does not fail the run (the snapshot is safely written).
    let pruned = 0;
    try {
      const result = await pruneWith(ctx, repo, settings, manifest.id, report);
      pruned = result.removed.length;
      warnings.push(...result.warnings);
    } catch (error) {
      warnings.push(`Old snapshots could not be pruned this time: ${(error as Error).message}`);
    }
    await ctx.state.forgetHashesExcept(new Set(entries.filter((e) => e.cacheable).map((e) => e.file.abs)));
    ctx.state.trimHistory();
    return ctx.state.finishRun(runId, {
      status: 'ok',
      finishedAt: ctx.now().toISOString(),
      snapshotId: manifest.id,
      ...totals,
      hashed,
      pruned,
      warnings,
    });
  } catch (error) {
    const failure = asBackupError(error);
    ctx.state.finishRun(runId, {
      status: failure.code === 'cancelled' ? 'cancelled' : 'failed',
      finishedAt: ctx.now().toISOString(),
      ...totals,
      errorCode: failure.code,
      error: failure.message,
      warnings,
    });
    throw failure;
  } finally {
    await fsp.rm(staging, { recursive: true, force: true }).catch(() => undefined);
  }
}

function asBackupError(error: unknown): BackupError {
  if (error instanceof BackupError) return error;
  return new BackupError('target_failed', `The backup failed: ${(error as Error)?.message ?? String(error)}. Earlier backups are untouched.`, { cause: error });
}
