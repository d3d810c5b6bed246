/** Restoring the hub's own data from a snapshot while it runs: restore beside, check, stop, swap the folders, start. */
import { cpSync, existsSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { COCKPIT_TOKEN_FILE } from '../../shared/hub-location';
import { syncDirSync } from '../../shared/node/durable-file';
import type { BackupEngine } from '../backup';
import { STATE_DIR as BACKUP_STATE_DIR } from '../backup/state';
import { CONFIG_FILE } from '../config/config';

/** What stays as it is now rather than coming from the snapshot: not data, but the hub's identity and settings. */
const KEPT_FROM_THE_RUNNING_HUB = [COCKPIT_TOKEN_FILE, CONFIG_FILE, BACKUP_STATE_DIR];

export interface RestoreInPlaceSteps {
  dataDir: string;
  engine: BackupEngine;
  stop(): Promise<void>;
  start(): Promise<unknown>;
}

/**
 * Restores `snapshotId` over the data directory. The data it replaced is kept beside, and its path returned; if the
 * restored data will not start, the folders are swapped back and the hub starts on its previous data.
 */
export async function restoreInPlace(snapshotId: string, { dataDir, engine, stop, start }: RestoreInPlaceSteps): Promise<{ previousDataDir: string }> {
  // 1. Restore and check beside the data directory while everything still runs.
  const restored = await engine.restoreHubData(snapshotId, dataDir);
  // 2. What is not data comes from the running hub: the cockpit keeps its token (its open pages reconnect), the
  //    settings and the backup history stay as they are now.
  for (const keep of KEPT_FROM_THE_RUNNING_HUB) {
    const from = path.join(dataDir, keep);
    if (existsSync(from)) {
      rmSync(path.join(restored, keep), { recursive: true, force: true });
      cpSync(from, path.join(restored, keep), { recursive: true });
    }
  }
  // 3. Stop, swap the folders, start again; if the restored data will not start, swap back.
  await stop();
  const previousDataDir = `${dataDir}.before-restore-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  renameSync(dataDir, previousDataDir);
  renameSync(restored, dataDir);
  // Flushed before the hub starts on it: after a power cut the hub comes back on the data it was started on.
  syncDirSync(path.dirname(path.resolve(dataDir)));
  try {
    await start();
  } catch (error) {
    await stop().catch(() => undefined);
    renameSync(dataDir, `${previousDataDir}.failed-restore`);
    renameSync(previousDataDir, dataDir);
    syncDirSync(path.dirname(path.resolve(dataDir)));
    await start();
    throw new Error(`the restored data would not start (${(error as Error).message}); the hub is back on its previous data`, { cause: error });
  }
  return { previousDataDir };
}
