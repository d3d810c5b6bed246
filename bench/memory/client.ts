/** The memory benchmark's HTTP client (keep-alive, as an agent's client would be) and the hub's operation counters. */
import http from 'node:http';
import type { MemorySearchResult, MemoryStats, StoredMemory } from '../../src/shared/memory-protocol';
import type { Draft } from './notes';

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

interface Reply<T> {
  status: number;
  body: T;
  ms: number;
}

export function call<T>(baseUrl: string, method: string, route: string, token: string | null, body?: unknown): Promise<Reply<T>> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const request = http.request(
      `${baseUrl}/api/v1${route}`,
      {
        method,
        agent,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const ms = performance.now() - started;
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : null;
          } catch {
            // Not JSON (metrics): the text itself.
          }
          resolve({ status: response.statusCode ?? 0, body: parsed as T, ms });
        });
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(payload);
  });
}

export class MemoryClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string,
    private readonly cockpitToken: string,
  ) {}

  async store(drafts: Draft[]): Promise<{ ms: number; stored: StoredMemory[] }> {
    const body = drafts.length === 1 ? drafts[0] : { memories: drafts };
    const reply = await call<{ stored: StoredMemory[] }>(this.baseUrl, 'POST', '/memory/store', this.token, body);
    if (reply.status !== 201) throw new Error(`store: HTTP ${reply.status} ${JSON.stringify(reply.body).slice(0, 300)}`);
    return { ms: reply.ms, stored: reply.body.stored };
  }

  async search(q: string, k: number): Promise<{ ms: number; result: MemorySearchResult }> {
    const reply = await call<MemorySearchResult>(this.baseUrl, 'GET', `/memory/search?q=${encodeURIComponent(q)}&k=${k}`, this.token);
    if (reply.status !== 200) throw new Error(`search: HTTP ${reply.status} ${JSON.stringify(reply.body).slice(0, 300)}`);
    return { ms: reply.ms, result: reply.body };
  }

  async stats(): Promise<MemoryStats> {
    const reply = await call<MemoryStats>(this.baseUrl, 'GET', '/memory/stats', this.token);
    if (reply.status !== 200) throw new Error(`stats: HTTP ${reply.status} ${JSON.stringify(reply.body).slice(0, 300)}`);
    return reply.body;
  }

  /** The hub's own operation counters and latency sums (Prometheus text, cockpit token); null until ready. */
  async operations(): Promise<Record<string, { count: number; sumMs: number }> | null> {
    const reply = await call<string>(this.baseUrl, 'GET', '/metrics', this.cockpitToken);
    if (reply.status !== 200 || typeof reply.body !== 'string') return null;
    const out: Record<string, { count: number; sumMs: number }> = {};
    for (const match of reply.body.matchAll(/^devenviro_operation_latency_seconds_(count|sum)\{operation="(\w+)"\} (\S+)$/gm)) {
      const entry = (out[match[2]!] ??= { count: 0, sumMs: 0 });
      if (match[1] === 'count') entry.count = Number(match[3]);
      else entry.sumMs = Number(match[3]) * 1000;
    }
    return out;
  }
}

export type Operations = NonNullable<Awaited<ReturnType<MemoryClient['operations']>>>;

/** What the hub itself spent between two metric readings: embed runs, store and search calls. */
export function operationDelta(before: Operations | null, after: Operations | null): Record<string, { count: number; sumMs: number }> | null {
  if (!before || !after) return null;
  const out: Record<string, { count: number; sumMs: number }> = {};
  for (const [op, now] of Object.entries(after)) {
    const was = before[op] ?? { count: 0, sumMs: 0 };
    out[op] = { count: now.count - was.count, sumMs: now.sumMs - was.sumMs };
  }
  return out;
}
