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
