/**
 * One SQLite maintenance job for the advisor, in a worker thread with its own connection, so the hub's event loop
 * never waits on it: a WAL checkpoint (passive first, then TRUNCATE, which empties the WAL file) or a VACUUM.
 * Posts the outcome and ends.
 */
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import type { DbMaintenanceJob, DbMaintenanceReply } from './db-maintenance';

const { file, nativeBinding, job } = workerData as DbMaintenanceJob;
let reply: DbMaintenanceReply;
try {
  const db = new Database(file, nativeBinding ? { nativeBinding } : {});
  try {
    // A TRUNCATE checkpoint holds the write lock while it waits for readers: the hub's writers (on its event loop)
    // wait as long, so it gives up soon and says so rather than hold them up.
    db.pragma(`busy_timeout = ${job === 'checkpoint' ? 200 : 5000}`);
    if (job === 'checkpoint') {
      db.pragma('wal_checkpoint(PASSIVE)');
      const [result] = db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number; log: number; checkpointed: number }>;
      reply = result!.busy ? { ok: false, error: 'a reader or writer kept the checkpoint from finishing; try again' } : { ok: true };
    } else {
      db.exec('VACUUM');
      reply = { ok: true };
    }
  } finally {
    db.close();
  }
} catch (error) {
  reply = { ok: false, error: (error as Error).message };
}
parentPort!.postMessage(reply);
