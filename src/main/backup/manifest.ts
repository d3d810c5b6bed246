/**
 * A snapshot's manifest: `<repo>/snapshots/<timestamp>-<id>.json`, written last in a run (temp name, fsync, rename),
 * so a manifest that exists is complete. The header fields come first, then the file list and the folder list, one
 * entry per line, so listing snapshots reads a few kilobytes of each, not the whole list.
 *
 * Version 2 (this one) stores a file larger than the smallest chunk as content-defined chunks: `chunks` lists each
 * chunk's object (sha256) and size in order; a smaller file is one object named by its sha256, as in version 1. It
 * also lists folders (with their modes), so empty ones are restored. Version 1 manifests (whole-file objects, no
 * folders) are read as they are: every file without `chunks` is one object named by its sha256.
 */
import path from 'node:path';
import { z } from 'zod';
import { BackupError } from './errors';

export const MANIFEST_FORMAT = 'devenviro-backup-manifest';
export const MANIFEST_VERSION = 2;
/** What separates the header from the file list in the serialised manifest. */
const FILES_MARKER = ',\n"files":[';

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);

export const ManifestFileSchema = z.object({
  source: z.string().min(1),
  path: z.string().min(1),
  size: z.number().int().min(0),
  mtime: z.number(),
  mode: z.number().int().min(0),
  /** The whole file's SHA-256 (checked on restore). */
  sha256: Sha256,
  /** Version 2, files larger than the smallest chunk: [chunk sha256, chunk size] in order. Otherwise one object, `sha256`. */
  chunks: z.array(z.tuple([Sha256, z.number().int().min(0)])).optional(),
});
export type ManifestFile = z.output<typeof ManifestFileSchema>;

/** A folder of a source (version 2): restored with its mode, so empty folders come back too. */
export const ManifestDirSchema = z.object({
  source: z.string().min(1),
  path: z.string().min(1),
  mode: z.number().int().min(0),
  mtime: z.number(),
});
export type ManifestDir = z.output<typeof ManifestDirSchema>;

/** The objects a file's content is stored in, in order, with their sizes. */
export function fileObjects(file: Pick<ManifestFile, 'sha256' | 'size' | 'chunks'>): ReadonlyArray<readonly [string, number]> {
  return file.chunks ?? [[file.sha256, file.size]];
}

export const ManifestSourceSchema = z.object({
  name: z.string().min(1),
  kind: z.enum(['hub', 'folder']),
  path: z.string(),
  files: z.number().int().min(0),
  bytes: z.number().int().min(0),
  /** Set when the folder was not there at backup time (it then has no files in this snapshot). */
  missing: z.boolean().optional(),
});
export type ManifestSource = z.output<typeof ManifestSourceSchema>;

export const ManifestHeaderSchema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  /** 1: whole-file objects; 2: chunked large files and folders. Both are read. */
  version: z.union([z.literal(1), z.literal(MANIFEST_VERSION)]),
  id: z.string(),
  createdAt: z.string(),
  /** Which hub made it: retention only ever prunes the snapshots of its own origin. */
  origin: z.object({ host: z.string(), dataDir: z.string(), platform: z.string(), app: z.string().optional() }),
  sources: z.array(ManifestSourceSchema),
  totals: z.object({
    files: z.number().int().min(0),
    bytes: z.number().int().min(0),
    /** Objects this run added to the repository (unchanged files are not copied again). */
    newObjects: z.number().int().min(0),
    newBytes: z.number().int().min(0),
  }),
});
export type ManifestHeader = z.output<typeof ManifestHeaderSchema>;

export const ManifestSchema = ManifestHeaderSchema.extend({ files: z.array(ManifestFileSchema), dirs: z.array(ManifestDirSchema).default([]) });
export type Manifest = z.output<typeof ManifestSchema>;

/** A new snapshot's id (of the form SNAPSHOT_ID_PATTERN in the shared protocol checks). */
export function snapshotIdFor(date: Date, random: string): string {
  const stamp = date.toISOString().replace(/[-:.]/g, '');
  return `${stamp}-${random}`;
}

/** The time in a snapshot id (for retention, without reading the manifest). */
export function snapshotTime(id: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z/.exec(id);
  if (!m) return new Date(NaN);
  return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, +m[7]!));
}

/** Lines serialised between two yields to the event loop when a manifest is written out in pieces. */
const LINES_PER_PIECE = 2000;

/**
 * The same text as serializeManifest, in pieces of a few thousand lines with a yield to the event loop between them:
 * a manifest of 100,000 files is written without holding the hub up, or the whole text in one string.
 */
export async function* serializeManifestPieces(manifest: Manifest): AsyncGenerator<string> {
  const { files, dirs, ...header } = manifest;
  yield `${JSON.stringify(header).slice(0, -1)}${FILES_MARKER}\n`;
  for (let at = 0; at < files.length; at += LINES_PER_PIECE) {
    if (at > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    const piece = files.slice(at, at + LINES_PER_PIECE).map(fileLine).join(',\n');
    yield at + LINES_PER_PIECE < files.length ? `${piece},\n` : piece;
  }
  yield `\n],\n"dirs":[\n${dirs.map(dirLine).join(',\n')}\n]}\n`;
}

const fileLine = (f: ManifestFile) =>
  JSON.stringify({ source: f.source, path: f.path, size: f.size, mtime: f.mtime, mode: f.mode, sha256: f.sha256, ...(f.chunks ? { chunks: f.chunks } : {}) });
const dirLine = (d: ManifestDir) => JSON.stringify({ source: d.source, path: d.path, mode: d.mode, mtime: d.mtime });

export function serializeManifest(manifest: Manifest): string {
  const { files, dirs, ...header } = manifest;
  const head = JSON.stringify(header);
  return `${head.slice(0, -1)}${FILES_MARKER}\n${files.map(fileLine).join(',\n')}\n],\n"dirs":[\n${dirs.map(dirLine).join(',\n')}\n]}\n`;
}

export function parseManifest(text: string, where: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw damaged(where, `not valid JSON (${(error as Error).message})`);
  }
  const parsed = ManifestSchema.safeParse(raw);
  if (!parsed.success) throw damaged(where, parsed.error.issues[0]?.message ?? 'unexpected content');
  return parsed.data;
}

/** The header from the start of a serialised manifest, or null when the text does not start like one of ours. */
export function parseManifestHeader(prefix: string, where: string): ManifestHeader | null {
  const at = prefix.indexOf(FILES_MARKER);
  if (at < 0) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(prefix.slice(0, at) + '}');
  } catch {
    return null;
  }
  const parsed = ManifestHeaderSchema.safeParse(raw);
  if (!parsed.success) throw damaged(where, parsed.error.issues[0]?.message ?? 'unexpected content');
  return parsed.data;
}

function damaged(where: string, why: string): BackupError {
  return new BackupError('snapshot_damaged', `The snapshot manifest ${where} is damaged: ${why}. Other snapshots may still be restored.`);
}

const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;

/**
 * Why a manifest path may not be written under a destination folder, or null when it may. Everywhere: no empty path,
 * NUL, leading '/', leading backslash (UNC or rooted on Windows), drive letter, or '.', '..' and empty segments —
 * also when a backslash separates them, which Windows would honour. On Windows also no backslash or colon at all
 * (NTFS streams), no reserved device names, no characters Windows refuses, and no segment ending in a dot or space
 * (Windows drops those, so the name could alias another file). Elsewhere a backslash or colon is an ordinary
 * character of a file name, as the file systems there treat it.
 */
export function unsafePathReason(rel: string, platform: NodeJS.Platform = process.platform): string | null {
  if (typeof rel !== 'string' || rel.length === 0) return 'empty path';
  if (rel.includes('\0')) return 'contains NUL';
  if (/^[a-zA-Z]:/.test(rel)) return 'starts with a drive letter';
  if (rel.startsWith('/')) return 'is absolute';
  if (rel.startsWith('\\')) return 'starts with a backslash (absolute on Windows)';
  const windows = platform === 'win32';
  if (windows && rel.includes('\\')) return 'contains a backslash';
  for (const segment of rel.split('/')) {
    if (segment === '') return 'has an empty segment';
    if (segment === '.' || segment === '..') return `has a "${segment}" segment`;
    if (segment.split('\\').some((part) => part === '..')) return 'has a ".." segment (between backslashes)';
    if (windows) {
      if (segment.includes(':')) return 'contains a colon';
      if (WINDOWS_RESERVED.test(segment)) return `"${segment}" is a reserved name on Windows`;
      if (/[. ]$/.test(segment)) return `"${segment}" ends in a dot or space`;
      if (/[<>"|?*]/.test(segment) || [...segment].some((c) => c.charCodeAt(0) < 0x20)) return `"${segment}" has a character Windows does not allow`;
    }
  }
  return null;
}

/** The absolute path of `rel` under `destination`, or a BackupError when it would leave it. */
export function resolveInside(destination: string, rel: string, platform: NodeJS.Platform = process.platform): string {
  const reason = unsafePathReason(rel, platform);
  if (reason) throw new BackupError('unsafe_path', `refusing to restore "${rel}": the path ${reason}`);
  const p = platform === 'win32' ? path.win32 : path;
  const root = p.resolve(destination);
  const full = p.resolve(root, ...rel.split('/'));
  const within = p.relative(root, full);
  if (within === '' || within === '..' || within.startsWith(`..${p.sep}`) || p.isAbsolute(within)) {
    throw new BackupError('unsafe_path', `refusing to restore "${rel}": it would land outside ${root}`);
  }
  return full;
}
