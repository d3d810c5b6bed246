/** Frames of the browser cockpit's WebSocket (the same contract as Electron IPC, over a socket). */
import type { CallFailure } from './contract';

export const COCKPIT_SOCKET_PATH = '/cockpit/socket';
/**
 * The browser cockpit offers these WebSocket subprotocols: the protocol's name, and `token.<cockpit token>`.
 * Carrying the token there rather than in the URL keeps it out of the browser's logs of failed connections.
 */
export const COCKPIT_SUBPROTOCOL = 'devenviro-cockpit';
export const TOKEN_SUBPROTOCOL_PREFIX = 'token.';

export type CockpitClientFrame = { type: 'call'; id: number; name: string; params?: unknown };

export type CockpitServerFrame =
  | { type: 'result'; id: number; result: unknown }
  | { type: 'error'; id: number; error: CallFailure }
  | { type: 'event'; name: string; payload: unknown };
