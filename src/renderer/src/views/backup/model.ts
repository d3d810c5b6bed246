/**
 * The Backup view's shapes (taken from the contract, so they follow the hub) and the pure helpers behind the view:
 * the settings form's draft and its conversion, progress arithmetic, and labels for people.
 */
import { BackupSettingsSchema, isAbsolutePath, type BackupSettingsInput } from '../../../../shared/backup-protocol';
import type { CallResult, EventPayload } from '../../../../shared/contract';
import { formatClock, formatDateTime } from '../../format';

export type Overview = CallResult<'backup.overview'>;
export type Settings = Overview['settings'];
export type RunRecord = Overview['runs'][number];
export type SchedulerStatus = Overview['status'];
export type CloudFolder = Overview['cloudFolders'][number];
export type BackupEvent = EventPayload<'backup.event'>;
export type Progress = Extract<BackupEvent, { kind: 'progress' }>['progress'];
export type Trigger = RunRecord['trigger'];
export type SnapshotList = CallResult<'backup.snapshots'>;
export type Snapshot = SnapshotList['snapshots'][number];
export type VerifyReport = CallResult<'backup.verify'>;
export type RepairReport = CallResult<'backup.repair'>;
export type RestoreReport = CallResult<'backup.restore'>;
export type SourcePreview = CallResult<'backup.preview'>['previews'][number];
export type HubRestored = EventPayload<'backup.restored'>;

/** The exclusion preview beside the settings form (its own panel, fed by the form's Preview button). */
export type PreviewState =
  | { state: 'idle' }
  | { state: 'loading'; key: string }
  | { state: 'error'; key: string; message: string }
  | { state: 'ready'; key: string; previews: SourcePreview[]; unsaved: boolean };

const MiB = 1024 * 1024;

/**
 * What deduplication saved, from a run's or snapshot's totals: the bytes it reused (already in the backup folder)
 * and its ratio, logical size ÷ bytes stored new (null when nothing was stored new, i.e. everything was reused).
 */
export function dedupOf(totals: { bytes: number; newBytes: number }): { reusedBytes: number; reusedShare: number; ratio: number | null } {
  const reusedBytes = Math.max(0, totals.bytes - totals.newBytes);
  return {
    reusedBytes,
    reusedShare: totals.bytes > 0 ? reusedBytes / totals.bytes : 0,
    ratio: totals.newBytes > 0 ? totals.bytes / totals.newBytes : null,
  };
}

/** A dedup ratio for people: "12.5×", "640×", "2.7k×", "3.1M×", or "all reused" when nothing was stored new. */
export function formatRatio(ratio: number | null): string {
  if (ratio === null) return 'all reused';
  if (ratio >= 1e6) return `${(ratio / 1e6).toFixed(1)}M×`;
  if (ratio >= 1e3) return `${(ratio / 1e3).toFixed(1)}k×`;
  return `${ratio >= 100 ? Math.round(ratio) : ratio.toFixed(1)}×`;
}

export const PHASES: ReadonlyArray<{ phase: Progress['phase']; label: string }> = [
  { phase: 'scanning', label: 'Scanning' },
  { phase: 'hashing', label: 'Hashing' },
  { phase: 'copying', label: 'Copying' },
  { phase: 'manifest', label: 'Writing the snapshot' },
  { phase: 'pruning', label: 'Pruning old snapshots' },
];

export const TRIGGER_LABEL: Record<Trigger, string> = { manual: 'manual', schedule: 'scheduled', retry: 'retry', quit: 'on quit' };

/** How far the current phase is, 0..1, or null while it cannot be told (scanning counts as it goes). */
export function phaseFraction(progress: Progress | null): number | null {
  if (!progress) return null;
  if (progress.bytesTotal > 0) return Math.min(1, progress.bytesDone / progress.bytesTotal);
  if (progress.filesTotal > 0) return Math.min(1, progress.filesDone / progress.filesTotal);
  return progress.phase === 'scanning' ? null : 1;
}

export function runDurationMs(run: Pick<RunRecord, 'startedAt' | 'finishedAt'>): number | null {
  if (!run.finishedAt) return null;
  const ms = Date.parse(run.finishedAt) - Date.parse(run.startedAt);
  return Number.isFinite(ms) ? Math.max(0, ms) : null;
}

/** "2026-11-25 14:03:22": snapshots are often minutes apart, so seconds matter. */
export function formatStamp(iso: string): string {
  const date = formatDateTime(iso);
  return date === '—' ? date : `${date.slice(0, 10)} ${formatClock(iso)}`;
}

/** "in 57 min", "in 3 h", "due now". */
export function formatIn(iso: string | null, now: number): string {
  if (!iso) return 'not planned';
  const ms = Date.parse(iso) - now;
  if (!Number.isFinite(ms)) return '—';
  const seconds = Math.round(ms / 1000);
  if (seconds <= 0) return 'due now';
  if (seconds < 60) return `in ${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 120) return `in ${minutes} min`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `in ${hours} h`;
  return `in ${Math.round(hours / 24)} d`;
}

export function describeInterval(minutes: number | null): string {
  if (minutes === null) return 'only when asked';
  if (minutes % (24 * 60) === 0) return minutes === 24 * 60 ? 'daily' : `every ${minutes / (24 * 60)} days`;
  if (minutes % 60 === 0) return minutes === 60 ? 'hourly' : `every ${minutes / 60} h`;
  return `every ${minutes} min`;
}

// ---------------------------------------------------------------------------------------------------------------
// The settings form

export interface DraftSource {
  /** Stable across edits (React key), not sent to the hub. */
  key: number;
  name: string;
  path: string;
}

/** The settings as the form holds them: text where a person types, so half-typed values survive. */
export interface Draft {
  target: string;
  sources: DraftSource[];
  exclude: string;
  useGitignore: boolean;
  maxFileMb: string;
  /** The saved limit in bytes: kept exactly while its MB figure is left as shown. */
  maxFileBytesSaved: number;
  scheduled: boolean;
  intervalMinutes: string;
  runOnQuit: boolean;
  keepLast: string;
  keepDaily: string;
  keepWeekly: string;
  timeoutSeconds: number;
}

let nextSourceKey = 1;
export const newSourceKey = () => nextSourceKey++;

const mbText = (bytes: number) => String(Math.round((bytes / MiB) * 10) / 10);

export function draftFrom(settings: Settings): Draft {
  return {
    target: settings.target ?? '',
    sources: settings.sources.map((source) => ({ key: newSourceKey(), name: source.name, path: source.path })),
    exclude: settings.exclude.join('\n'),
    useGitignore: settings.useGitignore,
    maxFileMb: mbText(settings.maxFileBytes),
    maxFileBytesSaved: settings.maxFileBytes,
    scheduled: settings.intervalMinutes !== null,
    intervalMinutes: String(settings.intervalMinutes ?? 60),
    runOnQuit: settings.runOnQuit,
    keepLast: String(settings.keep.last),
    keepDaily: String(settings.keep.daily),
    keepWeekly: String(settings.keep.weekly),
    timeoutSeconds: settings.timeoutSeconds,
  };
}

/** One pattern a line; blank lines dropped (comments are kept: gitignore skips them). */
export function parsePatterns(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

/** The size limit in bytes, or NaN when the MB field is not a number. */
export function draftMaxBytes(draft: Draft): number {
  const text = draft.maxFileMb.trim();
  if (text === mbText(draft.maxFileBytesSaved)) return draft.maxFileBytesSaved;
  const mb = text === '' ? NaN : Number(text);
  return Number.isFinite(mb) && mb > 0 ? Math.max(1, Math.round(mb * MiB)) : NaN;
}

export interface FieldError {
  field: 'target' | 'sources' | 'exclude' | 'maxFileMb' | 'intervalMinutes' | 'keep';
  /** For a project row. */
  index?: number;
  message: string;
}

function wholeNumber(text: string, min: number, max: number): number | null {
  if (!/^\s*\d+\s*$/.test(text)) return null;
  const value = Number(text);
  return value >= min && value <= max ? value : null;
}

/**
 * The draft as settings the hub accepts, checked with the hub's own schema, or the problems in words tied to their
 * field (so each can be shown where it is).
 */
export function settingsFromDraft(draft: Draft): { settings: Settings; errors: [] } | { settings: null; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const target = draft.target.trim();
  if (target && !isAbsolutePath(target)) errors.push({ field: 'target', message: 'Use a full path, like /home/me/Google Drive or G:\\My Drive.' });
  const maxFileBytes = draftMaxBytes(draft);
  if (Number.isNaN(maxFileBytes)) errors.push({ field: 'maxFileMb', message: 'The size limit must be a number of MB above 0.' });
  const interval = draft.scheduled ? wholeNumber(draft.intervalMinutes, 1, 7 * 24 * 60) : null;
  if (draft.scheduled && interval === null) errors.push({ field: 'intervalMinutes', message: 'The interval must be whole minutes, from 1 to 10080 (a week).' });
  const last = wholeNumber(draft.keepLast, 1, 10_000);
  const daily = wholeNumber(draft.keepDaily, 0, 10_000);
  const weekly = wholeNumber(draft.keepWeekly, 0, 10_000);
  if (last === null || daily === null || weekly === null) {
    errors.push({ field: 'keep', message: 'Keep whole numbers: at least 1 of the last ones, 0 or more daily and weekly.' });
  }
  const input: BackupSettingsInput = {
    target: target || null,
    sources: draft.sources.map((source) => ({ name: source.name.trim(), path: source.path.trim() })),
    exclude: parsePatterns(draft.exclude),
    useGitignore: draft.useGitignore,
    maxFileBytes: Number.isNaN(maxFileBytes) ? 1 : maxFileBytes,
    intervalMinutes: interval,
    keep: { last: last ?? 1, daily: daily ?? 0, weekly: weekly ?? 0 },
    runOnQuit: draft.runOnQuit,
    timeoutSeconds: draft.timeoutSeconds,
  };
  const parsed = BackupSettingsSchema.safeParse(input);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const [head, index, sub] = issue.path;
      if (head === 'target') {
        if (!errors.some((e) => e.field === 'target')) errors.push({ field: 'target', message: issue.message });
      } else if (head === 'sources' && typeof index === 'number') {
        const what = sub === 'name' ? 'name' : sub === 'path' ? 'folder' : 'entry';
        errors.push({ field: 'sources', index, message: `Project ${index + 1}, ${what}: ${issue.message}` });
      } else if (head === 'sources') {
        errors.push({ field: 'sources', message: issue.message });
      } else if (head === 'exclude') {
        errors.push({ field: 'exclude', message: `Exclusions: ${issue.message}` });
      } else {
        const field: FieldError['field'] = head === 'maxFileBytes' ? 'maxFileMb' : head === 'intervalMinutes' ? 'intervalMinutes' : 'keep';
        if (!errors.some((e) => e.field === field)) errors.push({ field, message: issue.message });
      }
    }
  }
  if (errors.length > 0 || !parsed.success) return { settings: null, errors };
  return { settings: parsed.data, errors: [] };
}

/** Whether two settings say the same (the hub's answer and the schema's output share key order). */
export const sameSettings = (a: Settings, b: Settings) => JSON.stringify(a) === JSON.stringify(b);

/** How a pattern list differs from the defaults, in a few words: "defaults", "defaults + 2", "1 default dropped, 3 added". */
export function patternsVersusDefaults(patterns: string[], defaults: readonly string[]): { added: string[]; dropped: string[] } {
  const have = new Set(patterns);
  const base = new Set(defaults);
  return { added: patterns.filter((p) => !base.has(p)), dropped: defaults.filter((p) => !have.has(p)) };
}
