/** The cockpit contract over the hub's WebSocket, reconnecting with backoff. */
import { profilePath } from '../../../shared/advice-protocol';
import { messageBodyPath } from '../../../shared/agent-protocol';
import type { CallName, CallParams, CallResult, EventName, EventPayload } from '../../../shared/contract';
import {
  COCKPIT_CLOSE_BAD_TOKEN,
  COCKPIT_SOCKET_PATH,
  COCKPIT_SUBPROTOCOL,
  TOKEN_SUBPROTOCOL_PREFIX,
  type CockpitClientFrame,
  type CockpitServerFrame,
} from '../../../shared/socket-protocol';
import { backoffDelay, type Backoff } from '../../../shared/retry';
import { CockpitCallError, type ConnectionState, type Transport } from './types';

/** Waits between reconnect attempts: 250 ms doubling up to 5 s, counted from the last open socket. */
const RECONNECT_BACKOFF: Backoff = { initialMs: 250, maxMs: 5000 };

/**
 * The contract over the hub's cockpit WebSocket, for the browser cockpit. Reconnects on its own with backoff;
 * calls made while disconnected fail at once rather than hang.
 */
export function createWebSocketTransport(baseUrl: string, token: string): Transport {
  const socketUrl = new URL(COCKPIT_SOCKET_PATH, baseUrl);
  socketUrl.protocol = socketUrl.protocol === 'https:' ? 'wss:' : 'ws:';

  let socket: WebSocket | undefined;
  let state: ConnectionState = 'connecting';
  let nextId = 1;
  /** Reconnects since the socket was last open. */
  let retries = 0;
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  const eventListeners = new Map<string, Set<(payload: unknown) => void>>();
  const connectionListeners = new Set<(state: ConnectionState) => void>();

  const setState = (next: ConnectionState) => {
    if (next === state) return;
    state = next;
    connectionListeners.forEach((listener) => listener(state));
  };

  function connect(): void {
    setState('connecting');
    const ws = new WebSocket(socketUrl, [COCKPIT_SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX + token]);
    socket = ws;
    ws.onopen = () => {
      retries = 0;
      setState('open');
    };
    ws.onmessage = (message) => {
      const frame = JSON.parse(String(message.data)) as CockpitServerFrame;
      if (frame.type === 'event') {
        eventListeners.get(frame.name)?.forEach((listener) => listener(frame.payload));
        return;
      }
      const waiter = pending.get(frame.id);
      if (!waiter) return;
      pending.delete(frame.id);
      if (frame.type === 'result') waiter.resolve(frame.result);
      else waiter.reject(new CockpitCallError(frame.error));
    };
    ws.onclose = (event) => {
      socket = undefined;
      for (const waiter of pending.values()) waiter.reject(new CockpitCallError({ code: 'disconnected', message: 'the hub connection closed' }));
      pending.clear();
      if (event.code === COCKPIT_CLOSE_BAD_TOKEN) {
        setState('refused');
        return;
      }
      setState('closed');
      setTimeout(connect, backoffDelay(RECONNECT_BACKOFF, retries++));
    };
  }
  connect();

  return {
    kind: 'websocket',
    connection: () => state,
    onConnection(listener) {
      connectionListeners.add(listener);
      return () => connectionListeners.delete(listener);
    },
    call<K extends CallName>(name: K, params?: CallParams<K>): Promise<CallResult<K>> {
      if (!socket || socket.readyState !== WebSocket.OPEN) {
        return Promise.reject(new CockpitCallError({ code: 'disconnected', message: 'not connected to the hub' }));
      }
      const id = nextId++;
      const frame: CockpitClientFrame = { type: 'call', id, name, params };
      socket.send(JSON.stringify(frame));
      return new Promise((resolve, reject) => pending.set(id, { resolve: resolve as (value: unknown) => void, reject }));
    },
    /** The hub's body download, with the cockpit token (a link could not carry it). */
    async messageBody(id) {
      const response = await fetch(new URL(messageBodyPath(id), baseUrl), { headers: { authorization: `Bearer ${token}` } });
      if (!response.ok) {
        const problem = (await response.json().catch(() => null)) as { error?: string } | null;
        throw new CockpitCallError({ code: 'failed', message: problem?.error ?? `the hub answered ${response.status}` });
      }
      return response.blob();
    },
    /** The hub's profile download, with the cockpit token. */
    async profileFile(id) {
      const response = await fetch(new URL(profilePath(id), baseUrl), { headers: { authorization: `Bearer ${token}` } });
      if (!response.ok) {
        const problem = (await response.json().catch(() => null)) as { error?: string } | null;
        throw new CockpitCallError({ code: 'failed', message: problem?.error ?? `the hub answered ${response.status}` });
      }
      return response.blob();
    },
    on<K extends EventName>(name: K, listener: (payload: EventPayload<K>) => void) {
      let set = eventListeners.get(name);
      if (!set) eventListeners.set(name, (set = new Set()));
      const untyped = listener as (payload: unknown) => void;
      set.add(untyped);
      return () => set.delete(untyped);
    },
  };
}
