/**
 * The codes in docs/agents.md are the shared tables (ERROR_CODES, CLOSE_CODE_MEANINGS, INBOX_STATES), and a real
 * hub answers with them: each agent-facing error code, close code and inbox state is provoked here.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLOSE_CODE_MEANINGS, CLOSE_CODES, ERROR_CODES, INBOX_STATES, type ErrorCode } from '../../src/shared/agent-protocol';
import { openSocket, startHub, type TestHub } from './harness';

/** The rows of the table that follows `intro` in the Codes section of docs/agents.md. */
function docTable(intro: string): string[] {
  const doc = readFileSync(new URL('../../docs/agents.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('### Codes'));
  const lines = section.slice(section.indexOf(intro)).split('\n');
  const start = lines.findIndex((line) => line.startsWith('|'));
  const end = lines.findIndex((line, i) => i > start && !line.startsWith('|'));
  return lines.slice(start + 2, end);
}

async function expectCode(hub: TestHub, code: ErrorCode, path: string, init: { method?: string; token?: string; body?: unknown } = {}) {
  const answer = await hub.api(path, init);
  expect(answer, `${init.method ?? 'GET'} ${path}`).toMatchObject({ status: ERROR_CODES[code].status, body: { code } });
}

describe('documented codes', () => {
  it('docs/agents.md lists exactly the shared tables', () => {
    expect(docTable('Every error has a stable')).toEqual(Object.entries(ERROR_CODES).map(([code, { status, meaning }]) => `| \`${code}\` | ${status} | ${meaning} |`));
    expect(docTable('Close codes of an agent')).toEqual(Object.entries(CLOSE_CODE_MEANINGS).map(([code, meaning]) => `| ${code} | ${meaning} |`));
    expect(docTable('The `state` of an inbox')).toEqual(Object.entries(INBOX_STATES).map(([state, meaning]) => `| \`${state}\` | ${meaning} |`));
  });

  it('a real hub answers each agent-facing error code with its status', async () => {
    const hub = await startHub({ maxBytes: 64 * 1024 });
    const a = await hub.register('a');
    const b = await hub.register('b');
    await expectCode(hub, 'invalid_request', '/messages', { token: a.token, body: { to: { type: 'nobody' } } });
    await expectCode(hub, 'unauthorized', '/agents', { token: 'dvx_not-a-token' });
    await expectCode(hub, 'forbidden', `/agents/${b.agent.id}/messages`, { token: a.token });
    await expectCode(hub, 'not_found', '/agents/01ARZ3NDEKTSV4RRFFQ69G5FAV/status', { token: a.token });
    await expectCode(hub, 'conflict', '/agents/register', { body: { name: 'a', project: 'test' } });
    await expectCode(hub, 'too_large', `/agents/${b.agent.id}/messages`, { token: a.token, body: { body: 'x'.repeat(70 * 1024) } });

    const socket = await openSocket(hub.url, a.agent.id, a.token);
    socket.ws.send('{not json');
    expect(await socket.next((f) => f.type === 'error')).toMatchObject({ code: 'invalid_frame' });

    // Revoked: every surface says 410, for the agent itself and for whoever writes to it.
    expect((await hub.api(`/agents/${b.agent.id}/revoke`, { token: hub.app.cockpitToken, body: {} })).status).toBe(200);
    await expectCode(hub, 'revoked', '/agents', { token: b.token });
    await expectCode(hub, 'revoked', `/agents/${b.agent.id}/messages`, { token: b.token });
    await expectCode(hub, 'revoked', '/messages', { token: b.token, body: { to: { type: 'broadcast' }, body: 'still here?' } });
    await expectCode(hub, 'revoked', '/agents/register', { token: b.token, body: { name: 'b', project: 'test' } });
    await expectCode(hub, 'revoked', `/agents/${b.agent.id}/messages`, { token: a.token, body: { body: 'hello?' } });
    await expect(openSocket(hub.url, b.agent.id, b.token)).rejects.toThrow('HTTP 410');
    socket.send({ type: 'send', ref: 'r', message: { to: { type: 'agent', id: b.agent.id }, body: 'hello?' } });
    expect(await socket.next((f) => f.type === 'error')).toMatchObject({ ref: 'r', code: 'revoked' });
    // In process, as the file mailbox and the cockpit use it.
    expect(() => hub.app.hub().registry.authenticate(b.token)).toThrow(expect.objectContaining({ status: 410, code: 'revoked' }));
    socket.ws.close();
  });

  it('closes agent sockets with the documented codes', async () => {
    const hub = await startHub({ maxBytes: 64 * 1024 });
    const a = await hub.register('a');
    const b = await hub.register('b');
    const c = await hub.register('c');

    const tooBig = await openSocket(hub.url, a.agent.id, a.token);
    tooBig.ws.send(JSON.stringify({ type: 'send', ref: '1', message: { to: { type: 'broadcast' }, body: 'x'.repeat(200 * 1024) } }));
    expect((await tooBig.closed).code).toBe(1009);

    const first = await openSocket(hub.url, a.agent.id, a.token);
    const second = await openSocket(hub.url, a.agent.id, a.token);
    expect((await first.closed).code).toBe(CLOSE_CODES.replaced);
    // An identity reclaimed from the cockpit: the old token's socket is replaced too.
    const reclaimed = await hub.api('/agents/register', { token: hub.app.cockpitToken, body: { name: 'a', project: 'test' } });
    expect(reclaimed.status).toBe(200);
    expect((await second.closed).code).toBe(CLOSE_CODES.replaced);

    const revokedSocket = await openSocket(hub.url, b.agent.id, b.token);
    await hub.api(`/agents/${b.agent.id}/revoke`, { token: hub.app.cockpitToken, body: {} });
    expect((await revokedSocket.closed).code).toBe(CLOSE_CODES.revoked);

    const stopping = await openSocket(hub.url, c.agent.id, c.token);
    await hub.app.stop();
    expect((await stopping.closed).code).toBe(1001);
    expect(Object.keys(CLOSE_CODE_MEANINGS).map(Number).sort()).toEqual([1001, 1009, CLOSE_CODES.revoked, CLOSE_CODES.replaced].sort());
  });

  it('lists an inbox in each documented state, and refuses any other', async () => {
    const hub = await startHub();
    const a = await hub.register('a');
    const b = await hub.register('b');
    const ids: string[] = [];
    for (const body of ['one', 'two']) ids.push((await hub.api(`/agents/${b.agent.id}/messages`, { token: a.token, body: { body } })).body.id);
    await hub.api(`/agents/${b.agent.id}/messages/ack`, { token: b.token, body: { ids: [ids[0]] } });
    const listed = async (state: string) => (await hub.api(`/agents/${b.agent.id}/messages?state=${state}`, { token: b.token })).body.messages.map((m: { id: string }) => m.id);
    const expected: Record<keyof typeof INBOX_STATES, string[]> = { unacked: [ids[1]!], all: ids };
    for (const state of Object.keys(INBOX_STATES) as Array<keyof typeof INBOX_STATES>) expect(await listed(state)).toEqual(expected[state]);
    expect((await hub.api(`/agents/${b.agent.id}/messages`, { token: b.token })).body.messages.map((m: { id: string }) => m.id)).toEqual(expected.unacked);
    await expectCode(hub, 'invalid_request', `/agents/${b.agent.id}/messages?state=acked`, { token: b.token });
  });
});
