/** Routes WebSocket upgrades on the hub's one HTTP server to the endpoint that owns the path. */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

export type UpgradeHandler = (request: IncomingMessage, socket: Duplex, head: Buffer, url: URL) => void;

/**
 * One HTTP server carries several WebSocket endpoints (the cockpit's, each agent's); this routes an upgrade by
 * path to the feature that owns it, and refuses the rest with a plain HTTP answer.
 */
export class UpgradeRouter {
  private readonly routes: Array<{ matches: (pathname: string) => boolean; handler: UpgradeHandler }> = [];

  add(matches: (pathname: string) => boolean, handler: UpgradeHandler): void {
    this.routes.push({ matches, handler });
  }

  handle(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(request.url ?? '/', 'http://hub.invalid');
    const route = this.routes.find((candidate) => candidate.matches(url.pathname));
    if (!route) {
      rejectUpgrade(socket, 404, `no WebSocket endpoint at ${url.pathname}`);
      return;
    }
    route.handler(request, socket, head, url);
  }
}

/** Answers an upgrade that will not be accepted with an HTTP status and a reason, then closes the connection. */
export function rejectUpgrade(socket: Duplex, status: number, reason: string): void {
  const body = JSON.stringify({ error: reason });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\n` +
      'Content-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  410: 'Gone',
  421: 'Misdirected Request',
};
