/** React hooks over the transport and the live data: calls (kept current by the hub's events), events, live metrics. */
import { createContext, useCallback, useContext, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import type { AgentInfo } from '../../shared/agent-protocol';
import type { CallName, CallParams, CallResult, EventName, EventPayload } from '../../shared/contract';
import type { AgentsState, LiveData, MetricsState } from './live/live-data';
import { throttle, useStore } from './live/store';
import type { ConnectionState, Transport } from './transport';
import { invoke } from './transport/invoke';

export const TransportContext = createContext<Transport | null>(null);
export const LiveContext = createContext<LiveData | null>(null);

export function useTransport(): Transport {
  const transport = useContext(TransportContext);
  if (!transport) throw new Error('useTransport outside <TransportContext.Provider>');
  return transport;
}

export function useConnection(): ConnectionState {
  const transport = useTransport();
  const subscribe = useCallback((onChange: () => void) => transport.onConnection(() => onChange()), [transport]);
  return useSyncExternalStore(subscribe, transport.connection, transport.connection);
}

export type Loadable<T> = { state: 'loading' } | { state: 'error'; message: string } | { state: 'ready'; value: T };

export { invoke };

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
    invoke(transport, name, params).then(
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

export type CallState<T> = Loadable<T> & {
  /** true while a refetch runs with an earlier answer still shown. */
  refreshing: boolean;
  reload(): void;
};

/**
 * A call's answer, fetched when the connection opens (again, after a reconnect) and whenever its params change or
 * `reload()` is called. An earlier answer stays on screen while a refetch runs, so nothing flickers.
 */
export function useCall<K extends CallName>(name: K, params?: CallParams<K>, options: { enabled?: boolean } = {}): CallState<CallResult<K>> {
  const transport = useTransport();
  const connection = useConnection();
  const enabled = options.enabled ?? true;
  const [generation, setGeneration] = useState(0);
  const paramsKey = JSON.stringify(params ?? null);
  const requestKey = `${name} ${paramsKey} ${generation}`;
  const [answer, setAnswer] = useState<{ key: string | null; value: Loadable<CallResult<K>> }>({ key: null, value: { state: 'loading' } });

  useEffect(() => {
    if (connection !== 'open' || !enabled) return;
    let live = true;
    invoke(transport, name, params).then(
      (result) => live && setAnswer({ key: requestKey, value: { state: 'ready', value: result } }),
      (error: Error) => live && setAnswer({ key: requestKey, value: { state: 'error', message: error.message } }),
    );
    return () => {
      live = false;
    };
    // requestKey stands for name, params and generation: an equal params object must not refetch.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [transport, connection, requestKey, enabled]);

  const reload = useCallback(() => setGeneration((n) => n + 1), []);
  return { ...answer.value, refreshing: answer.key !== requestKey, reload };
}

/** Subscribes to a contract event for as long as the component is mounted; the listener may change freely. */
export function useEvent<K extends EventName>(name: K, listener: (payload: EventPayload<K>) => void): void {
  const transport = useTransport();
  const latest = useRef(listener);
  useEffect(() => {
    latest.current = listener;
  });
  useEffect(() => transport.on(name, (payload) => latest.current(payload)), [transport, name]);
}

function useLive(): LiveData {
  const live = useContext(LiveContext);
  if (!live) throw new Error('useLive outside <LiveContext.Provider>');
  return live;
}

/** The rolling two-minute metrics series and the latest snapshot. */
export function useMetrics(): MetricsState {
  return useStore(useLive().metrics);
}

export function useAgents(): AgentsState {
  return useStore(useLive().agents);
}

/** Looks agents up by id in the live directory. */
export function useAgentLookup(): (id: string) => AgentInfo | undefined {
  const { byId } = useStore(useLive().agents);
  return useCallback((id: string) => byId.get(id), [byId]);
}

/** The current time, moving every `intervalMs`: for "3 s ago" labels (a local clock, not a call to the hub). */
export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}

/** Waits `ms` after the last change before passing a value on (for inputs that trigger calls). */
export function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return debounced;
}

/**
 * `run`, at most once per `ms` however often the returned function is called (see `throttle`); a pending call is
 * dropped when the component unmounts. The returned function is stable.
 */
export function useThrottled(run: () => void, ms: number): () => void {
  const throttled = useRef<ReturnType<typeof throttle> | null>(null);
  useEffect(() => {
    const current = throttle(run, ms);
    throttled.current = current;
    return () => current.cancel();
  }, [run, ms]);
  return useCallback(() => throttled.current?.request(), []);
}

/**
 * `memory.overview`, fetched on open and again (at most every two seconds) when the tick's count of stored
 * memories moves: pushed-driven, without an event of its own.
 */
export function useMemoryOverview(storedTotal: number | undefined) {
  const overview = useCall('memory.overview');
  const refresh = useThrottled(overview.reload, 2000);
  const seen = useRef(storedTotal);
  useEffect(() => {
    if (storedTotal === undefined) return;
    if (seen.current !== undefined && storedTotal !== seen.current) refresh();
    seen.current = storedTotal;
  }, [storedTotal, refresh]);
  return overview;
}
