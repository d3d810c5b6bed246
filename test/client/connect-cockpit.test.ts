/**
 * The cockpit's Connect panel and `devenviro connect --print` show the same text: the panel builds it from the hub's
 * connect info with shared/connect-plan.ts and a token placeholder, the CLI prints it with the real token. Also the
 * `mcp.sessions` cockpit call and event against real MCP sessions opened with the official SDK client.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { describe, expect, it } from 'vitest';
import { loadCredentials } from '../../src/client/credentials';
import { dispatchCall } from '../../src/main/cockpit/dispatch';
import { connectPlan, connectPrintout, MCP_CLIENTS, mcpUrlOf, TOKEN_PLACEHOLDER } from '../../src/shared/connect-plan';
import type { ConnectInfo, McpSessionInfo } from '../../src/shared/contract';
import { credentialsPathParts } from '../../src/shared/credentials-path';
import { tempDir } from '../helpers';
import { cleanEnv, runCli } from './cli-run';
import { startHub, waitFor } from './hub';

describe('the Connect panel and devenviro connect --print', { timeout: 120_000 }, () => {
  it('build the same command and snippet for each client; the panel has a placeholder where the CLI has the token', async () => {
    const dataDir = tempDir();
    const hub = await startHub(dataDir);
    const reply = await dispatchCall(hub.app.handlers, 'agents.connectInfo', undefined);
    expect(reply.ok).toBe(true);
    const info = (reply as { result: ConnectInfo }).result;
    expect(info.hubUrl).toBe(hub.url);
    expect(info.devenviroArgv.slice(-2)).toEqual(['--data-dir', dataDir]);

    // Each client with the default server name, and Codex (whose configuration is per user) with one of its own.
    const cases = [...MCP_CLIENTS.map((client) => ({ client, serverName: undefined })), { client: 'codex' as const, serverName: 'devenviro-second' }];
    for (const { client, serverName } of cases) {
      const name = `agent-${client}${serverName ? '-2' : ''}`;
      // A project with a space and a slash: escaped in the credentials path, quoted in the shell line.
      const project = 'shop front/web';
      const serverNameArgs = serverName ? ['--server-name', serverName] : [];
      const printed = await runCli(['connect', client, '--name', name, '--project', project, ...serverNameArgs, '--print', '--data-dir', dataDir], { env: cleanEnv() });
      expect(printed.code, printed.stderr).toBe(0);
      const { token } = loadCredentials(dataDir, project, name)!;

      // What the panel renders for the same name and project, from the hub's answer alone.
      const credentials = [info.dataDir, ...credentialsPathParts(project, name)].join(info.pathSeparator);
      const panel = connectPrintout(client, connectPlan(client, mcpUrlOf(info.hubUrl), TOKEN_PLACEHOLDER, name, credentials, serverName));
      if (serverName) expect(panel).toContain(`[mcp_servers.${serverName}]`);
      expect(panel).not.toContain(token);
      expect(printed.stdout.trimEnd()).toBe(panel.split(TOKEN_PLACEHOLDER).join(token));
    }
  });

  it('mcp.sessions lists each open session with its agent, client name and version, and pushes the list, coalesced, as they open and end', async () => {
    const dataDir = tempDir();
    const hub = await startHub(dataDir);
    const pushed: McpSessionInfo[][] = [];
    hub.app.events.on('mcp.sessions', (sessions) => pushed.push(sessions));
    const register = await fetch(`${hub.url}/api/v1/agents/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'builder', project: 'shop' }),
    });
    const { agent, token } = (await register.json()) as { agent: { id: string }; token: string };

    const before = Date.now();
    const client = new Client({ name: 'claude-code', version: '2.0.14' });
    const transport = new StreamableHTTPClientTransport(new URL(`${hub.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } });
    await client.connect(transport);
    const sessions = async () => ((await dispatchCall(hub.app.handlers, 'mcp.sessions', undefined)) as { result: McpSessionInfo[] }).result;
    const [open] = await sessions();
    expect(open).toMatchObject({ agentId: agent.id, client: { name: 'claude-code', version: '2.0.14' } });
    expect(Date.parse(open!.openedAt)).toBeGreaterThanOrEqual(before - 1000);
    await waitFor(() => pushed.at(-1)?.length === 1, 'an mcp.sessions event with the session');
    expect(pushed.at(-1)).toEqual([open]);

    // Five clients connecting at once: the cockpit gets the list whole, in fewer events than sessions.
    const eventsBefore = pushed.length;
    const burst = await Promise.all(
      Array.from({ length: 5 }, async (_, i) => {
        const other = new Client({ name: `burst-${i}`, version: '1.0.0' });
        await other.connect(new StreamableHTTPClientTransport(new URL(`${hub.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
        return other;
      }),
    );
    await waitFor(() => pushed.at(-1)?.length === 6, 'an mcp.sessions event with six sessions');
    expect(pushed.length - eventsBefore).toBeLessThan(5);
    expect(pushed.at(-1)!.map((session) => session.client.name).sort()).toEqual(['burst-0', 'burst-1', 'burst-2', 'burst-3', 'burst-4', 'claude-code']);
    await Promise.all(burst.map(async (other) => {
      await (other.transport as StreamableHTTPClientTransport).terminateSession();
      await other.close();
    }));
    await waitFor(() => pushed.at(-1)?.length === 1, 'the burst sessions to end');

    // DELETE /mcp ends the session: the list empties and the cockpit is told.
    await transport.terminateSession();
    await client.close();
    await waitFor(async () => (await sessions()).length === 0, 'the session to end');
    await waitFor(() => pushed.at(-1)?.length === 0, 'an mcp.sessions event with no session');
  });
});
