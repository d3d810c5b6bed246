/** CPU profiles and heap snapshots of a real hub, taken over HTTP and from the cockpit, downloaded with its token. */
import { describe, expect, it } from 'vitest';
import type { ProfileInfo } from '../../src/shared/advice-protocol';
import { startHub, until } from '../hub/harness';

describe('profiles', () => {
  it('takes a CPU profile for N seconds and a heap snapshot, downloadable with the cockpit token only', async () => {
    const hub = await startHub();
    const agent = await hub.register('a');
    const cockpit = hub.app.cockpitToken;
    const events: ProfileInfo[][] = [];
    hub.app.events.on('profiles.changed', (list) => events.push(list));

    expect((await hub.api('/performance/profiles', { token: agent.token, body: { kind: 'cpu', seconds: 1 } })).status).toBe(403);
    const started = await hub.api('/performance/profiles', { token: cockpit, body: { kind: 'cpu', seconds: 1 } });
    expect(started.status).toBe(202);
    const cpu = started.body as ProfileInfo;
    expect(cpu).toMatchObject({ kind: 'cpu', state: 'running', seconds: 1 });
    expect(cpu.fileName).toMatch(/\.cpuprofile$/);
    // One at a time.
    expect((await hub.api('/performance/profiles', { token: cockpit, body: { kind: 'heap' } })).status).toBe(409);
    await until(() => hub.app.hub().profiler.list().find((p) => p.id === cpu.id)?.state === 'done', 10_000, 'the CPU profile');
    expect(events.some((list) => list[0]?.state === 'running' && list[0].progress > 0)).toBe(true);

    const download = await fetch(`${hub.url}/api/v1/performance/profiles/${cpu.id}`, { headers: { authorization: `Bearer ${cockpit}` } });
    expect(download.status).toBe(200);
    expect(download.headers.get('content-disposition')).toBe(`attachment; filename="${cpu.fileName}"`);
    const profile = (await download.json()) as { nodes: unknown[]; startTime: number; endTime: number };
    expect(profile.nodes.length).toBeGreaterThan(1);
    expect(profile.endTime - profile.startTime).toBeGreaterThanOrEqual(900_000);
    expect((await fetch(`${hub.url}/api/v1/performance/profiles/${cpu.id}`, { headers: { authorization: `Bearer ${agent.token}` } })).status).toBe(403);
    expect((await hub.api('/performance/profiles/cpu-20260101T000000Z-abcd', { token: cockpit })).status).toBe(404);

    const heap = await hub.app.handlers['profiles.start']({ kind: 'heap', seconds: 10 });
    expect(heap.fileName).toMatch(/\.heapsnapshot$/);
    await until(() => hub.app.hub().profiler.list().find((p) => p.id === heap.id)?.state === 'done', 60_000, 'the heap snapshot');
    const snapshot = await fetch(`${hub.url}/api/v1/performance/profiles/${heap.id}`, { headers: { authorization: `Bearer ${cockpit}` } });
    const text = await snapshot.text();
    expect(text.startsWith('{"snapshot":')).toBe(true);
    expect(text.length).toBe(hub.app.hub().profiler.list().find((p) => p.id === heap.id)!.bytes);
    // The desktop window's way to the same file (its page cannot reach the hub over HTTP).
    expect((await hub.app.handlers['profiles.read']({ id: heap.id })).text).toBe(text);
    expect((await hub.app.handlers['profiles.list']({})).map((p) => p.id)).toEqual([heap.id, cpu.id]);
  }, 90_000);
});
