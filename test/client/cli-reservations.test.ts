/** `devenviro reserve | release | reservations` against a real hub, run as child processes from the source. */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HubClient, ReservationConflictError, type Reservation, type ReservationConflict } from '../../src/client';
import { tempDir } from '../helpers';
import { runCli } from './cli-run';
import { startHub } from './hub';

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

// Each command is a fresh Node process compiling TypeScript: allow for a busy machine.
describe('devenviro reserve, release, reservations', { timeout: 120_000 }, () => {
  it('reserves, refuses a conflict naming holder, paths and expiry (exit 3), lists, releases', async () => {
    const dataDir = tempDir();
    const hub = await startHub(dataDir);
    await HubClient.register({ name: 'alice', project: 'shop', url: hub.url, dataDir, persist: true });
    const bob = await HubClient.register({ name: 'bob', project: 'shop', url: hub.url, dataDir, persist: true });
    // A git repository: paths given from a subfolder are taken from there, as git takes them.
    const repo = tempDir();
    execFileSync('git', ['init', '-q', repo]);
    mkdirSync(path.join(repo, 'src'));
    const cli = (args: string[], cwd = repo) => runCli([...args, '--data-dir', dataDir], { cwd });

    const reserved = await cli(['reserve', 'auth', 'app.ts', '--reason', 'auth refactor', '--ttl', '20m', '--as', 'alice'], path.join(repo, 'src'));
    expect(reserved.stderr).toContain('Reserved src/auth, src/app.ts (exclusive) until');
    expect(reserved.code).toBe(0);
    const leaseId = reserved.stdout.trim();
    expect(leaseId).toMatch(ULID);
    const [held] = await bob.listReservations();
    expect(held).toMatchObject({ id: leaseId, holderName: 'alice', paths: ['src/auth', 'src/app.ts'], mode: 'exclusive', reason: 'auth refactor', ttlSeconds: 1200 });

    // bob wants a file in alice's folder: refused, nothing reserved, exit 3, who holds what until when.
    const refused = await cli(['reserve', 'src/auth/login.ts', 'docs/**', '--as', 'bob']);
    expect(refused.code).toBe(3);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain('nothing was reserved');
    expect(refused.stderr).toMatch(/src\/auth\/login\.ts: held exclusively by alice \(src\/auth\) until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(in 20m\)/);
    expect(refused.stderr).toContain(`lease ${leaseId}: "auth refactor"`);
    expect(await bob.listReservations({ holder: bob.id })).toEqual([]);
    const refusedJson = await cli(['reserve', 'src/auth/login.ts', '--as', 'bob', '--json']);
    expect(refusedJson.code).toBe(3);
    const body = JSON.parse(refusedJson.stdout) as { code: string; conflicts: ReservationConflict[] };
    expect(body.code).toBe('reservation_conflict');
    expect(body.conflicts).toEqual([expect.objectContaining({ reservationId: leaseId, holderName: 'alice', heldPaths: ['src/auth'], requestedPaths: ['src/auth/login.ts'], expiresAt: held!.expiresAt })]);

    // The client library says the same: ReservationConflictError carries the 409 body's conflicts.
    const conflict = await bob.reserve(['src/auth/session.ts']).catch((error: unknown) => error);
    expect(conflict).toBeInstanceOf(ReservationConflictError);
    expect(conflict).toMatchObject({ status: 409, code: 'reservation_conflict', conflicts: [expect.objectContaining({ reservationId: leaseId, holderName: 'alice' })] });
    expect(await bob.checkReservations(['src/auth/session.ts', 'README.md'])).toEqual([expect.objectContaining({ reservationId: leaseId, requestedPaths: ['src/auth/session.ts'] })]);
    expect(await bob.checkFiles(['src/auth/session.ts', 'README.md'])).toEqual([expect.objectContaining({ reservationId: leaseId, requestedPaths: ['src/auth/session.ts'] })]);
    // A file is taken literally: a folder named aut[h] is not src/auth, which the same name as a pattern matches.
    expect(await bob.checkFiles(['src/aut[h]/x.ts'])).toEqual([]);
    expect(await bob.checkReservations(['src/aut[h]/x.ts'])).toEqual([expect.objectContaining({ reservationId: leaseId })]);

    // Shared leases share.
    expect((await cli(['reserve', 'docs/**', '--shared', '--as', 'bob'])).code).toBe(0);
    expect((await cli(['reserve', 'docs/**', '--shared', '--as', 'alice'])).code).toBe(0);

    const table = await cli(['reservations', '--as', 'bob']);
    expect(table.code).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+HOLDER\s+MODE\s+ENDS\s+PATHS\s+REASON$/);
    expect(lines.find((line) => line.startsWith(leaseId))).toMatch(/alice\s+exclusive\s+in 20m\s+src\/auth src\/app\.ts\s+auth refactor/);
    expect(lines.filter((line) => /docs\/\*\*/.test(line))).toHaveLength(2);
    const mine = JSON.parse((await cli(['reservations', '--mine', '--json', '--as', 'bob'])).stdout) as Reservation[];
    expect(mine.map((r) => [r.holderName, r.mode, r.paths])).toEqual([['bob', 'shared', ['docs/**']]]);

    // Releasing a path narrows the lease; --all ends the rest.
    const narrowed = await cli(['release', 'src/app.ts', '--as', 'alice']);
    expect(narrowed.code).toBe(0);
    expect(narrowed.stderr).toContain(`Still held in ${leaseId}: src/auth`);
    const all = await cli(['release', '--all', '--as', 'alice', '--json']);
    expect(all.code).toBe(0);
    expect((JSON.parse(all.stdout) as { released: Reservation[] }).released.map((r) => r.paths)).toEqual(expect.arrayContaining([['src/auth'], ['docs/**']]));
    expect((await bob.listReservations()).map((r) => r.holderName)).toEqual(['bob']);

    const now = await cli(['reserve', 'src/auth/login.ts', '--as', 'bob']);
    expect(now.code).toBe(0);
    const released = await cli(['release', now.stdout.trim(), '--as', 'bob']);
    expect(released).toMatchObject({ code: 0, stderr: expect.stringContaining(`Released ${now.stdout.trim()}: src/auth/login.ts`) });
  });

  it('refuses bad input with a clear message, and stores nothing', async () => {
    const dataDir = tempDir();
    const hub = await startHub(dataDir);
    const carol = await HubClient.register({ name: 'carol', url: hub.url, dataDir, persist: true });
    const outside = tempDir(); // not a git repository: paths go to the hub as written
    const cli = (args: string[]) => runCli([...args, '--data-dir', dataDir], { cwd: outside });

    const ttl = await cli(['reserve', 'a.ts', '--ttl', '3 weeks']);
    expect(ttl.code).toBe(2);
    expect(ttl.stderr).toContain('--ttl takes a duration from 1s to 24h');
    expect((await cli(['reserve'])).stderr).toContain('reserve needs at least one path');
    expect((await cli(['release'])).code).toBe(2);
    const dots = await cli(['reserve', '../elsewhere/a.ts']);
    expect(dots.code).toBe(1);
    expect(dots.stderr).toContain("'..' may not appear in a path");
    expect(dots.stderr).toContain('400 invalid_request');
    expect(await carol.listReservations()).toEqual([]);
  });
});
