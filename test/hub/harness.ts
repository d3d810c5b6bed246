/** An in-process hub on a fresh data directory and a free loopback port, plus small HTTP/WS helpers. */
import { onTestFinished } from 'vitest';
import WebSocket from 'ws';
import type { RegisterResponse, ServerFrame } from '../../src/shared/agent-protocol';
import type { CallName, CallParams, CallResult } from '../../src/shared/contract';
import { COCKPIT_SOCKET_PATH, type CockpitServerFrame } from '../../src/shared/socket-protocol';
import { createApp, type App } from '../../src/main/app';
import { defaultConfig, type AppConfig } from '../../src/main/config/config';
import { tempDir } from '../helpers';

export interface TestHub {
  app: App;
  url: string;
  dataDir: string;
  api(path: string, init?: { method?: string; token?: string; body?: unknown }): Promise<{ status: number; body: any }>;
  register(name: string, extra?: Record<string, unknown>): Promise<RegisterResponse>;
  restart(): Promise<void>;
}

export async function startHub(
  options: { maxBytes?: number; bodyFileBytes?: number; dataDir?: string; configure?: (config: AppConfig) => void } = {},
): Promise<TestHub> {
  const dataDir = options.dataDir ?? tempDir();
  const config = defaultConfig();
  config.api.port = 0;
  if (options.maxBytes) config.messages.maxBytes = options.maxBytes;
  if (options.bodyFileBytes) config.messages.bodyFileBytes = options.bodyFileBytes;
  options.configure?.(config);
  let app = createApp({ dataDir, runtime: 'headless', config, rendererDir: null });
  let { apiUrl } = await app.start();
  // Registered after tempDir's cleanup, so it runs first (cleanups run in reverse): stop, then delete.
  onTestFinished(async () => {
    await app.stop();
  });

  const hub: TestHub = {
    get app() {
      return app;
    },
    get url() {
      return apiUrl;
    },
    dataDir,
    async api(path, init = {}) {
      const response = await fetch(`${apiUrl}/api/v1${path}`, {
        method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
        headers: {
          ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
        },
        body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body),
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : null };
    },
    async register(name, extra = {}) {
      const { status, body } = await hub.api('/agents/register', { body: { name, project: 'test', ...extra } });
      if (status !== 201 && status !== 200) throw new Error(`register ${name}: ${status} ${JSON.stringify(body)}`);
      return body as RegisterResponse;
    },
    async restart() {
      await app.stop();
      app = createApp({ dataDir, runtime: 'headless', config: { ...config, api: { ...config.api, port: new URL(apiUrl).port ? Number(new URL(apiUrl).port) : 0 } }, rendererDir: null });
      ({ apiUrl } = await app.start());
    },
  };
  return hub;
}

/** An agent's realtime socket that records every frame. */
export interface Socket {
  ws: WebSocket;
  frames: ServerFrame[];
  next(predicate?: (frame: ServerFrame) => boolean, timeoutMs?: number): Promise<ServerFrame>;
  messages(): Extract<ServerFrame, { type: 'message' }>['message'][];
  send(frame: unknown): void;
  closed: Promise<{ code: number; reason: string }>;
}

export function openSocket(url: string, agentId: string, token: string, headers: Record<string, string> = {}): Promise<Socket> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/api/v1/agents/${agentId}/realtime`, {
    headers: { authorization: `Bearer ${token}`, ...headers },
  });
  const frames: ServerFrame[] = [];
  // next() consumes frames in order: it returns the first matching frame after the last one it returned,
  // whether that frame arrived before the call or arrives later.
  let consumed = 0;
  let wake: (() => void) | undefined;
  ws.on('message', (data) => {
    frames.push(JSON.parse(data.toString()) as ServerFrame);
    wake?.();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  const socket: Socket = {
    ws,
    frames,
    closed,
    async next(predicate = () => true, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const index = frames.findIndex((frame, i) => i >= consumed && predicate(frame));
        if (index !== -1) {
          consumed = index + 1;
          return frames[index]!;
        }
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw new Error(`no matching frame within ${timeoutMs} ms; last frames: ${JSON.stringify(frames.slice(-3))}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, remaining);
          wake = () => (clearTimeout(timer), resolve());
        });
      }
    },
    messages: () => frames.filter((f): f is Extract<ServerFrame, { type: 'message' }> => f.type === 'message').map((f) => f.message),
    send: (frame) => ws.send(JSON.stringify(frame)),
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(socket));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

export async function until(condition: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** One call over the cockpit's socket, as the cockpit makes it (its token); a refused call throws with the error frame. */
export async function cockpitCall<K extends CallName>(hub: TestHub, name: K, params: CallParams<K>): Promise<CallResult<K>> {
  const ws = new WebSocket(`${hub.url.replace(/^http/, 'ws')}${COCKPIT_SOCKET_PATH}?token=${hub.app.cockpitToken}`);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  try {
    const answer = new Promise<CockpitServerFrame>((resolve) =>
      ws.on('message', (data) => {
        const frame = JSON.parse(String(data)) as CockpitServerFrame;
        if ((frame.type === 'result' || frame.type === 'error') && frame.id === 1) resolve(frame);
      }),
    );
    ws.send(JSON.stringify({ type: 'call', id: 1, name, params }));
    const frame = await answer;
    if (frame.type !== 'result') throw new Error(JSON.stringify(frame));
    return frame.result as CallResult<K>;
  } finally {
    ws.close();
  }
}
