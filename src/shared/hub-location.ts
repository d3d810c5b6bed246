/** Where agents find a hub on this machine: the default address, and the file a running hub writes into its data directory. */

export const DEFAULT_HUB_HOST = '127.0.0.1';
export const DEFAULT_HUB_PORT = 4477;
export const DEFAULT_HUB_URL = `http://${DEFAULT_HUB_HOST}:${DEFAULT_HUB_PORT}`;

/**
 * Where a running hub says it can be reached (`<dataDir>/hub.json`), so the CLI and clients on this machine find it
 * even on a port picked at random. Removed when the hub stops.
 */
export const HUB_RUNTIME_FILE = 'hub.json';

export interface HubRuntimeFile {
  url: string;
  pid: number;
  startedAt: string;
}
