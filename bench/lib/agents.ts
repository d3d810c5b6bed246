/** Registering agents over HTTP and opening their sockets, in parallel with a limit. */
import http from 'node:http';
import type { AgentInfo, RegisterResponse } from '../../src/shared/agent-protocol';
import { Peer } from './peer';

export interface AgentCredentials {
  id: string;
  name: string;
  token: string;
}

/** Runs `fn` over `items` with at most `limit` running at once; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export async function registerAgents(
  baseUrl: string,
  count: number,
  { prefix = 'bench', project = 'bench', concurrency = 32, offset = 0 } = {},
): Promise<AgentCredentials[]> {
  const indices = Array.from({ length: count }, (_, i) => i + offset);
  return mapLimit(indices, concurrency, async (i) => {
    const name = `${prefix}-${i}`;
    const response = await fetch(`${baseUrl}/api/v1/agents/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, project }),
    });
    if (response.status !== 201) throw new Error(`registering ${name}: HTTP ${response.status} ${await response.text()}`);
    const { agent, token } = (await response.json()) as RegisterResponse;
    return { id: agent.id, name, token };
  });
}

export function realtimeUrl(wsBase: string, agentId: string): string {
  return `${wsBase}/api/v1/agents/${agentId}/realtime`;
}

export function connectAgents(wsBase: string, agents: readonly AgentCredentials[], concurrency = 64): Promise<Peer[]> {
  return mapLimit(agents, concurrency, (agent) => Peer.connect(realtimeUrl(wsBase, agent.id), agent.id, 'hub', agent.token));
}

/** How many agents the hub itself reports as connected (GET /api/v1/agents with the cockpit token). */
export async function connectedCount(baseUrl: string, cockpitToken: string): Promise<number> {
  const response = await fetch(`${baseUrl}/api/v1/agents`, { headers: { authorization: `Bearer ${cockpitToken}` } });
  if (!response.ok) throw new Error(`GET /api/v1/agents: HTTP ${response.status}`);
  const { agents } = (await response.json()) as { agents: AgentInfo[] };
  return agents.filter((agent) => agent.connected).length;
}

/** POSTs a prepared JSON body (no copy made by a client library) and returns the status and response text. */
export function postJson(url: string, token: string, payload: string | Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
          authorization: `Bearer ${token}`,
        },
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      },
    );
    request.on('error', reject);
    request.end(payload);
  });
}
