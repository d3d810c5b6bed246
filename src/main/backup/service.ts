/**
 * Backup as the rest of the hub uses it: one facade over the engine, the scheduler and the saved settings, called
 * by the HTTP routes and the cockpit's calls alike, so both behave the same.
 */
import { existsSync } from 'node:fs';
import type { z } from 'zod';
import type { BackupPreviewRequest, BackupRestoreRequest } from '../../shared/backup-protocol';
import { DEFAULT_EXCLUDES, HUB_SOURCE, type BackupSettings } from './config';
import type { BackupEngine } from './engine';
import { isDirectory, isInside } from './paths';
import { REPO_DIR } from './repository';
import type { BackupScheduler } from './scheduler';
import { detectCloudFolders, type CloudFolder } from './targets';
import type { BackupOverview, LastRestore } from '../../shared/backup-protocol';
export type { BackupOverview, LastRestore };

export interface BackupServiceOptions {
  engine: BackupEngine;
  scheduler: BackupScheduler;
  /** The `backup` section of config.json: read, and replace (persisted by the caller). */
  settings: { get(): BackupSettings; save(next: BackupSettings): void | Promise<void> };
  /** Default: detectCloudFolders() on this machine. */
  detectCloudFolders?: () => CloudFolder[];
  /**
   * The outcome of the last in-place restore of the hub's data. Kept by the app across the restart: a cockpit page
   * reconnecting after the restart missed the event that announced it.
   */
  lastRestore?: () => LastRestore | null;
}

export class BackupService {
  constructor(private readonly options: BackupServiceOptions) {}

  get engine(): BackupEngine {
    return this.options.engine;
  }

  get scheduler(): BackupScheduler {
    return this.options.scheduler;
  }

  overview(): BackupOverview {
    const settings = this.options.settings.get();
    return {
      settings,
      /** What may not do what the person expects (a folder not there now…), as at saving. */
      warnings: settingsWarnings(settings),
      lastRestore: this.options.lastRestore?.() ?? null,
      defaults: { exclude: DEFAULT_EXCLUDES, hubSource: HUB_SOURCE, folderName: REPO_DIR },
      cloudFolders: (this.options.detectCloudFolders ?? detectCloudFolders)(),
      status: this.scheduler.status(),
      runs: this.engine.state.recentRuns(20),
    };
  }

  async saveSettings(settings: BackupSettings) {
    await this.options.settings.save(settings);
    this.scheduler.reschedule();
    return { settings, warnings: settingsWarnings(settings) };
  }

  async preview(input: z.output<typeof BackupPreviewRequest>) {
    const saved = this.options.settings.get();
    const previews = await this.engine.preview(
      {
        target: saved.target,
        sources: input.sources ?? saved.sources,
        exclude: input.exclude ?? saved.exclude,
        useGitignore: input.useGitignore ?? saved.useGitignore,
        maxFileBytes: input.maxFileBytes ?? saved.maxFileBytes,
      },
      { only: input.source, limit: input.limit },
    );
    return { previews };
  }

  runNow() {
    return this.scheduler.runNow('manual');
  }

  snapshots() {
    return this.engine.listSnapshots();
  }

  verify(id: string) {
    return this.engine.verify(id);
  }

  repair(id: string) {
    return this.engine.repair(id);
  }

  restore(id: string, input: z.output<typeof BackupRestoreRequest>) {
    return this.engine.restore(id, input);
  }
}

/** Things worth telling a person about settings that are valid but may not do what they expect. */
export function settingsWarnings(settings: BackupSettings): string[] {
  const warnings: string[] = [];
  if (settings.target && !isDirectory(settings.target)) {
    warnings.push(
      `The backup folder ${settings.target} is not there now; backups will fail until it is (is its drive connected and its sync app running?).`,
    );
  }
  for (const source of settings.sources) {
    if (!existsSync(source.path)) warnings.push(`The project folder "${source.name}" (${source.path}) is not there now; it will be skipped until it is.`);
    if (settings.target && isInside(settings.target, source.path)) {
      warnings.push(`The backup folder is inside the project "${source.name}"; the backup's own folder is left out of it automatically.`);
    }
  }
  return warnings;
}
