/**
 * Backups failing, or overdue: the scheduler's failures in a row (and the runs' history, which outlives a restart),
 * and the last good run against the interval the settings ask for. Run backup now is the action.
 */
import { durationWords } from '../../shared/attention-protocol';
import { describeAction } from './actions';
import type { SourceFactory } from './source';

/** Runs read from the history to count failures in a row. */
const HISTORY = 20;

export const backupSource: SourceFactory = ({ backup, backupSettings }, limits) => (now) => {
  const settings = backupSettings();
  if (!settings.target) return [];
  const status = backup.scheduler.status();
  const runs = backup.engine.state.recentRuns(HISTORY).filter((run) => run.status !== 'running');
  const lastGood = runs.find((run) => run.status === 'ok') ?? backup.engine.state.lastSuccess();
  const failedInRow = Math.max(status.consecutiveFailures, runs.findIndex((run) => run.status !== 'failed') === -1 ? runs.length : runs.findIndex((run) => run.status !== 'failed'));
  const action = status.running ? null : describeAction.runBackup();
  const lastGoodAt = lastGood?.finishedAt ?? null;
  const lastGoodEvidence = lastGoodAt ? [{ label: 'last good backup', value: now - Date.parse(lastGoodAt), unit: 'ms' as const }] : [];
  const link = { view: 'backup' as const, selection: null, label: 'Open Backup' };

  if (failedInRow > 0) {
    const last = runs[0];
    const firstFailure = runs[Math.min(failedInRow, runs.length) - 1];
    const error = status.lastError?.message ?? last?.error ?? 'the last run failed';
    const code = status.lastError?.code ?? last?.errorCode ?? null;
    return [
      {
        id: 'backup-failing',
        kind: 'backup-failing',
        severity: 'critical',
        project: null,
        title: `Backup failing: ${failedInRow} run${failedInRow === 1 ? '' : 's'} in a row${code ? ` (${code})` : ''}; ${lastGoodAt ? `last good ${durationWords(now - Date.parse(lastGoodAt))} ago` : 'no good backup yet'}`,
        detail: error,
        evidence: [{ label: 'failed in a row', value: failedInRow, unit: 'count' }, ...lastGoodEvidence, ...(code ? [{ label: 'error', value: code }] : [])],
        since: firstFailure?.startedAt ?? status.lastError?.at ?? null,
        link,
        action,
      },
    ];
  }
  if (settings.intervalMinutes === null || status.running) return [];
  const allowedMs = settings.intervalMinutes * 60_000 * limits.backupOverdueIntervals;
  if (lastGoodAt === null || now - Date.parse(lastGoodAt) <= allowedMs) return [];
  const ageMs = now - Date.parse(lastGoodAt);
  return [
    {
      id: 'backup-overdue',
      kind: 'backup-overdue',
      severity: 'warning',
      project: null,
      title: `Backup overdue: the last good one is ${durationWords(ageMs)} old; due every ${durationWords(settings.intervalMinutes * 60_000)}`,
      detail: status.nextRunAt ? `The next run is planned for ${status.nextRunAt}.` : 'No run is planned.',
      evidence: [...lastGoodEvidence, { label: 'interval', value: settings.intervalMinutes * 60_000, unit: 'ms' }],
      since: new Date(Date.parse(lastGoodAt) + settings.intervalMinutes * 60_000).toISOString(),
      link,
      action,
    },
  ];
};
