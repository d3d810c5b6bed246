/**
 * The commands and snippets that add the hub to an MCP client, built once: `devenviro connect` prints and runs them,
 * and the cockpit's Connect panel shows them, so the two cannot disagree. Pure string building (no Node, no I/O).
 */
import { API_PREFIX } from './agent-protocol';
import { MCP_PATH } from './mcp-protocol';

export const MCP_CLIENTS = ['claude', 'gemini', 'codex'] as const;
export type McpClient = (typeof MCP_CLIENTS)[number];

export const MCP_CLIENT_TITLES: Record<McpClient, string> = { claude: 'Claude Code', gemini: 'Gemini CLI', codex: 'Codex' };

/** The name the hub's server gets in the client's MCP configuration, unless `--server-name` gives another. */
export const MCP_SERVER_NAME = 'devenviro';

/**
 * A server name every client takes as it is: Claude Code's and Gemini CLI's names, and a bare key in Codex's
 * config.toml (`[mcp_servers.NAME]`).
 */
export const MCP_SERVER_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** Stands for an agent's token where the one printing does not have it (the cockpit: the hub keeps only hashes). */
export const TOKEN_PLACEHOLDER = '<token>';

export interface ConnectPlan {
  /** The client's own command that adds the server (argv, program first). */
  argv: string[];
  /** The same, as a line to paste into a shell. */
  command: string;
  /** Where the snippet goes, and the snippet (JSON for claude/gemini, TOML for codex). */
  configFile: string;
  snippet: string;
  /** What the user must do besides running the command (codex reads the token from the environment). */
  after?: string;
  /**
   * Run first, its failure ignored: removes the entry a previous connect made, for a client whose `mcp add` refuses
   * a name it has (Claude Code), so that connecting again (after a reclaim, a new port) replaces it.
   */
  remove?: string[];
}

/**
 * Codex's `mcp add` takes no header: it names an environment variable that holds the bearer token, read when Codex
 * starts. One per agent, so two agents connected on one machine do not share it.
 */
export function codexTokenVariable(name: string): string {
  return `DEVENVIRO_TOKEN_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** The hub's MCP endpoint for a hub URL (`http://127.0.0.1:4477` -> `http://127.0.0.1:4477/mcp`). */
export function mcpUrlOf(hubUrl: string): string {
  return hubUrl.replace(/\/+$/, '') + MCP_PATH;
}

/** `serverName`: the hub's entry in the client's configuration (two agents on one machine need two for Codex). */
export function connectPlan(
  client: McpClient,
  mcpUrl: string,
  token: string,
  agentName: string,
  credentialsPath: string,
  serverName: string = MCP_SERVER_NAME,
): ConnectPlan {
  const header = `Authorization: Bearer ${token}`;
  switch (client) {
    case 'claude': {
      const argv = ['claude', 'mcp', 'add', '--transport', 'http', serverName, mcpUrl, '--header', header];
      return {
        argv,
        remove: ['claude', 'mcp', 'remove', '--scope', 'local', serverName],
        command: shellLine(argv),
        configFile: '.mcp.json in the project (or ~/.claude.json)',
        snippet: JSON.stringify({ mcpServers: { [serverName]: { type: 'http', url: mcpUrl, headers: { Authorization: `Bearer ${token}` } } } }, null, 2),
      };
    }
    case 'gemini': {
      const argv = ['gemini', 'mcp', 'add', '--transport', 'http', '--header', header, serverName, mcpUrl];
      return {
        argv,
        command: shellLine(argv),
        // As `gemini mcp add --transport http` writes it.
        configFile: '.gemini/settings.json in the project (or ~/.gemini/settings.json)',
        snippet: JSON.stringify({ mcpServers: { [serverName]: { url: mcpUrl, type: 'http', headers: { Authorization: `Bearer ${token}` } } } }, null, 2),
      };
    }
    case 'codex': {
      const variable = codexTokenVariable(agentName);
      const argv = ['codex', 'mcp', 'add', serverName, '--url', mcpUrl, '--bearer-token-env-var', variable];
      return {
        argv,
        command: shellLine(argv),
        configFile: '~/.codex/config.toml',
        snippet: `[mcp_servers.${serverName}]\nurl = ${JSON.stringify(mcpUrl)}\nbearer_token_env_var = ${JSON.stringify(variable)}`,
        after: `Codex reads the token from $${variable} when it starts: export ${variable}="$(node -p 'require(${JSON.stringify(credentialsPath)}).token')"`,
      };
    }
  }
}

/** What `devenviro connect <client> --print` writes on stdout: the command, then the snippet and where it goes. */
export function connectPrintout(client: McpClient, plan: ConnectPlan): string {
  return [
    `# Add the hub to ${MCP_CLIENT_TITLES[client]} (the token is the agent's: keep it private):`,
    plan.command,
    '',
    `# Or put this in ${plan.configFile}:`,
    plan.snippet,
    ...(plan.after ? ['', `# ${plan.after}`] : []),
  ].join('\n');
}

/**
 * The one line that registers (or re-registers) the agent, saves its credentials and adds the hub to the client.
 * `devenviro` is how the CLI is invoked on this machine, data directory included (`node <app>/bin/devenviro.mjs
 * --data-dir DIR`, or just `devenviro`).
 */
export function connectCommandLine(
  devenviro: string,
  client: McpClient,
  name: string,
  project: string,
  options: { print?: boolean; serverName?: string } = {},
): string {
  const serverName = options.serverName && options.serverName !== MCP_SERVER_NAME ? ['--server-name', options.serverName] : [];
  return `${devenviro} ${shellLine(['connect', client, '--name', name, '--project', project, ...serverName, ...(options.print ? ['--print'] : [])])}`;
}

/**
 * For any other MCP client: the Streamable HTTP endpoint with the token as a header, or the stdio entry
 * (`devenviro mcp --as NAME --project P`) in the `mcpServers` JSON most clients read.
 */
export function genericMcpSnippets(
  devenviroArgv: string[],
  mcpUrl: string,
  name: string,
  project: string,
  serverName: string = MCP_SERVER_NAME,
): { http: string; stdio: string } {
  const [command, ...args] = devenviroArgv;
  return {
    http: JSON.stringify({ mcpServers: { [serverName]: { type: 'http', url: mcpUrl, headers: { Authorization: `Bearer ${TOKEN_PLACEHOLDER}` } } } }, null, 2),
    stdio: JSON.stringify({ mcpServers: { [serverName]: { command, args: [...args, 'mcp', '--as', name, '--project', project] } } }, null, 2),
  };
}

/** A script over the HTTP API: register (the answer holds the id and token), send, read the inbox. */
export function httpScript(hubUrl: string, name: string, project: string): string[] {
  const api = hubUrl.replace(/\/+$/, '') + API_PREFIX;
  return [
    shellLine(['curl', '-s', '-X', 'POST', `${api}/agents/register`, '-H', 'content-type: application/json', '-d', JSON.stringify({ name, project })]),
    shellLine(['curl', '-s', '-X', 'POST', `${api}/messages`, '-H', `authorization: Bearer ${TOKEN_PLACEHOLDER}`, '-H', 'content-type: application/json', '-d', JSON.stringify({ to: { type: 'broadcast' }, body: `hello from ${name}` })]),
    shellLine(['curl', '-s', `${api}/agents/<id>/messages`, '-H', `authorization: Bearer ${TOKEN_PLACEHOLDER}`]),
  ];
}

/** The devenviro CLI for an agent that is a script: register once (the token is saved), watch the inbox, send. */
export function cliLines(devenviro: string, name: string, project: string): string[] {
  const as = ['--as', name, '--project', project];
  return [
    `${devenviro} ${shellLine(['register', '--name', name, '--project', project])}`,
    `${devenviro} ${shellLine(['watch', ...as])}`,
    `${devenviro} ${shellLine(['send', 'other-agent', `hello from ${name}`, ...as])}`,
  ];
}

/** An agent written in TypeScript, with the client library; `persist` keeps its identity in the data directory. */
export function typescriptSnippet(hubUrl: string, dataDir: string, name: string, project: string): string {
  return [
    "import { HubClient } from 'devenviro-cockpit/client';",
    '',
    '// persist: reuses (or saves) the credentials the CLI keeps in the data directory, so the identity is stable.',
    `const agent = await HubClient.register({ url: ${JSON.stringify(hubUrl)}, dataDir: ${JSON.stringify(dataDir)}, persist: true, name: ${JSON.stringify(name)}, project: ${JSON.stringify(project)} });`,
    "agent.on('message', async (message) => console.log(message.from, message.body));",
    'await agent.connect();',
  ].join('\n');
}

/** argv as one POSIX shell line: words with anything but safe characters single-quoted. */
export function shellLine(argv: string[]): string {
  return argv.map((word) => (/^[A-Za-z0-9_./:@=-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`)).join(' ');
}
