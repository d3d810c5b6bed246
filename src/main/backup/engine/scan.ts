/**
 * The scan phase: the hub's data directory (each SQLite database replaced by a consistent copy) and each project
 * folder, walked with their exclusion rules; and the preview, which is the same walk without a run.
 */
import { promises as fsp, statSync } from 'node:fs';
import path from 'node:path';
import type { SqliteDatabase } from '../../db/database';
import { BODY_DIR } from '../../messaging/body-store';
import { HUB_RUNTIME_FILE } from '../../../shared/hub-location';
import { HUB_SOURCE, type BackupSettings } from '../config';
import { BackupError } from '../errors';
import { scanTree, toPreview, type ExclusionPreview, type ScanResult, type ScanRules } from '../exclusions';
import type { ManifestDir, ManifestSource } from '../manifest';
import { isDirectory } from '../paths';
import { REPO_DIR, type Repository } from '../repository';
import { STATE_DIR } from '../state';
import { checkAborted, type EngineContext, type Entry } from './context';
import type { ProgressReporter } from './progress';
import { canonical, hasSqliteHeader, snapshotDatabase, SQLITE_NAME } from './sqlite';

/** What the hub's data directory never contributes: runtime files, temporaries, SQLite side files, this state. */
export const HUB_EXCLUDES: readonly string[] = [`/${HUB_RUNTIME_FILE}`, '*.tmp', '*-wal', '*-shm', '*-journal', `/${STATE_DIR}/`];

/** Scans the hub's data (databases through the backup API), then each project folder; a missing folder is a warning. */
export async function scanSources(
  ctx: EngineContext,
  settings: BackupSettings,
  repo: Repository,
  staging: string,
  warnings: string[],
  signal: AbortSignal | undefined,
  report: ProgressReporter,
): Promise<{ entries: Entry[]; sources: ManifestSource[]; dirs: ManifestDir[] }> {
  report({ phase: 'scanning', filesDone: 0, filesTotal: 0, bytesDone: 0, bytesTotal: 0 }, true);
  const entries: Entry[] = [];
  const dirs: ManifestDir[] = [];
  const sources: ManifestSource[] = [];
  let found = 0;
  let foundBytes = 0;
  const onScan = (files: number, bytes: number) =>
    report({ phase: 'scanning', filesDone: found + files, filesTotal: found + files, bytesDone: foundBytes + bytes, bytesTotal: foundBytes + bytes });

  const hub = await scanHubData(ctx, repo, staging, warnings, signal, onScan);
  const hubFiles = hub.files;
  entries.push(...hubFiles.map((e) => ({ ...e, source: HUB_SOURCE })));
  dirs.push(...hub.dirs.map((d) => ({ source: HUB_SOURCE, path: d.path, mode: d.mode, mtime: d.mtimeMs })));
  // Each source's files and bytes are counted once, from the snapshot's final file list (see run.ts).
  sources.push({ name: HUB_SOURCE, kind: 'hub', path: ctx.dataDir, files: 0, bytes: 0 });
  found += hubFiles.length;
  foundBytes += hubFiles.reduce((sum, e) => sum + e.file.size, 0);

  for (const source of settings.sources) {
    checkAborted(signal);
    if (!isDirectory(source.path)) {
      warnings.push(`The project folder "${source.name}" (${source.path}) is not there; it is not in this snapshot.`);
      sources.push({ name: source.name, kind: 'folder', path: source.path, files: 0, bytes: 0, missing: true });
      continue;
    }
    const scan = await scanTree(source.path, folderRules(ctx, settings, repo.root), { limit: 0, signal, onProgress: onScan });
    entries.push(...scan.files.map((file) => ({ source: source.name, file, cacheable: true })));
    dirs.push(...scan.dirs.map((d) => ({ source: source.name, path: d.path, mode: d.mode, mtime: d.mtimeMs })));
    sources.push({ name: source.name, kind: 'folder', path: source.path, files: 0, bytes: 0 });
    found += scan.files.length;
    foundBytes += scan.bytes;
  }
  return { entries, sources, dirs };
}

/** `repoRoot`: the repository's own folder, never backed up into itself. */
function folderRules(ctx: EngineContext, settings: Pick<BackupSettings, 'exclude' | 'useGitignore' | 'maxFileBytes'>, repoRoot?: string): ScanRules {
  return {
    patterns: settings.exclude,
    useGitignore: settings.useGitignore,
    maxFileBytes: settings.maxFileBytes,
    platform: ctx.platform,
    skipDirs: repoRoot ? [repoRoot] : [],
  };
}

function hubRules(ctx: EngineContext, repoRoot?: string): ScanRules {
  return {
    patterns: HUB_EXCLUDES,
    useGitignore: false,
    maxFileBytes: null,
    platform: ctx.platform,
    skipDirs: repoRoot ? [repoRoot] : [],
    patternsLabel: "the hub's own exclusions",
  };
}

/**
 * The data directory's files; each SQLite database among them is replaced by a consistent copy made with SQLite's
 * online backup API (through the hub's live connection when it has one) in a staging folder.
 */
async function scanHubData(
  ctx: EngineContext,
  repo: Repository,
  staging: string,
  warnings: string[],
  signal: AbortSignal | undefined,
  onScan: (files: number, bytes: number) => void,
): Promise<{ files: Array<Omit<Entry, 'source'>>; dirs: ScanResult['dirs'] }> {
  const scan = await scanTree(ctx.dataDir, hubRules(ctx, repo.root), { limit: 0, signal, onProgress: onScan });
  const live = new Map<string, SqliteDatabase>();
  for (const db of ctx.options.databases?.() ?? []) {
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
  const bodiesDir = path.join(ctx.dataDir, BODY_DIR);
  if (isDirectory(bodiesDir)) {
    const listed = new Set(scan.files.map((file) => file.abs));
    const again = await scanTree(bodiesDir, hubRules(ctx, repo.root), { limit: 0, signal });
    for (const file of again.files) {
      if (!listed.has(file.abs)) result.push({ file: { ...file, path: `${BODY_DIR}/${file.path}` }, cacheable: true });
    }
  }
  return { files: result, dirs: scan.dirs };
}

/**
 * What a run would take from each source with these (possibly unsaved) settings: the same walk as the run.
 * `only` limits it to one source by name ('hub' for the hub's data).
 */
export async function previewSources(
  ctx: EngineContext,
  settings: Pick<BackupSettings, 'sources' | 'exclude' | 'useGitignore' | 'maxFileBytes'> & { target?: string | null },
  options: { only?: string; limit?: number; signal?: AbortSignal } = {},
): Promise<ExclusionPreview[]> {
  const repoRoot = settings.target ? path.join(settings.target, REPO_DIR) : undefined;
  const previews: ExclusionPreview[] = [];
  const wanted = (name: string) => options.only === undefined || options.only.toLowerCase() === name.toLowerCase();
  if (wanted(HUB_SOURCE)) {
    const scan = await scanTree(ctx.dataDir, hubRules(ctx, repoRoot), { limit: options.limit, signal: options.signal });
    previews.push(toPreview({ name: HUB_SOURCE, path: ctx.dataDir }, scan));
  }
  for (const source of settings.sources) {
    if (!wanted(source.name)) continue;
    if (!isDirectory(source.path)) {
      if (options.only !== undefined) {
        throw new BackupError('source_missing', `The project folder "${source.name}" (${source.path}) is not there (or is not a folder).`);
      }
      previews.push({ ...toPreview(source, { root: source.path, files: [], dirs: [], bytes: 0, skipped: { files: 0, dirs: 0, bytes: 0 }, skippedPaths: [] }), missing: true });
      continue;
    }
    const scan = await scanTree(source.path, folderRules(ctx, settings, repoRoot), { limit: options.limit, signal: options.signal });
    previews.push(toPreview(source, scan));
  }
  if (options.only !== undefined && previews.length === 0) {
    throw new BackupError('source_missing', `There is no source named "${options.only}".`);
  }
  return previews;
}
