/** File reservations over HTTP, the realtime socket and the cockpit, against a real hub on loopback and its SQLite. */
import { describe, expect, it } from 'vitest';
import { API_PREFIX } from '../../src/shared/agent-protocol';
import type { ReservationChange } from '../../src/shared/reservation-protocol';
import {
  MAX_HELD_PATHS_PER_AGENT,
  MAX_HELD_PATHS_PER_PROJECT,
  MAX_RESERVATION_PATHS,
  RESERVATIONS_CHECK_PATH,
  RESERVATIONS_PATH,
  RESERVATIONS_RELEASE_PATH,
  reservationPath,
  reservationRenewPath,
} from '../../src/shared/reservation-protocol';
import { dispatchCall } from '../../src/main/cockpit/dispatch';
import { openSocket, startHub, until, type TestHub } from '../hub/harness';

/** The harness's api() takes paths under /api/v1. */
const under = (path: string) => path.slice(API_PREFIX.length);

async function reserve(hub: TestHub, token: string, body: Record<string, unknown>) {
  return hub.api(under(RESERVATIONS_PATH), { token, body });
}

async function list(hub: TestHub, token: string, query = '') {
  const answer = await hub.api(`${under(RESERVATIONS_PATH)}${query}`, { token });
  expect(answer.status).toBe(200);
  return answer.body.reservations as Array<{ id: string; holderId: string; holderName: string; paths: string[]; mode: string; expiresAt: string; renewedAt: string | null }>;
}

describe('file reservations over HTTP', () => {
  it('a conflicting reservation is refused with 409 naming the holder, the paths and the lease end; nothing is stored', async () => {
    const hub = await startHub();
    const builder = await hub.register('builder');
    const reviewer = await hub.register('reviewer');

    const first = await reserve(hub, reviewer.token, { paths: ['src/auth/**', 'docs/auth.md'], reason: 'reviewing the login flow', ttlSeconds: 600 });
    expect(first.status).toBe(201);
    expect(first.body.created).toBe(true);
    const lease = first.body.reservations[0];
    expect(lease).toMatchObject({ project: 'test', holderId: reviewer.agent.id, holderName: 'reviewer', paths: ['src/auth/**', 'docs/auth.md'], mode: 'exclusive', reason: 'reviewing the login flow', ttlSeconds: 600, renewedAt: null });
    const expiresIn = Date.parse(lease.expiresAt) - Date.now();
    expect(expiresIn).toBeGreaterThan(590_000);
    expect(expiresIn).toBeLessThanOrEqual(600_000);

    const refused = await reserve(hub, builder.token, { paths: ['src/auth/login.ts', 'src/cart.ts'], mode: 'shared' });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({
      code: 'reservation_conflict',
      conflicts: [{ reservationId: lease.id, holderId: reviewer.agent.id, holderName: 'reviewer', mode: 'exclusive', heldPaths: ['src/auth/**'], requestedPaths: ['src/auth/login.ts'], reason: 'reviewing the login flow', expiresAt: lease.expiresAt }],
    });
    expect(refused.body.error).toContain('held exclusively by reviewer until ' + lease.expiresAt);
    // All or nothing: src/cart.ts, free on its own, was not reserved either.
    expect((await list(hub, builder.token)).map((r) => r.holderName)).toEqual(['reviewer']);
    expect(hub.app.hub().db.prepare('SELECT COUNT(*) AS n FROM reservations').get()).toEqual({ n: 1 });

    const free = await reserve(hub, builder.token, { paths: ['src/cart.ts'] });
    expect(free.status).toBe(201);
  });

  it('shared leases live side by side; an exclusive one conflicts with shared ones both ways', async () => {
    const hub = await startHub();
    const a = await hub.register('a');
    const b = await hub.register('b');
    const c = await hub.register('c');
    expect((await reserve(hub, a.token, { paths: ['package.json'], mode: 'shared' })).status).toBe(201);
    expect((await reserve(hub, b.token, { paths: ['package.json'], mode: 'shared' })).status).toBe(201);
    const exclusive = await reserve(hub, c.token, { paths: ['*.json'], mode: 'exclusive' });
    expect(exclusive.status).toBe(409);
    expect(exclusive.body.conflicts.map((conflict: { holderName: string }) => conflict.holderName).sort()).toEqual(['a', 'b']);

    expect((await reserve(hub, c.token, { paths: ['src/index.ts'], mode: 'exclusive' })).status).toBe(201);
    const shared = await reserve(hub, a.token, { paths: ['src'], mode: 'shared' });
    expect(shared.status).toBe(409);
    expect(shared.body.conflicts).toMatchObject([{ holderName: 'c', heldPaths: ['src/index.ts'], requestedPaths: ['src'] }]);
  });

  it('decides glob overlaps: folders, globstars, extensions, other folders', async () => {
    const hub = await startHub();
    const holder = await hub.register('holder');
    const other = await hub.register('other');
    expect((await reserve(hub, holder.token, { paths: ['src/**/*.ts', 'docs/api.md'] })).status).toBe(201);
    const expectations: Array<[string, number]> = [
      ['src/a/b/c.ts', 409],
      ['src/x.ts', 409],
      ['src/auth', 409], // a folder: a .ts file in it would match
      ['src/**', 409],
      ['src/*.md', 201],
      ['src/styles/site.css', 201],
      ['lib/**/*.ts', 201],
      ['docs/*.md', 409],
      ['docs/guide.md', 201],
      ['docs', 409],
    ];
    for (const [path, status] of expectations) {
      const answer = await reserve(hub, other.token, { paths: [path], ttlSeconds: 60 });
      expect(answer.status, path).toBe(status);
      if (status === 201) await hub.api(under(reservationPath(answer.body.reservations[0].id)), { method: 'DELETE', token: other.token });
    }
  });

  it('leases in other projects never conflict, and an agent sees its own project only', async () => {
    const hub = await startHub();
    const a = await hub.register('a');
    const elsewhere = await hub.register('a', { project: 'elsewhere' });
    expect((await reserve(hub, a.token, { paths: ['src/**'] })).status).toBe(201);
    expect((await reserve(hub, elsewhere.token, { paths: ['src/**'] })).status).toBe(201);
    expect((await list(hub, a.token)).map((r) => r.holderId)).toEqual([a.agent.id]);
    expect((await hub.api(`${under(RESERVATIONS_PATH)}?project=elsewhere`, { token: a.token })).status).toBe(403);
    expect((await list(hub, hub.app.cockpitToken)).length).toBe(2);
    expect((await list(hub, hub.app.cockpitToken, '?project=elsewhere')).map((r) => r.holderId)).toEqual([elsewhere.agent.id]);
  });

  it('renews: a lease lasts its TTL from the renewal; re-reserving one\'s own paths renews instead of conflicting', async () => {
    const hub = await startHub();
    const a = await hub.register('a');
    const b = await hub.register('b');
    const made = await reserve(hub, a.token, { paths: ['src/a.ts', 'src/b.ts'], ttlSeconds: 60 });
    const lease = made.body.reservations[0];

    const renewed = await hub.api(under(reservationRenewPath(lease.id)), { token: a.token, body: { ttlSeconds: 3600 } });
    expect(renewed.status).toBe(200);
    expect(renewed.body).toMatchObject({ id: lease.id, ttlSeconds: 3600 });
    expect(Date.parse(renewed.body.expiresAt) - Date.now()).toBeGreaterThan(3590_000);
    expect(renewed.body.renewedAt).not.toBeNull();
    expect((await hub.api(under(reservationRenewPath(lease.id)), { token: b.token, body: {} })).status).toBe(403);

    // The same paths again: renewed (200), same lease. A superset: the lease renewed, the extra path a new lease.
    const again = await reserve(hub, a.token, { paths: ['src/b.ts', 'src/a.ts'], ttlSeconds: 120, reason: 'still on it' });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ created: false, reservations: [{ id: lease.id, ttlSeconds: 120, reason: 'still on it' }] });
    const more = await reserve(hub, a.token, { paths: ['src/a.ts', 'src/b.ts', 'src/c.ts'] });
    expect(more.status).toBe(201);
    expect(more.body.reservations.map((r: { id: string; paths: string[] }) => [r.id === lease.id, r.paths])).toEqual([
      [true, ['src/a.ts', 'src/b.ts']],
      [false, ['src/c.ts']],
    ]);
    // Overlapping one's own lease in another mode is no conflict either.
    expect((await reserve(hub, a.token, { paths: ['src/**'], mode: 'shared' })).status).toBe(201);
    expect(await list(hub, a.token)).toHaveLength(3);
  });

  it('releases by id and by paths (own leases only); the cockpit releases anyone\'s', async () => {
    const hub = await startHub();
    const a = await hub.register('a');
    const b = await hub.register('b');
    const first = (await reserve(hub, a.token, { paths: ['src/a.ts', 'src/b.ts'] })).body.reservations[0];
    const second = (await reserve(hub, a.token, { paths: ['lib/**'] })).body.reservations[0];

    const denied = await hub.api(under(reservationPath(first.id)), { method: 'DELETE', token: b.token });
    expect(denied.status).toBe(403);
    expect(denied.body.error).toContain('held by a');
    expect((await hub.api(under(RESERVATIONS_RELEASE_PATH), { token: b.token, body: { ids: [first.id, second.id] } })).status).toBe(403);
    // b releasing "its" paths touches nothing of a's.
    expect((await hub.api(under(RESERVATIONS_RELEASE_PATH), { token: b.token, body: { paths: ['src/a.ts'] } })).body).toEqual({ released: [], narrowed: [] });
    expect(await list(hub, a.token)).toHaveLength(2);

    const narrowed = await hub.api(under(RESERVATIONS_RELEASE_PATH), { token: a.token, body: { paths: ['src/a.ts'] } });
    expect(narrowed.body).toMatchObject({ released: [], narrowed: [{ id: first.id, paths: ['src/b.ts'] }] });
    expect((await reserve(hub, b.token, { paths: ['src/a.ts'] })).status).toBe(201);
    expect((await reserve(hub, b.token, { paths: ['src/b.ts'] })).status).toBe(409);
    const emptied = await hub.api(under(RESERVATIONS_RELEASE_PATH), { token: a.token, body: { paths: ['src/b.ts'] } });
    expect(emptied.body).toMatchObject({ released: [{ id: first.id }], narrowed: [] });

    const byCockpit = await hub.api(under(reservationPath(second.id)), { method: 'DELETE', token: hub.app.cockpitToken });
    expect(byCockpit.status).toBe(200);
    expect(byCockpit.body.released).toMatchObject([{ id: second.id, holderName: 'a' }]);
    // The holder hears of it from the overseer, so it stops editing those files.
    await until(() => hub.app.hub().registry.get(a.agent.id).inboxDepth === 1, 3000, 'the notice in the holder\'s inbox');
    const inbox = await hub.api(`/agents/${a.agent.id}/messages`, { token: a.token });
    expect(inbox.body.messages).toMatchObject([{ subject: 'reservation released', importance: 'high', body: expect.stringContaining(`released your reservation ${second.id} on lib/**`) }]);
    expect(await list(hub, a.token, `?holder=${a.agent.id}`)).toEqual([]);
    const gone = await hub.api(under(reservationPath(second.id)), { method: 'DELETE', token: a.token });
    expect(gone.status).toBe(404);
    expect(gone.body.error).toContain('released or expired');
  });

  it('refuses bad input with 400 and a clear reason, storing nothing', async () => {
    const hub = await startHub();
    const a = await hub.register('a');
    const bad: Array<[unknown, string]> = [
      [{ paths: [] }, 'name at least one path'],
      [{ paths: ['/etc/passwd'] }, 'relative to the repository root'],
      [{ paths: ['C:/repo/a.ts'] }, 'relative to the repository root'],
      [{ paths: ['src/../secrets'] }, "'..' may not appear"],
      [{ paths: ['src\\a.ts'] }, 'forward slashes'],
      [{ paths: ['./src/a.ts'] }, "'.' segments"],
      [{ paths: ['src/'] }, 'without a trailing slash'],
      [{ paths: [''] }, 'may not be empty'],
      [{ paths: ['!src/a.ts'] }, 'negated patterns'],
      [{ paths: ['x'.repeat(600)] }, 'at most 512 characters'],
      [{ paths: Array.from({ length: MAX_RESERVATION_PATHS + 1 }, (_, i) => `f${i}.ts`) }, `at most ${MAX_RESERVATION_PATHS} paths`],
      [{ paths: ['a.ts'], ttlSeconds: 0 }, 'ttlSeconds'],
      [{ paths: ['a.ts'], ttlSeconds: 10 ** 9 }, 'ttlSeconds'],
      [{ paths: ['a.ts'], ttlSeconds: 1.5 }, 'ttlSeconds'],
      [{ paths: ['a.ts'], ttlSeconds: '60' }, 'ttlSeconds'],
      [{ paths: ['a.ts'], mode: 'mine' }, 'mode'],
      [{ paths: ['a.ts'], owner: 'someone' }, 'owner'],
      [{ paths: 'a.ts' }, 'paths'],
    ];
    for (const [body, reason] of bad) {
      const answer = await reserve(hub, a.token, body as Record<string, unknown>);
      expect(answer.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(answer.body.code).toBe('invalid_request');
      expect(answer.body.error).toContain(reason);
    }
    expect((await hub.api(under(RESERVATIONS_RELEASE_PATH), { token: a.token, body: {} })).body.error).toContain('name ids or paths');
    expect((await hub.api(under(reservationRenewPath('not-an-id')), { token: a.token, body: {} })).status).toBe(400);
    expect((await reserve(hub, hub.app.cockpitToken, { paths: ['a.ts'] })).status).toBe(403);
    expect((await hub.api(under(RESERVATIONS_PATH), { body: { paths: ['a.ts'] } })).status).toBe(401);
    expect(hub.app.hub().db.prepare('SELECT COUNT(*) AS n FROM reservations').get()).toEqual({ n: 0 });
  });

  it('bounds what an agent and a project may hold, refusing the request whole past either bound', async () => {
    const hub = await startHub();
    const files = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}/f${i}.ts`);
    const greedy = await hub.register('greedy');
    for (let i = 0; i < MAX_HELD_PATHS_PER_AGENT / MAX_RESERVATION_PATHS; i++) expect((await reserve(hub, greedy.token, { paths: files(`g${i}`, MAX_RESERVATION_PATHS) })).status).toBe(201);
    const overAgent = await reserve(hub, greedy.token, { paths: ['one-more.ts'] });
    expect(overAgent.status).toBe(400);
    expect(overAgent.body.error).toContain(`at most ${MAX_HELD_PATHS_PER_AGENT} paths`);

    // More agents fill the project up to its bound.
    let held = MAX_HELD_PATHS_PER_AGENT;
    for (let agent = 0; held < MAX_HELD_PATHS_PER_PROJECT; agent++) {
      const filler = await hub.register(`filler-${agent}`);
      for (let i = 0; i < MAX_HELD_PATHS_PER_AGENT / MAX_RESERVATION_PATHS && held < MAX_HELD_PATHS_PER_PROJECT; i++, held += MAX_RESERVATION_PATHS) {
        expect((await reserve(hub, filler.token, { paths: files(`a${agent}-${i}`, MAX_RESERVATION_PATHS) })).status).toBe(201);
      }
    }
    const late = await hub.register('late');
    const overProject = await reserve(hub, late.token, { paths: ['late.ts'] });
    expect(overProject.status).toBe(400);
    expect(overProject.body.error).toContain(`at most ${MAX_HELD_PATHS_PER_PROJECT} paths`);
    expect(hub.app.hub().reservations.list({ holder: late.agent.id })).toEqual([]);
    // Another project is not affected.
    const elsewhere = await hub.register('late', { project: 'elsewhere' });
    expect((await reserve(hub, elsewhere.token, { paths: ['late.ts'] })).status).toBe(201);
  });

  it('a write SQLite refuses is answered storage_failed, and neither the table nor the hub\'s leases change', async () => {
    const hub = await startHub();
    const a = await hub.register('a');
    const kept = (await reserve(hub, a.token, { paths: ['docs/**'] })).body.reservations[0];
    // The database itself refuses every change to the table from here on, as a full disk would.
    const { db } = hub.app.hub();
    for (const op of ['INSERT', 'UPDATE', 'DELETE']) db.exec(`CREATE TRIGGER refuse_${op.toLowerCase()} BEFORE ${op} ON reservations BEGIN SELECT RAISE(ABORT, 'disk full'); END`);
    const refused = await reserve(hub, a.token, { paths: ['src/**'] });
    expect(refused).toMatchObject({ status: 503, body: { code: 'storage_failed' } });
    expect(refused.body.error).toContain('disk full');
    expect((await hub.api(under(reservationRenewPath(kept.id)), { token: a.token, body: { ttlSeconds: 99 } })).body.code).toBe('storage_failed');
    expect((await hub.api(under(reservationPath(kept.id)), { method: 'DELETE', token: a.token })).body.code).toBe('storage_failed');
    expect(await list(hub, a.token)).toEqual([kept]);
    for (const op of ['insert', 'update', 'delete']) db.exec(`DROP TRIGGER refuse_${op}`);
    expect((await reserve(hub, a.token, { paths: ['src/**'] })).status).toBe(201);
  });

  it('expired leases never conflict and are swept, announced to the cockpit', async () => {
    const hub = await startHub();
    const a = await hub.register('a');
    const b = await hub.register('b');
    const changes: ReservationChange[] = [];
    hub.app.events.on('reservations.changed', (change) => changes.push(change));
    const lease = (await reserve(hub, a.token, { paths: ['src/**'], ttlSeconds: 2 })).body.reservations[0];
    expect((await reserve(hub, b.token, { paths: ['src/a.ts'] })).status).toBe(409);
    await new Promise((resolve) => setTimeout(resolve, Date.parse(lease.expiresAt) - Date.now() + 50));
    // Expired: no conflict, whether or not the sweep has run yet.
    expect((await reserve(hub, b.token, { paths: ['src/a.ts'] })).status).toBe(201);
    expect((await hub.api(under(reservationRenewPath(lease.id)), { token: a.token, body: {} })).status).toBe(404);
    await until(() => changes.some((change) => change.kind === 'expired'), 3000, 'the expiry event');
    expect(changes.find((change) => change.kind === 'expired')).toMatchObject({ reservation: { id: lease.id, holderName: 'a' } });
    expect(changes.map((change) => change.kind)).toEqual(['added', 'added', 'expired']);
    expect(hub.app.hub().db.prepare('SELECT id FROM reservations').all()).toEqual([{ id: expect.not.stringMatching(lease.id) }]);
  });

  it('a holder that goes away without releasing loses its leases once their TTL passes unrenewed', async () => {
    const hub = await startHub();
    const gone = await hub.register('gone');
    const waiting = await hub.register('waiting');
    const socket = await openSocket(hub.url, gone.agent.id, gone.token);
    socket.send({ type: 'reservations.reserve', ref: 'r1', request: { paths: ['src/**'], ttlSeconds: 3 } });
    expect(await socket.next((f) => f.type === 'result')).toMatchObject({ ref: 'r1', result: { created: true } });
    socket.ws.close();
    await socket.closed;
    expect(hub.app.hub().registry.get(gone.agent.id).connections).toBe(0);
    expect((await reserve(hub, waiting.token, { paths: ['src/x.ts'] })).status).toBe(409);
    await until(() => hub.app.hub().reservations.list({ holder: gone.agent.id }).length === 0, 6000, 'the lease to end');
    expect((await reserve(hub, waiting.token, { paths: ['src/x.ts'] })).status).toBe(201);
  });

  it('revoking an agent releases its leases', async () => {
    const hub = await startHub();
    const a = await hub.register('a');
    const b = await hub.register('b');
    const changes: ReservationChange[] = [];
    hub.app.events.on('reservations.changed', (change) => changes.push(change));
    await reserve(hub, a.token, { paths: ['src/**'] });
    expect((await hub.api(`/agents/${a.agent.id}/revoke`, { token: hub.app.cockpitToken, body: {} })).status).toBe(200);
    expect(changes.at(-1)).toMatchObject({ kind: 'released', by: 'revoked', reservation: { holderId: a.agent.id } });
    expect((await reserve(hub, b.token, { paths: ['src/a.ts'] })).status).toBe(201);
    expect(hub.app.hub().db.prepare('SELECT holder_id FROM reservations').all()).toEqual([{ holder_id: b.agent.id }]);
  });

  it('leases outlive a restart of the hub on the same data directory', async () => {
    const hub = await startHub();
    const a = await hub.register('a');
    const b = await hub.register('b');
    const lease = (await reserve(hub, a.token, { paths: ['src/**'], reason: 'refactor', ttlSeconds: 600 })).body.reservations[0];
    await hub.restart();
    expect(await list(hub, b.token)).toEqual([lease]);
    const refused = await reserve(hub, b.token, { paths: ['src/a.ts'] });
    expect(refused.status).toBe(409);
    expect(refused.body.conflicts[0]).toMatchObject({ reservationId: lease.id, holderName: 'a', expiresAt: lease.expiresAt });
  });

  it('check names the exclusive leases of others that a commit\'s files touch (the guard\'s question)', async () => {
    const hub = await startHub();
    const a = await hub.register('a');
    const b = await hub.register('b');
    await reserve(hub, a.token, { paths: ['src/auth/**'] });
    await reserve(hub, a.token, { paths: ['README.md'], mode: 'shared' });
    const check = await hub.api(under(RESERVATIONS_CHECK_PATH), { token: b.token, body: { paths: ['src/auth/login.ts', 'README.md', 'src/cart.ts'] } });
    expect(check.status).toBe(200);
    expect(check.body.conflicts).toMatchObject([{ holderName: 'a', mode: 'exclusive', heldPaths: ['src/auth/**'], requestedPaths: ['src/auth/login.ts'] }]);
    // A long list is worked through in slices: conflicts found in different slices come back once per lease.
    // (With ~100 patterns held, a slice takes ~200 paths.)
    const busy = await hub.register('busy');
    expect((await reserve(hub, busy.token, { paths: Array.from({ length: 100 }, (_, i) => `other/f${i}.ts`) })).status).toBe(201);
    const many = Array.from({ length: 3000 }, (_, i) => (i % 1000 === 999 ? `src/auth/f${i}.ts` : `lib/f${i}.ts`));
    const sliced = await hub.api(under(RESERVATIONS_CHECK_PATH), { token: b.token, body: { paths: many } });
    expect(sliced.body.conflicts).toHaveLength(1);
    expect(sliced.body.conflicts[0].requestedPaths).toEqual(['src/auth/f999.ts', 'src/auth/f1999.ts', 'src/auth/f2999.ts']);
    // One's own leases are never in the way.
    expect((await hub.api(under(RESERVATIONS_CHECK_PATH), { token: a.token, body: { paths: ['src/auth/login.ts'] } })).body).toEqual({ conflicts: [] });
    // The cockpit names the project.
    expect((await hub.api(under(RESERVATIONS_CHECK_PATH), { token: hub.app.cockpitToken, body: { paths: ['src/auth/x.ts'] } })).status).toBe(400);
    const asCockpit = await hub.api(under(RESERVATIONS_CHECK_PATH), { token: hub.app.cockpitToken, body: { paths: ['src/auth/x.ts'], project: 'test' } });
    expect(asCockpit.body.conflicts).toHaveLength(1);
  });

  it("check's files are concrete files, matched literally: a file named app/[id]/page.tsx or notes/*draft*.md is not a glob", async () => {
    const hub = await startHub();
    const a = await hub.register('a');
    const b = await hub.register('b');
    const check = async (body: Record<string, unknown>) => {
      const answer = await hub.api(under(RESERVATIONS_CHECK_PATH), { token: b.token, body });
      expect(answer.status).toBe(200);
      return answer.body.conflicts as Array<{ heldPaths: string[]; requestedPaths: string[] }>;
    };
    // a holds two ordinary files that the bracket and star names would match as globs.
    await reserve(hub, a.token, { paths: ['app/i/page.tsx', 'notes/final-draft-2.md'] });
    const files = ['app/[id]/page.tsx', 'notes/*draft*.md'];
    expect(await check({ files })).toEqual([]);
    // The same names as patterns keep reserve's glob semantics: they meet both held files.
    expect((await check({ paths: files }))[0]).toMatchObject({ heldPaths: ['app/i/page.tsx', 'notes/final-draft-2.md'], requestedPaths: files });

    // A held glob still matches a literal file by its glob; a held pattern written as the file's own name holds it.
    await reserve(hub, a.token, { paths: ['app/[id]/page.tsx', 'notes/*.md'] });
    const conflicts = await check({ files: ['app/[id]/page.tsx', 'notes/*draft*.md', 'notes/!todo.md', 'app/x/page.tsx'] });
    expect(conflicts).toHaveLength(1);
    expect(conflicts[0]!.heldPaths.sort()).toEqual(['app/[id]/page.tsx', 'notes/*.md']);
    expect(conflicts[0]!.requestedPaths.sort()).toEqual(['app/[id]/page.tsx', 'notes/!todo.md', 'notes/*draft*.md']);
    // A file named without an extension is that file, not a folder: a lease on a file inside a folder of that name
    // is not touched by it.
    await reserve(hub, a.token, { paths: ['bin/tool/run.sh'] });
    expect(await check({ files: ['bin/tool'] })).toEqual([]);
    expect(await check({ paths: ['bin/tool'] })).toHaveLength(1);

    // Both lists in one check; neither is an error (nothing to check), and a file keeps the path rules.
    expect(await check({ files: ['app/x/page.tsx'], paths: ['bin/**'] })).toHaveLength(1);
    const none = await hub.api(under(RESERVATIONS_CHECK_PATH), { token: b.token, body: {} });
    expect(none.status).toBe(400);
    expect(none.body.error).toContain('name paths (patterns) or files to check');
    const absolute = await hub.api(under(RESERVATIONS_CHECK_PATH), { token: b.token, body: { files: ['/etc/passwd'] } });
    expect(absolute.status).toBe(400);
    expect(absolute.body.error).toContain('relative to the repository root');
    // '!' starts a file's name, but a pattern may not be negated.
    expect((await hub.api(under(RESERVATIONS_CHECK_PATH), { token: b.token, body: { paths: ['!notes/a.md'] } })).status).toBe(400);
  });
});

describe('file reservations over the realtime socket and the cockpit', () => {
  it('reserves, lists, renews and releases over the socket; a conflict error frame carries the leases in the way', async () => {
    const hub = await startHub();
    const a = await hub.register('a');
    const b = await hub.register('b');
    const sa = await openSocket(hub.url, a.agent.id, a.token);
    const sb = await openSocket(hub.url, b.agent.id, b.token);

    sa.send({ type: 'reservations.reserve', ref: 'r', request: { paths: ['src/**'], reason: 'moving files' } });
    const made = await sa.next((f) => f.type === 'result' && f.ref === 'r');
    const lease = (made as { result: { reservations: Array<{ id: string; expiresAt: string }> } }).result.reservations[0]!;

    sb.send({ type: 'reservations.reserve', ref: 'x', request: { paths: ['src/a.ts'] } });
    expect(await sb.next((f) => f.type === 'error')).toMatchObject({
      ref: 'x',
      code: 'reservation_conflict',
      conflicts: [{ reservationId: lease.id, holderName: 'a', heldPaths: ['src/**'], requestedPaths: ['src/a.ts'], expiresAt: lease.expiresAt }],
    });
    sb.send({ type: 'reservations.list', ref: 'l' });
    expect(await sb.next((f) => f.type === 'result' && f.ref === 'l')).toMatchObject({ result: { reservations: [{ id: lease.id }] } });
    sb.send({ type: 'reservations.renew', ref: 'n', id: lease.id });
    expect(await sb.next((f) => f.type === 'error')).toMatchObject({ ref: 'n', code: 'forbidden' });
    sb.send({ type: 'reservations.reserve', ref: 'bad', request: { paths: ['../x'] } });
    expect(await sb.next((f) => f.type === 'error')).toMatchObject({ ref: 'bad', code: 'invalid_frame' });

    sa.send({ type: 'reservations.renew', ref: 'n', id: lease.id, ttlSeconds: 90 });
    expect(await sa.next((f) => f.type === 'result' && f.ref === 'n')).toMatchObject({ result: { id: lease.id, ttlSeconds: 90 } });
    sa.send({ type: 'reservations.release', ref: 'd', request: { ids: [lease.id] } });
    expect(await sa.next((f) => f.type === 'result' && f.ref === 'd')).toMatchObject({ result: { released: [{ id: lease.id }] } });
    expect(hub.app.hub().reservations.list()).toEqual([]);
    sa.ws.close();
    sb.ws.close();
  });

  it('the cockpit lists every project\'s leases and releases anyone\'s', async () => {
    const hub = await startHub();
    const a = await hub.register('a');
    const lease = (await reserve(hub, a.token, { paths: ['src/**'] })).body.reservations[0];
    const changes: ReservationChange[] = [];
    hub.app.events.on('reservations.changed', (change) => changes.push(change));

    const listed = await dispatchCall(hub.app.handlers, 'reservations.list', {});
    expect(listed).toEqual({ ok: true, result: [lease] });
    expect(await dispatchCall(hub.app.handlers, 'reservations.list', undefined)).toEqual({ ok: true, result: [lease] });
    expect(await dispatchCall(hub.app.handlers, 'reservations.list', { path: 'src/a.ts', project: 'test' })).toEqual({ ok: true, result: [lease] });
    expect(await dispatchCall(hub.app.handlers, 'reservations.list', { path: 'lib/a.ts' })).toEqual({ ok: true, result: [] });
    expect(await dispatchCall(hub.app.handlers, 'reservations.release', { id: 'nope' })).toMatchObject({ ok: false, error: { code: 'invalid_params' } });

    const released = await dispatchCall(hub.app.handlers, 'reservations.release', { id: lease.id });
    expect(released).toEqual({ ok: true, result: lease });
    expect(changes).toMatchObject([{ kind: 'released', by: 'cockpit', reservation: { id: lease.id } }]);
    expect(await dispatchCall(hub.app.handlers, 'reservations.release', { id: lease.id })).toMatchObject({ ok: false, error: { code: 'failed', message: expect.stringContaining('released or expired') } });
  });
});
