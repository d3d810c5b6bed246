/** The WAL checkpoint worker (a worker thread started by checkpointer.ts): its own connection checkpoints periodically. */
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import type { CheckpointWorkerData, CheckpointWorkerMessage } from './checkpointer';

const port = parentPort!;
const { file, nativeBinding, intervalMs, restartFrames } = workerData as CheckpointWorkerData;
const db = new Database(file, nativeBinding ? { nativeBinding } : {});
db.pragma('busy_timeout = 1000');

interface CheckpointResult {
  busy: number;
  /** Frames in the WAL (-1 when the database is not in WAL mode). */
  log: number;
  checkpointed: number;
}

const checkpoint = (mode: 'PASSIVE' | 'RESTART') => (db.pragma(`wal_checkpoint(${mode})`) as CheckpointResult[])[0]!;

let last: CheckpointResult = { busy: 0, log: 0, checkpointed: 0 };
const timer = setInterval(() => {
  try {
    // A passive checkpoint never blocks the hub's writes, but under steady writes commits land while it copies, so
    // it never backfills the whole WAL and SQLite never starts the log over: the WAL (and the -shm index mapped into
    // the hub's memory) grew ~1.4 GB a minute at 500 msg/s. Once the WAL is large, a second passive pass leaves
    // only the last few commits, and a RESTART checkpoint copies those holding the write lock, so the next commit
    // writes from the start of the file again. Not TRUNCATE: shrinking the file under the lock stalled commits for
    // up to 100 ms on a busy disk; the file stays at about restartFrames pages, reused.
    let result = checkpoint('PASSIVE');
    if (result.log >= restartFrames) {
      checkpoint('PASSIVE');
      result = checkpoint('RESTART');
    }
    // How far behind checkpoints are (the advisor's checkpoint lag): told only when it changed.
    if (result.log !== last.log || result.checkpointed !== last.checkpointed) {
      last = result;
      port.postMessage({ log: result.log, checkpointed: result.checkpointed } satisfies CheckpointWorkerMessage);
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
