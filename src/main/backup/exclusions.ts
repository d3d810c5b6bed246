/**
 * What of a folder goes into a backup: a walk that applies gitignore-style rules as git does and says, for each
 * file or folder left out, which rule left it out. The backup run and the preview use this same walk, so the preview
 * is exactly what a run would take.
 *
 * Rules, in order:
 *   1. the settings' patterns (the defaults plus the person's own, as one gitignore list; `!pattern` re-includes);
 *      they come first and a project's .gitignore cannot re-include what they exclude;
 *   2. each .gitignore in the project (when enabled), a nested one applying to its own folder and taking precedence
 *      over those above it, as in git; a folder left out is not entered, so nothing below it can come back;
 *   3. the size limit (files larger than maxFileBytes).
 * Symbolic links are never followed (and not stored); sockets, pipes and devices are left out.
 */
import { readdirSync, readFileSync, statSync, type Dirent, type Stats } from 'node:fs';
import path from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { errorCode } from '../../shared/node/fs-errors';
import { DEFAULT_EXCLUDES } from './config';
import { cancelled } from './errors';
import type { ExclusionPreview, SkippedPath } from '../../shared/backup-protocol';
export type { ExclusionPreview, SkippedPath };

export interface ScanRules {
  /** Gitignore-style patterns, relative to the folder's root. */
  patterns: readonly string[];
  useGitignore: boolean;
  /** null: no size limit. */
  maxFileBytes: number | null;
  /** Path matching ignores case where the file system usually does (Windows, macOS). */
  platform?: NodeJS.Platform;
  /** Absolute folders never entered (the backup repository, when it lies inside a source). */
  skipDirs?: readonly string[];
  /** What the rule list is called in skip reasons ("your exclusions" by default). */
  patternsLabel?: string;
}

export interface ScannedFile {
  /** Relative to the source root, '/'-separated. */
  path: string;
  abs: string;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  mode: number;
}

/** A folder walked into (not the root): kept so a restore brings back empty folders and folder modes. */
export interface ScannedDir {
  path: string;
  mode: number;
  mtimeMs: number;
}

export interface ScanResult {
  root: string;
  files: ScannedFile[];
  dirs: ScannedDir[];
  bytes: number;
  skipped: { files: number; dirs: number; bytes: number };
  /** The first `limit` paths left out, in walk order. */
  skippedPaths: SkippedPath[];
}

export interface ScanOptions {
  /** How many skipped paths to keep (default 200). */
  limit?: number;
  signal?: AbortSignal;
  /** Called now and then with the number of files found so far. */
  onProgress?: (filesFound: number, bytesFound: number) => void;
}

interface Layer {
  /** The folder of the .gitignore, relative ('' for the root). */
  base: string;
  file: string;
  ig: Ignore;
}

const DEFAULTS = new Set(DEFAULT_EXCLUDES);
/** Entries handled between two yields to the event loop: the hub keeps answering while a big tree is walked. */
const YIELD_EVERY = 1000;

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export function ignoresCase(platform: NodeJS.Platform = process.platform): boolean {
  return platform === 'win32' || platform === 'darwin';
}

/** Walks `root` and returns the files to back up and what was left out. The root itself must be a folder. */
export async function scanTree(root: string, rules: ScanRules, options: ScanOptions = {}): Promise<ScanResult> {
  const limit = options.limit ?? 200;
  const ignorecase = ignoresCase(rules.platform);
  const settingsRules = ignore({ ignorecase }).add(rules.patterns.filter((p) => p.trim() !== ''));
  const skipDirs = new Set((rules.skipDirs ?? []).map((dir) => path.resolve(dir)));
  const label = rules.patternsLabel ?? 'your exclusions';
  const result: ScanResult = { root, files: [], dirs: [], bytes: 0, skipped: { files: 0, dirs: 0, bytes: 0 }, skippedPaths: [] };
  let sinceYield = 0;

  const skip = (rel: string, dir: boolean, rule: string, bytes?: number) => {
    if (dir) result.skipped.dirs++;
    else {
      result.skipped.files++;
      result.skipped.bytes += bytes ?? 0;
    }
    if (result.skippedPaths.length < limit) result.skippedPaths.push({ path: dir ? `${rel}/` : rel, dir, rule, ...(bytes === undefined ? {} : { bytes }) });
  };

  const verdict = (rel: string, dir: boolean, layers: readonly Layer[]): string | null => {
    const key = dir ? `${rel}/` : rel;
    const fromSettings = safeTest(settingsRules, key);
    if (fromSettings?.ignored && fromSettings.rule) {
      const pattern = fromSettings.rule.pattern;
      return `"${pattern}" (${DEFAULTS.has(pattern) ? 'default exclusion' : label})`;
    }
    for (let i = layers.length - 1; i >= 0; i--) {
      const layer = layers[i]!;
      const sub = layer.base === '' ? key : key.slice(layer.base.length + 1);
      const tested = safeTest(layer.ig, sub);
      if (tested?.ignored && tested.rule) return `"${tested.rule.pattern}" in ${layer.file}`;
      if (tested?.unignored) return null;
    }
    return null;
  };

  const walk = async (dirAbs: string, dirRel: string, parentLayers: readonly Layer[]): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = readdirSync(dirAbs, { withFileTypes: true });
    } catch (error) {
      if (dirRel === '') throw error;
      skip(dirRel, true, `could not be read (${errorCode(error) ?? 'error'})`);
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    let layers = parentLayers;
    if (rules.useGitignore && entries.some((e) => e.name === '.gitignore' && !e.isDirectory())) {
      const file = dirRel === '' ? '.gitignore' : `${dirRel}/.gitignore`;
      try {
        const lines = readFileSync(path.join(dirAbs, '.gitignore'), 'utf8').split(/\r?\n/).filter((line) => line.trim() !== '');
        layers = [...parentLayers, { base: dirRel, file, ig: ignore({ ignorecase }).add(lines) }];
      } catch {
        // An unreadable .gitignore (a broken link, a permission) adds no rules.
      }
    }
    for (const entry of entries) {
      if (++sinceYield >= YIELD_EVERY) {
        sinceYield = 0;
        if (options.signal?.aborted) throw cancelled();
        options.onProgress?.(result.files.length, result.bytes);
        await yieldToLoop();
      }
      const rel = dirRel === '' ? entry.name : `${dirRel}/${entry.name}`;
      const abs = path.join(dirAbs, entry.name);
      let kind: 'file' | 'dir' | 'link' | 'other' = entry.isFile() ? 'file' : entry.isDirectory() ? 'dir' : entry.isSymbolicLink() ? 'link' : 'other';
      let stats: Stats | undefined;
      if (kind === 'other' || kind === 'file') {
        // File systems that do not report types in readdir (and regular files, whose size we need) are stat'ed.
        try {
          stats = statSync(abs, { throwIfNoEntry: false }) ?? undefined;
          if (!stats) continue; // deleted meanwhile
          if (kind === 'other') kind = stats.isFile() ? 'file' : stats.isDirectory() ? 'dir' : 'other';
        } catch (error) {
          skip(rel, false, `could not be read (${errorCode(error) ?? 'error'})`);
          continue;
        }
      }
      if (kind === 'link') {
        skip(rel, false, 'symbolic link (not followed)');
        continue;
      }
      if (kind === 'other') {
        skip(rel, false, 'not a regular file');
        continue;
      }
      if (kind === 'dir') {
        if (skipDirs.has(abs)) {
          skip(rel, true, 'the backup folder itself');
          continue;
        }
        const rule = verdict(rel, true, layers);
        if (rule) skip(rel, true, rule);
        else {
          let st = stats;
          try {
            st ??= statSync(abs, { throwIfNoEntry: false });
          } catch {
            // Its mode cannot be read: the walk below reports what it cannot read.
          }
          if (st) result.dirs.push({ path: rel, mode: st.mode & 0o7777, mtimeMs: st.mtimeMs });
          await walk(abs, rel, layers);
        }
        continue;
      }
      const st = stats!;
      const rule = verdict(rel, false, layers);
      if (rule) {
        skip(rel, false, rule, st.size);
        continue;
      }
      if (rules.maxFileBytes !== null && st.size > rules.maxFileBytes) {
        skip(rel, false, `larger than the size limit (${formatBytes(st.size)} > ${formatBytes(rules.maxFileBytes)})`, st.size);
        continue;
      }
      result.files.push({ path: rel, abs, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, mode: st.mode & 0o7777 });
      result.bytes += st.size;
    }
  };

  await walk(path.resolve(root), '', []);
  options.onProgress?.(result.files.length, result.bytes);
  return result;
}

function safeTest(ig: Ignore, key: string): ReturnType<Ignore['test']> | undefined {
  try {
    return ig.test(key);
  } catch {
    // `ignore` refuses a few odd names (a backslash on Windows, say): such a name matches no rule.
    return undefined;
  }
}

export interface PreviewSource {
  name: string;
  path: string;
}

export function toPreview(source: PreviewSource, scan: ScanResult): ExclusionPreview {
  return {
    source: source.name,
    path: source.path,
    included: { files: scan.files.length, bytes: scan.bytes },
    skipped: scan.skipped,
    skippedPaths: scan.skippedPaths,
  };
}

export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}
