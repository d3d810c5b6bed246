/**
 * Finding the hub: the URL an agent's client uses (an option, $DEVENVIRO_URL, the running hub's hub.json, the
 * default), and a resolver that follows a hub restarted on another address.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_HUB_URL, HUB_RUNTIME_FILE, type HubRuntimeFile } from '../shared/hub-location';
import { resolveDataDir } from '../shared/node/data-dir';
import { HubClientError } from './http';

export interface HubLocation {
  /** The hub's base URL (http://host:port); wins over everything. */
  url?: string;
  /** The hub's data directory: where `hub.json` and saved credentials are looked for. */
  dataDir?: string;
  env?: NodeJS.ProcessEnv;
}

export interface DiscoveredUrl {
  url: string;
  source: 'option' | 'env' | 'hub.json' | 'default';
}

/** The hub's URL: the option, else $DEVENVIRO_URL, else the running hub's `<dataDir>/hub.json`, else the default. */
export function discoverHubUrl({ url, dataDir, env = process.env }: HubLocation = {}): DiscoveredUrl {
  if (url) return { url: normaliseUrl(url), source: 'option' };
  if (env.DEVENVIRO_URL) return { url: normaliseUrl(env.DEVENVIRO_URL), source: 'env' };
  const file = path.join(resolveDataDir({ flag: dataDir, env }), HUB_RUNTIME_FILE);
  try {
    const runtime = JSON.parse(readFileSync(file, 'utf8')) as Partial<Record<keyof HubRuntimeFile, unknown>>;
    if (typeof runtime.url === 'string' && runtime.url && !(typeof runtime.pid === 'number' && processGone(runtime.pid))) {
      return { url: normaliseUrl(runtime.url), source: 'hub.json' };
    }
  } catch {
    // No hub has written its address here (or it is being rewritten): try the default.
  }
  return { url: DEFAULT_HUB_URL, source: 'default' };
}

function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function normaliseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new HubClientError(0, 'invalid_url', `not a hub URL: ${url} (expected something like ${DEFAULT_HUB_URL})`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new HubClientError(0, 'invalid_url', `not a hub URL: ${url} (use http:// or https://)`);
  }
  return parsed.origin + parsed.pathname.replace(/\/+$/, '');
}

export interface UrlResolver {
  current: () => string;
  /** Follows the data directory's hub.json to a hub restarted on another address; never leaves the hub otherwise. */
  refresh: () => void;
}

export function urlResolver(location: HubLocation): UrlResolver {
  let found = discoverHubUrl(location);
  return {
    current: () => found.url,
    refresh: () => {
      if (found.source === 'option' || found.source === 'env') return;
      // While the hub is down its hub.json is gone (or names a dead process): keep its address rather than fall
      // back to the default one, where another hub, which knows none of this agent's tokens, may be listening.
      const now = discoverHubUrl(location);
      if (now.source === 'hub.json') found = now;
    },
  };
}
