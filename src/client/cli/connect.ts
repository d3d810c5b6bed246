/** `devenviro connect`: registers an agent and adds the hub's MCP server to Claude Code, Gemini CLI or Codex. */
import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import {
  connectPlan,
  connectPrintout,
  MCP_CLIENT_TITLES,
  MCP_CLIENTS as CLIENTS,
  MCP_SERVER_NAME as SERVER_NAME,
  MCP_SERVER_NAME_PATTERN,
  type McpClient,
} from '../../shared/connect-plan';
import { MCP_PATH } from '../../shared/mcp-protocol';
import { registerAgent } from './agents';
import { UsageError, type Command } from './command';

export const connect: Command = {
  summary: "register an agent and add the hub to Claude Code's, Gemini CLI's or Codex's MCP servers",
  usage: 'devenviro connect claude|gemini|codex --name NAME [--project P] [--server-name S] [--reclaim] [--print]',
  details: `Registers NAME (with its saved credentials it keeps its id; --reclaim takes over a name whose credentials are
lost, using the cockpit's token), saves its credentials, then runs the client's own command to add the hub's MCP
server (${MCP_PATH} with the agent's token) as "${SERVER_NAME}", or as --server-name S (one entry per agent, say
"devenviro-reviewer", where several agents share one client configuration, as Codex's does):
  claude mcp add --transport http ${SERVER_NAME} <url> --header "Authorization: Bearer <token>"   (this directory)
  gemini mcp add --transport http --header "Authorization: Bearer <token>" ${SERVER_NAME} <url>  (this project)
  codex mcp add ${SERVER_NAME} --url <url> --bearer-token-env-var DEVENVIRO_TOKEN_<NAME>          (~/.codex/config.toml)
Where the client is not on PATH, and always with --print, it prints that command and the configuration snippet
instead. The printed command and snippet contain the agent's token: they are printed because you asked for them;
keep them out of shared logs. When it runs the client, the token is not printed.`,
  options: {
    name: { type: 'string' },
    'server-name': { type: 'string' },
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
    const serverName = (ctx.values['server-name'] as string | undefined) ?? SERVER_NAME;
    if (!MCP_SERVER_NAME_PATTERN.test(serverName)) {
      throw new UsageError(`--server-name ${JSON.stringify(serverName)}: use letters, digits, - and _ (up to 64, starting with a letter or digit)`, ctx.command);
    }

    const { agent, file } = await registerAgent(ctx, { name, project, reclaim: ctx.values.reclaim === true });
    const mcpUrl = agent.url + MCP_PATH;
    const plan = connectPlan(client, mcpUrl, agent.token, agent.agent.name, file, serverName);
    ctx.note(`${agent.existing ? 'Re-registered' : 'Registered'} ${name} in project ${agent.agent.project} (id ${agent.id}); credentials saved to ${file}`);

    const program = ctx.values.print ? undefined : onPath(client, ctx.io.env);
    if (ctx.json) {
      ctx.out(JSON.stringify({ agent: agent.agent, existing: agent.existing, credentials: file, client, mcpUrl, serverName, ...plan, ran: program !== undefined }, null, 2));
      if (!program) return;
    }
    if (!program) {
      if (!ctx.json) {
        if (!ctx.values.print) ctx.note(`${client} is not on PATH: add the hub yourself.`);
        ctx.out(connectPrintout(client, plan));
      }
      return;
    }

    const redact = (text: string) => text.split(agent.token).join('<token>');
    ctx.note(`Running: ${redact(plan.command)}`);
    if (plan.remove) await runProgram(program, plan.remove.slice(1), ctx.io.env);
    const result = await runProgram(program, plan.argv.slice(1), ctx.io.env);
    if (result.output.trim()) ctx.note(redact(result.output.trimEnd()));
    if (result.code !== 0) {
      const again = serverName === SERVER_NAME ? '' : ` --server-name ${serverName}`;
      ctx.note(`${client} mcp add failed (exit ${result.code}); \`devenviro connect ${client} --name ${name} --project ${project}${again} --print\` shows the command and snippet.`);
      return 1;
    }
    ctx.note(`${MCP_CLIENT_TITLES[client]} now has the hub as MCP server "${serverName}" (${mcpUrl}).${plan.after ? `\n${plan.after}` : ''}`);
  },
};

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
