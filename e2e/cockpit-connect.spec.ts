/**
 * The Connect view against a real headless hub: the commands carry the typed name and project and the hub's URL,
 * Copy puts them on the clipboard, the copied `devenviro connect --print` line run in a shell prints exactly what the
 * view shows (with the real token where the view has a placeholder), and MCP sessions opened with the official SDK
 * client appear and go live.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { loadCredentials } from '../src/client/credentials';
import { expect, test } from './hub';
import { openCockpit, watchConsole } from './test-agent';

const run = promisify(execFile);

/** The environment of a user with no MCP client installed: connect prints instead of running one. */
function shellEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: path.dirname(process.execPath) + path.delimiter + '/usr/bin' + path.delimiter + '/bin', HOME: process.env.HOME };
  return env;
}

test.describe('connect an agent', () => {
  test.use({ viewport: { width: 1440, height: 900 } });

  test('shows each client’s commands for the typed name and project, copies them, and the copied --print line prints what the view shows', async ({ page, hub, context }, testInfo) => {
    const problems = watchConsole(page);
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: hub.baseUrl });
    await openCockpit(page, hub, 'agents');
    await page.getByTestId('nav-connect').click();
    await expect(page.getByTestId('view-connect')).toBeVisible();
    await expect(page.getByTestId('connect-hub-url')).toHaveText(hub.baseUrl);

    await page.getByTestId('connect-name').fill('reviewer');
    await page.getByTestId('connect-project').fill('shop front');
    const mcpUrl = `${hub.baseUrl}/mcp`;

    // Claude Code: the one-liner, and the --print output by hand, with a placeholder for the token it cannot show.
    const command = page.getByTestId('connect-command');
    await expect(command).toContainText(`--data-dir ${hub.dataDir} connect claude --name reviewer --project 'shop front'`);
    const printout = page.getByTestId('connect-printout');
    await expect(printout).toContainText(`claude mcp add --transport http devenviro ${mcpUrl} --header 'Authorization: Bearer <token>'`);
    await expect(printout).toContainText('"url": "' + mcpUrl + '"');
    await expect(page.getByTestId('connect-token-note')).toContainText('keeps only a hash');
    await page.screenshot({ path: testInfo.outputPath('connect.png'), fullPage: true });

    await command.getByRole('button', { name: /copy/i }).click();
    await expect(command.getByRole('button')).toHaveText('Copied');
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(await command.locator('code').innerText());

    // The --print line, copied and run in a shell, registers the agent and prints the view's text with its token.
    const printCommand = page.getByTestId('connect-print-command');
    await printCommand.getByRole('button', { name: /copy/i }).click();
    const copiedLine = await page.evaluate(() => navigator.clipboard.readText());
    expect(copiedLine).toMatch(/ connect claude --name reviewer --project 'shop front' --print$/);
    const { stdout } = await run('/bin/sh', ['-c', copiedLine], { env: shellEnv() });
    const saved = loadCredentials(hub.dataDir, 'shop front', 'reviewer')!;
    const shown = await printout.locator('code').innerText();
    expect(shown).not.toContain(saved.token);
    expect(stdout.trimEnd()).toBe(shown.split('<token>').join(saved.token));

    // Gemini CLI and Codex follow the name and project as they are typed.
    await page.getByTestId('connect-tab-gemini').click();
    await expect(page.getByTestId('connect-command')).toContainText("connect gemini --name reviewer --project 'shop front'");
    await expect(page.getByTestId('connect-printout')).toContainText(`gemini mcp add --transport http --header 'Authorization: Bearer <token>' devenviro ${mcpUrl}`);
    await page.getByTestId('connect-name').fill('tester');
    await page.getByTestId('connect-tab-codex').click();
    await expect(page.getByTestId('connect-printout')).toContainText(`codex mcp add devenviro --url ${mcpUrl} --bearer-token-env-var DEVENVIRO_TOKEN_TESTER`);
    await expect(page.getByTestId('connect-printout')).toContainText(path.join(hub.dataDir, 'credentials', 'shop%20front', 'tester.json'));
    // Another name in the client's configuration (two agents in Codex's one per-user file), as --server-name.
    await page.getByTestId('connect-server-name').fill('devenviro-tester');
    await expect(page.getByTestId('connect-command')).toContainText("--project 'shop front' --server-name devenviro-tester");
    await expect(page.getByTestId('connect-printout')).toContainText(`codex mcp add devenviro-tester --url ${mcpUrl}`);
    await expect(page.getByTestId('connect-printout')).toContainText('[mcp_servers.devenviro-tester]');
    await page.getByTestId('connect-server-name').fill('not a name');
    await expect(page.getByTestId('connect-problem')).toContainText('name in the client');
    await page.getByTestId('connect-server-name').fill('devenviro');

    // Any MCP client: the stdio entry and the HTTP endpoint; a script: curl against this hub.
    await page.getByTestId('connect-tab-mcp').click();
    await expect(page.getByTestId('connect-mcp-stdio')).toContainText('"--as",\n        "tester"');
    await expect(page.getByTestId('connect-mcp-http')).toContainText(mcpUrl);
    await page.getByTestId('connect-tab-script').click();
    await expect(page.getByTestId('connect-http').first()).toContainText(`${hub.baseUrl}/api/v1/agents/register`);
    await expect(page.getByTestId('connect-ts')).toContainText('name: "tester", project: "shop front"');

    // A name the hub would refuse gets the reason instead of commands.
    await page.getByTestId('connect-name').fill('no spaces allowed');
    await expect(page.getByTestId('connect-problem')).toContainText('name');
    await expect(page.getByTestId('connect-steps')).toHaveCount(0);

    expect(problems).toEqual([]);
  });

  test('the A2A tab shows the card and JSON-RPC URLs, how to name the target, and a curl SendMessage that works as shown once the token is put in', async ({ page, hub }) => {
    const problems = watchConsole(page);
    await openCockpit(page, hub, 'connect');
    await page.getByTestId('connect-name').fill('planner');
    await page.getByTestId('connect-project').fill('shop');
    await page.getByTestId('connect-tab-a2a').click();
    await expect(page.getByTestId('connect-a2a-card')).toContainText(`${hub.baseUrl}/.well-known/agent-card.json`);
    await expect(page.getByTestId('connect-a2a-rpc')).toContainText(`${hub.baseUrl}/a2a`);
    await expect(page.getByTestId('connect-a2a-target')).toContainText('message.metadata.to');
    await expect(page.getByTestId('connect-a2a-sdk')).toContainText("from '@a2a-js/sdk/client'");
    await expect(page.getByTestId('connect-a2a-sdk')).toContainText("const token = '<token>'");
    const curl = page.getByTestId('connect-a2a-curl');
    await expect(curl).toHaveCount(4);

    // The register line as shown, then the SendMessage line with the token it returned: a task for the reviewer.
    const reviewer = await fetch(`${hub.baseUrl}/api/v1/agents/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'reviewer', project: 'shop' }),
    });
    expect(reviewer.status).toBe(201);
    const shownLine = (i: number) => curl.nth(i).locator('code').innerText();
    const registered = JSON.parse((await run('/bin/sh', ['-c', await shownLine(0)], { env: shellEnv() })).stdout) as { token: string };
    const send = (await shownLine(2)).split('<token>').join(registered.token);
    const answer = JSON.parse((await run('/bin/sh', ['-c', send], { env: shellEnv() })).stdout);
    expect(answer.result.task).toMatchObject({ status: { state: 'TASK_STATE_WORKING' }, metadata: { 'devenviro.agentName': 'reviewer' } });
    expect(problems).toEqual([]);
  });

  test('MCP sessions appear with their client when an agent’s client connects, and go when it ends the session', async ({ page, hub }) => {
    await openCockpit(page, hub, 'connect');
    await expect(page.getByTestId('mcp-sessions')).toContainText('No MCP session is open');

    const response = await fetch(`${hub.baseUrl}/api/v1/agents/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'builder', project: 'shop' }),
    });
    const { token } = (await response.json()) as { token: string };
    const client = new Client({ name: 'gemini-cli-mcp-client', version: '0.9.0' });
    const transport = new StreamableHTTPClientTransport(new URL(`${hub.baseUrl}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } });
    await client.connect(transport);

    const row = page.locator('[data-testid=mcp-session][data-agent=builder]');
    await expect(row).toBeVisible({ timeout: 2000 });
    await expect(row.getByTestId('mcp-session-client')).toHaveText('gemini-cli-mcp-client 0.9.0');
    await expect(row).toContainText('shop');

    await transport.terminateSession();
    await client.close();
    await expect(row).toHaveCount(0, { timeout: 2000 });
  });
});
