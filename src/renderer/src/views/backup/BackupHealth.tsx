/** The backup's health in one line, for the Overview's card and the Status view's row: set up, last good run, failing. */
import type { ServiceState } from '../../../../shared/contract';
import type { BackupOverview } from '../../../../shared/backup-protocol';
import { Stat, type Tone } from '../../components/ui';
import { formatAgo, formatClock } from '../../format';
import { useCall, useEvent, useNow, useThrottled } from '../../hooks';
import { href } from '../../router';

export interface BackupHealth {
  state: ServiceState | 'off';
  /** Short: "2 h ago", "failing", "not set up", "running". */
  label: string;
  /** A sentence: what happened last and what comes next. */
  detail: string;
}

/** What the backup's overview says about its health (pure, so the card and the row agree). */
export function backupHealth(overview: BackupOverview, now: number): BackupHealth {
  const { settings, status, runs } = overview;
  const lastOk = runs.find((run) => run.status === 'ok');
  const last = runs.find((run) => run.status !== 'running');
  const next = status.nextRunAt ? `next ${formatClock(status.nextRunAt)}` : 'no run planned';
  if (!settings.target) return { state: 'off', label: 'not set up', detail: 'No backup folder is chosen: nothing is backed up. Set one up in the Backup view.' };
  if (status.running) return { state: 'up', label: 'running', detail: `A ${status.running.trigger} run is under way · last good ${lastOk ? formatAgo(lastOk.finishedAt, now) : 'never'}` };
  if (last?.status === 'failed' || status.consecutiveFailures > 0) {
    const why = status.lastError?.message ?? last?.error ?? 'the last run failed';
    return {
      state: 'degraded',
      label: 'failing',
      detail: `${status.consecutiveFailures || 1} failed run${status.consecutiveFailures > 1 ? 's' : ''} in a row: ${why} · last good ${lastOk ? formatAgo(lastOk.finishedAt, now) : 'never'} · ${next}`,
    };
  }
  if (!lastOk) return { state: 'starting', label: 'no run yet', detail: `Set up, no run has finished yet · ${next}` };
  return { state: 'up', label: formatAgo(lastOk.finishedAt, now), detail: `Last good run ${formatAgo(lastOk.finishedAt, now)} (${lastOk.snapshotId ?? 'snapshot'}) · ${next}` };
}

/** The backup's health, fetched again whenever a run starts or finishes. */
export function useBackupHealth(): BackupHealth | null {
  const overview = useCall('backup.overview');
  const now = useNow(30_000);
  const refresh = useThrottled(overview.reload, 1000);
  useEvent('backup.event', (event) => event.kind !== 'progress' && refresh());
  return overview.state === 'ready' ? backupHealth(overview.value, now) : null;
}

const TONE: Record<BackupHealth['state'], Tone | undefined> = { up: 'up', starting: 'muted', degraded: 'down', down: 'down', off: 'warn' };

/** The Overview's backup card: when the last good backup was, or that it is failing or not set up. */
export function BackupCard() {
  const health = useBackupHealth();
  return (
    <a className="stat-link" href={href('backup')} data-testid="stat-backup-card">
      <Stat label="Backup" value={health?.label ?? '—'} sub={health?.detail ?? 'asking the hub…'} tone={health ? TONE[health.state] : 'muted'} testId="stat-backup" />
    </a>
  );
}
