/**
 * The browser cockpit's link to the hub: the contract's calls and events over one WebSocket, authenticated by the
 * cockpit token and open only to pages served by the hub itself.
 */
import { WebSocketServer, type WebSocket } from 'ws';
import { profilePath } from '../../shared/advice-protocol';
import { messageBodyPath } from '../../shared/agent-protocol';
import { BRIDGE_ONLY_CALLS, isCallName } from '../../shared/contract';
import {
  COCKPIT_CLOSE_BAD_TOKEN,
  COCKPIT_SOCKET_PATH,
  COCKPIT_SUBPROTOCOL,
  COCKPIT_URL_COMMAND,
  TOKEN_SUBPROTOCOL_PREFIX,
  type CockpitServerFrame,
} from '../../shared/socket-protocol';
import { dispatchCall, type CallHandlers } from '../cockpit/dispatch';
import type { EventBus } from '../cockpit/event-bus';
import { cockpitOriginAllowed, secretsEqual } from './security';
import { rejectUpgrade, type UpgradeRouter } from './upgrade-router';

/** Cockpit frames are small; anything bigger is a mistake or an attack. */
const MAX_FRAME_BYTES = 1024 * 1024;
/** A cockpit that cannot keep up skips live events rather than growing the hub's memory. */
const MAX_BUFFERED_EVENT_BYTES = 4 * 1024 * 1024;

export interface CockpitSocketOptions {
  router: UpgradeRouter;
  token: string;
  port: () => number;
  handlers: CallHandlers;
  events: EventBus;
  /** Told when a cockpit connects; what it returns, when it leaves. */
  opened?: () => () => void;
}

export function attachCockpitSocket({ router, token, port, handlers, events, opened }: CockpitSocketOptions): { close(): void } {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_FRAME_BYTES,
    // A browser that offered subprotocols needs one chosen, or it drops the connection.
    handleProtocols: (protocols) => (protocols.has(COCKPIT_SUBPROTOCOL) ? COCKPIT_SUBPROTOCOL : false),
  });

  router.add(
    (pathname) => pathname === COCKPIT_SOCKET_PATH,
    (request, socket, head, url) => {
      if (!cockpitOriginAllowed(request.headers.origin, port())) {
        rejectUpgrade(socket, 403, `origin ${request.headers.origin} may not open the cockpit socket`);
        return;
      }
      const offered = (request.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
      const presented = offered.find((p) => p.startsWith(TOKEN_SUBPROTOCOL_PREFIX))?.slice(TOKEN_SUBPROTOCOL_PREFIX.length) ?? url.searchParams.get('token');
      if (!secretsEqual(presented, token)) {
        // Accepted only to be closed with a code the page can read (see COCKPIT_CLOSE_BAD_TOKEN): nothing is served.
        wss.handleUpgrade(request, socket, head, (ws) => ws.close(COCKPIT_CLOSE_BAD_TOKEN, `the cockpit token is missing or wrong: run ${COCKPIT_URL_COMMAND}`));
        return;
      }
      wss.handleUpgrade(request, socket, head, (ws) => serve(ws));
    },
  );

  function serve(ws: WebSocket): void {
    const send = (frame: CockpitServerFrame) => ws.send(JSON.stringify(frame));
    const unsubscribe = events.onAny((name, payload) => {
      if (ws.bufferedAmount < MAX_BUFFERED_EVENT_BYTES) send({ type: 'event', name, payload });
    });
    const left = opened?.();
    ws.on('close', () => {
      unsubscribe();
      left?.();
    });
    ws.on('error', () => ws.terminate());
    ws.on('message', async (data, isBinary) => {
      let frame: { type?: unknown; id?: unknown; name?: unknown; params?: unknown };
      try {
        if (isBinary) throw new Error('binary frames are not part of the cockpit protocol');
        frame = JSON.parse(data.toString());
      } catch (error) {
        send({ type: 'error', id: 0, error: { code: 'invalid_params', message: `malformed frame: ${(error as Error).message}` } });
        return;
      }
      if (frame?.type !== 'call' || typeof frame.id !== 'number') {
        send({ type: 'error', id: 0, error: { code: 'invalid_params', message: 'a frame must be {type:"call", id:number, name, params}' } });
        return;
      }
      if (isCallName(frame.name) && BRIDGE_ONLY_CALLS.has(frame.name)) {
        const download = frame.name === 'profiles.read' ? profilePath('<id>') : messageBodyPath('<id>');
        const message = `${frame.name} is not answered over the socket: download GET ${download} with the cockpit token`;
        send({ type: 'error', id: frame.id, error: { code: 'unknown_call', message } });
        return;
      }
      const reply = await dispatchCall(handlers, frame.name, frame.params);
      if (ws.readyState !== ws.OPEN) return;
      send(reply.ok ? { type: 'result', id: frame.id, result: reply.result } : { type: 'error', id: frame.id, error: reply.error });
    });
  }

  return {
    close() {
      for (const client of wss.clients) {
        client.close(1001, 'hub shutting down');
        // A page that never answers the close handshake must not hold the hub's shutdown open.
        setTimeout(() => client.terminate(), 500).unref();
      }
      wss.close();
    },
  };
}
