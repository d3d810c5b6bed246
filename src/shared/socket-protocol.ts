/** Frames of the browser cockpit's WebSocket (the same contract as Electron IPC, over a socket). */
import type { CallFailure } from './contract';

export const COCKPIT_SOCKET_PATH = '/cockpit/socket';
/**
 * The browser cockpit offers these WebSocket subprotocols: the protocol's name, and `token.<cockpit token>`.
 * Carrying the token there rather than in the URL keeps it out of the browser's logs of failed connections.
 */
export const COCKPIT_SUBPROTOCOL = 'devenviro-cockpit';
export const TOKEN_SUBPROTOCOL_PREFIX = 'token.';
/**
 * The close code of a cockpit socket whose token is missing or wrong. A browser never sees the status of a refused
 * upgrade (only 1006, as for a hub that is down), so the hub completes the handshake and closes with this code at
 * once, serving nothing: the page can then say the link is wrong instead of retrying forever.
 */
export const COCKPIT_CLOSE_BAD_TOKEN = 4401;
/** The command that prints the cockpit's URL, token included, for the hub of a data directory. */
export const COCKPIT_URL_COMMAND = 'devenviro cockpit-url';

export type CockpitClientFrame = { type: 'call'; id: number; name: string; params?: unknown };

export type CockpitServerFrame =
  | { type: 'result'; id: number; result: unknown }
  | { type: 'error'; id: number; error: CallFailure }
  | { type: 'event'; name: string; payload: unknown };
