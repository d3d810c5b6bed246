/** The backup HTTP API: cockpit token only; settings, preview, runs with progress events, snapshots, verify, restore. */
import path from 'node:path';
import { onTestFinished, describe, expect, it } from 'vitest';
import { AgentRegistry } from '../../src/main/agents/registry';
import { createApiServer } from '../../src/main/api/server';
import { BackupSettingsSchema, type BackupSettings } from '../../src/main/backup/config';
import { registerBackupRoutes } from '../../src/main/backup/http';
import { BackupService } from '../../src/main/backup/service';
import { BackupScheduler, type BackupEvent } from '../../src/main/backup/scheduler';
import type { CallHandlers } from '../../src/main/cockpit/dispatch';
import { EventBus } from '../../src/main/cockpit/event-bus';
import { migrate, openDatabase } from '../../src/main/db/database';
import { hubMigrations } from '../../src/main/db/migrations';
import { tempDir } from '../helpers';
import { digestTree, makeFixture, writeTree, type FixtureOptions } from './harness';

const COCKPIT = 'c'.repeat(43);

async function startApi(engine: FixtureOptions['engine'] = {}) {
  const project = tempDir();
  writeTree(project, { 'src/a.ts': 'a', 'node_modules/x/i.js': 'x', 'notes.log': 'l' });
  const fx = makeFixture({ settings: { sources: [{ name: 'proj', path: project }] }, engine });
  const db = openDatabase(path.join(fx.dataDir, 'hub.sqlite'));
  migrate(db, hubMigrations);
  const registry = new AgentRegistry(db);
  const events: BackupEvent[] = [];
  let saved: BackupSettings | null = null;
  const scheduler = new BackupScheduler({ engine: fx.engine, settings: () => fx.settings });
  // Run events as the app forwards them to the cockpit: straight from the scheduler.
  const offEvents = scheduler.addListener((e) => events.push(e));
  const api = await createApiServer({
    host: '127.0.0.1',
    port: 0,
    maxBodyBytes: 1024 * 1024,
    cockpitToken: COCKPIT,
    rendererDir: null,
    handlers: {} as CallHandlers,
    events: new EventBus(),
    register: [
      (context) =>
        registerBackupRoutes(context, {
          registry,
          cockpitToken: COCKPIT,
          backup: new BackupService({
            engine: fx.engine,
            scheduler,
            settings: {
              get: () => fx.settings,
              save: (next) => {
                saved = next;
                fx.settings = next;
              },
            },
            detectCloudFolders: () => [{ provider: 'google-drive', label: 'Google Drive', path: fx.target }],
          }),
        }),
    ],
  });
  onTestFinished(async () => {
    offEvents();
    await scheduler.stop();
    await api.close();
    registry.close();
    db.close();
  });
  const agent = registry.register({ name: 'agent', project: 'p', tier: 'development', capabilities: [] }, { kind: 'cockpit' });
  const call = async (method: string, url: string, body?: unknown, token: string | null = COCKPIT) => {
    const response = await fetch(`${api.url}/api/v1${url}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  };
  return { fx, project, call, events, agentToken: agent.token, saved: () => saved };
}

describe('backup HTTP API', () => {
  it('answers the cockpit only', async () => {
    const { call, agentToken } = await startApi();
    expect((await call('GET', '/backup', undefined, null)).status).toBe(401);
    expect(await call('GET', '/backup', undefined, agentToken)).toMatchObject({ status: 403, body: { code: 'forbidden' } });
    expect((await call('POST', '/backup/run', {}, agentToken)).status).toBe(403);
    expect((await call('GET', '/backup', undefined, 'wrong-token')).status).toBe(401);
  });

  it('runs the whole flow: settings, preview, run with progress, snapshots, verify, restore', async () => {
    const { fx, project, call, events, saved } = await startApi();
    const overview = await call('GET', '/backup');
    expect(overview.status).toBe(200);
    expect(overview.body).toMatchObject({
      settings: { target: fx.target, sources: [{ name: 'proj' }] },
      cloudFolders: [{ provider: 'google-drive', path: fx.target }],
      status: { running: null },
      runs: [],
      defaults: { exclude: expect.arrayContaining(['node_modules/', '*.log']), hubSource: 'hub', folderName: 'DevEnviro Backup' },
    });

    const bad = await call('PUT', '/backup/settings', { target: 'relative/path' });
    expect(bad).toMatchObject({ status: 400, body: { code: 'invalid_request', error: expect.stringContaining('absolute path') } });
    const dup = await call('PUT', '/backup/settings', { target: fx.target, sources: [{ name: 'x', path: project }, { name: 'X', path: project }] });
    expect(dup.status).toBe(400);
    const reserved = await call('PUT', '/backup/settings', { target: fx.target, sources: [{ name: 'hub', path: project }] });
    expect(reserved.body.error).toContain('"hub" is the hub\'s own data');

    const put = await call('PUT', '/backup/settings', {
      target: fx.target,
      sources: [{ name: 'proj', path: project }, { name: 'gone', path: path.join(project, 'missing') }],
      intervalMinutes: null,
    });
    expect(put.status).toBe(200);
    expect(put.body.warnings).toEqual([expect.stringContaining('"gone"')]);
    expect(saved()).toMatchObject({ keep: { last: 10, daily: 7, weekly: 4 }, maxFileBytes: 100 * 1024 * 1024, useGitignore: true });

    const preview = await call('POST', '/backup/preview', { source: 'proj' });
    expect(preview.status).toBe(200);
    expect(preview.body.previews).toEqual([
      expect.objectContaining({ source: 'proj', included: { files: 1, bytes: 1 }, skipped: expect.objectContaining({ files: 1, dirs: 1 }) }),
    ]);
    const unsaved = await call('POST', '/backup/preview', { source: 'proj', exclude: [] });
    expect(unsaved.body.previews[0].included.files).toBe(3);
    expect((await call('POST', '/backup/preview', { source: 'gone' })).body).toMatchObject({ code: 'source_missing' });
    const all = (await call('POST', '/backup/preview', {})).body.previews;
    expect(all.map((p: any) => [p.source, p.missing ?? false])).toEqual([['hub', false], ['proj', false], ['gone', true]]);

    const started = await call('POST', '/backup/run', {});
    expect(started.status).toBe(202);
    const runId = started.body.runId as string;
    await waitFor(() => events.some((e) => e.kind === 'run-finished' && e.runId === runId));
    const finished = events.find((e) => e.kind === 'run-finished')!;
    expect(finished).toMatchObject({ run: { status: 'ok', warnings: [expect.stringContaining('"gone"')] } });
    expect(events.filter((e) => e.kind === 'progress').map((e) => (e.kind === 'progress' ? e.progress.phase : null))).toEqual(
      expect.arrayContaining(['scanning', 'hashing', 'copying', 'manifest', 'pruning']),
    );
    expect((await call('GET', '/backup')).body.runs[0]).toMatchObject({ id: runId, status: 'ok' });

    const list = await call('GET', '/backup/snapshots');
    expect(list.body.snapshots).toHaveLength(1);
    const snapshot = list.body.snapshots[0];
    expect(snapshot).toMatchObject({ own: true, sources: [{ name: 'hub' }, { name: 'proj', files: 1 }, { name: 'gone', missing: true }] });
    expect(snapshot.files).toBeUndefined(); // headers only

    expect(await call('POST', `/backup/snapshots/${snapshot.id}/verify`, {})).toMatchObject({ status: 200, body: { ok: true } });
    expect((await call('POST', '/backup/snapshots/..%2F..%2Fetc/verify', {})).status).toBe(400);
    expect((await call('POST', '/backup/snapshots/20990101T000000000Z-00000000/verify', {})).status).toBe(404);
    // Repair of an intact snapshot moves nothing and says so.
    expect(await call('POST', `/backup/snapshots/${snapshot.id}/repair`, {})).toMatchObject({
      status: 200,
      body: { snapshotId: snapshot.id, quarantined: [], missing: [], quarantineFolder: null, next: expect.stringContaining('intact') },
    });
    expect((await call('POST', '/backup/snapshots/20990101T000000000Z-00000000/repair', {})).status).toBe(404);

    const dest = path.join(tempDir(), 'restored');
    const restore = await call('POST', `/backup/snapshots/${snapshot.id}/restore`, { source: 'proj', destination: dest });
    expect(restore).toMatchObject({ status: 200, body: { ok: true, files: 1 } });
    expect(digestTree(dest)).toEqual({ 'src/a.ts': expect.any(String) });
    const again = await call('POST', `/backup/snapshots/${snapshot.id}/restore`, { source: 'proj', destination: dest });
    expect(again).toMatchObject({ status: 409, body: { code: 'destination_not_empty' } });
    expect((await call('POST', `/backup/snapshots/${snapshot.id}/restore`, { source: 'proj', destination: 'rel' })).status).toBe(400);
  });

  it('answers 409 while a run is going', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { call, events } = await startApi({ hooks: { beforeTargetWrite: (kind) => (kind === 'object' ? gate : undefined) } });
    const first = await call('POST', '/backup/run', {});
    expect(first.status).toBe(202);
    await waitFor(() => events.some((e) => e.kind === 'progress' && e.progress.phase === 'copying'));
    expect(await call('POST', '/backup/run', {})).toMatchObject({ status: 409, body: { code: 'busy' } });
    expect((await call('GET', '/backup')).body.status.running).toMatchObject({ runId: first.body.runId, trigger: 'manual' });
    release();
    await waitFor(() => events.some((e) => e.kind === 'run-finished'));
  });

  it('answers 503 with a clear message when the drive is missing', async () => {
    const { fx, call, events } = await startApi();
    fx.settings = BackupSettingsSchema.parse({ ...fx.settings, target: path.join(fx.root, 'unplugged') });
    const started = await call('POST', '/backup/run', {});
    expect(started.status).toBe(202);
    await waitFor(() => events.some((e) => e.kind === 'run-finished'));
    const overview = (await call('GET', '/backup')).body;
    expect(overview.runs[0]).toMatchObject({ status: 'failed', errorCode: 'target_missing' });
    expect(overview.status).toMatchObject({ consecutiveFailures: 1, lastError: { code: 'target_missing' } });
    expect((await call('GET', '/backup/snapshots')).body).toMatchObject({ code: 'target_missing', error: expect.stringContaining('is not there') });
  });
});

async function waitFor(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
