/**
 * The backup engine: takes snapshots of the hub's data and of chosen project folders into a content-addressed
 * repository in a (usually cloud-synced) folder, and verifies, restores and prunes them.
 *
 * A run: scan (SQLite databases are copied through SQLite's online backup API on the live connection, so the copy
 * is consistent while agents write) → hash what changed (a local cache of path/size/mtime/ctime → sha256 skips the
 * rest) → copy contents the repository lacks (temp name, fsync, rename) → write the manifest last (temp, fsync,
 * rename) → prune by retention and collect objects no manifest needs. A run that fails at any point leaves every
 * earlier snapshot complete and verifiable: nothing is overwritten, and pruning only follows a published manifest.
 *
 * Each phase has its file in this folder (scan, store, run, verify, restore, prune, snapshots); they share the
 * engine context (context.ts), which also holds the lock that lets one operation run at a time.
 */
import type { BackupSettings } from '../config';
import type { ExclusionPreview } from '../exclusions';
import type { Manifest } from '../manifest';
import type { BackupState, BackupRunRecord } from '../state';
import type { BackupProgress, DamagedSnapshot, RepairReport, RestoreReport, SnapshotSummary, VerifyReport } from '../../../shared/backup-protocol';
import { createEngineContext, type BackupEngineOptions, type EngineContext, type PruneReport, type RestoreOptions, type RunOptions } from './context';
import { pruneOnRequest } from './prune';
import { repairSnapshot } from './repair';
import { restoreHubDataBeside, restoreSnapshot } from './restore';
import { runBackup } from './run';
import { previewSources } from './scan';
import { listSnapshots, readSnapshotManifest } from './snapshots';
import { verifySnapshot } from './verify';

export type { BackupPhase, BackupProgress, DamagedSnapshot, RepairReport, RestoreReport, SnapshotSummary, VerifyReport } from '../../../shared/backup-protocol';
export type { BackupEngineOptions, PruneReport, RestoreOptions, RunOptions } from './context';
export { HUB_EXCLUDES } from './scan';

export class BackupEngine {
  readonly state: BackupState;
  private readonly ctx: EngineContext;

  constructor(options: BackupEngineOptions) {
    this.ctx = createEngineContext(options);
    this.state = this.ctx.state;
  }

  /** What is running now ('run', 'verification', 'repair', 'restore', 'prune'), or null. */
  get activity(): string | null {
    return this.ctx.busy;
  }

  close(): void {
    this.state.close();
  }

  /** Takes a snapshot. Resolves with the run's record; rejects with a BackupError (also recorded in the history). */
  run(options: RunOptions = {}): Promise<BackupRunRecord> {
    return this.ctx.exclusive('run', () => runBackup(this.ctx, options));
  }

  /**
   * What a run would take from each source with these (possibly unsaved) settings: the same walk as the run.
   * `only` limits it to one source by name ('hub' for the hub's data).
   */
  preview(
    settings: Pick<BackupSettings, 'sources' | 'exclude' | 'useGitignore' | 'maxFileBytes'> & { target?: string | null },
    options: { only?: string; limit?: number; signal?: AbortSignal } = {},
  ): Promise<ExclusionPreview[]> {
    return previewSources(this.ctx, settings, options);
  }

  /** Every snapshot in the target, newest first; unreadable manifests are listed apart. */
  listSnapshots(): Promise<{ snapshots: SnapshotSummary[]; damaged: DamagedSnapshot[] }> {
    return listSnapshots(this.ctx);
  }

  manifest(snapshotId: string): Promise<Manifest> {
    return readSnapshotManifest(this.ctx, snapshotId);
  }

  /**
   * Re-hashes every object the snapshot names; reports those missing or whose content no longer matches. Only reads:
   * a second verification reports the same.
   */
  verify(snapshotId: string, options: { onProgress?: (p: BackupProgress) => void; signal?: AbortSignal } = {}): Promise<VerifyReport> {
    return this.ctx.exclusive('verification', () => verifySnapshot(this.ctx, snapshotId, options));
  }

  /**
   * Checks the snapshot's objects again and moves the damaged ones aside into the backup folder's quarantine, so the
   * next run stores their content again from the sources. Deletes nothing.
   */
  repair(snapshotId: string, options: { onProgress?: (p: BackupProgress) => void; signal?: AbortSignal } = {}): Promise<RepairReport> {
    return this.ctx.exclusive('repair', () => repairSnapshot(this.ctx, snapshotId, options));
  }

  /**
   * Writes a source's files from a snapshot into a folder. Every path is checked first (relative, no '..', no drive
   * letters, …) and the whole restore is refused if one would leave the folder; folders on the way are never
   * followed through symbolic links. Each file is written to a temporary name while its hash is checked, then renamed.
   */
  async restore(snapshotId: string, options: RestoreOptions): Promise<RestoreReport> {
    return (await this.ctx.exclusive('restore', () => restoreSnapshot(this.ctx, snapshotId, options))).report;
  }

  /**
   * Restores the hub's data from a snapshot beside the live data folder, into `<dataDir>.restore-<timestamp>`, checks
   * every restored database (PRAGMA integrity_check), and returns that folder. Swapping it in needs the hub stopped.
   */
  restoreHubData(snapshotId: string, dataDir?: string): Promise<string> {
    return restoreHubDataBeside(this.ctx, snapshotId, dataDir);
  }

  /** Applies retention to this hub's snapshots, then collects unreferenced objects. */
  prune(options: { gcGraceMs?: number } = {}): Promise<PruneReport> {
    return this.ctx.exclusive('prune', () => pruneOnRequest(this.ctx, options));
  }
}
