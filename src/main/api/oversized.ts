/**
 * Refusing request bodies over the size limit so that every client reads the 413. A client that waits for
 * `100 Continue` (curl, for large bodies) gets the 413 before it sends anything. Most clients (Node's fetch,
 * Python's requests) write the whole body before reading the answer: if the hub answered and closed the connection
 * at once, they would fail writing (EPIPE, "fetch failed") and never see it. So the rest of the body is read and
 * dropped first, never kept, up to a bound (twice the limit, or DISCARD_MS), after which the connection is closed.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/** How long a refused body may keep arriving before the connection is closed on it. */
export const DISCARD_MS = 10_000;

/** The JSON error of a body over `limit` bytes: one sentence, for HTTP answers at every stage. */
export function tooLargeBody(limit: number): { error: string; code: 'too_large' } {
  return { error: `the request body is larger than the hub accepts (${limit} bytes; raise messages.maxBytes in config.json)`, code: 'too_large' };
}

/**
 * Reads and drops what is left of a refused request body. Resolves when it has all arrived, or after `maxBytes`
 * more bytes or `maxMs`, whichever comes first (the caller then answers with `Connection: close`).
 */
export function discardBody(request: IncomingMessage, maxBytes: number, maxMs = DISCARD_MS): Promise<void> {
  if (request.readableEnded || request.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let dropped = 0;
    const finish = () => {
      clearTimeout(timer);
      request.off('data', onData);
      request.off('end', finish);
      request.off('error', finish);
      request.off('close', finish);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      dropped += chunk.length;
      if (dropped > maxBytes) finish();
    };
    const timer = setTimeout(finish, maxMs);
    timer.unref();
    request.on('data', onData);
    request.on('end', finish);
    request.on('error', finish);
    request.on('close', finish);
    request.resume();
  });
}

/**
 * Answers `Expect: 100-continue` itself: a body announced over `limit` gets the 413 at once (nothing was sent yet,
 * so nothing needs reading); any other request is told to continue and handed to the server as usual.
 */
export function refuseOversizedBeforeSending(server: Server, limit: number): void {
  server.on('checkContinue', (request: IncomingMessage, response: ServerResponse) => {
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      const body = JSON.stringify(tooLargeBody(limit));
      response.writeHead(413, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
      response.end(body);
      return;
    }
    response.writeContinue();
    server.emit('request', request, response);
  });
}
