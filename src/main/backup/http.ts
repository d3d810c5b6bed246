/**
 * HTTP routes of backup (API v1). Only the cockpit (its token) may use them: backups read every project folder
 * and restores write anywhere the hub's user may, so no agent token is accepted.
 *
 *   GET  /api/v1/backup                          settings, detected cloud folders, scheduler status, recent runs
 *   PUT  /api/v1/backup/settings                 replace the settings (fields left out take their defaults)
 *   POST /api/v1/backup/preview                  what a run would take and leave out (optionally with unsaved settings)
 *   POST /api/v1/backup/run                      start a run; 202 { runId } (progress reaches the cockpit as events)
 *   GET  /api/v1/backup/snapshots                snapshots in the target, newest first
 *   POST /api/v1/backup/snapshots/:id/verify     re-hash every object the snapshot names (only reads)
 *   POST /api/v1/backup/snapshots/:id/repair     move its damaged objects aside; the next run stores them again
 *   POST /api/v1/backup/snapshots/:id/restore    { source, destination, paths?, overwrite? }
 */
import { API_PREFIX } from '../../shared/agent-protocol';
import { BackupPreviewRequest, BackupRestoreRequest, SnapshotId } from '../../shared/backup-protocol';
import type { AgentRegistry } from '../agents/registry';
import { requireCockpit as requireCockpitToken } from '../api/auth';
import type { ApiContext } from '../api/server';
import { parseInput } from '../validation';
import { BackupSettingsSchema } from './config';
import type { BackupService } from './service';

export interface BackupRouteDeps {
  registry: AgentRegistry;
  cockpitToken: string;
  backup: BackupService;
}

export function registerBackupRoutes({ http }: ApiContext, deps: BackupRouteDeps): void {
  const { backup } = deps;
  const requireCockpit = (request: Parameters<typeof requireCockpitToken>[0]) =>
    requireCockpitToken(request, deps.cockpitToken, 'manage backups', deps.registry);
  const snapshotParam = (params: unknown) => parseInput(SnapshotId, (params as { id?: string }).id, 'snapshot id');

  http.get(`${API_PREFIX}/backup`, async (request) => {
    requireCockpit(request);
    return backup.overview();
  });

  http.put(`${API_PREFIX}/backup/settings`, async (request) => {
    requireCockpit(request);
    return backup.saveSettings(parseInput(BackupSettingsSchema, request.body, 'backup settings'));
  });

  http.post(`${API_PREFIX}/backup/preview`, async (request) => {
    requireCockpit(request);
    return backup.preview(parseInput(BackupPreviewRequest, request.body ?? {}, 'preview request'));
  });

  http.post(`${API_PREFIX}/backup/run`, async (request, reply) => {
    requireCockpit(request);
    const { runId } = backup.runNow();
    return reply.code(202).send({ runId });
  });

  http.get(`${API_PREFIX}/backup/snapshots`, async (request) => {
    requireCockpit(request);
    return backup.snapshots();
  });

  http.post(`${API_PREFIX}/backup/snapshots/:id/verify`, async (request) => {
    requireCockpit(request);
    return backup.verify(snapshotParam(request.params));
  });

  http.post(`${API_PREFIX}/backup/snapshots/:id/repair`, async (request) => {
    requireCockpit(request);
    return backup.repair(snapshotParam(request.params));
  });

  http.post(`${API_PREFIX}/backup/snapshots/:id/restore`, async (request) => {
    requireCockpit(request);
    return backup.restore(snapshotParam(request.params), parseInput(BackupRestoreRequest, request.body, 'restore request'));
  });
}
