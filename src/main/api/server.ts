/**
 * The hub's one listening socket: the HTTP API, the WebSocket endpoints and, for browsers, the built cockpit.
 * Features add their routes through `register`; this file owns only what every route shares (limits, headers,
 * the loopback guard, errors).
 */
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance } from 'fastify';
import { version as appVersion } from '../../../package.json';
import { API_PREFIX, type HealthResponse } from '../../shared/agent-protocol';
import type { CallHandlers } from '../cockpit/dispatch';
import type { EventBus } from '../cockpit/event-bus';
import { nestsDeeperThan, tooDeepMessage } from '../../shared/json-depth';
import { badRequest, HubError } from '../errors';
import { attachCockpitSocket } from './cockpit-socket';
import { foreground } from './foreground';
import { discardBody, refuseOversizedBeforeSending, tooLargeBody } from './oversized';
import { hostHeaderAllowed, SECURITY_HEADERS } from './security';
import { UpgradeRouter } from './upgrade-router';

export interface ApiContext {
  http: FastifyInstance;
  upgrades: UpgradeRouter;
  /** The bound port, known once listening (0 in config means "pick one"). */
  port(): number;
}

export interface ApiServerOptions {
  host: string;
  port: number;
  maxBodyBytes: number;
  cockpitToken: string;
  rendererDir: string | null;
  handlers: CallHandlers;
  events: EventBus;
  /**
   * Where WebSocket upgrades go by path. Given when a feature owns a socket endpoint and is built before the server
   * (the agents' realtime gateway); a new one otherwise.
   */
  upgrades?: UpgradeRouter;
  /** Told when a browser cockpit connects; what it returns, when that cockpit leaves (the overseer's presence). */
  cockpitOpened?: () => () => void;
  /** Feature routes (agents, messages, memory…), added before the server listens. */
  register?: Array<(context: ApiContext) => void | Promise<void>>;
}

export interface ApiServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function createApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const http = Fastify({ bodyLimit: options.maxBodyBytes, logger: false, return503OnClosing: true });
  const upgrades = options.upgrades ?? new UpgradeRouter();
  let boundPort = options.port;
  const context: ApiContext = { http, upgrades, port: () => boundPort };

  // Every JSON body is checked for depth before it is parsed (the send routes do the same in their own parser).
  const parseJson = http.getDefaultJsonParser('error', 'error');
  http.removeContentTypeParser('application/json');
  http.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    if (nestsDeeperThan(body as Buffer)) return done(badRequest(`invalid request: ${tooDeepMessage()}`), undefined);
    parseJson(request, (body as Buffer).toString('utf8'), done);
  });

  // Requests running hold back bulk work between its slices (foreground.ts).
  http.addHook('onRequest', (request, _reply, done) => {
    foreground.started(request);
    done();
  });
  http.addHook('onResponse', (request, _reply, done) => {
    foreground.finished(request);
    done();
  });
  http.addHook('onRequestAbort', (request, done) => {
    foreground.finished(request);
    done();
  });
  http.addHook('onRequest', async (request, reply) => {
    if (!hostHeaderAllowed(request.headers.host, options.host)) {
      return reply.code(421).send({ error: 'the hub answers only requests addressed to a loopback host' });
    }
  });
  http.addHook('onSend', async (_request, reply) => {
    reply.headers(SECURITY_HEADERS);
  });
  http.setErrorHandler(async (error: Error & { statusCode?: number; code?: string }, request, reply) => {
    if (error instanceof HubError) return reply.code(error.status).send({ error: error.message, code: error.code, ...error.details });
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      // The client may still be sending: let it finish (within bounds), so it reads this answer (see oversized.ts).
      await discardBody(request.raw, 2 * options.maxBodyBytes);
      return reply.code(413).header('connection', 'close').send(tooLargeBody(options.maxBodyBytes));
    }
    const status = error.statusCode ?? 500;
    if (status < 500) return reply.code(status).send({ error: error.message, code: 'invalid_request' });
    console.error(`[api] ${request.method} ${request.url} failed:`, error);
    return reply.code(500).send({ error: `the hub failed to answer: ${error.message}`, code: 'internal' });
  });
  http.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: `no route ${request.method} ${request.url.split('?')[0]}`, code: 'not_found' }),
  );

  http.get(`${API_PREFIX}/health`, async (): Promise<HealthResponse> => ({ ok: true, product: 'devenviro-cockpit', version: appVersion }));

  const cockpitSocket = attachCockpitSocket({
    router: upgrades,
    token: options.cockpitToken,
    port: () => boundPort,
    handlers: options.handlers,
    events: options.events,
    opened: options.cockpitOpened,
  });

  await serveCockpit(http, options.rendererDir);
  for (const register of options.register ?? []) await register(context);

  refuseOversizedBeforeSending(http.server, options.maxBodyBytes);
  http.server.on('upgrade', (request, socket, head) => {
    if (!hostHeaderAllowed(request.headers.host, options.host)) {
      socket.destroy();
      return;
    }
    upgrades.handle(request, socket, head);
  });

  try {
    await http.listen({ host: options.host, port: options.port });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new Error(
        `port ${options.port} on ${options.host} is in use: another hub may be running; ` +
          'choose another with --port or api.port in config.json',
        { cause: error },
      );
    }
    throw error;
  }
  boundPort = (http.server.address() as AddressInfo).port;
  const hostInUrl = options.host.includes(':') ? `[${options.host}]` : options.host;

  return {
    url: `http://${hostInUrl}:${boundPort}`,
    port: boundPort,
    async close() {
      cockpitSocket.close();
      await http.close();
    },
  };
}

async function serveCockpit(http: FastifyInstance, rendererDir: string | null): Promise<void> {
  if (rendererDir && existsSync(path.join(rendererDir, 'index.html'))) {
    await http.register(fastifyStatic, { root: rendererDir, index: 'index.html', cacheControl: false });
    return;
  }
  http.get('/', async (_request, reply) =>
    reply
      .code(503)
      .type('text/plain')
      .send(
        rendererDir
          ? `The cockpit is not built yet (no ${path.join(rendererDir, 'index.html')}): run \`npm run build\`.`
          : 'This hub serves no browser cockpit.',
      ),
  );
}
