/** Runs one SQLite maintenance job (db-maintenance-program.ts) in a worker thread and waits for its outcome. */
import { startWorker } from '../programs';
import { sqliteNativeBinding } from '../db/native-binding';

export interface DbMaintenanceJob {
  file: string;
  nativeBinding: string | undefined;
  job: 'checkpoint' | 'vacuum';
}

export type DbMaintenanceReply = { ok: true } | { ok: false; error: string };

export function runDbMaintenance(file: string, job: DbMaintenanceJob['job']): Promise<void> {
  const workerData: DbMaintenanceJob = { file, nativeBinding: sqliteNativeBinding(), job };
  const worker = startWorker('db-maintenance', { workerData });
  return new Promise((resolve, reject) => {
    worker.once('message', (reply: DbMaintenanceReply) => (reply.ok ? resolve() : reject(new Error(reply.error))));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the maintenance worker stopped (exit code ${code})`)));
  });
}
