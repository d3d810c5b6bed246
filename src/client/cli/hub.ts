/**
 * Who a command speaks for and how it reaches the hub: the agent identity (--as, the environment, saved
 * credentials), the cockpit token for read-only views, and agent names resolved to ids.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Ulid, TopicName, type AgentInfo, type Recipient } from '../../shared/agent-protocol';
import { COCKPIT_TOKEN_FILE } from '../../shared/hub-location';
import { AgentClient, HubClientError, HubHttp } from '../client';
import { discoverHubUrl } from '../discovery';
import { HubClient } from '../hub-client';
import { listCredentials, loadCredentials, type SavedCredentials } from '../credentials';
import { UsageError, type Context, type IdentityRef } from './command';

export function location(ctx: Context): { url?: string; dataDir: string; env: NodeJS.ProcessEnv } {
  return { url: ctx.values.url as string | undefined, dataDir: ctx.dataDir, env: ctx.io.env };
}

const NO_IDENTITY =
  'no agent identity: register one with `devenviro register --name NAME`, pass --as NAME, or set DEVENVIRO_AGENT and DEVENVIRO_TOKEN';

export async function resolveIdentity(ctx: Context): Promise<IdentityRef> {
  const as = ctx.values.as as string | undefined;
  const project = ctx.values.project as string | undefined;
  if (as !== undefined) return findSaved(ctx, as, project);

  const envAgent = ctx.io.env.DEVENVIRO_AGENT;
  const envToken = ctx.io.env.DEVENVIRO_TOKEN;
  if (envAgent || envToken) {
    if (!envAgent || !envToken) throw new UsageError('set both DEVENVIRO_AGENT (the agent name or id) and DEVENVIRO_TOKEN');
    if (Ulid.safeParse(envAgent).success) return { id: envAgent, token: envToken };
    const http = new HubHttp(() => discoverHubUrl(location(ctx)).url, envToken);
    const { agents } = await http.request<{ agents: AgentInfo[] }>('GET', '/agents');
    const candidates = agents.filter((a) => a.name === envAgent && (project === undefined || a.project === project));
    for (const candidate of candidates) {
      try {
        // Only the agent itself may read its topics: this finds which of the same-named agents the token is.
        await http.request('GET', `/agents/${candidate.id}/topics`);
        return { id: candidate.id, token: envToken, name: candidate.name, project: candidate.project };
      } catch (error) {
        if (!(error instanceof HubClientError && error.status === 403)) throw error;
      }
    }
    throw new UsageError(`DEVENVIRO_TOKEN is not the token of an agent named ${envAgent}${project ? ` in project ${project}` : ''}`);
  }

  const saved = listCredentials(ctx.dataDir).filter((c) => project === undefined || c.project === project);
  if (saved.length === 1) return saved[0]!;
  if (saved.length === 0) throw new UsageError(`${NO_IDENTITY} (no credentials under ${path.join(ctx.dataDir, 'credentials')})`);
  throw new UsageError(`${saved.length} agents are saved (${saved.map((c) => `${c.name}@${c.project}`).join(', ')}): choose one with --as NAME [--project P]`);
}

function findSaved(ctx: Context, name: string, project: string | undefined): SavedCredentials {
  if (project !== undefined) {
    const saved = loadCredentials(ctx.dataDir, project, name);
    if (!saved) throw new UsageError(`no saved agent ${name} in project ${project}: register it with \`devenviro register --name ${name} --project ${project}\``);
    return saved;
  }
  const matches = listCredentials(ctx.dataDir).filter((c) => c.name === name);
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) throw new UsageError(`no saved agent named ${name} under ${ctx.dataDir}: register it with \`devenviro register --name ${name}\``);
  throw new UsageError(`${name} is saved in several projects (${matches.map((c) => c.project).join(', ')}): add --project P`);
}

export async function attachIdentity(ctx: Context, identity: IdentityRef, options: { autoAck?: boolean } = {}): Promise<AgentClient> {
  try {
    return await HubClient.attach({ ...location(ctx), ...options, id: identity.id, token: identity.token });
  } catch (error) {
    if (error instanceof HubClientError && (error.status === 401 || error.status === 403 || error.status === 404)) {
      const who = identity.name ? `${identity.name} (project ${identity.project})` : `agent ${identity.id}`;
      const fix = identity.name ? ` Register again: devenviro register --name ${identity.name} --project ${identity.project}` : '';
      throw new HubClientError(
        error.status,
        error.code,
        `the credentials of ${who} do not work on the hub at ${discoverHubUrl(location(ctx)).url}: ${error.message}.${fix}`,
      );
    }
    throw error;
  }
}

/** HTTP for read-only views: as the agent when there is one, else with the cockpit token of the data directory. */
export async function readerHttp(ctx: Context): Promise<HubHttp> {
  try {
    const client = await ctx.identity();
    return new HubHttp(() => client.url, client.token);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    const token = await cockpitToken(ctx.dataDir).catch(() => {
      throw error;
    });
    return new HubHttp(() => discoverHubUrl(location(ctx)).url, token);
  }
}

export async function cockpitToken(dataDir: string): Promise<string> {
  const file = path.join(dataDir, COCKPIT_TOKEN_FILE);
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (error) {
    throw new Error(`cannot read the cockpit token at ${file}: ${(error as Error).message}`, { cause: error });
  }
}

export async function resolveRecipient(ctx: Context, client: AgentClient, to: string): Promise<{ recipient: Recipient; label: string }> {
  if (to === '*') return { recipient: { type: 'broadcast' }, label: 'everyone' };
  if (to.startsWith('#')) {
    const name = to.slice(1);
    if (!TopicName.safeParse(name).success) throw new UsageError(`not a topic name: ${to}`, ctx.command);
    return { recipient: { type: 'topic', name }, label: to };
  }
  if (Ulid.safeParse(to).success) return { recipient: { type: 'agent', id: to }, label: to };
  const at = to.lastIndexOf('@');
  const name = at > 0 ? to.slice(0, at) : to;
  const project = at > 0 ? to.slice(at + 1) : ((ctx.values.project as string | undefined) ?? client.agent.project);
  const match = (await client.agents()).find((a) => a.name === name && a.project === project);
  if (!match) throw new UsageError(`no agent named ${name} in project ${project} (see \`devenviro agents\`; use name@project for another project)`, ctx.command);
  return { recipient: { type: 'agent', id: match.id }, label: `${name}@${project}` };
}

/** Agent ids to names for display: `name` in the viewer's own project, `name@project` elsewhere. */
export async function nameMap(source: AgentClient | HubHttp): Promise<Map<string, string>> {
  const agents = source instanceof AgentClient ? await source.agents() : (await source.request<{ agents: AgentInfo[] }>('GET', '/agents')).agents;
  const own = source instanceof AgentClient ? source.agent.project : undefined;
  return new Map(agents.map((a) => [a.id, a.project === own ? a.name : `${a.name}@${a.project}`]));
}
