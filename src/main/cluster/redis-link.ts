/**
 * The hub's connection to the cluster's Redis: one client for commands and two for blocking stream reads (a blocked
 * XREAD holds its connection), reconnecting with backoff for as long as the hub runs. Its state is the `cluster`
 * service's; nothing it reports or logs carries the URL's password.
 */
import { readFileSync } from 'node:fs';
import { createClient, type RedisClientType } from 'redis';
import type { AppConfig } from '../config/config';

export type ClusterSettings = AppConfig['cluster'] & { redis: string };

/** The URL as it may be shown: the password (and a user's name) replaced. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    if (parsed.username && parsed.password) parsed.username = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return 'the configured Redis URL';
  }
}

/** Removes anything that looks like the configured URL or its password from an error text. */
function redactError(message: string, url: string): string {
  let text = message.split(url).join(redactRedisUrl(url));
  try {
    const password = decodeURIComponent(new URL(url).password);
    if (password) text = text.split(password).join('***');
  } catch {
    // not a URL: nothing more to hide
  }
  return text;
}

export interface LinkState {
  connected: boolean;
  detail: string;
}

export class RedisLink {
  readonly commands: RedisClientType;
  readonly reader: RedisClientType;
  /** For the blocking reads of agents' inbox streams (cluster/messages.ts), apart from the identity events'. */
  readonly inboxReader: RedisClientType;
  private state: LinkState;
  private readonly listeners = new Set<(state: LinkState) => void>();
  private closing = false;

  constructor(private readonly settings: ClusterSettings) {
    const shown = redactRedisUrl(settings.redis);
    this.state = { connected: false, detail: `connecting to ${shown}` };
    const tls = settings.redis.startsWith('rediss://');
    const options = {
      url: settings.redis,
      socket: {
        connectTimeout: 5_000,
        // Up to 2 s between attempts, for as long as the hub runs: a hub without Redis keeps serving its own agents.
        reconnectStrategy: (retries: number) => (this.closing ? false : Math.min(100 * 2 ** Math.min(retries, 5), 2_000)),
        ...(tls
          ? {
              tls: true as const,
              rejectUnauthorized: settings.tls.rejectUnauthorized,
              ...(settings.tls.caFile ? { ca: readFileSync(settings.tls.caFile) } : {}),
            }
          : {}),
      },
      // Commands sent while Redis is away fail at once instead of queueing without bound; callers retry.
      disableOfflineQueue: true,
    };
    this.commands = createClient(options) as RedisClientType;
    this.reader = createClient(options) as RedisClientType;
    this.inboxReader = createClient(options) as RedisClientType;
    const clients = [this.commands, this.reader, this.inboxReader];
    for (const client of clients) {
      client.on('error', (error: Error) => this.update({ connected: false, detail: `Redis at ${shown}: ${redactError(error.message, settings.redis)}` }));
      client.on('ready', () => {
        if (clients.every((each) => each.isReady)) this.update({ connected: true, detail: `joined through Redis at ${shown}` });
      });
      client.on('reconnecting', () => this.update({ connected: false, detail: `reconnecting to Redis at ${shown}` }));
    }
  }

  /** Connects both clients; resolves once both are ready or rejects with the first failure (they keep retrying). */
  async connect(): Promise<void> {
    await Promise.all([this.commands.connect(), this.reader.connect(), this.inboxReader.connect()]);
  }

  get current(): LinkState {
    return this.state;
  }

  onChange(listener: (state: LinkState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closing = true;
    // A ready client finishes what it sent; one still trying to connect (Redis away, a wrong password) just stops.
    const end = async (client: RedisClientType, graceful: boolean) => {
      if (graceful && client.isReady) await client.close();
      else if (client.isOpen) client.destroy();
    };
    await Promise.allSettled([end(this.commands, true), end(this.reader, false), end(this.inboxReader, false)]);
  }

  private update(next: LinkState): void {
    if (next.connected === this.state.connected && next.detail === this.state.detail) return;
    this.state = next;
    for (const listener of this.listeners) listener(next);
  }
}
