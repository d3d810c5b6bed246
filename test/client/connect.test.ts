/**
 * `devenviro connect`, run as a child process against a real hub on loopback: the printed command and snippet work
 * against /mcp, a client on PATH (a fake `claude` that records its argv) is run with the right arguments, and
 * connecting again keeps the agent's id.
 */
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { describe, expect, it } from 'vitest';
import { credentialsFile, loadCredentials } from '../../src/client/credentials';
import { tempDir } from '../helpers';
import { cleanEnv, runCli } from './cli-run';
import { startHub } from './hub';

const env = cleanEnv;
const devenviro = (args: string[], environment: NodeJS.ProcessEnv) => runCli(args, { env: environment });

/** Lists the MCP tools with the official SDK client, as the given agent token. */
async function listTools(mcpUrl: string, token: string): Promise<string[]> {
  const client = new Client({ name: 'connect-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  try {
    return (await client.listTools()).tools.map((tool) => tool.name);
  } finally {
    await client.close();
  }
}

describe('devenviro connect', { timeout: 120_000 }, () => {
  it('--print gives each client a command and snippet whose URL and token work against /mcp', async () => {
    const dataDir = tempDir();
    const hub = await startHub(dataDir);
    const mcpUrl = `${hub.url}/mcp`;
    const dd = ['--data-dir', dataDir, '--project', 'shop'];

    const claude = await devenviro(['connect', 'claude', '--name', 'builder', '--print', ...dd], env());
    expect(claude.code).toBe(0);
    const saved = loadCredentials(dataDir, 'shop', 'builder')!;
    expect(claude.stdout).toContain(`claude mcp add --transport http devenviro ${mcpUrl} --header 'Authorization: Bearer ${saved.token}'`);
    const claudeJson = JSON.parse(claude.stdout.slice(claude.stdout.indexOf('{'))) as { mcpServers: { devenviro: { type: string; url: string; headers: Record<string, string> } } };
    expect(claudeJson.mcpServers.devenviro).toEqual({ type: 'http', url: mcpUrl, headers: { Authorization: `Bearer ${saved.token}` } });
    const bearer = /Authorization: Bearer (\S+?)'/.exec(claude.stdout)![1]!;
    expect(await listTools(mcpUrl, bearer)).toContain('wait_for_messages');

    const gemini = await devenviro(['connect', 'gemini', '--name', 'reviewer', '--print', ...dd], env());
    expect(gemini.code).toBe(0);
    const reviewer = loadCredentials(dataDir, 'shop', 'reviewer')!;
    expect(gemini.stdout).toContain(`gemini mcp add --transport http --header 'Authorization: Bearer ${reviewer.token}' devenviro ${mcpUrl}`);
    // After the snippet, what the person must do besides: trust the folder, or Gemini CLI lists the server as Disabled.
    expect(gemini.stdout.trimEnd().split('\n').at(-1)).toBe('# Gemini CLI uses MCP servers only in folders you trust: if `gemini mcp list` shows devenviro as Disabled, start gemini in the project folder and trust it when asked (or run /permissions trust there).');
    const geminiJson = JSON.parse(gemini.stdout.slice(gemini.stdout.indexOf('{'), gemini.stdout.lastIndexOf('}') + 1)) as { mcpServers: { devenviro: { url: string; type: string; headers: Record<string, string> } } };
    expect(geminiJson.mcpServers.devenviro).toEqual({ url: mcpUrl, type: 'http', headers: { Authorization: `Bearer ${reviewer.token}` } });
    expect(await listTools(geminiJson.mcpServers.devenviro.url, geminiJson.mcpServers.devenviro.headers.Authorization!.slice('Bearer '.length))).toContain('send_message');

    // Codex takes no header: the token comes from an environment variable the snippet names.
    const codex = await devenviro(['connect', 'codex', '--name', 'tester', '--print', ...dd], env());
    expect(codex.code).toBe(0);
    expect(codex.stdout).toContain(`codex mcp add devenviro --url ${mcpUrl} --bearer-token-env-var DEVENVIRO_TOKEN_TESTER`);
    expect(codex.stdout).toContain(`[mcp_servers.devenviro]\nurl = "${mcpUrl}"\nbearer_token_env_var = "DEVENVIRO_TOKEN_TESTER"`);
    const tester = loadCredentials(dataDir, 'shop', 'tester')!;
    expect(await listTools(mcpUrl, tester.token)).toContain('whoami');
    // The printed way to fill the variable reads the saved credentials.
    expect(codex.stdout).toContain(`export DEVENVIRO_TOKEN_TESTER="$(node -p 'require("${path.join(dataDir, 'credentials', 'shop', 'tester.json')}").token')"`);
  });

  it('runs the client found on PATH with the right arguments, keeps the token out of its output, and keeps the id on reconnect and on reclaim', async () => {
    const dataDir = tempDir();
    const hub = await startHub(dataDir);
    const bin = tempDir();
    const argvFile = path.join(bin, 'argv');
    // A stand-in for Claude Code (the edge we do not own): appends each call's arguments (one a line, then "--end"),
    // refuses to remove a server it does not have, and echoes the header it got as the real one may.
    writeFileSync(
      path.join(bin, 'claude'),
      `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done >> '${argvFile}'\necho -- --end >> '${argvFile}'\n` +
        `[ "$2" = remove ] && { echo "No MCP server found" >&2; exit 1; }\necho "Added HTTP MCP server with header $8"\n`,
    );
    chmodSync(path.join(bin, 'claude'), 0o755);
    const withClaude = env({ PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}` });
    const dd = ['--data-dir', dataDir, '--project', 'shop'];

    const first = await devenviro(['connect', 'claude', '--name', 'builder', ...dd], withClaude);
    expect(first.stderr).toContain('Running: claude mcp add');
    expect(first.code).toBe(0);
    const saved = loadCredentials(dataDir, 'shop', 'builder')!;
    const calls = () => readFileSync(argvFile, 'utf8').split('--end\n').slice(0, -1).map((call) => call.split('\n').slice(0, -1));
    const remove = ['mcp', 'remove', '--scope', 'local', 'devenviro'];
    expect(calls()).toEqual([
      remove,
      [
        'mcp',
        'add',
        '--transport',
        'http',
        'devenviro',
        `${hub.url}/mcp`,
        '--header',
        `Authorization: Bearer ${saved.token}`,
      ],
    ]);
    expect(first.stdout + first.stderr).not.toContain(saved.token);
    expect(first.stderr).toContain('Authorization: Bearer <token>');
    expect(await listTools(`${hub.url}/mcp`, saved.token)).toContain('read_inbox');

    // Connecting again with the saved credentials keeps the agent.
    const again = await devenviro(['connect', 'claude', '--name', 'builder', ...dd, '--json'], withClaude);
    expect(again.code).toBe(0);
    const answer = JSON.parse(again.stdout) as { agent: { id: string }; existing: boolean; ran: boolean };
    expect(answer).toMatchObject({ agent: { id: saved.id }, existing: true, ran: true });
    expect(loadCredentials(dataDir, 'shop', 'builder')!.id).toBe(saved.id);
    // The client's entry is replaced, not refused as a duplicate: removed, then added again.
    expect(calls().slice(2).map((call) => call.slice(0, 2))).toEqual([
      ['mcp', 'remove'],
      ['mcp', 'add'],
    ]);

    // Credentials lost: --reclaim takes the name back with the cockpit's token; same id, a new token that works.
    rmSync(credentialsFile(dataDir, 'shop', 'builder'));
    const reclaimed = await devenviro(['connect', 'claude', '--name', 'builder', '--reclaim', ...dd], withClaude);
    expect(reclaimed.code).toBe(0);
    const after = loadCredentials(dataDir, 'shop', 'builder')!;
    expect(after.id).toBe(saved.id);
    expect(after.token).not.toBe(saved.token);
    expect(calls().at(-1)).toContain(`Authorization: Bearer ${after.token}`);
    expect(await listTools(`${hub.url}/mcp`, after.token)).toContain('whoami');
  });

  it('--server-name names the hub\'s entry in the client, so two agents can share one client configuration', async () => {
    const dataDir = tempDir();
    const hub = await startHub(dataDir);
    const mcpUrl = `${hub.url}/mcp`;
    const dd = ['--data-dir', dataDir, '--project', 'shop'];

    const codex = await devenviro(['connect', 'codex', '--name', 'reviewer', '--server-name', 'devenviro-reviewer', '--print', ...dd], env());
    expect(codex.code).toBe(0);
    expect(codex.stdout).toContain(`codex mcp add devenviro-reviewer --url ${mcpUrl} --bearer-token-env-var DEVENVIRO_TOKEN_REVIEWER`);
    expect(codex.stdout).toContain(`[mcp_servers.devenviro-reviewer]\nurl = "${mcpUrl}"`);

    // Run through a client on PATH: the previous entry of that name is removed and the new one added under it.
    const bin = tempDir();
    const argvFile = path.join(bin, 'argv');
    writeFileSync(path.join(bin, 'claude'), `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done >> '${argvFile}'\necho -- --end >> '${argvFile}'\n`);
    chmodSync(path.join(bin, 'claude'), 0o755);
    const withClaude = env({ PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}` });
    const ran = await devenviro(['connect', 'claude', '--name', 'builder', '--server-name', 'hub_builder', '--json', ...dd], withClaude);
    expect(ran.code).toBe(0);
    expect(JSON.parse(ran.stdout)).toMatchObject({ serverName: 'hub_builder', ran: true });
    expect(ran.stderr).toContain('now has the hub as MCP server "hub_builder"');
    const builder = loadCredentials(dataDir, 'shop', 'builder')!;
    const calls = readFileSync(argvFile, 'utf8').split('--end\n').slice(0, -1).map((call) => call.split('\n').slice(0, -1));
    expect(calls).toEqual([
      ['mcp', 'remove', '--scope', 'local', 'hub_builder'],
      ['mcp', 'add', '--transport', 'http', 'hub_builder', mcpUrl, '--header', `Authorization: Bearer ${builder.token}`],
    ]);

    // A name a client's configuration cannot hold is a usage error, before anything is registered.
    const bad = await devenviro(['connect', 'codex', '--name', 'tester', '--server-name', 'dev enviro', '--print', ...dd], env());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--server-name "dev enviro": use letters, digits, - and _');
    expect(loadCredentials(dataDir, 'shop', 'tester')).toBeUndefined();
  });

  it('refuses an unknown client and a missing name as usage errors', async () => {
    const dataDir = tempDir();
    const wrong = await devenviro(['connect', 'cursor', '--name', 'x', '--data-dir', dataDir], env());
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('connect needs one client: claude, gemini, codex');
    const nameless = await devenviro(['connect', 'claude', '--data-dir', dataDir], env());
    expect(nameless.code).toBe(2);
    expect(nameless.stderr).toContain('connect needs --name NAME');
  });
});
