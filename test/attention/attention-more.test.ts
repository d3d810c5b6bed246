/**
 * More of "needs attention" on a real hub: a workflow whose step failed, retried from its item; a backup overdue
 * after its last good run; and the cockpit's own calls (`attention.list`, `attention.act`) and event
 * (`attention.changed`) over its real WebSocket.
 */
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { AttentionItem, AttentionList } from '../../src/shared/attention-protocol';
import { COCKPIT_SOCKET_PATH, type CockpitServerFrame } from '../../src/shared/socket-protocol';
import { tempDir } from '../helpers';
import { startHub, until, type TestHub } from '../hub/harness';

async function attention(hub: TestHub): Promise<AttentionList> {
  // The hub answers from a list computed up to two seconds earlier.
  await new Promise((resolve) => setTimeout(resolve, 2100));
  const { status, body } = await hub.api('/attention', { token: hub.app.cockpitToken });
  expect(status).toBe(200);
  return body as AttentionList;
}
const byKind = (list: AttentionList, kind: AttentionItem['kind']) => list.items.filter((item) => item.kind === kind);

describe('needs attention, more', () => {
  it('lists a failed workflow with the step that failed, and retries it from the item', { timeout: 40_000 }, async () => {
    const hub = await startHub();
    const cockpit = hub.app.cockpitToken;
    const dev = await hub.register('dev', { project: 'shop', capabilities: ['code'] });
    const started = await hub.api('/workflows', {
      token: cockpit,
      body: { name: 'build', project: 'shop', steps: { compile: { kind: 'task', title: 'compile', capabilities: ['code'] } } },
    });
    expect(started.status).toBe(201);
    const runId = started.body.id as string;
    const claimed = await hub.api(`/agents/${dev.agent.id}/tasks/next`, { token: dev.token, body: {} });
    expect(claimed.body.task).not.toBeNull();
    const failed = await hub.api(`/tasks/${claimed.body.task.id}/fail`, { token: dev.token, body: { message: 'the compiler crashed', retry: false } });
    expect(failed.status).toBe(200);
    await until(() => hub.app.hub().workflows.store.run(runId)?.state === 'failed', 10_000, 'the run to fail');

    const [item] = byKind(await attention(hub), 'workflow-failed');
    expect(item).toMatchObject({
      id: `workflow-failed:${runId}`,
      project: 'shop',
      link: { view: 'workflows', selection: runId },
      action: { kind: 'retry-step', label: 'Retry compile', target: { workflowId: runId, stepId: 'compile' } },
    });
    expect(item!.title).toMatch(/^build failed at compile \d+ s ago$/);
    expect(item!.detail).toContain('the compiler crashed');

    const acted = await hub.api(`/attention/${encodeURIComponent(item!.id)}/act`, { token: cockpit, body: {} });
    expect(acted.status).toBe(200);
    expect(acted.body.message).toBe('Step compile runs again');
    expect(hub.app.hub().workflows.store.run(runId)?.state).toBe('running');
    expect(byKind(acted.body.list, 'workflow-failed')).toEqual([]);
  });

  it('lists a backup overdue when the last good one is older than twice the interval', { timeout: 60_000 }, async () => {
    const hub = await startHub();
    const cockpit = hub.app.cockpitToken;
    const target = tempDir();
    expect((await hub.api('/backup/settings', { method: 'PUT', token: cockpit, body: { target, intervalMinutes: 60 } })).status).toBe(200);
    const backup = hub.app.hub().backup;
    expect((await hub.api('/backup/run', { token: cockpit, body: {} })).status).toBe(202);
    await until(() => backup.scheduler.status().running === null && backup.engine.state.recentRuns(1)[0]?.status === 'ok', 30_000, 'the good run');
    expect(byKind(await attention(hub), 'backup-overdue')).toEqual([]);

    // Three hours pass without a good run (the machine slept, say): the run history says when the last was.
    const threeHoursAgo = new Date(Date.now() - 3 * 3_600_000).toISOString();
    (backup.engine.state as unknown as { db: { prepare(sql: string): { run(...args: unknown[]): void } } }).db
      .prepare('UPDATE runs SET started_at = ?, finished_at = ?')
      .run(threeHoursAgo, threeHoursAgo);
    const [item] = byKind(await attention(hub), 'backup-overdue');
    expect(item).toMatchObject({
      id: 'backup-overdue',
      severity: 'warning',
      project: null,
      title: 'Backup overdue: the last good one is 3 h old; due every 1 h',
      action: { kind: 'run-backup' },
    });
  });

  it('answers the cockpit over its socket, and pushes the list when it changes', { timeout: 30_000 }, async () => {
    const hub = await startHub();
    const ws = new WebSocket(`${hub.url.replace('http', 'ws')}${COCKPIT_SOCKET_PATH}?token=${hub.app.cockpitToken}`);
    const frames: CockpitServerFrame[] = [];
    ws.on('message', (data) => frames.push(JSON.parse(data.toString()) as CockpitServerFrame));
    await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
    let nextId = 1;
    const call = async (name: string, params?: unknown) => {
      const id = nextId++;
      ws.send(JSON.stringify({ type: 'call', id, name, params }));
      await until(() => frames.some((f) => f.type !== 'event' && f.id === id), 10_000, name);
      return frames.find((f) => f.type !== 'event' && f.id === id)!;
    };

    expect(await call('attention.list')).toMatchObject({ type: 'result', result: { items: [], counts: { critical: 0, warning: 0, info: 0 } } });
    hub.app.services.set('vector-index', 'down', 'FAISS does not answer: index file unreadable');
    await until(
      () => frames.some((f) => f.type === 'event' && f.name === 'attention.changed' && (f.payload as AttentionList).items.some((i) => i.id === 'service:vector-index')),
      10_000,
      'attention.changed',
    );
    expect(await call('attention.list', { project: 'nowhere' })).toMatchObject({ type: 'result', result: { items: [] } });
    expect(await call('attention.act', { id: 'service:vector-index' })).toMatchObject({ type: 'error', error: { message: 'attention.act: service:vector-index has no action to take' } });
    expect(await call('attention.act', { nope: 1 })).toMatchObject({ type: 'error', error: { code: 'invalid_params' } });
    ws.close();
  });
});
