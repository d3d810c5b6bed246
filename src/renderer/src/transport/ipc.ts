/** The cockpit contract over Electron IPC. */
import type { CallName, CallParams, CallResult, EventName, EventPayload } from '../../../shared/contract';
import type { CockpitBridge } from '../../../shared/ipc';
import { CockpitCallError, type Transport } from './types';

/** The contract over Electron IPC, through the bridge the preload exposes. */
export function createIpcTransport(bridge: CockpitBridge): Transport {
  return {
    kind: 'ipc',
    connection: () => 'open',
    onConnection: () => () => undefined,
    async call<K extends CallName>(name: K, params?: CallParams<K>): Promise<CallResult<K>> {
      const reply = await bridge.invoke(name, params);
      if (!reply.ok) throw new CockpitCallError(reply.error);
      return reply.result as CallResult<K>;
    },
    async messageBody(id) {
      const reply = await bridge.invoke('messages.body', { id });
      if (!reply.ok) throw new CockpitCallError(reply.error);
      return new Blob([(reply.result as CallResult<'messages.body'>).json], { type: 'application/json' });
    },
    async profileFile(id) {
      const reply = await bridge.invoke('profiles.read', { id });
      if (!reply.ok) throw new CockpitCallError(reply.error);
      return new Blob([(reply.result as CallResult<'profiles.read'>).text], { type: 'application/json' });
    },
    on<K extends EventName>(name: K, listener: (payload: EventPayload<K>) => void) {
      return bridge.subscribe((eventName, payload) => {
        if (eventName === name) listener(payload as EventPayload<K>);
      });
    },
  };
}
