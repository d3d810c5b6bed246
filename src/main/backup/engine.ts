/**
 * The backup engine: takes snapshots of the hub's data and of chosen project folders into a content-addressed
 * repository in a (usually cloud-synced) folder, and verifies, restores and prunes them.
 *
 * A run: scan (SQLite databases are copied through SQLite's online backup API on the live connection, so the copy
 * is consistent while agents write) → hash what changed (a local cache of path/size/mtime/ctime → sha256 skips the
 * rest) → copy contents the repository lacks (temp name, fsync, rename) → write the manifest last (temp, fsync,
 * rename) → prune by retention and collect objects no manifest needs. A run that fails at any point leaves every
 * earlier snapshot complete and verifiable: nothing is overwritten, and pruning only follows a published manifest.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, openSync, promises as fsp, readFileSync, readSync, realpathSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ulidGenerator } from '../ids';
import { version as appVersion } from '../../../package.json';
import { openDatabase, type SqliteDatabase } from '../db/database';
import { errorCode } from '../mailbox/files';
import { BODY_DIR } from '../messaging/body-store';
import { HUB_SOURCE, SNAPSHOT_ID_PATTERN, type BackupSettings } from './config';
import { BackupError, cancelled } from './errors';
import { scanTree, toPreview, type ExclusionPreview, type ScannedFile, type ScanRules } from './exclusions';
import { resolveInside, snapshotIdFor, snapshotTime, unsafePathReason, type Manifest, type ManifestFile, type ManifestHeader, type ManifestSource } from './manifest';
import { isDirectory, isInside } from './paths';
import { REPO_DIR, Repository, SourceReadError, snapshotNotFound, WHOLE_FILE_LIMIT, type RepositoryHooks } from './repository';
import { snapshotsToKeep, type RetentionOptions } from './retention';
import { BackupState, STATE_DIR, type BackupRunRecord, type RunTrigger } from './state';
import type { BackupPhase, BackupProgress, DamagedSnapshot, RestoreReport, SnapshotSummary, VerifyReport } from '../../shared/backup-protocol';
import { HUB_RUNTIME_FILE } from '../../shared/hub-location';
export type { BackupPhase, BackupProgress, DamagedSnapshot, RestoreReport, SnapshotSummary, VerifyReport };

/** What the hub's data directory never contributes: runtime files, temporaries, SQLite side files, this state. */
export const HUB_EXCLUDES: readonly string[] = [`/${HUB_RUNTIME_FILE}`, '*.tmp', '*-wal', '*-shm', '*-journal', `/${STATE_DIR}/`];

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');
const SQLITE_NAME = /\.(sqlite3?|db)$/i;
/** A file modified this recently may change again within its file system's timestamp granularity: hash it next time too. */
const RACY_MS = 3000;
const PROGRESS_EVERY_MS = 200;
/** Files up to this size are hashed with synchronous reads, in slices of SLICE_MS between yields to the event loop. */
const SYNC_HASH_LIMIT = 1024 * 1024;
const SLICE_MS = 10;

export interface BackupEngineOptions {
  dataDir: string;
  /** The current settings (read at the start of every operation). */
  settings: () => BackupSettings;
  /** The hub's open SQLite connections; a database file in the data dir is copied through its live connection. */
  databases?: () => Iterable<SqliteDatabase | null | undefined>;
  /** Fault injection for tests (see RepositoryHooks). */
  hooks?: RepositoryHooks;
  now?: () => Date;
  /** Unreferenced objects and temporary files younger than this are kept (another run may be about to use them). 1 h. */
  gcGraceMs?: number;
  /** Large files hashed at once (2; small ones are hashed in time slices) and files copied at once (16; copies wait mostly on fsync). */
  hashConcurrency?: number;
  copyConcurrency?: number;
  /** Names this hub in manifests (retention only prunes its own snapshots). Default: os.hostname(). */
  host?: string;
  platform?: NodeJS.Platform;
  retention?: RetentionOptions;
}

export interface RunOptions {
  trigger?: RunTrigger;
  signal?: AbortSignal;
  onProgress?: (progress: BackupProgress) => void;
  /** Set by the scheduler so it can name the run before it starts. */
  runId?: string;
}

export interface RestoreOptions {
  source: string;
  destination: string;
  /** Only these files, or everything under these folders (manifest paths, '/'-separated). */
  paths?: string[];
  /** Allow writing into a folder that is not empty (files with the same path are replaced). Default false. */
  overwrite?: boolean;
  onProgress?: (progress: BackupProgress) => void;
}

export interface PruneReport {
  kept: string[];
  removed: string[];
  objectsRemoved: number;
  bytesRemoved: number;
  warnings: string[];
}

interface Entry {
  source: string;
  file: ScannedFile;
  sha256?: string;
  /** Whether the (path, size, mtime) → sha256 cache may learn this entry (not for staged database copies). */
  cacheable: boolean;
}

export class BackupEngine {
  readonly state: BackupState;
  private readonly dataDir: string;
  private readonly host: string;
  private readonly platform: NodeJS.Platform;
  private readonly newId = ulidGenerator();
  private readonly repositories = new Map<string, Repository>();
  private busy: string | null = null;

  constructor(private readonly options: BackupEngineOptions) {
    this.dataDir = path.resolve(options.dataDir);
    this.host = options.host ?? os.hostname();
    this.platform = options.platform ?? process.platform;
    this.state = BackupState.open(this.dataDir);
  }

  /** What is running now ('run', 'verify', 'restore', 'prune'), or null. */
  get activity(): string | null {
    return this.busy;
  }

  close(): void {
    this.state.close();
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  private repository(settings: BackupSettings): Repository {
    if (!settings.target) {
      throw new BackupError('no_target', 'No backup folder is chosen yet. Choose one (your Google Drive folder, say) in the backup settings.');
    }
    const timeoutMs = settings.timeoutSeconds * 1000;
    const key = `${settings.target}\0${timeoutMs}`;
    let repo = this.repositories.get(key);
    if (!repo) this.repositories.set(key, (repo = new Repository(settings.target, timeoutMs, this.options.hooks)));
    return repo;
  }

  private async exclusive<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (this.busy) {
      throw new BackupError('busy', `A backup ${this.busy} is in progress; try again when it has finished.`);
    }
    this.busy = what;
    try {
      return await fn();
    } finally {
      this.busy = null;
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Running a backup

  /** Takes a snapshot. Resolves with the run's record; rejects with a BackupError (also recorded in the history). */
  run(options: RunOptions = {}): Promise<BackupRunRecord> {
    return this.exclusive('run', () => this.runLocked(options));
  }

  private async runLocked(options: RunOptions): Promise<BackupRunRecord> {
    const settings = this.options.settings();
    const startedAt = this.now();
    const runId = options.runId ?? this.newId();
    const signal = options.signal;
    const warnings: string[] = [];
    const stagingRoot = path.join(this.dataDir, STATE_DIR, 'staging');
    const staging = path.join(stagingRoot, runId);
    const report = progressReporter(options.onProgress);
    this.state.startRun(runId, options.trigger ?? 'manual', settings.target, startedAt);
    const totals = { files: 0, bytes: 0, newObjects: 0, newBytes: 0 };
    try {
      // Database copies left by a run that crashed are of no use (one hub per data folder, one run at a time).
      await fsp.rm(stagingRoot, { recursive: true, force: true });
      const repo = this.repository(settings);
      await repo.prepare(true);
      checkAborted(signal);

      // Scanning: the hub's data (databases through the backup API), then each project folder.
      report({ phase: 'scanning', filesDone: 0, filesTotal: 0, bytesDone: 0, bytesTotal: 0 }, true);
      const entries: Entry[] = [];
      const sources: ManifestSource[] = [];
      let found = 0;
      let foundBytes = 0;
      const onScan = (files: number, bytes: number) =>
        report({ phase: 'scanning', filesDone: found + files, filesTotal: found + files, bytesDone: foundBytes + bytes, bytesTotal: foundBytes + bytes });

      const hubFiles = await this.scanHubData(repo, staging, warnings, signal, onScan);
      entries.push(...hubFiles.map((e) => ({ ...e, source: HUB_SOURCE })));
      // Each source's files and bytes are counted once, from the snapshot's final file list (see below).
      sources.push({ name: HUB_SOURCE, kind: 'hub', path: this.dataDir, files: 0, bytes: 0 });
      found += hubFiles.length;
      foundBytes += hubFiles.reduce((sum, e) => sum + e.file.size, 0);

      for (const source of settings.sources) {
        checkAborted(signal);
        if (!isDirectory(source.path)) {
          warnings.push(`The project folder "${source.name}" (${source.path}) is not there; it is not in this snapshot.`);
          sources.push({ name: source.name, kind: 'folder', path: source.path, files: 0, bytes: 0, missing: true });
          continue;
        }
        const scan = await scanTree(source.path, this.folderRules(settings, repo.root), { limit: 0, signal, onProgress: onScan });
        entries.push(...scan.files.map((file) => ({ source: source.name, file, cacheable: true })));
        sources.push({ name: source.name, kind: 'folder', path: source.path, files: 0, bytes: 0 });
        found += scan.files.length;
        foundBytes += scan.bytes;
      }

      // Hashing what the cache does not know.
      const cache = this.state.loadHashes();
      const toHash: Entry[] = [];
      for (const entry of entries) {
        const cached = entry.cacheable ? cache.get(entry.file.abs) : undefined;
        if (cached && cached.size === entry.file.size && cached.mtime === entry.file.mtimeMs && cached.ctime === entry.file.ctimeMs) {
          entry.sha256 = cached.sha256;
        } else toHash.push(entry);
      }
      const hashing = phaseProgress(report, 'hashing', { files: toHash.length, bytes: sum(toHash.map((e) => e.file.size)) });
      const learned: Array<{ path: string; size: number; mtime: number; ctime: number; sha256: string }> = [];
      const vanished = new Set<Entry>();
      const settle = (entry: Entry, hashStartedAt: number, outcome: { sha256: string; size: number } | SourceReadError) => {
        const statSize = entry.file.size;
        if (outcome instanceof SourceReadError) {
          vanished.add(entry);
          warnings.push(`${entry.source}/${entry.file.path} could not be read and is not in this snapshot (${outcome.message}).`);
        } else {
          entry.sha256 = outcome.sha256;
          entry.file.size = outcome.size;
          if (entry.cacheable && outcome.size === statSize && hashStartedAt - entry.file.mtimeMs > RACY_MS) {
            learned.push({ path: entry.file.abs, size: outcome.size, mtime: entry.file.mtimeMs, ctime: entry.file.ctimeMs, sha256: outcome.sha256 });
          }
        }
        hashing.step(statSize);
      };
      // Small files are read and hashed synchronously in slices of a few milliseconds (an async read per small file
      // costs more than the read itself); large ones are streamed.
      const small = toHash.filter((e) => e.file.size <= SYNC_HASH_LIMIT);
      const large = toHash.filter((e) => e.file.size > SYNC_HASH_LIMIT);
      let sliceStart = performance.now();
      for (const entry of small) {
        if (performance.now() - sliceStart > SLICE_MS) {
          await yieldToLoop();
          checkAborted(signal);
          sliceStart = performance.now();
        }
        const startedAt = Date.now();
        settle(entry, startedAt, hashLocalFileSync(entry.file.abs));
      }
      await forEachLimit(large, this.options.hashConcurrency ?? 2, signal, async (entry) => {
        const startedAt = Date.now();
        settle(entry, startedAt, await hashLocalFile(entry.file.abs, entry.file.size).catch((error: unknown) => {
          if (error instanceof SourceReadError) return error;
          throw error;
        }));
      });
      this.state.putHashes(learned);

      // Copying contents the repository lacks.
      const listing = await repo.listObjects();
      const present = listing.objects;
      const groups = new Map<string, Entry[]>();
      for (const entry of entries) {
        if (vanished.has(entry) || present.has(entry.sha256!)) continue;
        const group = groups.get(entry.sha256!);
        if (group) group.push(entry);
        else groups.set(entry.sha256!, [entry]);
      }
      const copyList = [...groups.entries()];
      const copyTotal = { files: copyList.length, bytes: sum(copyList.map(([, group]) => group[0]!.file.size)) };
      const copying = phaseProgress(report, 'copying', copyTotal);
      const free = await repo.freeBytes();
      if (free !== null && free < copyTotal.bytes) {
        throw new BackupError(
          'target_full',
          `The backup folder ${repo.target} has ${formatMiB(free)} free but this backup needs about ${formatMiB(copyTotal.bytes)}. ` +
            'Free some space there (or in its cloud storage) or choose another folder, then run the backup again. Earlier backups are untouched.',
        );
      }
      await forEachLimit(copyList, this.options.copyConcurrency ?? 16, signal, async ([sha256, group]) => {
        // Store the content under sha256 from the first file of the group that still has it; a file that changed
        // since it was hashed is stored under its new hash instead.
        for (const entry of group) {
          if (vanished.has(entry)) continue;
          try {
            const stored = await this.storeFile(repo, entry, present, signal);
            if (stored.written) {
              totals.newObjects++;
              totals.newBytes += stored.size;
            }
            if (entry.sha256 === sha256) break;
          } catch (error) {
            if (!(error instanceof SourceReadError)) throw error;
            vanished.add(entry);
            warnings.push(`${entry.source}/${entry.file.path} could not be read and is not in this snapshot (${error.message}).`);
          }
        }
        copying.step(group[0]!.file.size);
      });
      checkAborted(signal);

      // The manifest, last: once it is there, the snapshot is complete.
      report({ phase: 'manifest', filesDone: 0, filesTotal: 1, bytesDone: 0, bytesTotal: 0 }, true);
      await repo.syncWrittenDirs();
      const files: ManifestFile[] = entries
        .filter((e) => !vanished.has(e))
        .map((e) => ({ source: e.source, path: e.file.path, size: e.file.size, mtime: e.file.mtimeMs, mode: e.file.mode, sha256: e.sha256! }));
      // Counted here, not at scan time: files that vanished are left out and sizes are those actually stored.
      const bySource = new Map(sources.map((source) => [source.name, source]));
      for (const f of files) {
        const source = bySource.get(f.source)!;
        source.files++;
        source.bytes += f.size;
      }
      totals.files = files.length;
      totals.bytes = sum(files.map((f) => f.size));
      const createdAt = this.now();
      const manifest: Manifest = {
        format: 'devenviro-backup-manifest',
        version: 1,
        id: snapshotIdFor(createdAt, randomBytes(4).toString('hex')),
        createdAt: createdAt.toISOString(),
        origin: { host: this.host, dataDir: this.dataDir, platform: this.platform, app: appVersion },
        sources,
        totals,
        files,
      };
      checkAborted(signal);
      await repo.writeManifest(manifest);
      report({ phase: 'manifest', filesDone: 1, filesTotal: 1, bytesDone: 0, bytesTotal: 0 }, true);

      // Pruning: a failure here does not fail the run (the snapshot is safely written).
      let pruned = 0;
      try {
        const result = await this.pruneWith(repo, settings, manifest.id, report);
        pruned = result.removed.length;
        warnings.push(...result.warnings);
      } catch (error) {
        warnings.push(`Old snapshots could not be pruned this time: ${(error as Error).message}`);
      }
      this.state.forgetHashesExcept(new Set(entries.filter((e) => e.cacheable).map((e) => e.file.abs)));
      this.state.trimHistory();
      return this.state.finishRun(runId, {
        status: 'ok',
        finishedAt: this.now().toISOString(),
        snapshotId: manifest.id,
        ...totals,
        hashed: toHash.length,
        pruned,
        warnings,
      });
    } catch (error) {
      const failure = asBackupError(error);
      this.state.finishRun(runId, {
        status: failure.code === 'cancelled' ? 'cancelled' : 'failed',
        finishedAt: this.now().toISOString(),
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

  /** Stores one file's content; returns whether an object was written (false when it was already there). */
  private async storeFile(repo: Repository, entry: Entry, present: Set<string>, signal?: AbortSignal): Promise<{ written: boolean; size: number }> {
    checkAborted(signal);
    if (entry.file.size <= WHOLE_FILE_LIMIT) {
      const content = await readSource(entry.file.abs);
      if (content.length > WHOLE_FILE_LIMIT) return this.storeStreamed(repo, entry, present, signal);
      const sha256 = createHash('sha256').update(content).digest('hex');
      entry.sha256 = sha256;
      entry.file.size = content.length;
      if (present.has(sha256)) return { written: false, size: content.length };
      present.add(sha256);
      try {
        await repo.writeObjectBuffer(sha256, content);
      } catch (error) {
        present.delete(sha256);
        throw error;
      }
      return { written: true, size: content.length };
    }
    return this.storeStreamed(repo, entry, present, signal);
  }

  private async storeStreamed(repo: Repository, entry: Entry, present: Set<string>, signal?: AbortSignal): Promise<{ written: boolean; size: number }> {
    const { sha256, size } = await repo.writeObjectStream(entry.file.abs, signal);
    entry.sha256 = sha256;
    entry.file.size = size;
    present.add(sha256);
    return { written: true, size };
  }

  /** `repoRoot`: the repository's own folder, never backed up into itself. */
  private folderRules(settings: Pick<BackupSettings, 'exclude' | 'useGitignore' | 'maxFileBytes'>, repoRoot?: string): ScanRules {
    return {
      patterns: settings.exclude,
      useGitignore: settings.useGitignore,
      maxFileBytes: settings.maxFileBytes,
      platform: this.platform,
      skipDirs: repoRoot ? [repoRoot] : [],
    };
  }

  private hubRules(repoRoot?: string): ScanRules {
    return {
      patterns: HUB_EXCLUDES,
      useGitignore: false,
      maxFileBytes: null,
      platform: this.platform,
      skipDirs: repoRoot ? [repoRoot] : [],
      patternsLabel: "the hub's own exclusions",
    };
  }

  /**
   * The data directory's files; each SQLite database among them is replaced by a consistent copy made with SQLite's
   * online backup API (through the hub's live connection when it has one) in a staging folder.
   */
  private async scanHubData(
    repo: Repository,
    staging: string,
    warnings: string[],
    signal: AbortSignal | undefined,
    onScan: (files: number, bytes: number) => void,
  ): Promise<Array<Omit<Entry, 'source'>>> {
    const scan = await scanTree(this.dataDir, this.hubRules(repo.root), { limit: 0, signal, onProgress: onScan });
    const live = new Map<string, SqliteDatabase>();
    for (const db of this.options.databases?.() ?? []) {
      if (db && db.open && !db.memory) live.set(canonical(db.name), db);
    }
    const result: Array<Omit<Entry, 'source'>> = [];
    for (const file of scan.files) {
      checkAborted(signal);
      if (!SQLITE_NAME.test(file.path) || !hasSqliteHeader(file.abs)) {
        result.push({ file, cacheable: true });
        continue;
      }
      await fsp.mkdir(staging, { recursive: true });
      const copy = path.join(staging, `${result.length}-${path.basename(file.abs)}`);
      const backedUpAt = Date.now();
      try {
        await snapshotDatabase(file.abs, copy, live.get(canonical(file.abs)));
      } catch (error) {
        throw new BackupError('target_failed', `The database ${file.path} could not be copied for the backup: ${(error as Error).message}`, { cause: error });
      }
      const st = statSync(copy);
      result.push({ file: { ...file, abs: copy, size: st.size, mtimeMs: backedUpAt, ctimeMs: backedUpAt }, cacheable: false });
    }
    // Message bodies kept in files that were stored while the databases were copied: their rows may be in the
    // copies. A body file is durable before its row commits, so listing them again now finds every one they name.
    const bodiesDir = path.join(this.dataDir, BODY_DIR);
    if (isDirectory(bodiesDir)) {
      const listed = new Set(scan.files.map((file) => file.abs));
      const again = await scanTree(bodiesDir, this.hubRules(repo.root), { limit: 0, signal });
      for (const file of again.files) {
        if (!listed.has(file.abs)) result.push({ file: { ...file, path: `${BODY_DIR}/${file.path}` }, cacheable: true });
      }
    }
    return result;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Previews and listings

  /**
   * What a run would take from each source with these (possibly unsaved) settings: the same walk as the run.
   * `only` limits it to one source by name ('hub' for the hub's data).
   */
  async preview(
    settings: Pick<BackupSettings, 'sources' | 'exclude' | 'useGitignore' | 'maxFileBytes'> & { target?: string | null },
    options: { only?: string; limit?: number; signal?: AbortSignal } = {},
  ): Promise<ExclusionPreview[]> {
    const repoRoot = settings.target ? path.join(settings.target, REPO_DIR) : undefined;
    const previews: ExclusionPreview[] = [];
    const wanted = (name: string) => options.only === undefined || options.only.toLowerCase() === name.toLowerCase();
    if (wanted(HUB_SOURCE)) {
      const scan = await scanTree(this.dataDir, this.hubRules(repoRoot), { limit: options.limit, signal: options.signal });
      previews.push(toPreview({ name: HUB_SOURCE, path: this.dataDir }, scan));
    }
    for (const source of settings.sources) {
      if (!wanted(source.name)) continue;
      if (!isDirectory(source.path)) {
        if (options.only !== undefined) {
          throw new BackupError('source_missing', `The project folder "${source.name}" (${source.path}) is not there (or is not a folder).`);
        }
        previews.push({ ...toPreview(source, { root: source.path, files: [], bytes: 0, skipped: { files: 0, dirs: 0, bytes: 0 }, skippedPaths: [] }), missing: true });
        continue;
      }
      const scan = await scanTree(source.path, this.folderRules(settings, repoRoot), { limit: options.limit, signal: options.signal });
      previews.push(toPreview(source, scan));
    }
    if (options.only !== undefined && previews.length === 0) {
      throw new BackupError('source_missing', `There is no source named "${options.only}".`);
    }
    return previews;
  }

  /** Every snapshot in the target, newest first; unreadable manifests are listed apart. */
  async listSnapshots(): Promise<{ snapshots: SnapshotSummary[]; damaged: DamagedSnapshot[] }> {
    const repo = this.repository(this.options.settings());
    await repo.prepare(false).catch((error: unknown) => {
      if (error instanceof BackupError && error.code === 'snapshot_not_found') return;
      throw error;
    });
    const snapshots: SnapshotSummary[] = [];
    const damaged: DamagedSnapshot[] = [];
    for (const id of (await repo.listSnapshotIds()).reverse()) {
      try {
        const header = await repo.readManifestHeader(id);
        snapshots.push({ ...header, own: this.isOwn(header) });
      } catch (error) {
        if (error instanceof BackupError && error.code === 'snapshot_damaged') damaged.push({ id, error: error.message });
        else if (!(error instanceof BackupError && error.code === 'snapshot_not_found')) throw error;
      }
    }
    return { snapshots, damaged };
  }

  async manifest(snapshotId: string): Promise<Manifest> {
    const repo = this.repository(this.options.settings());
    return repo.readManifest(checkSnapshotId(snapshotId, repo));
  }

  private isOwn(header: ManifestHeader): boolean {
    return header.origin.host === this.host && header.origin.dataDir === this.dataDir;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Verifying

  /** Re-hashes every object the snapshot names; reports those missing or whose content no longer matches. */
  verify(snapshotId: string, options: { onProgress?: (p: BackupProgress) => void; signal?: AbortSignal } = {}): Promise<VerifyReport> {
    return this.exclusive('verification', async () => {
      const repo = this.repository(this.options.settings());
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
    });
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Restoring

  /**
   * Writes a source's files from a snapshot into a folder. Every path is checked first (relative, no '..', no drive
   * letters, …) and the whole restore is refused if one would leave the folder; folders on the way are never
   * followed through symbolic links. Each file is written to a temporary name while its hash is checked, then renamed.
   */
  async restore(snapshotId: string, options: RestoreOptions): Promise<RestoreReport> {
    return (await this.exclusive('restore', () => this.restoreLocked(snapshotId, options))).report;
  }

  /** The restore, and the manifest entries it wrote (or tried to: those that failed are in the report). */
  private async restoreLocked(snapshotId: string, options: RestoreOptions): Promise<{ report: RestoreReport; files: ManifestFile[] }> {
    const repo = this.repository(this.options.settings());
    const manifest = await repo.readManifest(checkSnapshotId(snapshotId, repo));
    if (!manifest.sources.some((s) => s.name === options.source) && !manifest.files.some((f) => f.source === options.source)) {
      const names = manifest.sources.map((s) => `"${s.name}"`).join(', ');
      throw new BackupError('source_missing', `Snapshot ${manifest.id} has no source named "${options.source}" (it has ${names}).`);
    }
    const prefixes = options.paths?.map((p) => p.replace(/\/+$/, ''));
    const files = manifest.files.filter(
      (f) => f.source === options.source && (!prefixes || prefixes.some((p) => f.path === p || f.path.startsWith(`${p}/`))),
    );

    // Refuse the whole restore if any path is unsafe: such a manifest was not written by this program.
    const unsafe = files
      .map((f) => ({ path: f.path, reason: unsafePathReason(f.path, this.platform) }))
      .filter((u): u is { path: string; reason: string } => u.reason !== null);
    if (unsafe.length > 0) {
      const list = unsafe.slice(0, 5).map((u) => `"${u.path}" (${u.reason})`).join(', ');
      throw new BackupError(
        'unsafe_path',
        `Refusing to restore snapshot ${manifest.id}: ${unsafe.length} path(s) would escape the destination folder: ${list}${unsafe.length > 5 ? ', …' : ''}.`,
      );
    }

    const requested = path.resolve(options.destination);
    if (isInside(requested, this.dataDir) || isInside(this.dataDir, requested)) {
      throw new BackupError(
        'unsafe_path',
        `Refusing to restore into ${requested}: it overlaps the hub's live data folder ${this.dataDir}. Restore the hub's data with restoreHubData (it writes beside it), or choose another folder.`,
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
    const progress = phaseProgress(progressReporter(options.onProgress), 'copying', { files: files.length, bytes: sum(files.map((f) => f.size)) });
    for (const f of files) {
      const target = resolveInside(root, f.path, this.platform);
      try {
        await ensureParents(root, target, madeDirs);
        const existing = await fsp.lstat(target).catch(() => undefined);
        if (existing?.isSymbolicLink()) throw new BackupError('unsafe_path', `refusing to restore "${f.path}": a symbolic link is in its place`);
        if (existing?.isDirectory()) throw new Error('a folder is in its place');
        await this.restoreFile(repo, f, target);
      } catch (error) {
        if (error instanceof BackupError && error.code !== 'restore_failed' && error.code !== 'snapshot_damaged') throw error;
        failed.push({ path: f.path, reason: (error as Error).message });
      }
      progress.step(f.size);
    }
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

  private async restoreFile(repo: Repository, f: ManifestFile, target: string): Promise<void> {
    const input = await repo.openObject(f.sha256);
    if (!input) throw new BackupError('restore_failed', `its stored content (${f.sha256.slice(0, 12)}…) is missing from the backup`);
    const temp = path.join(path.dirname(target), `.${path.basename(target).slice(0, 100)}.restore-${randomBytes(6).toString('hex')}`);
    let output: fsp.FileHandle | undefined;
    let renamed = false;
    try {
      output = await fsp.open(temp, 'wx', 0o600);
      const hash = createHash('sha256');
      const buffer = Buffer.allocUnsafe(1024 * 1024);
      let size = 0;
      for (;;) {
        const { bytesRead } = await repo.op('reading a stored file', () => input.read(buffer, 0, buffer.length, size));
        if (bytesRead === 0) break;
        hash.update(buffer.subarray(0, bytesRead));
        await output.write(buffer, 0, bytesRead, size);
        size += bytesRead;
      }
      const actual = hash.digest('hex');
      if (actual !== f.sha256 || size !== f.size) {
        throw new BackupError('restore_failed', `its stored content is damaged (expected sha256 ${f.sha256.slice(0, 12)}…, found ${actual.slice(0, 12)}…)`);
      }
      await output.sync();
      await output.close();
      output = undefined;
      await fsp.chmod(temp, f.mode & 0o777);
      const mtime = new Date(f.mtime);
      await fsp.utimes(temp, mtime, mtime);
      await fsp.rename(temp, target);
      renamed = true;
    } finally {
      await input.close().catch(() => undefined);
      if (output) await output.close().catch(() => undefined);
      if (!renamed) await fsp.rm(temp, { force: true }).catch(() => undefined);
    }
  }

  /**
   * Restores the hub's data from a snapshot beside the live data folder, into `<dataDir>.restore-<timestamp>`, checks
   * every restored database (PRAGMA integrity_check), and returns that folder. Swapping it in needs the hub stopped.
   */
  async restoreHubData(snapshotId: string, dataDir: string = this.dataDir): Promise<string> {
    const folder = `${path.resolve(dataDir)}.restore-${this.now().toISOString().replace(/[-:.]/g, '')}`;
    let report: RestoreReport;
    let files: ManifestFile[];
    try {
      ({ report, files } = await this.exclusive('restore', () => this.restoreLocked(snapshotId, { source: HUB_SOURCE, destination: folder })));
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

  // ---------------------------------------------------------------------------------------------------------------
  // Retention and garbage collection

  /** Applies retention to this hub's snapshots, then collects unreferenced objects. */
  prune(options: { gcGraceMs?: number } = {}): Promise<PruneReport> {
    return this.exclusive('prune', async () => {
      const settings = this.options.settings();
      const repo = this.repository(settings);
      await repo.prepare(false);
      return this.pruneWith(repo, settings, null, progressReporter(undefined), { force: true, graceMs: options.gcGraceMs });
    });
  }

  private async pruneWith(
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
        if (this.isOwn(header)) own.push({ id, time: snapshotTime(id) });
      } catch (error) {
        if (!(error instanceof BackupError && error.code === 'snapshot_damaged')) throw error;
        unreadable++;
      }
    }
    const keep = snapshotsToKeep(own, settings.keep, this.options.retention);
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
        const gc = await this.collectGarbage(repo, options.graceMs ?? this.options.gcGraceMs ?? 60 * 60 * 1000);
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
  private async collectGarbage(repo: Repository, graceMs: number): Promise<{ objects: number; bytes: number; blocked?: string }> {
    const referenced = new Set<string>();
    for (const id of await repo.listSnapshotIds()) {
      try {
        for (const f of (await repo.readManifest(id)).files) referenced.add(f.sha256);
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
}

// -----------------------------------------------------------------------------------------------------------------
// Helpers

function checkSnapshotId(id: string, repo: Repository): string {
  if (!SNAPSHOT_ID_PATTERN.test(id)) throw snapshotNotFound(id, repo.target);
  return id;
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw cancelled();
}

function asBackupError(error: unknown): BackupError {
  if (error instanceof BackupError) return error;
  return new BackupError('target_failed', `The backup failed: ${(error as Error)?.message ?? String(error)}. Earlier backups are untouched.`, { cause: error });
}

function sum(values: number[]): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}

function formatMiB(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

function canonical(file: string): string {
  let resolved = path.resolve(file);
  try {
    resolved = realpathSync.native(resolved);
  } catch {
    // Not there (yet): the resolved path will do.
  }
  return process.platform === 'win32' || process.platform === 'darwin' ? resolved.toLowerCase() : resolved;
}

function hasSqliteHeader(file: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const head = Buffer.alloc(16);
    return readSync(fd, head, 0, 16, 0) === 16 && head.equals(SQLITE_MAGIC);
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Copies a database with SQLite's online backup API. Through the hub's own connection the copy is updated as that
 * connection writes, so it is a consistent state even under load; through a separate connection it is copied in
 * one step (a write by another connection between steps would restart it).
 */
async function snapshotDatabase(file: string, copy: string, live: SqliteDatabase | undefined): Promise<void> {
  await fsp.rm(copy, { force: true });
  if (live) {
    await live.backup(copy);
    return;
  }
  const db = openDatabase(file, { fileMustExist: true });
  try {
    await db.backup(copy, { progress: () => 0x7fffffff });
  } finally {
    db.close();
  }
}

function integrityCheck(file: string): string {
  const db = openDatabase(file, { fileMustExist: true });
  try {
    const rows = db.pragma('integrity_check') as Array<{ integrity_check: string }>;
    return rows.map((r) => r.integrity_check).join('; ');
  } finally {
    db.close();
  }
}

async function readSource(file: string): Promise<Buffer> {
  try {
    return await fsp.readFile(file);
  } catch (error) {
    throw new SourceReadError(`${file}: ${errorCode(error) ?? (error as Error).message}`, { cause: error });
  }
}

function hashLocalFileSync(file: string): { sha256: string; size: number } | SourceReadError {
  let content: Buffer;
  try {
    content = readFileSync(file);
  } catch (error) {
    return new SourceReadError(`${file}: ${errorCode(error) ?? (error as Error).message}`, { cause: error });
  }
  return { sha256: createHash('sha256').update(content).digest('hex'), size: content.length };
}

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** sha256 of a local file: read whole when small, streamed when large. */
async function hashLocalFile(file: string, expectedSize: number): Promise<{ sha256: string; size: number }> {
  if (expectedSize <= WHOLE_FILE_LIMIT) {
    const content = await readSource(file);
    return { sha256: createHash('sha256').update(content).digest('hex'), size: content.length };
  }
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let size = 0;
    createReadStream(file, { highWaterMark: 1024 * 1024 })
      .on('data', (chunk) => {
        hash.update(chunk);
        size += chunk.length;
      })
      .on('error', (error) => reject(new SourceReadError(`${file}: ${errorCode(error) ?? error.message}`, { cause: error })))
      .on('end', () => resolve({ sha256: hash.digest('hex'), size }));
  });
}

/** Creates the folders between root and file one by one, refusing to pass through a symbolic link. */
async function ensureParents(root: string, file: string, made: Set<string>): Promise<void> {
  const dir = path.dirname(file);
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

/** Runs fn over items, at most `limit` at a time; stops starting new ones at the first failure and rethrows it. */
async function forEachLimit<T>(items: readonly T[], limit: number, signal: AbortSignal | undefined, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < items.length) {
      if (signal?.aborted) {
        failure ??= { error: cancelled() };
        return;
      }
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
}

type ProgressReporter = ReturnType<typeof progressReporter>;

/** Forwards progress at most every 200 ms, except when told it matters (phase starts and ends). */
function progressReporter(onProgress: ((p: BackupProgress) => void) | undefined) {
  let last = 0;
  return (progress: BackupProgress, force = false) => {
    if (!onProgress) return;
    const now = Date.now();
    if (!force && now - last < PROGRESS_EVERY_MS) return;
    last = now;
    try {
      onProgress({ ...progress });
    } catch {
      // A listener's failure is not the backup's.
    }
  };
}

/**
 * Counts one phase over `total` files and bytes: reports its start at once, then each step (one file or object done,
 * with its bytes) as the reporter lets through, and finish() reports where it ended at once.
 */
function phaseProgress(report: ProgressReporter, phase: BackupPhase, total: { files: number; bytes: number }) {
  const done = { files: 0, bytes: 0 };
  const send = (force: boolean) =>
    report({ phase, filesDone: done.files, filesTotal: total.files, bytesDone: done.bytes, bytesTotal: total.bytes }, force);
  send(true);
  return {
    done,
    step(bytes = 0): void {
      done.files++;
      done.bytes += bytes;
      send(false);
    },
    finish(): void {
      send(true);
    },
  };
}
