/**
 * The hub's own data through a backup and an in-place restore, on a real hub while agents keep writing.
 */
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers';
import { startHub, until } from '../hub/harness';

describe('backing up and restoring the hub', () => {
  it('takes a consistent backup while agents write, and restores it in place after the data is broken', async () => {
    // Every fifth message is large enough to be kept in a body file beside the database.
    const hub = await startHub({ bodyFileBytes: 1024 });
    const text = (label: string, i: number) => (i % 5 === 0 ? `${label} ${i} ${'large '.repeat(400)}` : `${label} ${i}`);
    const target = tempDir();
    const cockpit = hub.app.cockpitToken;
    const a = await hub.register('writer', { project: 'shop' });
    const b = await hub.register('reader', { project: 'shop' });
    const send = (body: string) => hub.api(`/agents/${b.agent.id}/messages`, { token: a.token, body: { body } });

    const before: string[] = [];
    for (let i = 0; i < 100; i++) before.push((await send(text('before', i))).body.id);
    const memory = await hub.api('/memory/store', { token: a.token, body: { text: 'The release train leaves every second Tuesday', kind: 'fact' } });
    expect(memory.status).toBe(201);

    expect((await hub.api('/backup/settings', { method: 'PUT', token: cockpit, body: { target, intervalMinutes: null } })).status).toBe(200);

    // Agents keep writing while the backup runs.
    let writing = true;
    const during: string[] = [];
    const writer = (async () => {
      for (let i = 0; writing; i++) during.push((await send(text('during', i))).body.id);
    })();
    const started = await hub.api('/backup/run', { token: cockpit, body: {} });
    expect(started.status).toBe(202);
    await until(() => hub.app.hub().backup.scheduler.status().running === null && hub.app.hub().backup.engine.state.recentRuns(1)[0]?.status !== 'running', 60_000, 'the backup run');
    writing = false;
    await writer;
    const [run] = hub.app.hub().backup.engine.state.recentRuns(1);
    expect(run).toMatchObject({ status: 'ok', trigger: 'manual' });
    expect(during.length).toBeGreaterThan(0);

    const snapshots = await hub.api('/backup/snapshots', { token: cockpit });
    const snapshotId = snapshots.body.snapshots[0].id as string;
    expect((await hub.api(`/backup/snapshots/${snapshotId}/verify`, { token: cockpit, body: {} })).body).toMatchObject({ ok: true });

    // Break the data: more traffic, and the memory deleted.
    for (let i = 0; i < 10; i++) await send(`after ${i}`);
    expect((await hub.api(`/memory/${memory.body.stored[0].memory.id}`, { method: 'DELETE', token: a.token })).status).toBe(204);

    const urlBefore = hub.app.status().apiUrl;
    const { previousDataDir } = await hub.app.restoreInPlace(snapshotId);
    expect(previousDataDir).toContain('.before-restore-');
    expect(hub.app.status().apiUrl).toBe(urlBefore);
    expect(hub.app.cockpitToken).toBe(cockpit);

    // Everything acknowledged before the backup is there; nothing written after it is; what was written during it
    // is there up to some point, without gaps (a consistent snapshot, not a torn one).
    const inbox: string[] = [];
    let after: string | null = null;
    do {
      const page: { body: { messages: Array<{ id: string; body: string }>; next: string | null } } = await hub.api(
        `/agents/${b.agent.id}/messages?state=all&limit=1000${after ? `&after=${after}` : ''}`,
        { token: b.token },
      );
      inbox.push(...page.body.messages.map((m) => m.body));
      after = page.body.next;
    } while (after);
    expect(inbox.slice(0, 100)).toEqual(before.map((_, i) => text('before', i)));
    const duringRestored = inbox.slice(100);
    expect(duringRestored).toEqual(duringRestored.map((_, i) => text('during', i)));
    expect(inbox.some((body) => body.startsWith('after'))).toBe(false);

    const search = await hub.api('/memory/search?q=when%20does%20the%20release%20train%20leave', { token: a.token });
    expect(search.body.hits[0].memory.text).toBe('The release train leaves every second Tuesday');
    // The agents' tokens still work: identities came back with the data.
    expect((await hub.api('/agents/active', { token: a.token })).status).toBe(200);
  }, 120_000);
});
