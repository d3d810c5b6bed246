/**
 * The client's entry points: register an agent (or re-register it, keeping its identity), attach to one registered
 * earlier, or ask whether a hub answers. Each gives an AgentClient (client.ts).
 */
import type { AgentInfo, AgentTier, HealthResponse, RegisterRequest, RegisterResponse } from '../shared/agent-protocol';
import { resolveDataDir } from '../shared/node/data-dir';
import { AgentClient, type ClientOptions } from './client';
import { loadCredentials, saveCredentials } from './credentials';
import { urlResolver, type HubLocation } from './discovery';
import { HubHttp } from './http';

export interface RegisterOptions extends ClientOptions {
  name: string;
  project?: string;
  tier?: AgentTier;
  capabilities?: string[];
  description?: string;
  /** The agent's saved token: presenting it keeps the identity (the same id) across re-registrations. */
  token?: string;
  /**
   * Read the token from, and save it to, `<dataDir>/credentials/<project>/<name>.json` (the same files the
   * `devenviro` CLI uses). Off by default.
   */
  persist?: boolean;
}

export interface AttachOptions extends ClientOptions {
  /** The agent's id, as returned at registration. */
  id: string;
  token: string;
}

export const HubClient = {
  /** Registers (or re-registers) an agent and returns its client, ready to `connect()`. */
  async register(options: RegisterOptions): Promise<AgentClient> {
    const location = urlResolver(options);
    const http = new HubHttp(location.current);
    const project = options.project ?? 'default';
    const dataDir = resolveDataDir({ flag: options.dataDir, env: options.env });
    const saved = options.persist ? loadCredentials(dataDir, project, options.name) : undefined;
    const request: RegisterRequest = {
      name: options.name,
      project,
      ...(options.tier ? { tier: options.tier } : {}),
      ...(options.capabilities ? { capabilities: options.capabilities } : {}),
      ...(options.description !== undefined ? { description: options.description } : {}),
    };
    const response = await http.request<RegisterResponse>('POST', '/agents/register', { body: request, token: options.token ?? saved?.token });
    if (options.persist) {
      saveCredentials(dataDir, { id: response.agent.id, name: response.agent.name, project: response.agent.project, token: response.token, url: http.url });
    }
    return new AgentClient({ ...options, location, agent: response.agent, token: response.token, existing: response.existing });
  },

  /** A client for an agent registered earlier (its id and token), after checking the token is that agent's. */
  async attach(options: AttachOptions): Promise<AgentClient> {
    const location = urlResolver(options);
    const http = new HubHttp(location.current, options.token);
    const agent = await http.request<AgentInfo>('GET', `/agents/${encodeURIComponent(options.id)}/status`);
    // Reading the agent's own topics proves the token is its own (another agent's token gets 403).
    await http.request('GET', `/agents/${encodeURIComponent(options.id)}/topics`);
    return new AgentClient({ ...options, location, agent, token: options.token, existing: true });
  },

  /** Whether a hub answers at the URL that would be used, and which. */
  async health(options: HubLocation = {}): Promise<HealthResponse & { url: string }> {
    const http = new HubHttp(urlResolver(options).current);
    const health = await http.request<HealthResponse>('GET', '/health');
    return { ...health, url: http.url };
  },
};
