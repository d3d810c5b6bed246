/** The Backup view: settings, live runs, history, snapshots and restores. */
import { useCallback, useState, type FormEvent } from 'react';
import { isAbsolutePath } from '../../../shared/backup-protocol';
import { Empty, ErrorNotice, Loading, Panel, Stat, Tag, ViewHeader } from '../components/ui';
import { formatAgo, formatBytes, formatCount, formatMs } from '../format';
import { invoke, useCall, useEvent, useNow, useTransport } from '../hooks';
import { HistoryPanel, RunStatus } from './backup/HistoryPanel';
import { HubRestoreBanner, useHubRestore } from './backup/HubRestore';
import {
  describeInterval,
  formatIn,
  phaseFraction,
  PHASES,
  runDurationMs,
  TRIGGER_LABEL,
  type BackupEvent,
  type Overview,
  type PreviewState,
  type Progress,
  type RunRecord,
  type Settings,
  type Trigger,
} from './backup/model';
import { SettingsPanel } from './backup/SettingsPanel';
import { SnapshotsPanel } from './backup/SnapshotsPanel';

/** A run as this page follows it: from `backup.event`, or from the overview when the page opened mid-run. */
export interface LiveRun {
  runId: string;
  trigger: Trigger | null;
  startedAt: string | null;
  progress: Progress | null;
  finished: RunRecord | null;
}

/** Follows runs through `backup.event`; `onFinished` runs once each ends (to refetch history and snapshots). */
function useLiveRun(onFinished: () => void): LiveRun | null {
  const [live, setLive] = useState<LiveRun | null>(null);
  useEvent('backup.event', (event: BackupEvent) => {
    if (event.kind === 'run-started') {
      setLive({ runId: event.runId, trigger: event.trigger, startedAt: new Date().toISOString(), progress: null, finished: null });
    } else if (event.kind === 'progress') {
      setLive((current) =>
        current?.runId === event.runId
          ? { ...current, progress: event.progress }
          : { runId: event.runId, trigger: null, startedAt: null, progress: event.progress, finished: null },
      );
    } else {
      setLive((current) => ({
        ...(current?.runId === event.runId ? current : { runId: event.runId, trigger: event.run.trigger, startedAt: event.run.startedAt, progress: null }),
        finished: event.run,
      }));
      onFinished();
    }
  });
  return live;
}

/** The run in progress, whichever way the page learnt of it. */
function currentRun(live: LiveRun | null, status: Overview['status']): LiveRun | null {
  const fromStatus = status.running;
  if (live && !live.finished) {
    const same = fromStatus?.runId === live.runId ? fromStatus : null;
    return { ...live, trigger: live.trigger ?? same?.trigger ?? null, startedAt: same?.startedAt ?? live.startedAt };
  }
  if (fromStatus && fromStatus.runId !== live?.runId) {
    return { runId: fromStatus.runId, trigger: fromStatus.trigger, startedAt: fromStatus.startedAt, progress: fromStatus.progress, finished: null };
  }
  return null;
}

/**
 * Backups to a cloud-synced folder: where they go and what they take (with a preview of what would be skipped and
 * why), runs with live progress and their history, snapshots to verify and restore — a project into a folder, or
 * the hub's own data in place.
 */
export function BackupView() {
  const overview = useCall('backup.overview');
  const value = overview.state === 'ready' ? overview.value : null;
  const hasTarget = Boolean(value?.settings.target);
  const snapshots = useCall('backup.snapshots', undefined, { enabled: hasTarget });
  const { reload: reloadOverview } = overview;
  const { reload: reloadSnapshots } = snapshots;
  const reloadAll = useCallback(() => {
    reloadOverview();
    reloadSnapshots();
  }, [reloadOverview, reloadSnapshots]);

  const live = useLiveRun(reloadAll);
  const hubRestore = useHubRestore(reloadAll);
  const [warnings, setWarnings] = useState<string[]>([]);
  const [preview, setPreview] = useState<PreviewState>({ state: 'idle' });
  // The preview belongs to the settings' draft but reads better beside the run it previews: rendered there by a portal.
  const [previewSlot, setPreviewSlot] = useState<HTMLDivElement | null>(null);

  const onSaved = useCallback(
    (result: { settings: Settings; warnings: string[] }) => {
      setWarnings(result.warnings);
      reloadAll();
    },
    [reloadAll],
  );

  const banner = <HubRestoreBanner restore={hubRestore} />;

  if (!value) {
    return (
      <div className="view" data-testid="view-backup">
        <ViewHeader title="Backup" subtitle="Snapshots of the hub’s data and your projects, into a cloud-synced folder" />
        {banner}
        {overview.state === 'error' ? (
          <ErrorNotice title="Backup settings could not be read" message={overview.message} onRetry={overview.reload} />
        ) : (
          <Loading>Reading the backup settings…</Loading>
        )}
      </div>
    );
  }

  if (!value.settings.target) {
    return (
      <div className="view" data-testid="view-backup">
        <ViewHeader title="Backup" subtitle="Snapshots of the hub’s data and your projects, into a cloud-synced folder" />
        {banner}
        <FirstRun overview={value} onSaved={onSaved} />
      </div>
    );
  }

  const running = currentRun(live, value.status);
  const { settings } = value;
  return (
    <div className="view" data-testid="view-backup">
      <ViewHeader
        title="Backup"
        subtitle={
          <>
            Into <span className="num">{settings.target}</span> · {describeInterval(settings.intervalMinutes)}
            {settings.runOnQuit ? ' and on quit' : ''} · keeps the last <span className="num">{settings.keep.last}</span>, <span className="num">{settings.keep.daily}</span>{' '}
            daily, <span className="num">{settings.keep.weekly}</span> weekly
          </>
        }
        actions={<RunButton running={running !== null} />}
      />
      {banner}
      {warnings.length > 0 && (
        <div className="backup-warnings" role="status" data-testid="backup-warnings">
          <ul>
            {warnings.map((warning) => (
              <li key={warning}>{warning}</li>
            ))}
          </ul>
          <button type="button" className="btn btn-ghost btn-small" onClick={() => setWarnings([])} aria-label="Dismiss the warnings">
            ✕
          </button>
        </div>
      )}
      <StatusStrip overview={value} snapshotCount={snapshots.state === 'ready' ? snapshots.value.snapshots.length : null} running={running} />
      <div className="backup-layout">
        <div className="backup-main">
          <RunPanel running={running} live={live} overview={value} />
          <div className="preview-slot" ref={setPreviewSlot} />
          <HistoryPanel runs={value.runs} />
          <SnapshotsPanel snapshots={snapshots} target={settings.target!} folderName={value.defaults.folderName} onHubRestore={hubRestore.start} hubRestoring={hubRestore.state.phase === 'restoring'} />
        </div>
        <div className="backup-side">
          <SettingsPanel key={JSON.stringify(settings)} overview={value} onSaved={onSaved} preview={preview} setPreview={setPreview} previewSlot={previewSlot} />
        </div>
      </div>
    </div>
  );
}

function RunButton({ running }: { running: boolean }) {
  const transport = useTransport();
  const [state, setState] = useState<{ starting: boolean; error: string | null }>({ starting: false, error: null });
  const run = async () => {
    setState({ starting: true, error: null });
    try {
      await invoke(transport, 'backup.run');
      setState({ starting: false, error: null });
    } catch (error) {
      setState({ starting: false, error: (error as Error).message });
    }
  };
  return (
    <>
      {state.error && (
        <span className="run-error" role="alert" data-testid="run-error" title={state.error}>
          {state.error}
        </span>
      )}
      <button type="button" className="btn btn-primary" onClick={run} disabled={running || state.starting} data-testid="backup-run-now">
        {running ? 'Backing up…' : 'Run backup now'}
      </button>
    </>
  );
}

function StatusStrip({ overview, snapshotCount, running }: { overview: Overview; snapshotCount: number | null; running: LiveRun | null }) {
  const now = useNow(5000);
  const { runs, status, settings } = overview;
  const lastOk = runs.find((run) => run.status === 'ok');
  const latest = runs.find((run) => run.status !== 'running');
  const latestFailed = latest && latest.status === 'failed';
  return (
    <div className="stats backup-stats" data-testid="backup-status">
      <Stat
        label="Last good backup"
        value={lastOk ? formatAgo(lastOk.finishedAt, now) : 'never'}
        tone={lastOk ? (latestFailed ? 'warn' : 'up') : 'muted'}
        sub={latestFailed ? `the latest run failed ${formatAgo(latest.finishedAt ?? latest.startedAt, now)}` : lastOk ? `${formatCount(lastOk.files)} files, ${formatBytes(lastOk.bytes)}` : 'no backup yet'}
        testId="status-last-ok"
      />
      <Stat
        label="Next backup"
        value={running ? 'running now' : status.nextRunAt ? formatIn(status.nextRunAt, now) : 'off'}
        tone={running ? 'accent' : undefined}
        sub={
          status.nextRunAt && !running
            ? `${status.consecutiveFailures > 0 ? 'a retry' : describeInterval(settings.intervalMinutes)}, at ${new Date(status.nextRunAt).toLocaleTimeString()}`
            : describeInterval(settings.intervalMinutes)
        }
        testId="status-next"
      />
      <Stat label="Snapshots" value={snapshotCount === null ? '—' : formatCount(snapshotCount)} sub={`kept: last ${settings.keep.last}, ${settings.keep.daily} daily, ${settings.keep.weekly} weekly`} testId="status-snapshots" />
      <Stat
        label="Failures in a row"
        value={formatCount(status.consecutiveFailures)}
        tone={status.consecutiveFailures > 0 ? 'down' : 'muted'}
        sub={status.lastError ? status.lastError.message : 'none'}
        testId="status-failures"
      />
    </div>
  );
}

/** The run in progress (phase, files and bytes), or the outcome of the latest one. */
function RunPanel({ running, live, overview }: { running: LiveRun | null; live: LiveRun | null; overview: Overview }) {
  const now = useNow(1000);
  const latest = live?.finished ?? overview.runs.find((run) => run.status !== 'running') ?? null;
  return (
    <Panel
      title={running ? 'Backing up' : 'Latest run'}
      testId="backup-run"
      meta={
        running ? (
          <>
            {running.trigger && <Tag tone="accent">{TRIGGER_LABEL[running.trigger]}</Tag>}
            {running.startedAt && <span className="num">started {formatAgo(running.startedAt, now)}</span>}
          </>
        ) : (
          latest && (
            <>
              <Tag>{TRIGGER_LABEL[latest.trigger]}</Tag>
              <span className="num">{formatAgo(latest.finishedAt ?? latest.startedAt, now)}</span>
            </>
          )
        )
      }
    >
      {running ? <RunProgress progress={running.progress} /> : <LatestRun run={latest} nextRunAt={overview.status.nextRunAt} now={now} />}
    </Panel>
  );
}

function RunProgress({ progress }: { progress: Progress | null }) {
  const phase = progress?.phase ?? 'scanning';
  const index = PHASES.findIndex((p) => p.phase === phase);
  const fraction = phaseFraction(progress);
  const bytes = progress && progress.bytesTotal > 0;
  return (
    <div className="run-progress" data-testid="backup-progress" data-state="running" data-phase={phase}>
      <ol className="phases" aria-label="Phases">
        {PHASES.map((p, i) => (
          <li key={p.phase} className={i < index ? 'done' : i === index ? 'current' : ''} aria-current={i === index ? 'step' : undefined}>
            {p.label}
          </li>
        ))}
      </ol>
      <div
        className={`progress ${fraction === null ? 'progress-indeterminate' : ''}`}
        role="progressbar"
        aria-label={`${PHASES[index]?.label ?? phase} progress`}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={fraction === null ? undefined : Math.round(fraction * 100)}
      >
        <div className="progress-fill" style={{ width: fraction === null ? undefined : `${fraction * 100}%` }} />
      </div>
      <div className="progress-figures num" data-testid="backup-progress-figures">
        {!progress || (progress.phase === 'scanning' && progress.filesTotal === 0) ? (
          <span>Looking for files{progress && progress.filesDone > 0 ? `: ${formatCount(progress.filesDone)} found` : '…'}</span>
        ) : (
          <>
            <span>
              {formatCount(progress.filesDone)} / {formatCount(progress.filesTotal)} file{progress.filesTotal === 1 ? '' : 's'}
            </span>
            {bytes && (
              <span>
                {formatBytes(progress.bytesDone)} / {formatBytes(progress.bytesTotal)}
              </span>
            )}
            {fraction !== null && <span className="muted">{Math.round(fraction * 100)}%</span>}
          </>
        )}
      </div>
    </div>
  );
}

function LatestRun({ run, nextRunAt, now }: { run: RunRecord | null; nextRunAt: string | null; now: number }) {
  const next = nextRunAt ? `The next automatic backup is ${formatIn(nextRunAt, now)}.` : 'Automatic backups are off: run one now, or set a schedule in the settings.';
  if (!run) {
    return (
      <div className="run-latest" data-testid="backup-latest" data-state="none">
        <Empty title="No backup has run yet">
          Press <strong>Run backup now</strong> for the first snapshot. {next}
        </Empty>
      </div>
    );
  }
  const duration = runDurationMs(run);
  return (
    <div className="run-latest" data-testid="backup-latest" data-state={run.status} data-run-id={run.id}>
      <div className="run-outcome">
        <RunStatus status={run.status} />
        <span className="num">
          {formatCount(run.files)} files · {formatBytes(run.bytes)}
        </span>
        <span className="muted num">
          {formatCount(run.newObjects)} new object{run.newObjects === 1 ? '' : 's'} ({formatBytes(run.newBytes)})
        </span>
        {duration !== null && <span className="muted num">took {formatMs(duration)}</span>}
        {run.pruned > 0 && <span className="muted num">{run.pruned} old snapshot{run.pruned === 1 ? '' : 's'} pruned</span>}
      </div>
      {run.error && (
        <div className="run-failure" role="alert">
          {run.errorCode && <span className="num">{run.errorCode}</span>} {run.error}
        </div>
      )}
      {run.warnings.length > 0 && (
        <ul className="run-warnings">
          {run.warnings.map((warning) => (
            <li key={warning}>{warning}</li>
          ))}
        </ul>
      )}
      <p className="muted small run-next">{next}</p>
    </div>
  );
}

/** No backup folder yet: say what backup does and offer the cloud folders found on this machine. */
function FirstRun({ overview, onSaved }: { overview: Overview; onSaved: (result: { settings: Settings; warnings: string[] }) => void }) {
  const transport = useTransport();
  const [path, setPath] = useState('');
  const [state, setState] = useState<{ saving: string | null; error: string | null }>({ saving: null, error: null });

  const choose = async (target: string) => {
    const chosen = target.trim();
    if (!isAbsolutePath(chosen)) {
      setState({ saving: null, error: 'Use a full path, like /home/me/Google Drive or G:\\My Drive.' });
      return;
    }
    setState({ saving: chosen, error: null });
    try {
      onSaved(await invoke(transport, 'backup.saveSettings', { ...overview.settings, target: chosen }));
    } catch (error) {
      setState({ saving: null, error: (error as Error).message });
    }
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void choose(path);
  };

  return (
    <Panel className="first-run" testId="backup-first-run">
      <div className="first-run-body">
        <div className="first-run-intro">
          <h2>Keep your work safe</h2>
          <p>
            Choose a folder that your cloud drive syncs — Google Drive, OneDrive, Dropbox — and the hub copies its own data there (agents, messages,
            memories) together with the project folders you add. Each backup is a snapshot; files that did not change are stored once, so backups stay
            small and quick.
          </p>
          <p className="muted small">
            A <span className="num">{overview.defaults.folderName}</span> folder is made inside the one you choose. By default a backup runs every hour and
            when the hub quits; the schedule, exclusions and retention can be changed once the folder is set.
          </p>
        </div>
        <div className="first-run-choose">
          <h3 className="section-title">Cloud folders on this machine</h3>
          {overview.cloudFolders.length === 0 ? (
            <p className="muted small" data-testid="cloud-folders-none">
              None found. Google Drive for desktop uses <span className="num">G:\My Drive</span> on Windows and{' '}
              <span className="num">~/Library/CloudStorage/GoogleDrive-…/My Drive</span> on macOS; on Linux, any synced or mounted folder works.
            </p>
          ) : (
            <ul className="cloud-choices">
              {overview.cloudFolders.map((folder) => (
                <li key={folder.path}>
                  <button type="button" className="cloud-choice" onClick={() => void choose(folder.path)} disabled={state.saving !== null} data-testid="cloud-folder" data-path={folder.path}>
                    <span className={`provider provider-${folder.provider}`} aria-hidden="true" />
                    <span className="cloud-choice-text">
                      <span className="cloud-choice-label">{folder.label}</span>
                      <span className="cloud-choice-path num">{folder.path}</span>
                    </span>
                    <span className="cloud-choice-action">{state.saving === folder.path ? 'Saving…' : 'Use this folder'}</span>
                  </button>
                </li>
              ))}
            </ul>
          )}
          <h3 className="section-title">Or any folder</h3>
          <form className="first-run-form" onSubmit={submit}>
            <input
              className="input grow"
              value={path}
              onChange={(e) => setPath(e.target.value)}
              placeholder={navigator.userAgent.includes('Windows') ? 'G:\\My Drive' : '/path/to/your/synced/folder'}
              aria-label="Backup folder"
              spellCheck={false}
              data-testid="first-run-path"
            />
            <button type="submit" className="btn btn-primary" disabled={!path.trim() || state.saving !== null} data-testid="first-run-save">
              {state.saving !== null && state.saving === path.trim() ? 'Saving…' : 'Use this folder'}
            </button>
          </form>
          {state.error && <ErrorNotice title="The folder was not set" message={state.error} />}
        </div>
      </div>
    </Panel>
  );
}

/** A spinner beside “Backup” in the sidebar while a run is under way. */
export function BackupNavHint() {
  const [phase, setPhase] = useState<string | null>(null);
  useEvent('backup.event', (event) => setPhase(event.kind === 'run-finished' ? null : event.kind === 'run-started' ? 'scanning' : event.progress.phase));
  if (!phase) return null;
  return (
    <span className="nav-hint nav-hint-busy" title={`backing up: ${phase}`} data-testid="backup-nav-busy">
      <span className="spinner spinner-tiny" aria-hidden="true" />
    </span>
  );
}
