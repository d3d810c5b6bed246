/** The two Electron IPC channels that carry the cockpit contract, and the bridge the preload exposes. */
import type { CallFailure } from './contract';

/**
 * The Electron IPC channels that carry the contract. There are only two, and they carry the contract's names as
 * data: adding a call to contract.ts needs no new channel, preload change or registration by hand.
 */
export const IPC_CALL_CHANNEL = 'cockpit:call';
export const IPC_EVENT_CHANNEL = 'cockpit:event';

/** The name under which the preload exposes the contract on `window`. */
export const COCKPIT_GLOBAL = 'cockpit';

/** Reply envelope of IPC_CALL_CHANNEL; errors are returned, not thrown, so their code survives the bridge. */
export type IpcReply<R> = { ok: true; result: R } | { ok: false; error: CallFailure };

/**
 * What the preload exposes as `window.cockpit`: two generic functions and nothing else. The renderer's IPC
 * transport types them with the contract.
 */
export interface CockpitBridge {
  invoke(name: string, params: unknown): Promise<IpcReply<unknown>>;
  subscribe(listener: (name: string, payload: unknown) => void): () => void;
}
