/** `devenviro connect`: registers an agent and adds the hub's MCP server to Claude Code, Gemini CLI or Codex. */
import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { MCP_PATH } from '../../shared/mcp-protocol';
import { registerAgent } from './agents';
import { UsageError, type Command } from './command';

const CLIENTS = ['claude', 'gemini', 'codex'] as const;
type McpClient = (typeof CLIENTS)[number];

/** The name the hub's server gets in the client's MCP configuration. */
const SERVER_NAME = 'devenviro';

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

export function connectPlan(client: McpClient, mcpUrl: string, token: string, agentName: string, credentialsPath: string): ConnectPlan {
  const header = `Authorization: Bearer ${token}`;
  switch (client) {
    case 'claude': {
      const argv = ['claude', 'mcp', 'add', '--transport', 'http', SERVER_NAME, mcpUrl, '--header', header];
      return {
        argv,
        remove: ['claude', 'mcp', 'remove', '--scope', 'local', SERVER_NAME],
        command: shellLine(argv),
        configFile: '.mcp.json in the project (or ~/.claude.json)',
        snippet: JSON.stringify({ mcpServers: { [SERVER_NAME]: { type: 'http', url: mcpUrl, headers: { Authorization: `Bearer ${token}` } } } }, null, 2),
      };
    }
    case 'gemini': {
      const argv = ['gemini', 'mcp', 'add', '--transport', 'http', '--header', header, SERVER_NAME, mcpUrl];
      return {
        argv,
        command: shellLine(argv),
        // As `gemini mcp add --transport http` writes it.
        configFile: '.gemini/settings.json in the project (or ~/.gemini/settings.json)',
        snippet: JSON.stringify({ mcpServers: { [SERVER_NAME]: { url: mcpUrl, type: 'http', headers: { Authorization: `Bearer ${token}` } } } }, null, 2),
      };
    }
    case 'codex': {
      const variable = codexTokenVariable(agentName);
      const argv = ['codex', 'mcp', 'add', SERVER_NAME, '--url', mcpUrl, '--bearer-token-env-var', variable];
      return {
        argv,
        command: shellLine(argv),
        configFile: '~/.codex/config.toml',
        snippet: `[mcp_servers.${SERVER_NAME}]\nurl = ${JSON.stringify(mcpUrl)}\nbearer_token_env_var = ${JSON.stringify(variable)}`,
        after: `Codex reads the token from $${variable} when it starts: export ${variable}="$(node -p 'require(${JSON.stringify(credentialsPath)}).token')"`,
      };
    }
  }
}

export const connect: Command = {
  summary: "register an agent and add the hub to Claude Code's, Gemini CLI's or Codex's MCP servers",
  usage: 'devenviro connect claude|gemini|codex --name NAME [--project P] [--reclaim] [--print]',
  details: `Registers NAME (with its saved credentials it keeps its id; --reclaim takes over a name whose credentials are
lost, using the cockpit's token), saves its credentials, then runs the client's own command to add the hub's MCP
server (${MCP_PATH} with the agent's token) as "${SERVER_NAME}":
  claude mcp add --transport http ${SERVER_NAME} <url> --header "Authorization: Bearer <token>"   (this directory)
  gemini mcp add --transport http --header "Authorization: Bearer <token>" ${SERVER_NAME} <url>  (this project)
  codex mcp add ${SERVER_NAME} --url <url> --bearer-token-env-var DEVENVIRO_TOKEN_<NAME>          (~/.codex/config.toml)
Where the client is not on PATH, and always with --print, it prints that command and the configuration snippet
instead. The printed command and snippet contain the agent's token: they are printed because you asked for them;
keep them out of shared logs. When it runs the client, the token is not printed.`,
  options: {
    name: { type: 'string' },
    reclaim: { type: 'boolean' },
    print: { type: 'boolean' },
  },
  async run(ctx) {
    if (ctx.args.length !== 1 || !(CLIENTS as readonly string[]).includes(ctx.args[0]!)) {
      throw new UsageError(`connect needs one client: ${CLIENTS.join(', ')}`, ctx.command);
    }
    const client = ctx.args[0] as McpClient;
    const name = ctx.values.name as string | undefined;
    if (!name) throw new UsageError('connect needs --name NAME', ctx.command);
    const project = (ctx.values.project as string | undefined) ?? 'default';

    const { agent, file } = await registerAgent(ctx, { name, project, reclaim: ctx.values.reclaim === true });
    const mcpUrl = agent.url + MCP_PATH;
    const plan = connectPlan(client, mcpUrl, agent.token, agent.agent.name, file);
    ctx.note(`${agent.existing ? 'Re-registered' : 'Registered'} ${name} in project ${agent.agent.project} (id ${agent.id}); credentials saved to ${file}`);

    const program = ctx.values.print ? undefined : onPath(client, ctx.io.env);
    if (ctx.json) {
      ctx.out(JSON.stringify({ agent: agent.agent, existing: agent.existing, credentials: file, client, mcpUrl, ...plan, ran: program !== undefined }, null, 2));
      if (!program) return;
    }
    if (!program) {
      if (!ctx.json) {
        if (!ctx.values.print) ctx.note(`${client} is not on PATH: add the hub yourself.`);
        ctx.out(
          [
            `# Add the hub to ${clientTitle(client)} (the token is the agent's: keep it private):`,
            plan.command,
            '',
            `# Or put this in ${plan.configFile}:`,
            plan.snippet,
            ...(plan.after ? ['', `# ${plan.after}`] : []),
          ].join('\n'),
        );
      }
      return;
    }

    const redact = (text: string) => text.split(agent.token).join('<token>');
    ctx.note(`Running: ${redact(plan.command)}`);
    if (plan.remove) await runProgram(program, plan.remove.slice(1), ctx.io.env);
    const result = await runProgram(program, plan.argv.slice(1), ctx.io.env);
    if (result.output.trim()) ctx.note(redact(result.output.trimEnd()));
    if (result.code !== 0) {
      ctx.note(`${client} mcp add failed (exit ${result.code}); \`devenviro connect ${client} --name ${name} --project ${project} --print\` shows the command and snippet.`);
      return 1;
    }
    ctx.note(`${clientTitle(client)} now has the hub as MCP server "${SERVER_NAME}" (${mcpUrl}).${plan.after ? `\n${plan.after}` : ''}`);
  },
};

function clientTitle(client: McpClient): string {
  return { claude: 'Claude Code', gemini: 'Gemini CLI', codex: 'Codex' }[client];
}

/** The executable file `program` names on PATH, as a shell would find it, or undefined. */
function onPath(program: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, program);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

function runProgram(program: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    // Output is collected rather than inherited so that a token the client echoes back can be hidden.
    const child = spawn(program, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

/** argv as one POSIX shell line: words with anything but safe characters single-quoted. */
function shellLine(argv: string[]): string {
  return argv.map((word) => (/^[A-Za-z0-9_./:@=-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`)).join(' ');
}
