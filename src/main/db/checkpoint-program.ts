/** The WAL checkpoint worker (a worker thread started by checkpointer.ts): its own connection checkpoints periodically. */
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import type { CheckpointWorkerData, CheckpointWorkerMessage } from './checkpointer';

const port = parentPort!;
const { file, nativeBinding, intervalMs } = workerData as CheckpointWorkerData;
const db = new Database(file, nativeBinding ? { nativeBinding } : {});
db.pragma('busy_timeout = 1000');
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
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
