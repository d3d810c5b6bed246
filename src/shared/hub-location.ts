/** Where agents find a hub on this machine: the default address, the file a running hub writes, the cockpit token. */

export const DEFAULT_HUB_HOST = '127.0.0.1';
export const DEFAULT_HUB_PORT = 4477;
export const DEFAULT_HUB_URL = `http://${DEFAULT_HUB_HOST}:${DEFAULT_HUB_PORT}`;

/**
 * Where a running hub says it can be reached (`<dataDir>/hub.json`), so the CLI and clients on this machine find it
 * even on a port picked at random. Removed when the hub stops.
 */
export const HUB_RUNTIME_FILE = 'hub.json';

/** The cockpit's secret (`<dataDir>/cockpit-token`): the CLI's backup and read-only commands use it too. */
export const COCKPIT_TOKEN_FILE = 'cockpit-token';

export interface HubRuntimeFile {
  url: string;
  pid: number;
  startedAt: string;
}
