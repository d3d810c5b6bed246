/**
 * `devenviro backup`: status, set, preview, run, list, verify, repair and restore, always as the cockpit (its token in the
 * hub's data directory), never as an agent.
 */
import path from 'node:path';
import { BackupSourceSchema, HUB_SOURCE, SnapshotId, type BackupSettings } from '../../shared/backup-protocol';
import type { BackupOverview, BackupProgress, BackupRunRecord, DamagedSnapshot, ExclusionPreview, RepairReport, RestoreReport, SnapshotSummary, VerifyReport } from '../../shared/backup-protocol';
import { HubClientError, HubHttp } from '../client';
import { discoverHubUrl } from '../discovery';
import { UsageError, type Command, type Context } from './command';
import { cockpitToken, location } from './hub';
import { count, formatBytes, oneLine, shortTime, span, table } from './output';

/** The actions of `devenviro backup`, each with the options it takes (beyond --url, --data-dir, --json, --help). */
const BACKUP_ACTIONS: Record<string, { summary: string; usage: string; details?: string; options: string[] }> = {
  status: {
    summary: 'the backup folder, sources, schedule, the run in progress and the last runs',
    usage: 'devenviro backup status [--json]',
    options: [],
  },
  set: {
    summary: 'change the backup settings',
    usage: `devenviro backup set [--target DIR] [--add-project NAME=PATH]... [--remove-project NAME]... [--exclude PATTERN]...
       [--remove-exclude PATTERN]... [--interval MIN|off] [--gitignore | --no-gitignore] [--json]`,
    details: `Reads the current settings, applies the changes, saves them, then prints the settings and any warnings.
  --target DIR              the folder backups go into (a "DevEnviro Backup" folder is made in it), e.g. the
                            folder a cloud drive syncs; a relative DIR is made absolute
  --add-project NAME=PATH   back up a project folder as NAME (a NAME already there gets the new PATH)
  --remove-project NAME     stop backing up a project folder (its earlier snapshots stay)
  --exclude PATTERN         leave out project paths matching this gitignore-style pattern (!PATTERN re-includes)
  --remove-exclude PATTERN  drop a pattern, a default one (say build/) included
  --interval MIN|off        minutes between automatic backups; off: only when asked
  --no-gitignore            do not honour the projects' own .gitignore files (--gitignore: honour them again)`,
    options: ['target', 'add-project', 'remove-project', 'exclude', 'remove-exclude', 'interval', 'gitignore', 'no-gitignore'],
  },
  preview: {
    summary: 'what a backup would take and leave out, per source',
    usage: 'devenviro backup preview [--source NAME] [--limit N] [--json]',
    details: `Counts and sizes of the files each source would contribute and of those left out, then the first skipped paths
with the rule that left each out. --source: one source (a project's name, or ${HUB_SOURCE} for the hub's data).
--limit: how many skipped paths to list per source (default 10). Nothing is written.`,
    options: ['source', 'limit'],
  },
  run: {
    summary: 'take a backup now',
    usage: 'devenviro backup run [--wait] [--json]',
    details: `Starts a backup and prints its run id. --wait follows it to the end: progress lines (phase, files, bytes, %) on
standard error, then the snapshot id on standard output; exit 1 with the error when the backup fails. Without
--wait, \`devenviro backup status\` shows how it goes.`,
    options: ['wait'],
  },
  list: {
    summary: 'the snapshots in the backup folder, newest first',
    usage: 'devenviro backup list [--json]',
    options: [],
  },
  verify: {
    summary: 're-hash every stored file a snapshot needs',
    usage: 'devenviro backup verify <snapshot-id> [--json]',
    details: `Exit 0 when the snapshot is intact, 1 when stored files are missing or damaged (they are listed, with the paths that
use them). Only reads: damaged files are left where they are, and verifying again reports the same.`,
    options: [],
  },
  repair: {
    summary: 'move a snapshot\'s damaged stored files aside so the next run stores them again',
    usage: 'devenviro backup repair <snapshot-id> [--json]',
    details: `Checks every stored file of the snapshot again and moves the damaged ones into the backup folder's quarantine/
folder (nothing is deleted); the next backup run stores them, and the missing ones, again from the project folders
and the hub's data where those still hold the same content. Exit 0 when nothing needed repair, 1 otherwise.`,
    options: [],
  },
  restore: {
    summary: 'restore a source of a snapshot into a folder',
    usage: 'devenviro backup restore <snapshot-id> --source NAME --to DIR [--overwrite] [--json]',
    details: `Writes the files of one source of the snapshot (a project's name, or ${HUB_SOURCE} for a copy of the hub's data) into
DIR (made absolute), which must be empty unless --overwrite is given (files with the same path are then
replaced). Every file's content is checked against its hash. Exit 1 when some files could not be restored.
Replacing the running hub's own data with a snapshot (an in-place restore) is done from the cockpit, which stops
the hub, swaps its data folder and starts it again.`,
    options: ['source', 'to', 'overwrite'],
  },
};

export const backup: Command = {
  summary: 'back up the hub and project folders: status, set, preview, run, list, verify, repair, restore',
  usage: Object.values(BACKUP_ACTIONS)
    .map((action, i) => `${i === 0 ? '' : '       '}${action.usage.replace(/\n\s+/g, '\n           ')}`)
    .join('\n'),
  details: `${Object.entries(BACKUP_ACTIONS)
    .map(([name, action]) => `  ${name.padEnd(8)} ${action.summary}`)
    .join('\n')}

Backups are the business of the person at this machine: these commands use the cockpit token in the hub's data
directory (<data-dir>/cockpit-token), never an agent's. Run \`devenviro backup <action> --help\` for an action's options.`,
  actions: BACKUP_ACTIONS,
  options: {
    target: { type: 'string' },
    'add-project': { type: 'string', multiple: true },
    'remove-project': { type: 'string', multiple: true },
    exclude: { type: 'string', multiple: true },
    'remove-exclude': { type: 'string', multiple: true },
    interval: { type: 'string' },
    gitignore: { type: 'boolean' },
    'no-gitignore': { type: 'boolean' },
    source: { type: 'string' },
    limit: { type: 'string' },
    wait: { type: 'boolean' },
    to: { type: 'string' },
    overwrite: { type: 'boolean' },
  },
  async run(ctx) {
    const [action, ...rest] = ctx.args;
    const spec = action === undefined ? undefined : BACKUP_ACTIONS[action];
    if (action === undefined || !spec) {
      throw new UsageError(`backup needs an action: ${Object.keys(BACKUP_ACTIONS).join(', ')}${action === undefined ? '' : ` (not ${action})`}`, ctx.command);
    }
    const usage = `backup ${action}`;
    if (ctx.values.as !== undefined || ctx.values.project !== undefined) {
      throw new UsageError(`backup acts as the cockpit, not as an agent: --as and --project do not apply (projects are added with \`devenviro backup set --add-project NAME=PATH\`)`, usage);
    }
    const allowed = new Set(['url', 'data-dir', 'json', 'help', ...spec.options]);
    const wrong = Object.keys(ctx.values).find((name) => ctx.values[name] !== undefined && !allowed.has(name));
    if (wrong) throw new UsageError(`--${wrong} is not an option of backup ${action}`, usage);
    const takesId = action === 'verify' || action === 'repair' || action === 'restore';
    if (takesId ? rest.length !== 1 : rest.length > 0) {
      throw new UsageError(takesId ? `backup ${action} needs one snapshot id (see \`devenviro backup list\`)` : `unexpected argument ${rest[0]}`, usage);
    }
    if (takesId && !SnapshotId.safeParse(rest[0]).success) {
      throw new UsageError(`not a snapshot id: ${rest[0]} (they look like 20250101T120000000Z-1a2b3c4d; see \`devenviro backup list\`)`, usage);
    }
    try {
      switch (action) {
        case 'status':
          return await backupStatus(ctx);
        case 'set':
          return await backupSet(ctx, usage);
        case 'preview':
          return await backupPreview(ctx, usage);
        case 'run':
          return await backupRun(ctx);
        case 'list':
          return await backupList(ctx);
        case 'verify':
          return await backupVerify(ctx, rest[0]!);
        case 'repair':
          return await backupRepair(ctx, rest[0]!);
        default:
          return await backupRestore(ctx, rest[0]!, usage);
      }
    } catch (error) {
      throw explainBackupError(ctx, error);
    }
  },
};

const BACKUP_POLL_MS = 300;
/** Progress lines while waiting for a run: on each new phase, else at most this often. */
const BACKUP_PROGRESS_EVERY_MS = 1000;
const NO_TARGET = 'no backup folder is set yet: choose one with `devenviro backup set --target DIR`';

/** Backup calls carry the cockpit token of the data directory: only the person at this machine makes them. */
async function backupHttp(ctx: Context): Promise<HubHttp> {
  let token: string;
  try {
    token = await cockpitToken(ctx.dataDir);
  } catch (error) {
    throw new Error(
      `${(error as Error).message}. Backup commands use the cockpit token of the hub's data directory: run them on the hub's machine, with --data-dir DIR when the hub keeps its data elsewhere`,
      { cause: error },
    );
  }
  return new HubHttp(() => discoverHubUrl(location(ctx)).url, token);
}

/** Adds what to do next to the hub's answers a person can act on from the command line. */
function explainBackupError(ctx: Context, error: unknown): unknown {
  if (!(error instanceof HubClientError)) return error;
  const hint =
    error.code === 'no_target'
      ? 'Choose one with `devenviro backup set --target DIR`.'
      : error.status === 401 || error.status === 403
        ? `The cockpit token in ${ctx.dataDir} is not the one of the hub at ${discoverHubUrl(location(ctx)).url}: point --data-dir at that hub's data directory.`
        : error.code === 'destination_not_empty'
          ? 'Add --overwrite to replace the files there.'
          : error.code === 'busy'
            ? '`devenviro backup status` shows what is running.'
            : undefined;
  return hint ? new HubClientError(error.status, error.code, `${error.message} ${hint}`, { cause: error }) : error;
}

async function backupStatus(ctx: Context): Promise<void> {
  const overview = await (await backupHttp(ctx)).request<BackupOverview>('GET', '/backup');
  if (ctx.json) return void ctx.out(JSON.stringify(overview, null, 2));
  const { settings, status, runs } = overview;
  const rows = settingsRows(settings, overview.defaults.folderName);
  const running = status.running;
  rows.push(['Now', running ? `${running.trigger} backup ${running.runId} running${running.progress ? `: ${formatProgress(running.progress)}` : ''}` : 'idle']);
  const next = status.nextRunAt
    ? `${shortTime(status.nextRunAt)} (in ${span(Date.parse(status.nextRunAt) - Date.now())})`
    : !settings.target
      ? 'none until a backup folder is set'
      : settings.intervalMinutes === null
        ? 'when asked'
        : running
          ? 'planned when this one ends'
          : 'none planned';
  rows.push(['Next run', next]);
  if (status.lastError) {
    const inRow = status.consecutiveFailures > 1 ? `, ${status.consecutiveFailures} failures in a row` : '';
    rows.push(['Last error', `${shortTime(status.lastError.at)}: ${status.lastError.message} (${status.lastError.code}${inRow})`]);
  }
  ctx.out(table(rows));
  if (runs.length === 0) return void ctx.out('\nNo backup has run yet.');
  ctx.out(
    '\nLast runs:\n' +
      table([
        ['STARTED', 'TRIGGER', 'STATUS', 'FILES', 'SIZE', 'TOOK', 'SNAPSHOT / ERROR'],
        ...runs.slice(0, 10).map((r) => [shortTime(r.startedAt), r.trigger, r.status, String(r.files), formatBytes(r.bytes), took(r), r.snapshotId ?? oneLine(r.error ?? '')]),
      ]),
  );
}

function settingsRows(settings: BackupSettings, folderName: string): string[][] {
  const width = Math.max(HUB_SOURCE.length, ...settings.sources.map((s) => s.name.length));
  const rows: string[][] = [
    ['Backup folder', settings.target ? `${settings.target}  (snapshots in ${path.join(settings.target, folderName)})` : 'not set: choose one with `devenviro backup set --target DIR`'],
    ['Sources', `${HUB_SOURCE.padEnd(width)}  (the hub's own data)`],
  ];
  for (const source of settings.sources) rows.push(['', `${source.name.padEnd(width)}  ${source.path}`]);
  rows.push([
    'Left out',
    `${settings.exclude.length ? settings.exclude.join(' ') : 'nothing by pattern'}; ${settings.useGitignore ? "what each project's .gitignore leaves out" : "projects' .gitignore files not honoured"}; files over ${formatBytes(settings.maxFileBytes)}`,
  ]);
  rows.push([
    'Schedule',
    settings.intervalMinutes === null
      ? `only when asked${settings.runOnQuit ? ', and when the hub quits' : ''}`
      : `every ${count(settings.intervalMinutes, 'minute')}${settings.runOnQuit ? ', and when the hub quits' : ''}`,
  ]);
  rows.push(['Keep', `the last ${settings.keep.last}, plus the newest of each of ${count(settings.keep.daily, 'day')} and ${count(settings.keep.weekly, 'week')}`]);
  return rows;
}

async function backupSet(ctx: Context, usage: string): Promise<void> {
  const values = ctx.values;
  const list = (name: string) => (values[name] as string[] | undefined) ?? [];
  if (!BACKUP_ACTIONS.set!.options.some((name) => values[name] !== undefined)) {
    throw new UsageError('backup set needs a change: --target, --add-project, --remove-project, --exclude, --remove-exclude, --interval, --gitignore or --no-gitignore', usage);
  }
  if (values.gitignore && values['no-gitignore']) throw new UsageError('--gitignore and --no-gitignore contradict each other', usage);
  let target: string | undefined;
  if (values.target !== undefined) {
    if (!(values.target as string).trim()) throw new UsageError('--target needs a folder', usage);
    target = path.resolve(values.target as string);
  }
  const added = list('add-project').map((arg) => {
    const eq = arg.indexOf('=');
    if (eq <= 0 || eq === arg.length - 1) throw new UsageError(`--add-project needs NAME=PATH, not ${arg}`, usage);
    const parsed = BackupSourceSchema.safeParse({ name: arg.slice(0, eq).trim(), path: path.resolve(arg.slice(eq + 1)) });
    if (!parsed.success) throw new UsageError(`--add-project ${arg}: ${parsed.error.issues.map((issue) => issue.message).join('; ')}`, usage);
    return parsed.data;
  });
  const emptyPattern = [...list('exclude'), ...list('remove-exclude')].some((pattern) => !pattern.trim());
  if (emptyPattern) throw new UsageError('--exclude and --remove-exclude need a pattern', usage);
  let interval: number | null | undefined;
  if (values.interval !== undefined) {
    const raw = values.interval as string;
    const minutes = Number(raw);
    const max = 7 * 24 * 60;
    if (raw.toLowerCase() === 'off') interval = null;
    else if (Number.isInteger(minutes) && minutes >= 1 && minutes <= max) interval = minutes;
    else throw new UsageError(`--interval needs whole minutes from 1 to ${max}, or off; not ${raw}`, usage);
  }

  const http = await backupHttp(ctx);
  const overview = await http.request<BackupOverview>('GET', '/backup');
  const next: BackupSettings = { ...overview.settings, sources: [...overview.settings.sources], exclude: [...overview.settings.exclude] };
  const sameName = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
  if (target !== undefined) next.target = target;
  for (const name of list('remove-project')) {
    const at = next.sources.findIndex((s) => sameName(s.name, name));
    const known = next.sources.length ? ` (the projects are ${next.sources.map((s) => `"${s.name}"`).join(', ')})` : ' (no project is backed up)';
    if (at < 0) throw new UsageError(`no project named "${name}" is backed up${known}`, usage);
    next.sources.splice(at, 1);
  }
  for (const source of added) {
    const at = next.sources.findIndex((s) => sameName(s.name, source.name));
    if (at >= 0) next.sources[at] = source;
    else next.sources.push(source);
  }
  for (const pattern of list('remove-exclude')) {
    const at = next.exclude.indexOf(pattern);
    if (at < 0) throw new UsageError(`"${pattern}" is not one of the exclusions (\`devenviro backup status\` lists them)`, usage);
    next.exclude.splice(at, 1);
  }
  for (const pattern of list('exclude')) if (!next.exclude.includes(pattern)) next.exclude.push(pattern);
  if (interval !== undefined) next.intervalMinutes = interval;
  if (values.gitignore) next.useGitignore = true;
  if (values['no-gitignore']) next.useGitignore = false;

  const saved = await http.request<{ settings: BackupSettings; warnings: string[] }>('PUT', '/backup/settings', { body: next });
  if (ctx.json) return void ctx.out(JSON.stringify(saved, null, 2));
  ctx.out(table(settingsRows(saved.settings, overview.defaults.folderName)));
  for (const warning of saved.warnings) ctx.note(`warning: ${warning}`);
  ctx.note('Backup settings saved.');
}

async function backupPreview(ctx: Context, usage: string): Promise<void> {
  const raw = ctx.values.limit as string | undefined;
  const limit = raw === undefined ? 10 : Number(raw);
  if (!Number.isInteger(limit) || limit < 0 || limit > 10_000) throw new UsageError(`--limit needs a whole number from 0 to 10000, not ${raw}`, usage);
  const source = ctx.values.source as string | undefined;
  if (source !== undefined && !source.trim()) throw new UsageError('--source needs a name', usage);
  const { previews } = await (await backupHttp(ctx)).request<{ previews: ExclusionPreview[] }>('POST', '/backup/preview', { body: { source, limit } });
  if (ctx.json) return void ctx.out(JSON.stringify(previews, null, 2));
  ctx.out(
    table([
      ['SOURCE', 'INCLUDED', 'LEFT OUT', 'FOLDER'],
      ...previews.map((p) => [
        p.source,
        p.missing ? 'folder not there' : `${count(p.included.files, 'file')}, ${formatBytes(p.included.bytes)}`,
        p.missing ? '' : `${count(p.skipped.files, 'file')} (${formatBytes(p.skipped.bytes)}), ${count(p.skipped.dirs, 'folder')}`,
        p.path,
      ]),
    ]),
  );
  for (const p of previews) {
    if (p.skippedPaths.length === 0) continue;
    const total = p.skipped.files + p.skipped.dirs;
    ctx.out(`\nLeft out of ${p.source}${total > p.skippedPaths.length ? ` (the first ${p.skippedPaths.length} of ${total})` : ''}:`);
    ctx.out(table(p.skippedPaths.map((s) => [`  ${s.path}`, s.bytes === undefined ? '' : formatBytes(s.bytes), s.rule])));
  }
}

async function backupRun(ctx: Context): Promise<number> {
  const http = await backupHttp(ctx);
  const overview = await http.request<BackupOverview>('GET', '/backup');
  if (!overview.settings.target) throw new Error(NO_TARGET);
  const { runId } = await http.request<{ runId: string }>('POST', '/backup/run');
  if (!ctx.values.wait) {
    if (ctx.json) ctx.out(JSON.stringify({ runId }));
    else ctx.out(runId);
    ctx.note(`Backup ${runId} started; \`devenviro backup status\` shows how it goes.`);
    return 0;
  }
  ctx.note(`Backup ${runId} started into ${overview.settings.target}.`);
  const run = await followRun(ctx, http, runId);
  if (run === 'interrupted') {
    ctx.note(`Stopped waiting: backup ${runId} goes on in the hub (\`devenviro backup status\` shows how it goes).`);
    return 1;
  }
  if (ctx.json) ctx.out(JSON.stringify(run, null, 2));
  for (const warning of run.warnings) ctx.note(`warning: ${warning}`);
  if (run.status === 'ok' && run.snapshotId) {
    if (!ctx.json) ctx.out(run.snapshotId);
    ctx.note(
      `Backup done in ${took(run)}: snapshot ${run.snapshotId}, ${count(run.files, 'file')} (${formatBytes(run.bytes)}), ` +
        `${count(run.newObjects, 'new stored file')} (${formatBytes(run.newBytes)})${run.pruned ? `; ${count(run.pruned, 'old snapshot')} pruned` : ''}.`,
    );
    return 0;
  }
  const what = run.status === 'cancelled' ? 'was stopped' : 'failed';
  ctx.note(`devenviro backup run: the backup ${what}: ${run.error ?? 'no reason was recorded'}${run.errorCode ? ` (${run.errorCode})` : ''}`);
  return 1;
}

/** Polls the hub until the run ends, printing its progress to standard error; 'interrupted' on Ctrl-C. */
async function followRun(ctx: Context, http: HubHttp, runId: string): Promise<BackupRunRecord | 'interrupted'> {
  let lastLine = '';
  let lastPhase = '';
  let lastAt = 0;
  let unknown = 0;
  for (;;) {
    const overview = await http.request<BackupOverview>('GET', '/backup');
    const record = overview.runs.find((r) => r.id === runId);
    if (record && record.status !== 'running') return record;
    const running = overview.status.running?.runId === runId ? overview.status.running : null;
    if (running?.progress) {
      const line = formatProgress(running.progress);
      const now = Date.now();
      if (line !== lastLine && (running.progress.phase !== lastPhase || now - lastAt >= BACKUP_PROGRESS_EVERY_MS)) {
        ctx.note(line);
        lastLine = line;
        lastPhase = running.progress.phase;
        lastAt = now;
      }
    }
    if (!record && !running && ++unknown > 10) {
      throw new Error(`the hub does not know backup run ${runId} (did it restart?); \`devenviro backup status\` shows its last runs`);
    }
    const stop = await Promise.race([sleep(BACKUP_POLL_MS).then(() => false), ctx.io.interrupted.then(() => true)]);
    if (stop) return 'interrupted';
  }
}

function formatProgress(p: BackupProgress): string {
  if (p.phase === 'scanning') return `scanning: ${count(p.filesDone, 'file')}, ${formatBytes(p.bytesDone)} found`;
  if (p.phase === 'manifest') return 'manifest: writing the snapshot';
  if (p.phase === 'pruning') return `pruning: ${p.filesDone}/${count(p.filesTotal, 'old snapshot')} removed`;
  const share = p.bytesTotal > 0 ? p.bytesDone / p.bytesTotal : p.filesTotal > 0 ? p.filesDone / p.filesTotal : 1;
  return `${p.phase}: ${p.filesDone}/${count(p.filesTotal, 'file')}, ${formatBytes(p.bytesDone)}/${formatBytes(p.bytesTotal)} (${Math.floor(share * 100)}%)`;
}

async function backupList(ctx: Context): Promise<void> {
  const { snapshots, damaged } = await (await backupHttp(ctx)).request<{ snapshots: SnapshotSummary[]; damaged: DamagedSnapshot[] }>('GET', '/backup/snapshots');
  if (ctx.json) return void ctx.out(JSON.stringify({ snapshots, damaged }, null, 2));
  if (snapshots.length === 0) ctx.note('No snapshots yet: `devenviro backup run` takes one.');
  else {
    ctx.out(
      table([
        ['ID', 'CREATED', 'FILES', 'SIZE', 'ADDED', 'SOURCES'],
        ...snapshots.map((s) => [
          s.id,
          shortTime(s.createdAt),
          String(s.totals.files),
          formatBytes(s.totals.bytes),
          formatBytes(s.totals.newBytes),
          s.sources.map((source) => (source.missing ? `${source.name} (missing)` : source.name)).join(', ') + (s.own ? '' : `  [from ${s.origin.host}]`),
        ]),
      ]),
    );
  }
  for (const d of damaged) ctx.note(`damaged snapshot ${d.id}: ${d.error}`);
}

async function backupVerify(ctx: Context, id: string): Promise<number> {
  const report = await (await backupHttp(ctx)).request<VerifyReport>('POST', `/backup/snapshots/${id}/verify`);
  if (ctx.json) {
    ctx.out(JSON.stringify(report, null, 2));
    return report.ok ? 0 : 1;
  }
  if (report.ok) {
    ctx.out(`Snapshot ${report.snapshotId} is intact: ${count(report.files, 'file')}, ${count(report.objects, 'stored file')} (${formatBytes(report.bytes)}) re-hashed.`);
    return 0;
  }
  ctx.out(
    `Snapshot ${report.snapshotId} is damaged: of its ${count(report.objects, 'stored file')}, ${report.missing.length} missing and ${report.corrupt.length} corrupt.\n` +
      table([
        ['PROBLEM', 'STORED FILE (SHA-256)', 'USED BY'],
        ...report.missing.map((m) => ['missing', m.sha256, m.paths.join(', ')]),
        ...report.corrupt.map((c) => ['corrupt', c.sha256, `${c.paths.join(', ')} (its content now hashes to ${c.actual.slice(0, 12)}…)`]),
      ]),
  );
  return 1;
}

async function backupRepair(ctx: Context, id: string): Promise<number> {
  const report = await (await backupHttp(ctx)).request<RepairReport>('POST', `/backup/snapshots/${id}/repair`);
  const clean = report.quarantined.length === 0 && report.missing.length === 0;
  if (ctx.json) {
    ctx.out(JSON.stringify(report, null, 2));
    return clean ? 0 : 1;
  }
  if (!clean) {
    ctx.out(
      table([
        ['DONE', 'STORED FILE (SHA-256)', 'USED BY'],
        ...report.quarantined.map((q) => ['moved aside', q.sha256, q.paths.join(', ')]),
        ...report.missing.map((m) => ['missing', m.sha256, m.paths.join(', ')]),
      ]),
    );
  }
  ctx.out(report.next);
  return clean ? 0 : 1;
}

async function backupRestore(ctx: Context, id: string, usage: string): Promise<number> {
  const source = ctx.values.source as string | undefined;
  const to = ctx.values.to as string | undefined;
  if (!source?.trim()) throw new UsageError(`backup restore needs --source NAME (a project's name, or ${HUB_SOURCE}; \`devenviro backup list\` shows each snapshot's)`, usage);
  if (!to?.trim()) throw new UsageError('backup restore needs --to DIR, the folder to restore into', usage);
  const destination = path.resolve(to);
  const report = await (await backupHttp(ctx)).request<RestoreReport>('POST', `/backup/snapshots/${id}/restore`, {
    body: { source, destination, overwrite: ctx.values.overwrite === true },
  });
  if (ctx.json) {
    ctx.out(JSON.stringify(report, null, 2));
    return report.ok ? 0 : 1;
  }
  ctx.out(`Restored ${count(report.files, 'file')} (${formatBytes(report.bytes)}) of "${report.source}" from snapshot ${report.snapshotId} into ${report.destination}.`);
  if (report.ok) return 0;
  ctx.out(table([['NOT RESTORED', 'WHY'], ...report.failed.map((f) => [f.path, f.reason])]));
  ctx.note(`${count(report.failed.length, 'file')} could not be restored.`);
  return 1;
}

function took(run: BackupRunRecord): string {
  return run.finishedAt ? `${((Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000).toFixed(1)} s` : '';
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
