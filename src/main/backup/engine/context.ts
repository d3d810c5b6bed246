/**
 * What every phase of the backup engine shares: its options, the engine context (settings, state, the repository
 * per target, the one-operation-at-a-time lock) and the small helpers the phases use.
 */
import os from 'node:os';
import path from 'node:path';
import { ulidGenerator } from '../../ids';
import type { SqliteDatabase } from '../../db/database';
import type { BackupProgress } from '../../../shared/backup-protocol';
import type { BackupSettings } from '../config';
import { BackupError, cancelled } from '../errors';
import type { ScannedFile } from '../exclusions';
import { Repository, type RepositoryHooks } from '../repository';
import type { RetentionOptions } from '../retention';
import { BackupState, type RunTrigger } from '../state';

export interface BackupEngineOptions {
  dataDir: string;
  /** The current settings (read at the start of every operation). */
  settings: () => BackupSettings;
  /** The hub's open SQLite connections; a database file in the data dir is copied through its live connection. */
  databases?: () => Iterable<SqliteDatabase | null | undefined>;
  /** Fault injection for tests (see RepositoryHooks). */
  hooks?: RepositoryHooks;
  now?: () => Date;
  /** Unreferenced objects and temporary files younger than this are kept (another run may be about to use them). 1 h. */
  gcGraceMs?: number;
  /** Large files hashed at once (2; small ones are hashed in time slices) and files copied at once (16; copies wait mostly on fsync). */
  hashConcurrency?: number;
  copyConcurrency?: number;
  /** Names this hub in manifests (retention only prunes its own snapshots). Default: os.hostname(). */
  host?: string;
  platform?: NodeJS.Platform;
  retention?: RetentionOptions;
}

export interface RunOptions {
  trigger?: RunTrigger;
  signal?: AbortSignal;
  onProgress?: (progress: BackupProgress) => void;
  /** Set by the scheduler so it can name the run before it starts. */
  runId?: string;
}

export interface RestoreOptions {
  source: string;
  destination: string;
  /** Only these files, or everything under these folders (manifest paths, '/'-separated). */
  paths?: string[];
  /** Allow writing into a folder that is not empty (files with the same path are replaced). Default false. */
  overwrite?: boolean;
  onProgress?: (progress: BackupProgress) => void;
}

export interface PruneReport {
  kept: string[];
  removed: string[];
  objectsRemoved: number;
  bytesRemoved: number;
  warnings: string[];
}

/** One file of a run, from the scan to the manifest. */
export interface Entry {
  source: string;
  file: ScannedFile;
  sha256?: string;
  /** A file larger than the smallest chunk: its chunks' objects and sizes, in order (from the cache or the store). */
  chunks?: Array<[string, number]>;
  /** Whether the (path, size, mtime) → sha256 cache may learn this entry (not for staged database copies). */
  cacheable: boolean;
}

/** The engine's shared state, handed to each phase. */
export interface EngineContext {
  readonly options: BackupEngineOptions;
  readonly state: BackupState;
  readonly dataDir: string;
  /** Names this hub in manifests. */
  readonly host: string;
  readonly platform: NodeJS.Platform;
  now(): Date;
  newId(): string;
  /** The repository in the settings' target (one per target and timeout); a BackupError when none is chosen. */
  repository(settings: BackupSettings): Repository;
  /** What is running now ('run', 'verification', 'restore', 'prune'), or null. */
  readonly busy: string | null;
  /** Runs fn as the one operation in progress; a BackupError ('busy') when another is. */
  exclusive<T>(what: string, fn: () => Promise<T>): Promise<T>;
}

export function createEngineContext(options: BackupEngineOptions): EngineContext {
  const dataDir = path.resolve(options.dataDir);
  const repositories = new Map<string, Repository>();
  const newId = ulidGenerator();
  let busy: string | null = null;
  return {
    options,
    state: BackupState.open(dataDir),
    dataDir,
    host: options.host ?? os.hostname(),
    platform: options.platform ?? process.platform,
    now: () => options.now?.() ?? new Date(),
    newId: () => newId(),
    repository(settings) {
      if (!settings.target) {
        throw new BackupError('no_target', 'No backup folder is chosen yet. Choose one (your Google Drive folder, say) in the backup settings.');
      }
      const timeoutMs = settings.timeoutSeconds * 1000;
      const key = `${settings.target}\0${timeoutMs}`;
      let repo = repositories.get(key);
      if (!repo) repositories.set(key, (repo = new Repository(settings.target, timeoutMs, options.hooks)));
      return repo;
    },
    get busy() {
      return busy;
    },
    async exclusive(what, fn) {
      if (busy) {
        throw new BackupError('busy', `A backup ${busy} is in progress; try again when it has finished.`);
      }
      busy = what;
      try {
        return await fn();
      } finally {
        busy = null;
      }
    },
  };
}

export function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw cancelled();
}

export function sum(values: number[]): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}

/** Runs fn over items, at most `limit` at a time; stops starting new ones at the first failure and rethrows it. */
export async function forEachLimit<T>(items: readonly T[], limit: number, signal: AbortSignal | undefined, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < items.length) {
      if (signal?.aborted) {
        failure ??= { error: cancelled() };
        return;
      }
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
}
