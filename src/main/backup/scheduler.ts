/**
 * When backups run: every `intervalMinutes` (counted from the last good one, so a restart does not postpone or
 * repeat them), on demand, and once more when the hub quits. A failed run is retried with a growing delay
 * (1, 2, 5, 10, 30, 60 minutes, never later than the next regular run), so a sync drive that is briefly offline is
 * caught up soon without a dead one being hammered. Listeners get every run's start and end and its progress.
 */
import { ulidGenerator } from '../ids';
import type { BackupSettings } from './config';
import type { BackupEngine, BackupProgress } from './engine';
import { BackupError } from './errors';
import type { BackupRunRecord, RunTrigger } from './state';
import type { BackupEvent, SchedulerStatus } from '../../shared/backup-protocol';
import { backoffDelay, type Backoff } from '../../shared/retry';
export type { BackupEvent, SchedulerStatus };

export interface SchedulerOptions {
  engine: BackupEngine;
  settings: () => BackupSettings;
  /** Also reachable through addListener(). */
  onEvent?: (event: BackupEvent) => void;
  /** Delay before the first automatic run after start, so start-up stays quick. Default 60 s. */
  startDelayMs?: number;
  /** Waits before retrying after consecutive failures (never later than the next regular run). */
  backoff?: Backoff;
  now?: () => number;
}

const MINUTE = 60_000;
const DEFAULT_BACKOFF: Backoff = { steps: [1, 2, 5, 10, 30, 60].map((m) => m * MINUTE) };

export class BackupScheduler {
  private readonly listeners = new Set<(event: BackupEvent) => void>();
  private readonly newId = ulidGenerator();
  private timer: NodeJS.Timeout | undefined;
  private nextAt: number | null = null;
  private started = false;
  private stopped = false;
  private failures = 0;
  private runsSinceStart = 0;
  private lastError: SchedulerStatus['lastError'] = null;
  private current: { runId: string; trigger: RunTrigger; startedAt: string; progress: BackupProgress | null; promise: Promise<BackupRunRecord>; abort: AbortController } | null = null;

  constructor(private readonly options: SchedulerOptions) {
    if (options.onEvent) this.listeners.add(options.onEvent);
  }

  addListener(listener: (event: BackupEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts the timer (the first run waits for startDelayMs or for the interval since the last good run). */
  start(): void {
    this.started = true;
    this.stopped = false;
    this.reschedule();
  }

  /** Stops the timer and cancels a run in progress (which leaves earlier snapshots intact). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    if (this.current) {
      this.current.abort.abort();
      await this.current.promise.catch(() => undefined);
    }
  }

  /** Plans the next automatic run from the settings and history; call after the settings change. */
  reschedule(): void {
    this.clearTimer();
    if (!this.started || this.stopped) return;
    const due = this.nextDue();
    this.nextAt = due;
    if (due === null) return;
    const delay = Math.max(0, due - this.now());
    // setTimeout's limit is ~24.8 days; a longer wait is re-planned on the way.
    this.timer = setTimeout(() => this.onTimer(), Math.min(delay, 2 ** 31 - 1));
    this.timer.unref?.();
  }

  status(): SchedulerStatus {
    return {
      running: this.current
        ? { runId: this.current.runId, trigger: this.current.trigger, startedAt: this.current.startedAt, progress: this.current.progress }
        : null,
      nextRunAt: this.nextAt === null ? null : new Date(this.nextAt).toISOString(),
      consecutiveFailures: this.failures,
      lastError: this.lastError,
    };
  }

  /**
   * Starts a run now and returns its id at once; `done` settles when it ends (it rejects with the BackupError the
   * history also records). Throws a 409 BackupError when one is already running.
   */
  runNow(trigger: RunTrigger = 'manual'): { runId: string; done: Promise<BackupRunRecord> } {
    if (this.current || this.options.engine.activity) {
      throw new BackupError('busy', `A backup ${this.options.engine.activity ?? 'run'} is in progress; try again when it has finished.`);
    }
    const runId = this.newId();
    this.runsSinceStart++;
    const abort = new AbortController();
    const startedAt = new Date(this.now()).toISOString();
    this.clearTimer();
    const promise = this.options.engine.run({
      runId,
      trigger,
      signal: abort.signal,
      onProgress: (progress) => {
        if (this.current?.runId === runId) this.current.progress = progress;
        this.emit({ kind: 'progress', runId, progress });
      },
    });
    this.current = { runId, trigger, startedAt, progress: null, promise, abort };
    this.emit({ kind: 'run-started', runId, trigger });
    const done = promise.then(
      (run) => {
        this.failures = 0;
        this.lastError = null;
        this.finish(runId, run);
        return run;
      },
      (error: unknown) => {
        const failure = error instanceof BackupError ? error : new BackupError('target_failed', String((error as Error)?.message ?? error));
        if (failure.code !== 'cancelled') this.failures++;
        this.lastError = { code: failure.code, message: failure.message, at: new Date(this.now()).toISOString() };
        const run = this.options.engine.state.run(runId);
        this.finish(runId, run ?? null);
        throw failure;
      },
    );
    // The caller may not wait; the failure is in the history and in lastError either way.
    done.catch(() => undefined);
    return { runId, done };
  }

  /**
   * The quit hook: waits for a run in progress, or (when runOnQuit is on and a target is set) takes one last backup,
   * within `timeoutMs`; a run still going then is cancelled, leaving earlier snapshots intact. Call it before the
   * hub's databases are closed.
   */
  async onQuit(timeoutMs = 60_000): Promise<BackupRunRecord | null> {
    this.stopped = true;
    this.clearTimer();
    const settings = this.options.settings();
    let run: Promise<BackupRunRecord> | undefined = this.current?.promise;
    if (!run && settings.runOnQuit && settings.target) {
      try {
        run = this.runNow('quit').done;
      } catch {
        return null;
      }
    }
    if (!run) return null;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    try {
      const outcome = await Promise.race([run.then((r) => r, () => null), expired]);
      if (outcome !== 'timeout') return outcome;
      this.current?.abort.abort();
      await run.catch(() => undefined);
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  private finish(runId: string, run: BackupRunRecord | null): void {
    if (this.current?.runId === runId) this.current = null;
    if (run) this.emit({ kind: 'run-finished', runId, run });
    this.reschedule();
  }

  private onTimer(): void {
    this.timer = undefined;
    if (this.stopped) return;
    const due = this.nextAt;
    if (due !== null && due > this.now() + 1000) {
      this.reschedule(); // woke early (a very long wait, or the clock moved)
      return;
    }
    try {
      this.runNow(this.failures > 0 ? 'retry' : 'schedule');
    } catch {
      // Busy with a verify or restore: look again in a minute.
      this.clearTimer();
      this.nextAt = this.now() + MINUTE;
      this.timer = setTimeout(() => this.onTimer(), MINUTE);
      this.timer.unref?.();
    }
  }

  private nextDue(): number | null {
    const settings = this.options.settings();
    if (!settings.target) return null;
    const now = this.now();
    const earliest = now + (this.options.startDelayMs ?? MINUTE);
    const interval = settings.intervalMinutes === null ? null : settings.intervalMinutes * MINUTE;
    if (this.failures > 0) {
      let delay = backoffDelay(this.options.backoff ?? DEFAULT_BACKOFF, this.failures - 1);
      if (interval !== null) delay = Math.min(delay, interval);
      const failedAt = this.lastError ? Date.parse(this.lastError.at) : now;
      return Math.max(failedAt + delay, now);
    }
    if (interval === null) return null;
    const last = this.options.engine.state.lastSuccess();
    const lastAt = last?.finishedAt ? Date.parse(last.finishedAt) : null;
    const due = lastAt === null ? now : lastAt + interval;
    if (due > now) return due;
    // Overdue: right away, except just after start, when start-up goes first.
    return this.runsSinceStart === 0 ? earliest : now;
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.nextAt = null;
  }

  private emit(event: BackupEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        console.error('[backup] an event listener failed:', error);
      }
    }
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }
}
