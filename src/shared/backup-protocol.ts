/**
 * Backup settings (the `backup` section of config.json) and the requests of the backup API, shared by the hub and
 * the cockpit. Merge the settings into the config schema as
 *
 *     backup: BackupSettingsSchema.prefault({}),
 *
 * (or spread `backupConfigShape` into the top-level object) — every field has a default, so an existing
 * config.json without a `backup` section stays valid.
 */
import { z } from 'zod';

const MiB = 1024 * 1024;

/** The name under which the hub's own data directory appears in every snapshot. Not usable for a project. */
export const HUB_SOURCE = 'hub';

/** Never worth backing up in a project folder (gitignore syntax). Shown in the settings, so a person can drop one. */
export const DEFAULT_EXCLUDES: readonly string[] = [
  '.git/',
  'node_modules/',
  'dist/',
  'build/',
  'out/',
  '.next/',
  '.cache/',
  '__pycache__/',
  '.venv/',
  'venv/',
  'target/',
  '*.log',
  '.DS_Store',
  'Thumbs.db',
];

export const DEFAULT_MAX_FILE_BYTES = 100 * MiB;

/** POSIX (/…), Windows drive (C:\… or C:/…) or UNC (\\server\share): without node:path, so the cockpit can check too. */
export function isAbsolutePath(p: string): boolean {
  return p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p) || p.startsWith('\\\\');
}

const absolutePath = (what: string) =>
  z
    .string()
    .min(1)
    .max(4096)
    .refine(isAbsolutePath, { message: `${what} must be an absolute path` })
    .refine((p) => !p.includes('\0'), { message: `${what} must not contain NUL` });

export const BackupSourceSchema = z
  .object({
    /** Shown in the cockpit and stored in every snapshot; restore asks for it. */
    name: z
      .string()
      .trim()
      .min(1)
      .max(64)
      .regex(/^[\p{L}\p{N} _.()-]+$/u, { message: 'use letters, digits, spaces and _ . ( ) - only' })
      .refine((name) => name.toLowerCase() !== HUB_SOURCE, { message: `"${HUB_SOURCE}" is the hub's own data; choose another name` }),
    path: absolutePath('a project folder'),
  })
  .strict();

export const BackupSettingsSchema = z
  .object({
    /** The folder backups go into (a `DevEnviro Backup` folder is made inside it); null: no backups yet. */
    target: absolutePath('the backup folder').nullable().default(null),
    /** Project folders backed up besides the hub's data. */
    sources: z
      .array(BackupSourceSchema)
      .max(200)
      .default([])
      .superRefine((sources, ctx) => {
        const seen = new Set<string>();
        sources.forEach((source, i) => {
          const key = source.name.toLowerCase();
          if (seen.has(key)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `two projects are named "${source.name}"` });
          seen.add(key);
        });
      }),
    /** Gitignore-style patterns left out of project folders (not of the hub's data). */
    exclude: z
      .array(z.string().max(1000))
      .max(2000)
      .default(() => [...DEFAULT_EXCLUDES]),
    /** Also honour each project's own .gitignore files (nested ones apply to their folder). */
    useGitignore: z.boolean().default(true),
    /** Project files larger than this are left out (the hub's own data never is). */
    maxFileBytes: z
      .number()
      .int()
      .min(1)
      .max(2 ** 50)
      .default(DEFAULT_MAX_FILE_BYTES),
    /** Minutes between automatic backups; null: only when asked (and on quit, if runOnQuit). */
    intervalMinutes: z
      .number()
      .int()
      .min(1)
      .max(7 * 24 * 60)
      .nullable()
      .default(60),
    /** Retention: the last N, plus the newest of each of the most recent `daily` days and `weekly` weeks. */
    keep: z
      .object({
        last: z.number().int().min(1).max(10_000).default(10),
        daily: z.number().int().min(0).max(10_000).default(7),
        weekly: z.number().int().min(0).max(10_000).default(4),
      })
      .strict()
      .prefault({}),
    /** Take a last backup when the hub quits (bounded in time; an unfinished one leaves earlier ones intact). */
    runOnQuit: z.boolean().default(true),
    /** How long one file operation on the backup folder may take before the drive counts as offline. */
    timeoutSeconds: z.number().int().min(1).max(3600).default(60),
  })
  .strict();

export type BackupSettings = z.output<typeof BackupSettingsSchema>;
export type BackupSettingsInput = z.input<typeof BackupSettingsSchema>;
export type BackupSource = z.output<typeof BackupSourceSchema>;

/** For `ConfigSchema`'s object: `{ ...existingShape, ...backupConfigShape }`. */
export const backupConfigShape = { backup: BackupSettingsSchema.prefault({}) };

export function defaultBackupSettings(): BackupSettings {
  return BackupSettingsSchema.parse({});
}

export const BackupPreviewRequest = z
  .object({
    /** One source by name ('hub' for the hub's data); all of them when left out. */
    source: z.string().min(1).optional(),
    /** Unsaved settings to try; the saved ones otherwise. */
    sources: z.array(BackupSourceSchema).max(200).optional(),
    exclude: z.array(z.string().max(1000)).max(2000).optional(),
    useGitignore: z.boolean().optional(),
    maxFileBytes: z.number().int().min(1).optional(),
    /** How many skipped paths to list per source. */
    limit: z.number().int().min(0).max(10_000).default(200),
  })
  .strict();

export const BackupRestoreRequest = z
  .object({
    source: z.string().min(1),
    destination: z.string().min(1).refine(isAbsolutePath, { message: 'destination must be an absolute path' }),
    paths: z.array(z.string().min(1)).max(100_000).optional(),
    overwrite: z.boolean().default(false),
  })
  .strict();

/** A snapshot's id, `<yyyymmddThhmmssmmmZ>-<8 hex>`: sorts by time, and is safe as a file name and in a URL. */
export const SNAPSHOT_ID_PATTERN = /^\d{8}T\d{9}Z-[0-9a-f]{8}$/;
export const SnapshotId = z.string().regex(SNAPSHOT_ID_PATTERN, { message: 'not a snapshot id' });

// Reports the hub sends about backups: HTTP bodies, cockpit call results and events. The backup engine produces
// values of these types; it does not define them, so a change inside the engine cannot change the wire by accident.

export type BackupPhase = 'scanning' | 'hashing' | 'copying' | 'manifest' | 'pruning';

export interface BackupProgress {
  phase: BackupPhase;
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
}

export type RunTrigger = 'manual' | 'schedule' | 'retry' | 'quit';
export type RunStatus = 'running' | 'ok' | 'failed' | 'cancelled';

/** One backup run, as the run history keeps it. */
export interface BackupRunRecord {
  id: string;
  trigger: RunTrigger;
  status: RunStatus;
  startedAt: string;
  finishedAt: string | null;
  target: string | null;
  snapshotId: string | null;
  files: number;
  bytes: number;
  /** Files read and hashed because the cache did not know them (new, changed, or databases). */
  hashed: number;
  newObjects: number;
  newBytes: number;
  pruned: number;
  errorCode: string | null;
  error: string | null;
  warnings: string[];
}

export type BackupEvent =
  | { kind: 'run-started'; runId: string; trigger: RunTrigger }
  | { kind: 'progress'; runId: string; progress: BackupProgress }
  | { kind: 'run-finished'; runId: string; run: BackupRunRecord };

export interface SchedulerStatus {
  /** The run in progress, with its latest progress. */
  running: { runId: string; trigger: RunTrigger; startedAt: string; progress: BackupProgress | null } | null;
  /** When the next automatic run (regular or retry) is due, or null when none is planned. */
  nextRunAt: string | null;
  /** Failures in a row since the last good run; retries back off with it. */
  consecutiveFailures: number;
  lastError: { code: string; message: string; at: string } | null;
}

/** One source of a snapshot: the hub's data or a project folder. */
export interface SnapshotSource {
  name: string;
  kind: 'hub' | 'folder';
  path: string;
  files: number;
  bytes: number;
  /** Set when the folder was not there at backup time (it then has no files in this snapshot). */
  missing?: boolean;
}

/** A snapshot as listed: its manifest's header, without the file list. */
export interface SnapshotSummary {
  format: string;
  version: number;
  id: string;
  createdAt: string;
  /** Which hub made it: retention only ever prunes the snapshots of its own origin. */
  origin: { host: string; dataDir: string; platform: string; app?: string };
  sources: SnapshotSource[];
  totals: { files: number; bytes: number; newObjects: number; newBytes: number };
  /** Made by this hub (same host and data directory): retention applies to it. */
  own: boolean;
}

/** A manifest that could not be read, listed so a person sees it rather than a snapshot silently missing. */
export interface DamagedSnapshot {
  id: string;
  error: string;
}

export interface VerifyReport {
  snapshotId: string;
  ok: boolean;
  files: number;
  objects: number;
  bytes: number;
  missing: Array<{ sha256: string; paths: string[] }>;
  corrupt: Array<{ sha256: string; actual: string; paths: string[] }>;
}

/**
 * What `backup repair` did (POST /api/v1/backup/snapshots/:id/repair, cockpit call backup.repair): damaged objects
 * moved aside into a quarantine folder in the backup folder, never deleted; those and the missing ones are stored
 * again by the next run from the sources that still hold their content.
 */
export interface RepairReport {
  snapshotId: string;
  /** Objects checked (whole files and chunks). */
  objects: number;
  /** Damaged objects, each moved from objects/ to `movedTo`. */
  quarantined: Array<{ sha256: string; actual: string; paths: string[]; movedTo: string }>;
  /** The folder they were moved into (with a repair.json copy of this report), or null when nothing was moved. */
  quarantineFolder: string | null;
  /** Objects not there at all: nothing to move; the next run stores them again. */
  missing: Array<{ sha256: string; paths: string[] }>;
  /** What happens next, for people. */
  next: string;
}

export interface RestoreReport {
  snapshotId: string;
  source: string;
  destination: string;
  ok: boolean;
  files: number;
  bytes: number;
  failed: Array<{ path: string; reason: string }>;
}

export interface SkippedPath {
  /** Relative, '/'-separated; folders end in '/'. */
  path: string;
  dir: boolean;
  /** Which rule left it out, for people: `"node_modules/" (default exclusion)`, `"dist/" in web/.gitignore`… */
  rule: string;
  /** Files only: their size (a folder left out is not walked, so its size is unknown). */
  bytes?: number;
}

export interface ExclusionPreview {
  source: string;
  path: string;
  included: { files: number; bytes: number };
  skipped: { files: number; dirs: number; bytes: number };
  skippedPaths: SkippedPath[];
  /** The folder is not there (a drive not connected): a run would skip it. */
  missing?: boolean;
}

export type CloudProvider = 'google-drive' | 'onedrive' | 'dropbox' | 'icloud';

/** A cloud-synced folder found on this machine, offered as a backup target. */
export interface CloudFolder {
  provider: CloudProvider;
  /** For people: "Google Drive (G:)", "OneDrive - Contoso"… */
  label: string;
  path: string;
}

/** The outcome of the last in-place restore of the hub's data (kept across the restart it causes). */
export interface LastRestore {
  snapshotId: string;
  previousDataDir: string | null;
  error: string | null;
  at: string;
}

/** Everything the backup view shows at once. */
export interface BackupOverview {
  settings: BackupSettings;
  /** What may not do what the person expects (a folder not there now…), as at saving. */
  warnings: string[];
  lastRestore: LastRestore | null;
  defaults: { exclude: readonly string[]; hubSource: string; folderName: string };
  cloudFolders: CloudFolder[];
  status: SchedulerStatus;
  runs: BackupRunRecord[];
}
