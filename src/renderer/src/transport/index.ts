/** The cockpit's way to the hub: Electron IPC where the preload bridge exists, else the hub's WebSocket. */
import { COCKPIT_GLOBAL, type CockpitBridge } from '../../../shared/ipc';
import { createIpcTransport } from './ipc';
import type { Transport } from './types';
import { createWebSocketTransport } from './websocket';

export type { ConnectionState, Transport } from './types';
export { CockpitCallError } from './types';

const TOKEN_KEY = 'devenviro.cockpitToken';

/**
 * Electron's preload exposes the IPC bridge; a browser has none and uses the hub's WebSocket with the token from
 * the URL. The token is moved out of the address bar (and browser history) into this tab's session storage.
 */
export function createTransport(): Transport | { error: string } {
  const bridge = (window as unknown as Record<string, CockpitBridge | undefined>)[COCKPIT_GLOBAL];
  if (bridge) return createIpcTransport(bridge);

  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    url.searchParams.delete('token');
    window.history.replaceState(null, '', url);
  }
  const token = fromUrl ?? sessionStorage.getItem(TOKEN_KEY);
  if (!token) return { error: 'This page needs the cockpit token: open the URL the hub printed when it started (it ends in ?token=…).' };
  return createWebSocketTransport(window.location.origin, token);
}
