/**
 * The composition root: builds every service of the hub from a data directory and its config. The Electron shell
 * and the headless entry both call createApp and differ only in what they add around it (a window, or a URL).
 */
import path from 'node:path';
import type Database from 'better-sqlite3';
import { version as appVersion } from '../../package.json';
import type { HubStatus } from '../shared/contract';
import { createApiServer, type ApiServer } from './api/server';
import { createCallHandlers } from './cockpit/handlers';
import type { CallHandlers } from './cockpit/dispatch';
import { EventBus } from './cockpit/event-bus';
import { loadCockpitToken, loadConfig, type AppConfig } from './config/config';
import { rendererDir as defaultRendererDir, resourcesDir as defaultResourcesDir } from './config/paths';
import { openDatabase, migrate } from './db/database';
import { hubMigrations } from './db/migrations';
import { defaultEncoderDir, ensureDefaultEncoder, OnnxSentenceEncoder, type SentenceEncoder } from './embedding';
import { ServiceRegistry } from './monitor/service-registry';
import { checkVectorIndex } from './vector/health';

export const PRODUCT_NAME = 'DevEnviro Cockpit';

export interface AppOptions {
  dataDir: string;
  runtime: HubStatus['runtime'];
  /** Read from `<dataDir>/config.json` (created with defaults) when not given. */
  config?: AppConfig;
  resourcesDir?: string;
  /** The built cockpit to serve to browsers; null serves none (the Electron window loads it from disk). */
  rendererDir?: string | null;
}

export interface App {
  readonly dataDir: string;
  readonly config: AppConfig;
  readonly events: EventBus;
  readonly services: ServiceRegistry;
  readonly handlers: CallHandlers;
  /** The secret a browser needs to open the cockpit; agents use tokens of their own. */
  readonly cockpitToken: string;
  status(): HubStatus;
  /** Resolves once the encoder is loaded (building it first if needed). */
  encoder(): Promise<SentenceEncoder>;
  start(): Promise<{ apiUrl: string; cockpitUrl: string }>;
  stop(): Promise<void>;
}

const STATUS_TICK_MS = 1000;

export function createApp(options: AppOptions): App {
  const dataDir = path.resolve(options.dataDir);
  const config = options.config ?? loadConfig(dataDir);
  const cockpitToken = loadCockpitToken(dataDir);
  const resources = options.resourcesDir ?? defaultResourcesDir();
  const rendererDir = options.rendererDir === undefined ? defaultRendererDir() : options.rendererDir;
  const startedAt = new Date();

  const events = new EventBus();
  const services = new ServiceRegistry();
  let db: Database.Database | undefined;
  let api: ApiServer | undefined;
  let encoderPromise: Promise<SentenceEncoder> | undefined;
  let statusTimer: NodeJS.Timeout | undefined;

  const status = (): HubStatus => ({
    product: PRODUCT_NAME,
    version: appVersion,
    runtime: options.runtime,
    pid: process.pid,
    nodeVersion: process.versions.node,
    startedAt: startedAt.toISOString(),
    uptimeMs: Date.now() - startedAt.getTime(),
    dataDir,
    apiUrl: api?.url ?? null,
    services: services.list(),
  });

  const handlers = createCallHandlers({ status });
  services.onChange(() => events.emit('hub.status', status()));

  function loadEncoder(): Promise<SentenceEncoder> {
    encoderPromise ??= (async () => {
      services.set('encoder', 'starting', 'loading the sentence encoder');
      try {
        await ensureDefaultEncoder(resources, ({ step, fraction }) =>
          services.set('encoder', 'starting', `building the sentence encoder: ${step}`, fraction),
        );
        const encoder = await OnnxSentenceEncoder.load(defaultEncoderDir(resources));
        services.set('encoder', 'up', `${encoder.id}, ${encoder.dimension}-d, ONNX Runtime`);
        return encoder;
      } catch (error) {
        services.set('encoder', 'down', `the sentence encoder could not load: ${(error as Error).message}`);
        throw error;
      }
    })();
    return encoderPromise;
  }

  return {
    dataDir,
    config,
    events,
    services,
    handlers,
    cockpitToken,
    status,
    encoder: loadEncoder,

    async start() {
      const dbFile = path.join(dataDir, 'hub.sqlite');
      db = openDatabase(dbFile);
      migrate(db, hubMigrations);
      services.set('database', 'up', `SQLite (WAL) at ${dbFile}`);

      try {
        services.set('vector-index', 'up', checkVectorIndex());
      } catch (error) {
        services.set('vector-index', 'down', `FAISS could not load: ${(error as Error).message}`);
      }

      api = await createApiServer({
        host: config.api.host,
        port: config.api.port,
        maxBodyBytes: config.messages.maxBytes,
        cockpitToken,
        rendererDir,
        handlers,
        events,
      });
      services.set('api', 'up', `HTTP and WebSocket on ${api.url}`);

      // Loading the encoder takes a moment (longer on first start, when it is built); the hub serves meanwhile.
      loadEncoder().catch(() => undefined);

      statusTimer = setInterval(() => events.emit('hub.status', status()), STATUS_TICK_MS);
      statusTimer.unref();
      return { apiUrl: api.url, cockpitUrl: `${api.url}/?token=${cockpitToken}` };
    },

    async stop() {
      clearInterval(statusTimer);
      await api?.close();
      api = undefined;
      if (encoderPromise) await encoderPromise.then((encoder) => encoder.close(), () => undefined);
      db?.close();
      db = undefined;
    },
  };
}
