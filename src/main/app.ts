/**
 * The composition root: builds every service of the hub from a data directory and its config. The Electron shell
 * and the headless entry both call createApp and differ only in what they add around it (a window, or a URL).
 */
import { cpSync, existsSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { version as appVersion } from '../../package.json';
import type { HubStatus } from '../shared/contract';
import { HUB_RUNTIME_FILE, type HubRuntimeFile } from '../shared/hub-location';
import { registerAgentRoutes } from './agents/http';
import { AgentRegistry } from './agents/registry';
import { createApiServer, type ApiServer } from './api/server';
import { createCallHandlers } from './cockpit/handlers';
import type { CallHandlers } from './cockpit/dispatch';
import { EventBus } from './cockpit/event-bus';
import { startLiveFeed, type LiveFeed } from './cockpit/live-feed';
import { loadCockpitToken, loadConfig, saveConfig, type AppConfig } from './config/config';
import { writeFileDurableSync } from '../shared/node/durable-file';
import { rendererDir as defaultRendererDir, resourcesDir as defaultResourcesDir } from './config/paths';
import { startCheckpointer } from './db/checkpointer';
import { migrate, openDatabase } from './db/database';
import { hubMigrations } from './db/migrations';
import { ensureDefaultEncoder, OnnxSentenceEncoder, USE_LITE_VARIANTS, type SentenceEncoder } from './embedding';
import { BackupEngine, BackupScheduler, BackupService, registerBackupRoutes, type LastRestore } from './backup';
import { FileMailbox } from './mailbox';
import { MemoryEngine } from './memory/engine';
import { registerMemoryRoutes } from './memory/http';
import { registerMessageRoutes } from './messaging/http';
import { RealtimeGateway } from './messaging/realtime';
import { BODY_DIR } from './messaging/body-store';
import { MessagingService } from './messaging/service';
import { registerMetricsRoutes } from './monitor/http';
import { Metrics } from './monitor/metrics';
import { ServiceRegistry } from './monitor/service-registry';
import { checkVectorIndex } from './vector/health';
import type { Hub } from './hub';

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
  /** The agent hub's services; present while the app is started. */
  hub(): Hub;
  start(): Promise<{ apiUrl: string; cockpitUrl: string }>;
  /** quitBackup: take the on-quit backup if the settings ask for one (default true). */
  stop(options?: { quitBackup?: boolean }): Promise<void>;
  /**
   * Restores the hub's own data from a snapshot, in place: restores beside the data directory and checks it
   * while the hub runs, then stops the hub, swaps the folders and starts again on the same port. The data it
   * replaced is kept beside, and its path returned.
   */
  restoreInPlace(snapshotId: string): Promise<{ previousDataDir: string }>;
}


const STATUS_TICK_MS = 1000;
/** A quit should not hang on a slow sync drive: an unfinished backup leaves the earlier snapshots intact. */
const QUIT_BACKUP_TIMEOUT_MS = 60_000;
/** Room for the JSON envelope around a body of the maximum size. */
const ENVELOPE_BYTES = 64 * 1024;

export function createApp(options: AppOptions): App {
  const dataDir = path.resolve(options.dataDir);
  const config = options.config ?? loadConfig(dataDir);
  const cockpitToken = loadCockpitToken(dataDir);
  const resources = options.resourcesDir ?? defaultResourcesDir();
  const rendererDir = options.rendererDir === undefined ? defaultRendererDir() : options.rendererDir;
  const startedAt = new Date();

  const events = new EventBus();
  const services = new ServiceRegistry();
  let hub: Hub | undefined;
  let api: ApiServer | undefined;
  let feed: LiveFeed | undefined;
  let lastRestore: LastRestore | null = null;
  const metrics = new Metrics();
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

  const requireHub = (): Hub => {
    if (!hub) throw new Error('the hub is not started');
    return hub;
  };

  const handlers = createCallHandlers({
    status,
    hub: requireHub,
    metrics: () => ({ latest: feed?.latest() ?? null, histograms: metrics }),
    restoreHub: async (snapshotId) => {
      try {
        const { previousDataDir } = await app.restoreInPlace(snapshotId);
        lastRestore = { snapshotId, previousDataDir, error: null, at: new Date().toISOString() };
      } catch (error) {
        lastRestore = { snapshotId, previousDataDir: null, error: (error as Error).message, at: new Date().toISOString() };
      }
      events.emit('backup.restored', lastRestore);
    },
  });
  services.onChange(() => events.emit('hub.status', status()));

  /**
   * A built-in encoder variant, built first if need be, reported as the 'encoder' service. The default one (no
   * variant named) is loaded once and shared; an earlier one is loaded anew for the memory engine, which closes it
   * once the memories have moved to the default one.
   */
  function loadEncoder(variant?: keyof typeof USE_LITE_VARIANTS): Promise<SentenceEncoder> {
    const load = async () => {
      services.set('encoder', 'starting', 'loading the sentence encoder');
      try {
        const dir = await ensureDefaultEncoder(
          resources,
          ({ step, fraction }) => services.set('encoder', 'starting', `building the sentence encoder: ${step}`, fraction),
          variant,
        );
        const encoder = await OnnxSentenceEncoder.load(dir);
        services.set('encoder', 'up', `${encoder.id}, ${encoder.dimension}-d, ONNX Runtime`);
        return encoder;
      } catch (error) {
        services.set('encoder', 'down', `the sentence encoder could not load: ${(error as Error).message}`);
        throw error;
      }
    };
    if (variant !== undefined) return load();
    encoderPromise ??= load();
    return encoderPromise;
  }

  async function stop({ quitBackup = true }: { quitBackup?: boolean } = {}): Promise<void> {
    clearInterval(statusTimer);
    feed?.stop();
    feed = undefined;
    // The mailbox and sockets first (the HTTP server waits for sockets), then the queue's last commit, the last
    // backup, and the databases.
    await hub?.mailbox.close();
    hub?.realtime.close();
    await api?.close();
    api = undefined;
    if (hub) {
      hub.messaging.close();
      if (quitBackup) await hub.backup.scheduler.onQuit(QUIT_BACKUP_TIMEOUT_MS).catch(() => undefined);
      await hub.backup.scheduler.stop();
      await hub.memory.close();
      hub.registry.close();
      await hub.checkpointer.stop();
      hub.db.close();
      hub.backup.engine.close();
      hub = undefined;
      rmSync(path.join(dataDir, HUB_RUNTIME_FILE), { force: true });
    }
    if (encoderPromise) await encoderPromise.then((encoder) => encoder.close(), () => undefined);
    encoderPromise = undefined;
  }

  const app: App = {
    dataDir,
    config,
    events,
    services,
    handlers,
    cockpitToken,
    status,
    encoder: loadEncoder,
    hub: requireHub,

    async start() {
      const dbFile = path.join(dataDir, 'hub.sqlite');
      const db = openDatabase(dbFile);
      migrate(db, hubMigrations);
      const checkpointer = startCheckpointer(db, dbFile);
      services.set('database', 'up', `SQLite (WAL) at ${dbFile}`);
      const registry = new AgentRegistry(db);
      registry.ensureOverseer();
      const messaging = new MessagingService(db, registry, {
        maxBodyBytes: config.messages.maxBytes,
        bodyDir: path.join(dataDir, BODY_DIR),
        bodyFileBytes: config.messages.bodyFileBytes,
        observeSend: (ms, recipients) => {
          metrics.record('send', ms);
          metrics.count('messagesSent');
          metrics.count('messagesDelivered', recipients);
        },
      });
      const memory = new MemoryEngine({
        dataDir,
        encoder: () => loadEncoder(),
        // The fp32 USE-lite (the built-in encoder before the int8 one), for memories still indexed with it.
        earlierEncoders: { [USE_LITE_VARIANTS.fp32.id]: () => loadEncoder('fp32') },
        services,
        ...config.memory,
        observe: (op, ms, count) => {
          metrics.record(op, ms, op === 'embed' ? `${count} texts` : undefined);
          if (op === 'store') metrics.count('memoriesStored', count);
          if (op === 'search') metrics.count('searches');
        },
        observeExtract: (ms) => metrics.record('extract', ms),
      });
      let realtime: RealtimeGateway | undefined;
      // Databases are copied through their live connections (SQLite's online backup), so a backup taken while
      // agents write is consistent.
      const backupEngine = new BackupEngine({ dataDir, settings: () => config.backup, databases: () => [db, memory.database()] });
      const backup = new BackupService({
        engine: backupEngine,
        scheduler: new BackupScheduler({ engine: backupEngine, settings: () => config.backup, onEvent: (event) => events.emit('backup.event', event) }),
        settings: {
          get: () => config.backup,
          save: (next) => {
            config.backup = next;
            // Only the backup section changes on disk: a --host or --port given for this run stays one-off.
            saveConfig(dataDir, { ...loadConfig(dataDir), backup: next });
          },
        },
        lastRestore: () => lastRestore,
      });

      try {
        services.set('vector-index', 'up', checkVectorIndex());
      } catch (error) {
        // FAISS itself loads when this module is imported (a missing addon stops the process before here); this
        // is the search check failing.
        services.set('vector-index', 'down', `FAISS does not answer: ${(error as Error).message}`);
      }

      api = await createApiServer({
        host: config.api.host,
        port: config.api.port,
        maxBodyBytes: config.messages.maxBytes + ENVELOPE_BYTES,
        cockpitToken,
        rendererDir,
        handlers,
        events,
        register: [
          (context) => registerAgentRoutes(context, registry, cockpitToken),
          (context) => registerMessageRoutes(context, registry, messaging, cockpitToken),
          (context) => registerMemoryRoutes(context, registry, memory, cockpitToken),
          (context) => registerMetricsRoutes(context, metrics, () => feed, cockpitToken),
          (context) => registerBackupRoutes(context, { registry, cockpitToken, backup }),
          (context) => {
            realtime = new RealtimeGateway({
              registry,
              messaging,
              router: context.upgrades,
              maxBodyBytes: config.messages.maxBytes,
              observeDelivery: (ms) => metrics.record('deliver', ms),
              memory,
            });
          },
        ],
      });
      const mailbox = new FileMailbox({ dataDir, registry, messaging, maxFileBytes: config.messages.maxBytes + ENVELOPE_BYTES });
      hub = { db, registry, messaging, realtime: realtime!, memory, mailbox, backup, checkpointer };
      backup.scheduler.start();
      services.set('mailbox', 'starting', 'sending what was dropped into the file mailbox while the hub was down');
      mailbox.start().then(
        () => services.set('mailbox', 'up', `file mailbox in ${mailbox.root}`),
        (error: Error) => services.set('mailbox', 'down', `the file mailbox could not start: ${error.message}`),
      );
      feed = startLiveFeed({ events, hub, metrics, dataDir });
      services.set('api', 'up', `HTTP and WebSocket on ${api.url}`);
      const runtimeFile: HubRuntimeFile = { url: api.url, pid: process.pid, startedAt: startedAt.toISOString() };
      writeFileDurableSync(path.join(dataDir, HUB_RUNTIME_FILE), JSON.stringify(runtimeFile, null, 2) + '\n');

      // Loading the encoder and the memory index takes a moment (longer on first start, when the encoder is built);
      // the hub serves meanwhile, and memory requests wait for them.
      memory.service().catch(() => undefined);

      statusTimer = setInterval(() => events.emit('hub.status', status()), STATUS_TICK_MS);
      statusTimer.unref();
      return { apiUrl: api.url, cockpitUrl: `${api.url}/?token=${cockpitToken}` };
    },

    stop,

    async restoreInPlace(snapshotId) {
      if (!hub) throw new Error('the hub is not started');
      // 1. Restore and check beside the data directory while everything still runs.
      const restored = await hub.backup.engine.restoreHubData(snapshotId, dataDir);
      // 2. What is not data comes from the running hub: the cockpit keeps its token (its open pages reconnect),
      //    the settings and the backup history stay as they are now.
      for (const keep of ['cockpit-token', 'config.json', 'backup']) {
        const from = path.join(dataDir, keep);
        if (existsSync(from)) {
          rmSync(path.join(restored, keep), { recursive: true, force: true });
          cpSync(from, path.join(restored, keep), { recursive: true });
        }
      }
      // 3. Stop on the same port, swap the folders, start again; if the restored data will not start, swap back.
      const port = api ? Number(new URL(api.url).port) : config.api.port;
      await stop({ quitBackup: false });
      const previousDataDir = `${dataDir}.before-restore-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      renameSync(dataDir, previousDataDir);
      renameSync(restored, dataDir);
      config.api.port = port;
      try {
        await this.start();
      } catch (error) {
        await stop({ quitBackup: false }).catch(() => undefined);
        renameSync(dataDir, `${previousDataDir}.failed-restore`);
        renameSync(previousDataDir, dataDir);
        await this.start();
        throw new Error(`the restored data would not start (${(error as Error).message}); the hub is back on its previous data`, { cause: error });
      }
      return { previousDataDir };
    },
  };
  return app;
}
