/** Frames of the browser cockpit's WebSocket (the same contract as Electron IPC, over a socket). */
import type { CallFailure } from './contract';

export const COCKPIT_SOCKET_PATH = '/cockpit/socket';

export type CockpitClientFrame = { type: 'call'; id: number; name: string; params?: unknown };

export type CockpitServerFrame =
  | { type: 'result'; id: number; result: unknown }
  | { type: 'error'; id: number; error: CallFailure }
  | { type: 'event'; name: string; payload: unknown };
