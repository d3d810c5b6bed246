/** Acknowledged reservations survive the hub process being killed (kill -9) and are in force after it restarts. */
import { describe, expect, it } from 'vitest';
import { RESERVATIONS_PATH, RESERVATIONS_RELEASE_PATH } from '../../src/shared/reservation-protocol';
import { freePort, startHubProcess } from '../client/hub';
import { tempDir } from '../helpers';

async function api(url: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

describe('reservations across a crash of the hub', () => {
  it('every answered reserve and release holds after kill -9 and a restart on the same data directory', async () => {
    const dataDir = tempDir();
    const port = await freePort();
    let hub = await startHubProcess(dataDir, port);
    const register = async (name: string) => (await (await fetch(`${hub.url}/api/v1/agents/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, project: 'shop' }) })).json()) as { token: string; agent: { id: string } };
    const holder = await register('holder');
    const other = await register('other');

    const kept = await api(hub.url, RESERVATIONS_PATH, holder.token, { paths: ['src/**'], reason: 'refactor', ttlSeconds: 3600 });
    expect(kept.status).toBe(201);
    const dropped = await api(hub.url, RESERVATIONS_PATH, holder.token, { paths: ['docs/**'] });
    expect((await api(hub.url, RESERVATIONS_RELEASE_PATH, holder.token, { ids: [dropped.body.reservations[0].id] })).status).toBe(200);

    await hub.kill('SIGKILL');
    hub = await startHubProcess(dataDir, port);

    const listed = await api(hub.url, RESERVATIONS_PATH, other.token);
    expect(listed.body.reservations).toEqual(kept.body.reservations);
    const refused = await api(hub.url, RESERVATIONS_PATH, other.token, { paths: ['src/index.ts'] });
    expect(refused.status).toBe(409);
    expect(refused.body.conflicts).toMatchObject([{ holderName: 'holder', heldPaths: ['src/**'], expiresAt: kept.body.reservations[0].expiresAt }]);
    expect((await api(hub.url, RESERVATIONS_PATH, other.token, { paths: ['docs/a.md'] })).status).toBe(201);
  }, 120_000);
});
