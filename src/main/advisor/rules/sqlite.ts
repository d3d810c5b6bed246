/**
 * The hub's SQLite databases (hub.sqlite, memory.sqlite): a WAL file grown past its threshold (checkpoint: safe,
 * done off the event loop) and free pages left by deletions (vacuum: rewrites the file, writes wait meanwhile).
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import type { FixFigure } from '../../../shared/advice-protocol';
import type { SqliteDatabase } from '../../db/database';
import { runDbMaintenance } from '../db-maintenance';
import { bytes, clock } from './format';
import type { Finding, RuleContext } from './rule';

/** VACUUM copies the whole database: a rough rate for the estimate. */
const VACUUM_BYTES_PER_MS = 50 * 1024;

interface Database {
  name: 'hub' | 'memory';
  db: SqliteDatabase;
  file: string;
}

export function databasesOf({ hub, dataDir }: RuleContext): Database[] {
  const list: Database[] = [{ name: 'hub', db: hub.db, file: path.join(dataDir, 'hub.sqlite') }];
  const memory = hub.memory.database();
  if (memory) list.push({ name: 'memory', db: memory, file: path.join(dataDir, 'memory.sqlite') });
  return list.filter((entry) => entry.db.open);
}

export function walBytes(file: string): number {
  try {
    return statSync(`${file}-wal`).size;
  } catch {
    return 0;
  }
}

/** The database file with its WAL: what it takes on disk. */
function fileBytes(file: string): number {
  try {
    return statSync(file).size + walBytes(file);
  } catch {
    return 0;
  }
}

function freePages(db: SqliteDatabase): { free: number; total: number; pageSize: number } {
  return {
    free: Number(db.pragma('freelist_count', { simple: true })),
    total: Number(db.pragma('page_count', { simple: true })),
    pageSize: Number(db.pragma('page_size', { simple: true })),
  };
}

export function sqliteRules(context: RuleContext): Finding[] {
  const { settings } = context;
  const now = new Date().toISOString();
  const findings: Finding[] = [];
  for (const { name, db, file } of databasesOf(context)) {
    const wal = walBytes(file);
    if (wal > settings.walBytes) {
      findings.push({
        advice: {
          id: `sqlite-wal.${name}`,
          rule: 'sqlite-wal',
          severity: wal > 4 * settings.walBytes ? 'critical' : 'warning',
          title: `the ${name} database's WAL is ${bytes(wal)}`,
          evidence: [
            { label: `${path.basename(file)}-wal`, value: wal, unit: 'bytes', since: now },
            { label: 'threshold (advisor.walBytes)', value: settings.walBytes, unit: 'bytes', since: null },
          ],
          suggestion: 'checkpoint: copy the WAL into the database and empty it (reads search the whole WAL until then)',
          fix: { kind: 'checkpoint', label: 'Checkpoint now', estimatedCost: 'a worker thread copies the WAL; writes wait only for its last step', estimatedMs: null, safe: true },
        },
        apply: async (): Promise<FixFigure[]> => {
          const before = walBytes(file);
          await runDbMaintenance(file, 'checkpoint');
          return [{ label: `${path.basename(file)}-wal`, before, after: walBytes(file), unit: 'bytes' }];
        },
      });
    }
    const lag = name === 'hub' ? context.hub.checkpointer.lag() : null;
    const pageSize = Number(db.pragma('page_size', { simple: true }));
    const behind = lag ? lag.behindFrames * pageSize : 0;
    if (lag && behind > settings.checkpointLagBytes) {
      findings.push({
        advice: {
          id: `sqlite-checkpoint-lag.${name}`,
          rule: 'sqlite-wal',
          severity: 'warning',
          title: `checkpoints of the ${name} database are ${bytes(behind)} behind${lag.behindSince ? ` since ${clock(lag.behindSince)}` : ''}`,
          evidence: [
            { label: 'WAL content not yet in the database', value: behind, unit: 'bytes', since: lag.behindSince },
            { label: 'WAL', value: lag.walFrames * pageSize, unit: 'bytes', since: null },
            { label: 'threshold (advisor.checkpointLagBytes)', value: settings.checkpointLagBytes, unit: 'bytes', since: null },
          ],
          suggestion:
            'a long read (a backup, a slow query, another program with the database open) keeps checkpoints from passing it; ' +
            'the WAL grows until it ends. Checkpoint once it has ended',
          fix: { kind: 'checkpoint', label: 'Checkpoint now', estimatedCost: 'a worker thread copies the WAL; fails while the long read lasts', estimatedMs: null, safe: true },
        },
        apply: async (): Promise<FixFigure[]> => {
          const before = walBytes(file);
          await runDbMaintenance(file, 'checkpoint');
          return [{ label: `${path.basename(file)}-wal`, before, after: walBytes(file), unit: 'bytes' }];
        },
      });
    }
    const pages = freePages(db);
    const freeBytes = pages.free * pages.pageSize;
    const share = pages.total > 0 ? pages.free / pages.total : 0;
    if (freeBytes > settings.freePageBytes && share >= settings.freePageShare) {
      const size = fileBytes(file);
      const estimatedMs = Math.max(100, size / VACUUM_BYTES_PER_MS);
      findings.push({
        advice: {
          id: `sqlite-free-pages.${name}`,
          rule: 'sqlite-free-pages',
          severity: 'info',
          title: `${bytes(freeBytes)} of the ${name} database (${Math.round(share * 100)}%) is free pages`,
          evidence: [
            { label: 'free pages', value: freeBytes, unit: 'bytes', since: now },
            { label: 'database file (with its WAL)', value: size, unit: 'bytes', since: now },
          ],
          suggestion: 'vacuum to give the space back (backups copy the free pages too); writes wait while it runs',
          fix: {
            kind: 'vacuum',
            label: 'Vacuum',
            estimatedCost: `about ${Math.ceil(estimatedMs / 1000)} s in a worker thread; agents' writes wait meanwhile`,
            estimatedMs,
            safe: false,
          },
        },
        apply: async (): Promise<FixFigure[]> => {
          const before = { file: fileBytes(file), free: freeBytes };
          await runDbMaintenance(file, 'vacuum');
          // The WAL holds the rewritten pages until the next checkpoint; the file shrinks then.
          await runDbMaintenance(file, 'checkpoint');
          const after = freePages(db);
          return [
            { label: 'free pages', before: before.free, after: after.free * after.pageSize, unit: 'bytes' },
            { label: `${path.basename(file)} with its WAL`, before: before.file, after: fileBytes(file), unit: 'bytes' },
          ];
        },
      });
    }
  }
  return findings;
}
