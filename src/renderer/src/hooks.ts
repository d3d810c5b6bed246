import { createContext, useContext, useEffect, useState } from 'react';
import type { CallName, CallParams, CallResult, EventName, EventPayload } from '../../shared/contract';
import type { ConnectionState, Transport } from './transport';

export const TransportContext = createContext<Transport | null>(null);

export function useTransport(): Transport {
  const transport = useContext(TransportContext);
  if (!transport) throw new Error('useTransport outside <TransportContext.Provider>');
  return transport;
}

export function useConnection(): ConnectionState {
  const transport = useTransport();
  const [state, setState] = useState(transport.connection());
  useEffect(() => transport.onConnection(setState), [transport]);
  return state;
}

export type Loadable<T> = { state: 'loading' } | { state: 'error'; message: string } | { state: 'ready'; value: T };

/**
 * A call's answer, fetched when the connection opens and then kept current by an event that pushes the same shape
 * (the hub pushes; the cockpit does not poll).
 */
export function useLiveCall<K extends CallName & EventName>(name: K, params?: CallParams<K>): Loadable<CallResult<K>> {
  const transport = useTransport();
  const connection = useConnection();
  const [value, setValue] = useState<Loadable<CallResult<K>>>({ state: 'loading' });
  const paramsKey = JSON.stringify(params ?? null);

  useEffect(() => {
    if (connection !== 'open') return;
    let live = true;
    const call = transport.call as (name: K, params?: CallParams<K>) => Promise<CallResult<K>>;
    call(name, params).then(
      (result) => live && setValue({ state: 'ready', value: result }),
      (error: Error) => live && setValue({ state: 'error', message: error.message }),
    );
    const off = transport.on(name, (payload: EventPayload<K>) => setValue({ state: 'ready', value: payload as CallResult<K> }));
    return () => {
      live = false;
      off();
    };
    // paramsKey stands for params: an equal object must not refetch.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [transport, connection, name, paramsKey]);

  return value;
}
