/** The MCP reservation tools, driven by the official SDK's client over Streamable HTTP against a real hub. */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { MCP_PATH } from '../../src/shared/mcp-protocol';
import { startHub, type TestHub } from '../hub/harness';

async function connect(hub: TestHub, token: string): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(`${hub.url}${MCP_PATH}`), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name: 'test-agent', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

const text = (result: CallToolResult) => result.content.map((part) => (part.type === 'text' ? part.text : '')).join('');

describe('MCP reservation tools', () => {
  it('two MCP agents: one reserves, the other is refused with who holds what until when and what to do, then gets the files once released', async () => {
    const hub = await startHub();
    const builder = await hub.register('builder');
    const reviewer = await hub.register('reviewer');
    const b = await connect(hub, builder.token);
    const r = await connect(hub, reviewer.token);

    const tools = (await b.listTools()).tools.filter((tool) => ['reserve_files', 'renew_reservation', 'release_files', 'list_reservations'].includes(tool.name));
    expect(tools).toHaveLength(4);
    for (const tool of tools) expect(tool.outputSchema?.type).toBe('object');

    const made = await call(r, 'reserve_files', { paths: ['src/auth/**'], reason: 'reviewing login', ttlSeconds: 600 });
    expect(made.isError).toBeFalsy();
    const lease = (made.structuredContent as { reservations: Array<{ id: string; expiresAt: string }>; created: boolean }).reservations[0]!;
    expect(made.structuredContent).toMatchObject({ created: true, reservations: [{ holderName: 'reviewer', paths: ['src/auth/**'], mode: 'exclusive' }] });

    const refused = await call(b, 'reserve_files', { paths: ['src/auth/login.ts', 'src/cart.ts'] });
    expect(refused.isError).toBe(true);
    const message = text(refused);
    expect(message).toContain(`held exclusively by reviewer until ${lease.expiresAt}`);
    expect(message).toContain(`send_message to {"type":"agent","id":"${reviewer.agent.id}"}`);
    expect(message).toContain('wait_for_messages');
    expect(message).toContain('(reservation_conflict)');
    // Nothing of the refused request was stored, src/cart.ts included.
    const listed = await call(b, 'list_reservations');
    expect((listed.structuredContent as { reservations: Array<{ id: string }> }).reservations.map((x) => x.id)).toEqual([lease.id]);
    expect((await call(b, 'list_reservations', { path: 'src/auth/login.ts' })).structuredContent).toMatchObject({ reservations: [{ id: lease.id }] });
    expect((await call(b, 'list_reservations', { path: 'lib/**' })).structuredContent).toEqual({ reservations: [] });

    // Not the builder's to renew or release.
    const notYours = await call(b, 'renew_reservation', { id: lease.id });
    expect(notYours.isError).toBe(true);
    expect(text(notYours)).toContain('held by reviewer');
    expect((await call(b, 'release_files', { ids: [lease.id] })).isError).toBe(true);

    const renewed = await call(r, 'renew_reservation', { id: lease.id, ttlSeconds: 1200 });
    expect(renewed.structuredContent).toMatchObject({ reservation: { id: lease.id, ttlSeconds: 1200 } });
    const released = await call(r, 'release_files', { paths: ['src/auth/**'] });
    expect(released.structuredContent).toMatchObject({ released: [{ id: lease.id }], narrowed: [] });

    const now = await call(b, 'reserve_files', { paths: ['src/auth/login.ts'] });
    expect(now.structuredContent).toMatchObject({ created: true, reservations: [{ holderName: 'builder' }] });
    await b.close();
    await r.close();
  });

  it('malformed arguments are a tool error that says what is wrong, and nothing is stored', async () => {
    const hub = await startHub();
    const agent = await hub.register('agent');
    const client = await connect(hub, agent.token);
    for (const args of [{ paths: [] }, { paths: ['/etc/passwd'] }, { paths: ['../x'] }, { paths: ['a.ts'], ttlSeconds: -1 }]) {
      const result = await call(client, 'reserve_files', args);
      expect(result.isError, JSON.stringify(args)).toBe(true);
    }
    expect(text(await call(client, 'reserve_files', { paths: ['/etc/passwd'] }))).toContain('relative to the repository root');
    expect(text(await call(client, 'release_files', {}))).toContain('name ids or paths');
    expect(hub.app.hub().reservations.list()).toEqual([]);
    await client.close();
  });
});
