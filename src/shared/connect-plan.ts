/**
 * The commands and snippets that add the hub to an MCP client, built once: `devenviro connect` prints and runs them,
 * and the cockpit's Connect panel shows them, so the two cannot disagree. Pure string building (no Node, no I/O).
 */
import { A2A_CARD_PATH, A2A_PATH } from './a2a-protocol';
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
  /** What the user must do besides running the command (codex reads the token from the environment; gemini needs a trusted folder). */
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
        // Gemini CLI (0.61) lists the server as "Disabled" in a folder the person has not trusted yet, and says little more.
        after: `Gemini CLI uses MCP servers only in folders you trust: if \`gemini mcp list\` shows ${serverName} as Disabled, start gemini in the project folder and trust it when asked (or run /permissions trust there).`,
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

/** What an agent on another framework needs to call the hub's agents over A2A (see docs/agents.md, A2A). */
export interface A2aConnect {
  /** The public agent card: the hub's skills are its agents (their ids are what `to` takes). */
  cardUrl: string;
  /** The JSON-RPC endpoint. */
  rpcUrl: string;
  /** Register the calling agent, read the card, send a message to `target`, read the task back (curl). */
  curl: string[];
  /** The same with the official SDK's client. */
  sdkSnippet: string;
}

/** `name`/`project`: the calling agent; `target`: the hub agent the example message is for (`metadata.to`). */
export function a2aConnect(hubUrl: string, name: string, project: string, target: string): A2aConnect {
  const base = hubUrl.replace(/\/+$/, '');
  const cardUrl = base + A2A_CARD_PATH;
  const rpcUrl = base + A2A_PATH;
  const rpcHeaders = ['-H', `authorization: Bearer ${TOKEN_PLACEHOLDER}`, '-H', 'a2a-version: 1.0', '-H', 'content-type: application/json'];
  const send = {
    jsonrpc: '2.0',
    id: 1,
    method: 'SendMessage',
    params: { message: { messageId: 'm-1', role: 'ROLE_USER', parts: [{ text: `hello from ${name}` }], metadata: { to: target } } },
  };
  return {
    cardUrl,
    rpcUrl,
    curl: [
      httpScript(hubUrl, name, project)[0]!,
      shellLine(['curl', '-s', cardUrl]),
      shellLine(['curl', '-s', rpcUrl, ...rpcHeaders, '-d', JSON.stringify(send)]),
      shellLine(['curl', '-s', rpcUrl, ...rpcHeaders, '-d', JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'GetTask', params: { id: '<task id>' } })]),
    ],
    sdkSnippet: [
      "import { Role } from '@a2a-js/sdk';",
      "import { ClientFactory, JsonRpcTransportFactory } from '@a2a-js/sdk/client';",
      '',
      `const token = '${TOKEN_PLACEHOLDER}'; // the token ${name} got when it registered`,
      'const withToken: typeof fetch = (input, init) => {',
      '  const headers = new Headers(init?.headers);',
      "  headers.set('Authorization', `Bearer ${token}`);",
      '  return fetch(input, { ...init, headers });',
      '};',
      'const client = await new ClientFactory({ transports: [new JsonRpcTransportFactory({ fetchImpl: withToken })] })',
      `  .createFromUrl(${JSON.stringify(base)}); // reads ${A2A_CARD_PATH}`,
      'const task = await client.sendMessage({',
      "  tenant: '',",
      '  message: {',
      "    messageId: crypto.randomUUID(), contextId: '', taskId: '', role: Role.ROLE_USER,",
      `    parts: [{ content: { $case: 'text', value: ${JSON.stringify(`hello from ${name}`)} }, mediaType: 'text/plain', filename: '', metadata: {} }],`,
      `    metadata: { to: ${JSON.stringify(target)} }, extensions: [], referenceTaskIds: [],`,
      '  },',
      '  configuration: undefined,',
      '  metadata: {},',
      '});',
      "// A task in TASK_STATE_WORKING: poll client.getTask({ tenant: '', id }) until the agent's reply completes it.",
    ].join('\n'),
  };
}

/** argv as one POSIX shell line: words with anything but safe characters single-quoted. */
export function shellLine(argv: string[]): string {
  return argv.map((word) => (/^[A-Za-z0-9_./:@=-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`)).join(' ');
}
