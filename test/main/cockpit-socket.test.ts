/** The browser cockpit's WebSocket and the HTTP server's guard rails. */
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { HubStatus } from '../../src/shared/contract';
import { COCKPIT_CLOSE_BAD_TOKEN, COCKPIT_SOCKET_PATH, type CockpitServerFrame } from '../../src/shared/socket-protocol';
import { createApiServer, type ApiServer } from '../../src/main/api/server';
import { createCallHandlers } from '../../src/main/cockpit/handlers';
import { EventBus } from '../../src/main/cockpit/event-bus';

const TOKEN = 'a'.repeat(43);
const status = (): HubStatus => ({
  product: 'DevEnviro Cockpit',
  version: '0.0.0-test',
  runtime: 'headless',
  pid: process.pid,
  nodeVersion: process.versions.node,
  startedAt: new Date(0).toISOString(),
  uptimeMs: 42,
  dataDir: '/data',
  apiUrl: null,
  services: [],
});

const noHub = () => {
  throw new Error('no hub in this test');
};

let server: ApiServer | undefined;
const events = new EventBus();
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(rendererDir: string | null = null): Promise<ApiServer> {
  server = await createApiServer({
    host: '127.0.0.1',
    port: 0,
    maxBodyBytes: 1024 * 1024,
    cockpitToken: TOKEN,
    rendererDir,
    handlers: createCallHandlers({ status, hub: noHub, metrics: () => null, restoreHub: async () => undefined }),
    events,
  });
  return server;
}

function connect(api: ApiServer, token: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${api.port}${COCKPIT_SOCKET_PATH}?token=${token}`, { headers });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

/** How the hub closed a socket it refused (after the handshake, so a browser can read the code). */
function refusal(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
}

function nextFrame(ws: WebSocket, predicate: (frame: CockpitServerFrame) => boolean = () => true): Promise<CockpitServerFrame> {
  return new Promise((resolve) => {
    const onMessage = (data: WebSocket.RawData) => {
      const frame = JSON.parse(data.toString()) as CockpitServerFrame;
      if (predicate(frame)) {
        ws.off('message', onMessage);
        resolve(frame);
      }
    };
    ws.on('message', onMessage);
  });
}

describe('cockpit socket', () => {
  it('answers contract calls and pushes events', async () => {
    const api = await start();
    const ws = await connect(api, TOKEN);
    ws.send(JSON.stringify({ type: 'call', id: 7, name: 'hub.status' }));
    const reply = await nextFrame(ws);
    expect(reply).toMatchObject({ type: 'result', id: 7, result: { uptimeMs: 42, runtime: 'headless' } });

    const pushed = nextFrame(ws, (frame) => frame.type === 'event');
    events.emit('hub.status', { ...status(), uptimeMs: 99 });
    expect(await pushed).toMatchObject({ type: 'event', name: 'hub.status', payload: { uptimeMs: 99 } });
    ws.close();
  });

  it('takes the token as a subprotocol, as the browser cockpit sends it, and chooses the cockpit protocol', async () => {
    const api = await start();
    const ws = new WebSocket(`ws://127.0.0.1:${api.port}${COCKPIT_SOCKET_PATH}`, ['devenviro-cockpit', `token.${TOKEN}`]);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    expect(ws.protocol).toBe('devenviro-cockpit');
    ws.close();
    const wrong = new WebSocket(`ws://127.0.0.1:${api.port}${COCKPIT_SOCKET_PATH}`, ['devenviro-cockpit', 'token.nope']);
    const closed = await refusal(wrong);
    expect(closed.code).toBe(COCKPIT_CLOSE_BAD_TOKEN);
    expect(closed.reason).toContain('devenviro cockpit-url');
  });

  it('refuses a missing or wrong token with its own close code, serving nothing first, and a foreign origin', async () => {
    const api = await start();
    for (const token of ['wrong', '']) {
      const ws = new WebSocket(`ws://127.0.0.1:${api.port}${COCKPIT_SOCKET_PATH}?token=${token}`);
      const frames: string[] = [];
      ws.on('message', (data) => frames.push(data.toString()));
      // An event pushed while the refused socket is open reaches nobody through it.
      ws.once('open', () => events.emit('agents.changed', {} as never));
      expect((await refusal(ws)).code).toBe(COCKPIT_CLOSE_BAD_TOKEN);
      expect(frames).toEqual([]);
    }
    await expect(connect(api, TOKEN, { Origin: 'https://evil.example' })).rejects.toThrow('HTTP 403');
    await expect(connect(api, TOKEN, { Origin: 'http://127.0.0.1:1' })).rejects.toThrow('HTTP 403');
    const own = await connect(api, TOKEN, { Origin: `http://127.0.0.1:${api.port}` });
    own.close();
  });

  it('answers malformed frames, unknown calls and bad params with errors, and keeps serving', async () => {
    const api = await start();
    const ws = await connect(api, TOKEN);
    ws.send('{ not json');
    expect(await nextFrame(ws)).toMatchObject({ type: 'error', id: 0, error: { code: 'invalid_params' } });
    ws.send(JSON.stringify({ type: 'call', id: 1, name: 'hub.nothing' }));
    expect(await nextFrame(ws)).toMatchObject({ type: 'error', id: 1, error: { code: 'unknown_call' } });
    ws.send(JSON.stringify({ type: 'call', id: 2, name: 'hub.status', params: { surprise: true } }));
    expect(await nextFrame(ws)).toMatchObject({ type: 'error', id: 2, error: { code: 'invalid_params' } });
    ws.send(JSON.stringify({ type: 'call', id: 3, name: '__proto__' }));
    expect(await nextFrame(ws)).toMatchObject({ type: 'error', id: 3, error: { code: 'unknown_call' } });
    ws.send(JSON.stringify({ type: 'call', id: 4, name: 'hub.status' }));
    expect(await nextFrame(ws)).toMatchObject({ type: 'result', id: 4 });
    // A whole message body is the HTTP download's, never a socket frame serialised on the hub's event loop.
    ws.send(JSON.stringify({ type: 'call', id: 5, name: 'messages.body', params: { id: '01ARZ3NDEKTSV4RRFFQ69G5FAV' } }));
    const refused = await nextFrame(ws);
    expect(refused).toMatchObject({ type: 'error', id: 5, error: { code: 'unknown_call' } });
    expect(JSON.stringify(refused)).toContain('/api/v1/messages/<id>/body');
    ws.close();
  });

  it('closes a socket that sends an oversized frame with 1009', async () => {
    const api = await start();
    const ws = await connect(api, TOKEN);
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send('x'.repeat(2 * 1024 * 1024));
    expect(await closed).toBe(1009);
  });
});

describe('HTTP guard rails', () => {
  function get(port: number, path: string, host: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, headers: { Host: host } }, (res) => {
        let body = '';
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('answers health with security headers, and refuses a non-loopback Host (DNS rebinding)', async () => {
    const api = await start();
    const ok = await get(api.port, '/api/v1/health', `127.0.0.1:${api.port}`);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({ ok: true });
    expect(ok.headers['content-security-policy']).toContain("default-src 'self'");
    expect((await get(api.port, '/api/v1/health', `localhost:${api.port}`)).status).toBe(200);
    expect((await get(api.port, '/api/v1/health', 'evil.example')).status).toBe(421);
  });

  it('says how to build the cockpit when it is not built', async () => {
    const api = await start('/nowhere/out/renderer');
    const res = await get(api.port, '/', `127.0.0.1:${api.port}`);
    expect(res.status).toBe(503);
    expect(res.body).toContain('not built');
  });

  it('reports a busy port in words a person can act on', async () => {
    const api = await start();
    await expect(
      createApiServer({
        host: '127.0.0.1',
        port: api.port,
        maxBodyBytes: 1024,
        cockpitToken: TOKEN,
        rendererDir: null,
        handlers: createCallHandlers({ status, hub: noHub, metrics: () => null, restoreHub: async () => undefined }),
        events,
      }),
    ).rejects.toThrow(/in use: another hub may be running/);
  });
});
