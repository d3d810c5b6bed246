/**
 * Retention of A2A tasks: finished ones older than a2a.keepFinishedTasksDays are deleted a minute after the hub
 * starts and then every hour, in batches with a turn of the event loop between them, so a backlog of a million
 * rows never holds up other requests.
 */
import type { A2aTaskStore } from './task-store';

/** Rows deleted per statement: a few milliseconds of SQLite. */
export const SWEEP_BATCH = 500;
const FIRST_SWEEP_MS = 60_000;
const SWEEP_EVERY_MS = 60 * 60_000;

export class TaskSweeper {
  private readonly timers: NodeJS.Timeout[] = [];
  private running: Promise<number> | undefined;
  private closed = false;

  constructor(
    private readonly store: A2aTaskStore,
    private readonly keepMs: number,
  ) {
    const run = () => void this.sweep().catch((error) => console.error('[a2a] the finished-task sweep failed:', error));
    this.timers.push(setTimeout(run, FIRST_SWEEP_MS).unref(), setInterval(run, SWEEP_EVERY_MS).unref());
  }

  /** Deletes the finished tasks that ended more than keepMs ago; resolves with how many. One sweep at a time. */
  sweep(): Promise<number> {
    this.running ??= this.deleteAll().finally(() => (this.running = undefined));
    return this.running;
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
  }

  private async deleteAll(): Promise<number> {
    const before = new Date(Date.now() - this.keepMs).toISOString();
    let deleted = 0;
    while (!this.closed) {
      const batch = this.store.deleteFinishedBefore(before, SWEEP_BATCH);
      deleted += batch;
      if (batch < SWEEP_BATCH) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    return deleted;
  }
}
