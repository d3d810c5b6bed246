/** Progress of a phase, forwarded to the listener at most every 200 ms except at phase starts and ends. */
import type { BackupPhase, BackupProgress } from '../../../shared/backup-protocol';

const PROGRESS_EVERY_MS = 200;

export type ProgressReporter = ReturnType<typeof progressReporter>;

/** Forwards progress at most every 200 ms, except when told it matters (phase starts and ends). */
export function progressReporter(onProgress: ((p: BackupProgress) => void) | undefined) {
  let last = 0;
  return (progress: BackupProgress, force = false) => {
    if (!onProgress) return;
    const now = Date.now();
    if (!force && now - last < PROGRESS_EVERY_MS) return;
    last = now;
    try {
      onProgress({ ...progress });
    } catch {
      // A listener's failure is not the backup's.
    }
  };
}

/**
 * Counts one phase over `total` files and bytes: reports its start at once, then each step (one file or object done,
 * with its bytes) as the reporter lets through, and finish() reports where it ended at once.
 */
export function phaseProgress(report: ProgressReporter, phase: BackupPhase, total: { files: number; bytes: number }) {
  const done = { files: 0, bytes: 0 };
  const send = (force: boolean) =>
    report({ phase, filesDone: done.files, filesTotal: total.files, bytesDone: done.bytes, bytesTotal: total.bytes }, force);
  send(true);
  return {
    done,
    step(bytes = 0): void {
      done.files++;
      done.bytes += bytes;
      send(false);
    },
    finish(): void {
      send(true);
    },
  };
}
