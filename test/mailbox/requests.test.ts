/** File reservations through the file mailbox: request files in requests/, answers in answers/. */
import { existsSync, mkdirSync, readFileSync, renameSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MailboxAnswer } from '../../src/shared/mailbox-protocol';
import { agentDir, drop, listing, registerByFile, startMailboxHub, until } from './harness';

/** Drops a request and waits for its answer file. */
async function ask(dir: string, name: string, request: unknown): Promise<MailboxAnswer> {
  drop(path.join(dir, 'requests'), name, request);
  return readAnswer(dir, name);
}

async function readAnswer(dir: string, name: string): Promise<MailboxAnswer> {
  const file = path.join(dir, 'answers', name);
  await until(() => existsSync(file), 5000, `answers/${name}`);
  return JSON.parse(readFileSync(file, 'utf8')) as MailboxAnswer;
}

describe('file reservations through the mailbox', () => {
  it('reserves, answers a conflict naming holder, paths and expiry, releases, lists', async () => {
    const hub = await startMailboxHub();
    const alice = await registerByFile(hub.root, 'alice');
    const bob = await registerByFile(hub.root, 'bob');
    const aliceDir = agentDir(hub.root, 'test', 'alice');
    const bobDir = agentDir(hub.root, 'test', 'bob');
    // Registration makes the folders requests are dropped into and answered in.
    expect(listing(aliceDir)).toEqual(['agent.json', 'answers', 'inbox', 'outbox', 'rejected', 'requests']);

    const granted = await ask(aliceDir, 'auth.json', { op: 'reserve', paths: ['src/auth/**', 'src/app.ts'], reason: 'auth refactor', ttlSeconds: 600 });
    expect(granted).toMatchObject({ request: 'auth.json', op: 'reserve', ok: true, created: true });
    if (!granted.ok || granted.op !== 'reserve') throw new Error('not granted');
    const [lease] = granted.reservations;
    expect(lease).toMatchObject({ holderId: alice.id, holderName: 'alice', project: 'test', mode: 'exclusive', paths: ['src/auth/**', 'src/app.ts'], reason: 'auth refactor' });
    expect(Date.parse(lease!.expiresAt) - Date.now()).toBeGreaterThan(590_000);
    // The request is gone once answered; nothing is left claimed.
    await until(() => listing(path.join(aliceDir, 'requests', '.working')).length === 0, 5000, 'claimed request removed');
    expect(listing(path.join(aliceDir, 'requests'))).toEqual(['.working']);

    const refused = await ask(bobDir, 'login.json', { op: 'reserve', paths: ['src/auth/login.ts', 'docs/x.md'] });
    expect(refused).toMatchObject({ request: 'login.json', op: 'reserve', ok: false, status: 409, code: 'reservation_conflict' });
    if (refused.ok) throw new Error('not refused');
    expect(refused.error).toContain('alice');
    expect(refused.conflicts).toEqual([
      expect.objectContaining({
        reservationId: lease!.id,
        holderId: alice.id,
        holderName: 'alice',
        mode: 'exclusive',
        heldPaths: ['src/auth/**'],
        requestedPaths: ['src/auth/login.ts'],
        reason: 'auth refactor',
        expiresAt: lease!.expiresAt,
      }),
    ]);
    // All or nothing: bob holds nothing, not even the free docs/x.md.
    expect(hub.hub.reservations.list({ project: 'test', holder: bob.id })).toEqual([]);

    const listed = await ask(bobDir, 'who.json', { op: 'list' });
    expect(listed).toMatchObject({ op: 'list', ok: true, reservations: [expect.objectContaining({ id: lease!.id, holderName: 'alice' })] });

    const released = await ask(aliceDir, 'done.json', { op: 'release', ids: [lease!.id] });
    expect(released).toMatchObject({ op: 'release', ok: true, released: [expect.objectContaining({ id: lease!.id })], narrowed: [] });
    expect(hub.hub.reservations.list({ project: 'test' })).toEqual([]);

    const retried = await ask(bobDir, 'login-2.json', { op: 'reserve', paths: ['src/auth/login.ts'], mode: 'shared' });
    expect(retried).toMatchObject({ ok: true, reservations: [expect.objectContaining({ holderName: 'bob', mode: 'shared' })] });
    if (!retried.ok || retried.op !== 'reserve') throw new Error('not granted');
    const renewed = await ask(bobDir, 'renew.json', { op: 'renew', id: retried.reservations[0]!.id, ttlSeconds: 3600 });
    expect(renewed).toMatchObject({ op: 'renew', ok: true, reservation: expect.objectContaining({ ttlSeconds: 3600 }) });
    // Another agent's lease is not alice's to release: refused, and it holds.
    const notHers = await ask(aliceDir, 'steal.json', { op: 'release', ids: [retried.reservations[0]!.id] });
    expect(notHers).toMatchObject({ ok: false, status: 403, code: 'forbidden' });
    expect(hub.hub.reservations.list({ project: 'test' })).toHaveLength(1);
  });

  it('answers a bad request with what is wrong, and does nothing', async () => {
    const hub = await startMailboxHub();
    const carol = await registerByFile(hub.root, 'carol');
    const dir = agentDir(hub.root, 'test', 'carol');

    expect(await ask(dir, 'abs.json', { op: 'reserve', paths: ['/etc/passwd'] })).toMatchObject({
      ok: false,
      status: 400,
      code: 'invalid_request',
      error: expect.stringContaining('relative to the repository root'),
    });
    expect(await ask(dir, 'dots.json', { op: 'reserve', paths: ['../outside'] })).toMatchObject({ ok: false, error: expect.stringContaining("'..'") });
    expect(await ask(dir, 'ttl.json', { op: 'reserve', paths: ['a.ts'], ttlSeconds: 10 ** 9 })).toMatchObject({ ok: false, error: expect.stringContaining('ttlSeconds') });
    expect(await ask(dir, 'op.json', { op: 'explode', paths: ['a.ts'] })).toMatchObject({ ok: false, op: null, code: 'invalid_request', error: expect.stringContaining('"op"') });
    expect(await ask(dir, 'extra.json', { op: 'reserve', paths: ['a.ts'], holder: 'someone-else' })).toMatchObject({ ok: false, code: 'invalid_request' });
    expect(await ask(dir, 'other.json', { op: 'list', project: 'elsewhere' })).toMatchObject({ ok: false, status: 403, code: 'forbidden' });
    expect(await ask(dir, 'deep.json', `{"op":"reserve","paths":["a"],"x":${'['.repeat(600)}${']'.repeat(600)}}`)).toMatchObject({ ok: false, error: expect.stringContaining('nests deeper') });

    // Not JSON, and not fresh (so not taken for a file still being written): answered at once.
    const file = path.join(dir, 'requests', 'broken.json');
    writeFileSync(`${file}.tmp`, '{"op": "reserve",');
    utimesSync(`${file}.tmp`, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    renameSync(`${file}.tmp`, file);
    expect(await readAnswer(dir, 'broken.json')).toMatchObject({ ok: false, code: 'invalid_request', error: expect.stringContaining('not valid JSON') });

    // A revoked agent may not reserve.
    hub.hub.registry.revoke(carol.id);
    expect(await ask(dir, 'revoked.json', { op: 'reserve', paths: ['a.ts'] })).toMatchObject({ ok: false, status: 410, code: 'revoked' });

    expect(hub.hub.reservations.list({ project: 'test' })).toEqual([]);
  });

  it('after a crash: a claimed request with its answer written is not done again; one without is carried out', async () => {
    const hub = await startMailboxHub();
    const dave = await registerByFile(hub.root, 'dave');
    const dir = agentDir(hub.root, 'test', 'dave');
    await hub.mailbox.close();

    const working = path.join(dir, 'requests', '.working');
    mkdirSync(working, { recursive: true });
    // Answered before the crash (the answer is durable), not yet removed: it must not reserve again.
    writeFileSync(path.join(working, 'answered.json'), JSON.stringify({ op: 'reserve', paths: ['answered/**'] }));
    writeFileSync(path.join(dir, 'answers', 'answered.json'), JSON.stringify({ request: 'answered.json', op: 'reserve', ok: true }));
    // Claimed, not answered: carried out at start.
    writeFileSync(path.join(working, 'claimed.json'), JSON.stringify({ op: 'reserve', paths: ['claimed/**'] }));

    await hub.restartMailbox();
    const answer = await readAnswer(dir, 'claimed.json');
    expect(answer).toMatchObject({ ok: true, reservations: [expect.objectContaining({ paths: ['claimed/**'], holderId: dave.id })] });
    await until(() => listing(working).length === 0, 5000, 'claimed requests removed');
    expect(hub.hub.reservations.list({ project: 'test' }).map((r) => r.paths)).toEqual([['claimed/**']]);
    expect(JSON.parse(readFileSync(path.join(dir, 'answers', 'answered.json'), 'utf8'))).toEqual({ request: 'answered.json', op: 'reserve', ok: true });
  });
});
