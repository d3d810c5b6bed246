/** The agent commands: register, agents, status, subscribe and unsubscribe. */
import { AGENT_TIERS, SETTABLE_STATUSES, type AgentInfo } from '../../shared/agent-protocol';
import { HubClientError, type AgentClient } from '../client';
import { HubClient } from '../hub-client';
import { loadCredentials, saveCredentials } from '../credentials';
import { noArgs, topicArgs, UsageError, type Command, type Context } from './command';
import { cockpitToken, location, readerHttp } from './hub';
import { ago, table } from './output';

export const register: Command = {
  summary: 'register an agent and save its credentials',
  usage: 'devenviro register --name NAME [--project P] [--tier T] [--capability C]... [--description D] [--reclaim]',
  details: `Saves the agent's token to <data-dir>/credentials/<project>/<name>.json (owner-only) and prints its id.
Registering a name again with its saved credentials keeps the same id. --reclaim takes over a name whose
credentials are lost, using the cockpit's token from the data directory (the agent gets a new token).
Tiers: ${AGENT_TIERS.join(', ')}.`,
  options: {
    name: { type: 'string' },
    tier: { type: 'string' },
    capability: { type: 'string', multiple: true },
    description: { type: 'string' },
    reclaim: { type: 'boolean' },
  },
  async run(ctx) {
    noArgs(ctx);
    const name = ctx.values.name as string | undefined;
    if (!name) throw new UsageError('register needs --name NAME', ctx.command);
    const project = (ctx.values.project as string | undefined) ?? 'default';
    const tier = ctx.values.tier as string | undefined;
    if (tier !== undefined && !(AGENT_TIERS as readonly string[]).includes(tier)) {
      throw new UsageError(`--tier must be one of ${AGENT_TIERS.join(', ')}`, ctx.command);
    }
    const { agent, file } = await registerAgent(ctx, {
      name,
      project,
      reclaim: ctx.values.reclaim === true,
      tier: tier as (typeof AGENT_TIERS)[number] | undefined,
      capabilities: ctx.values.capability as string[] | undefined,
      description: ctx.values.description as string | undefined,
    });
    if (ctx.json) {
      ctx.out(JSON.stringify({ agent: agent.agent, existing: agent.existing, credentials: file }, null, 2));
    } else {
      ctx.out(agent.id);
      ctx.note(`${agent.existing ? 'Re-registered' : 'Registered'} ${name} in project ${agent.agent.project}${agent.existing ? ' (same identity)' : ''}; credentials saved to ${file}`);
    }
  },
};

/**
 * Registers an agent with its saved token (so it keeps its id), or with the cockpit's token when reclaiming a name
 * whose credentials are lost, and saves the credentials the hub answers with. `register` and `connect` share it.
 */
export async function registerAgent(
  ctx: Context,
  options: { name: string; project: string; reclaim?: boolean; tier?: (typeof AGENT_TIERS)[number]; capabilities?: string[]; description?: string },
): Promise<{ agent: AgentClient; file: string }> {
  const { name, project } = options;
  const saved = loadCredentials(ctx.dataDir, project, name);
  const token = options.reclaim ? await cockpitToken(ctx.dataDir) : saved?.token;
  const agent = await HubClient.register({
    ...location(ctx),
    name,
    project,
    token,
    tier: options.tier,
    capabilities: options.capabilities,
    description: options.description,
  }).catch((error: unknown) => {
    if (error instanceof HubClientError && error.status === 409) {
      throw new HubClientError(409, error.code, `${error.message}. From this machine, \`devenviro ${ctx.command} --name ${name} --project ${project} --reclaim\` does that`);
    }
    throw error;
  });
  const file = saveCredentials(ctx.dataDir, { id: agent.id, name: agent.agent.name, project: agent.agent.project, token: agent.token, url: agent.url });
  return { agent, file };
}

export const agents: Command = {
  summary: 'list the agents the hub knows',
  usage: 'devenviro agents [--active] [--json]',
  details: 'Without an agent identity, uses the cockpit token in the data directory.',
  options: { active: { type: 'boolean' } },
  async run(ctx) {
    noArgs(ctx);
    const http = await readerHttp(ctx);
    const { agents } = await http.request<{ agents: AgentInfo[] }>('GET', ctx.values.active ? '/agents/active' : '/agents');
    if (ctx.json) return void ctx.out(JSON.stringify(agents, null, 2));
    if (agents.length === 0) return void ctx.note(ctx.values.active ? 'No agent is active.' : 'No agents yet.');
    const now = Date.now();
    ctx.out(
      table([
        ['NAME', 'PROJECT', 'TIER', 'STATUS', 'INBOX', 'LAST SEEN', 'ID', 'ACTIVITY'],
        ...agents.map((a) => [
          a.name,
          a.project,
          a.tier,
          a.revoked ? 'revoked' : a.connected ? `${a.status}*` : a.status,
          String(a.inboxDepth),
          a.connected ? 'connected' : a.lastSeen ? ago(now - Date.parse(a.lastSeen)) : 'never',
          a.id,
          a.activity ?? '',
        ]),
      ]),
    );
  },
};

export const status: Command = {
  summary: "show or set this agent's status",
  usage: `devenviro status [${SETTABLE_STATUSES.join('|')}] [--activity TEXT] [--json]`,
  details: 'Without arguments, shows the status. --activity "" clears the activity.',
  options: { activity: { type: 'string' } },
  async run(ctx) {
    if (ctx.args.length > 1) throw new UsageError('status takes at most one status', ctx.command);
    const wanted = ctx.args[0];
    if (wanted !== undefined && !(SETTABLE_STATUSES as readonly string[]).includes(wanted)) {
      throw new UsageError(`the status must be one of ${SETTABLE_STATUSES.join(', ')}`, ctx.command);
    }
    const client = await ctx.identity();
    const activityOption = ctx.values.activity as string | undefined;
    let info: AgentInfo;
    if (wanted === undefined && activityOption === undefined) {
      info = await client.info();
    } else {
      const current = wanted ?? (client.agent.status === 'offline' ? 'online' : client.agent.status);
      const activity = activityOption === undefined ? undefined : activityOption === '' ? null : activityOption;
      info = await client.setStatus(current as (typeof SETTABLE_STATUSES)[number], activity);
    }
    if (ctx.json) return void ctx.out(JSON.stringify(info, null, 2));
    ctx.out(
      [
        `${info.name} (project ${info.project}, ${info.tier}): ${info.status}${info.activity ? ` — ${info.activity}` : ''}`,
        `  id ${info.id}; ${info.connected ? 'connected' : 'not connected'}; ${info.inboxDepth} unacknowledged; ${info.messagesIn} in, ${info.messagesOut} out`,
      ].join('\n'),
    );
  },
};

export const subscribe: Command = {
  summary: 'subscribe to topics',
  usage: 'devenviro subscribe <topic>... [--json]',
  async run(ctx) {
    const topics = topicArgs(ctx);
    const client = await ctx.identity();
    const all = await client.subscribe(topics);
    if (ctx.json) return void ctx.out(JSON.stringify({ topics: all }));
    ctx.note(`Subscribed. Topics of ${client.agent.name}: ${all.map((t) => `#${t}`).join(', ')}`);
  },
};

export const unsubscribe: Command = {
  summary: 'unsubscribe from topics',
  usage: 'devenviro unsubscribe <topic>... [--json]',
  async run(ctx) {
    const topics = topicArgs(ctx);
    const client = await ctx.identity();
    const all = await client.unsubscribe(topics);
    if (ctx.json) return void ctx.out(JSON.stringify({ topics: all }));
    ctx.note(`Unsubscribed. Topics of ${client.agent.name}: ${all.length ? all.map((t) => `#${t}`).join(', ') : 'none'}`);
  },
};
