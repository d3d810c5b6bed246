/** The WAL checkpoint worker (a worker thread started by checkpointer.ts): its own connection checkpoints periodically. */
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import type { CheckpointWorkerData, CheckpointWorkerMessage } from './checkpointer';

const port = parentPort!;
const { file, nativeBinding, intervalMs, truncateFrames } = workerData as CheckpointWorkerData;
const db = new Database(file, nativeBinding ? { nativeBinding } : {});
db.pragma('busy_timeout = 1000');

interface CheckpointResult {
  busy: number;
  /** Frames in the WAL (-1 when the database is not in WAL mode). */
  log: number;
  checkpointed: number;
}

const checkpoint = (mode: 'PASSIVE' | 'TRUNCATE') => (db.pragma(`wal_checkpoint(${mode})`) as CheckpointResult[])[0]!;

const timer = setInterval(() => {
  try {
    // A passive checkpoint never blocks the hub's writes, but under steady writes commits land while it copies, so
    // it never backfills the whole WAL and SQLite never restarts the log: the WAL (and the -shm index mapped into
    // the hub's memory) grew ~1.4 GB a minute at 500 msg/s. Once the WAL is large, a second passive pass leaves
    // only the last few commits and a TRUNCATE checkpoint, which holds the write lock for that short copy, resets
    // the log to zero bytes.
    if (checkpoint('PASSIVE').log >= truncateFrames) {
      checkpoint('PASSIVE');
      checkpoint('TRUNCATE');
    }
  } catch (error) {
    port.postMessage({ error: String((error as Error | undefined)?.message) } satisfies CheckpointWorkerMessage);
  }
}, intervalMs);
port.on('message', (message: unknown) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  db.close();
  port.close();
});
