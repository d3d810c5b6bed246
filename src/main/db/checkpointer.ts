/**
 * Moves SQLite's WAL checkpoints off the main thread. By default the connection that commits also checkpoints,
 * every ~1,000 pages, fsyncing inside a commit: on the hub that stalled the event loop for 3-7 ms (once 67 ms)
 * every few hundred messages, which is what notification p99 measured. A worker thread with its own connection
 * checkpoints instead, a few times a second.
 */
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../programs';
import type { SqliteDatabase } from './database';
import { sqliteNativeBinding } from './native-binding';

const CHECKPOINT_INTERVAL_MS = 250;
/**
 * WAL frames (pages) beyond which the worker starts the log over: 16,384 frames of 4 KiB, 64 MiB; the WAL file stays
 * a little above that (70-78 MiB at 500 msg/s, reused). Each restart holds the write lock for the last few commits'
 * pages, every few seconds at 500 msg/s.
 */
const RESTART_FRAMES = 16_384;
/** SQLite's default, restored if the worker cannot run. */
const DEFAULT_AUTOCHECKPOINT_PAGES = 1000;

/** What the worker (checkpoint-program.ts) is started with. */
export interface CheckpointWorkerData {
  file: string;
  nativeBinding: string | undefined;
  intervalMs: number;
  /** A WAL of at least this many frames is started over after the passive checkpoint (see checkpoint-program.ts). */
  restartFrames: number;
}

/** What the worker posts: a checkpoint that failed, or the WAL's frames and how many of them are checkpointed. */
export type CheckpointWorkerMessage = { error: string } | { log: number; checkpointed: number };

/** How far behind checkpoints are: WAL frames not yet copied into the database, and since when some have been. */
export interface CheckpointLag {
  walFrames: number;
  behindFrames: number;
  /** Since when the last pass has left frames behind without a pass that caught up (ISO); null when caught up. */
  behindSince: string | null;
}

export interface Checkpointer {
  stop(): Promise<void>;
  /** The worker's latest pass; null before its first, or when checkpoints run on the main thread. */
  lag(): CheckpointLag | null;
}

export function startCheckpointer(
  db: SqliteDatabase,
  file: string,
  { intervalMs = CHECKPOINT_INTERVAL_MS, restartFrames = RESTART_FRAMES }: Partial<Pick<CheckpointWorkerData, 'intervalMs' | 'restartFrames'>> = {},
): Checkpointer {
  let worker: Worker;
  try {
    const workerData: CheckpointWorkerData = { file, nativeBinding: sqliteNativeBinding(), intervalMs, restartFrames };
    worker = startWorker('checkpoint-worker', { workerData });
  } catch (error) {
    console.warn(`[db] checkpoints stay on the main thread: ${(error as Error).message}`);
    return { stop: async () => undefined, lag: () => null };
  }
  db.pragma('wal_autocheckpoint = 0');
  let stopped = false;
  const fallBack = (reason: string) => {
    if (stopped || !db.open) return;
    console.warn(`[db] the checkpoint worker stopped (${reason}); checkpoints go back to the main thread`);
    db.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT_PAGES}`);
  };
  worker.on('error', (error) => fallBack(error.message));
  worker.on('exit', (code) => {
    if (code !== 0) fallBack(`exit code ${code}`);
  });
  let lag: CheckpointLag | null = null;
  worker.on('message', (message: CheckpointWorkerMessage) => {
    if ('error' in message) {
      console.warn(`[db] a checkpoint failed: ${message.error}`);
      return;
    }
    const behindFrames = Math.max(0, message.log - message.checkpointed);
    const behindSince = behindFrames === 0 ? null : (lag?.behindSince ?? new Date().toISOString());
    lag = { walFrames: message.log, behindFrames, behindSince };
  });
  worker.unref();

  return {
    lag: () => lag,
    async stop() {
      if (stopped) return;
      stopped = true;
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      worker.postMessage('stop');
      const timeout = setTimeout(() => void worker.terminate(), 2000);
      await exited;
      clearTimeout(timeout);
      if (db.open) db.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT_PAGES}`);
    },
  };
}
