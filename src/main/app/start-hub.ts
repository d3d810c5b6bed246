/**
 * Starting and stopping the agent hub's services on one data directory: the databases, agents, messaging, memory,
 * backup, the realtime gateway, the MCP server, the A2A door, the API server, the file mailbox and the cockpit's live feed, in the order they
 * depend on each other.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import type { LastRestore } from '../../shared/backup-protocol';
import type { TaskServerFrame } from '../../shared/task-protocol';
import { HUB_RUNTIME_FILE, type HubRuntimeFile } from '../../shared/hub-location';
import { writeFileDurableSync } from '../../shared/node/durable-file';
import { A2aGateway } from '../a2a/gateway';
import { Advisor } from '../advisor/advisor';
import { registerAdvisorRoutes } from '../advisor/http';
import { Profiler } from '../advisor/profiler';
import { registerAgentRoutes } from '../agents/http';
import { registerAttentionRoutes } from '../attention/http';
import { AttentionService } from '../attention/service';
import { AgentRegistry } from '../agents/registry';
import { Cluster } from '../cluster';
import { registerClusterRoutes } from '../cluster/http';
import { createApiServer, type ApiServer } from '../api/server';
import { UpgradeRouter } from '../api/upgrade-router';
import { BackupEngine, BackupScheduler, BackupService, registerBackupRoutes } from '../backup';
import type { CallHandlers } from '../cockpit/dispatch';
import type { EventBus } from '../cockpit/event-bus';
import { startLiveFeed, type LiveFeed } from '../cockpit/live-feed';
import { loadConfig, saveConfig, type AppConfig } from '../config/config';
import { startCheckpointer } from '../db/checkpointer';
import { migrate, openDatabase } from '../db/database';
import { hubMigrations } from '../db/migrations';
import { USE_LITE_VARIANTS } from '../embedding';
import type { Hub } from '../hub';
import { FileMailbox } from '../mailbox';
import { McpGateway } from '../mcp/gateway';
import { MemoryEngine } from '../memory/engine';
import { registerMemoryRoutes } from '../memory/http';
import { BODY_DIR } from '../messaging/body-store';
import { registerMessageRoutes } from '../messaging/http';
import { RealtimeGateway } from '../messaging/realtime';
import { MessagingService } from '../messaging/service';
import { registerMetricsRoutes } from '../monitor/http';
import { registerReservationRoutes } from '../reservations/http';
import { noticeCockpitReleases } from '../reservations/notices';
import { ReservationService } from '../reservations/service';
import { registerTaskRoutes } from '../tasks/http';
import { TaskService } from '../tasks/service';
import { noticeApprovers, registerWorkflowRoutes, registerWorkflowRunRoutes, WorkflowEngine } from '../workflows';
import type { Metrics } from '../monitor/metrics';
import type { ServiceRegistry } from '../monitor/service-registry';
import { checkVectorIndex } from '../vector';
import type { EncoderLoader } from './encoders';

/** A quit should not hang on a slow sync drive: an unfinished backup leaves the earlier snapshots intact. */
const QUIT_BACKUP_TIMEOUT_MS = 60_000;
/** Room for the JSON envelope around a body of the maximum size. */
const ENVELOPE_BYTES = 64 * 1024;

/** What the hub is built from; all of it outlives a restart (an in-place restore stops and starts the hub). */
export interface HubDeps {
  dataDir: string;
  config: AppConfig;
  cockpitToken: string;
  rendererDir: string | null;
  startedAt: Date;
  events: EventBus;
  services: ServiceRegistry;
  metrics: Metrics;
  handlers: CallHandlers;
  encoders: EncoderLoader;
  lastRestore(): LastRestore | null;
}

export interface RunningHub {
  readonly hub: Hub;
  readonly api: ApiServer;
  readonly feed: LiveFeed;
  /** quitBackup: take the on-quit backup if the settings ask for one. */
  stop(options: { quitBackup: boolean }): Promise<void>;
}

export async function startHub(deps: HubDeps): Promise<RunningHub> {
  const { dataDir, config, cockpitToken, events, services, metrics } = deps;

  const dbFile = path.join(dataDir, 'hub.sqlite');
  const db = openDatabase(dbFile);
  migrate(db, hubMigrations);
  const checkpointer = startCheckpointer(db, dbFile);
  services.set('database', 'up', `SQLite (WAL) at ${dbFile}`);

  const registry = new AgentRegistry(db);
  registry.ensureOverseer();
  // Hubs on other machines share agents through Redis when cluster.redis is set; the address is known once listening.
  const listening = { url: null as string | null };
  const cluster = await Cluster.start({ dataDir, settings: config.cluster, registry, services, apiUrl: () => listening.url, startedAt: deps.startedAt });
  const reservations = new ReservationService(db, registry);
  // In a cluster, leases are decided in Redis so that no path has two owners across hubs.
  cluster?.attachReservations(reservations);
  // Tasks handed to agents under a lease; the realtime gateway, built below, carries their offers.
  const tasks = new TaskService(db, registry, { dataDir, bodyFileBytes: config.messages.bodyFileBytes });
  // In a cluster, tasks other hubs may take are shared; each is given out by one hub at a time.
  cluster?.attachTasks(tasks);

  const messaging = new MessagingService(db, registry, {
    maxBodyBytes: config.messages.maxBytes,
    bodyDir: path.join(dataDir, BODY_DIR),
    bodyFileBytes: config.messages.bodyFileBytes,
    observeSend: (ms, recipients, from, commitSize) => {
      metrics.record('send', ms, () => `from ${from.name} to ${recipients} inbox${recipients === 1 ? '' : 'es'}, in a commit of ${commitSize}`);
      metrics.count('messagesSent');
      metrics.count('messagesDelivered', recipients);
    },
  });
  // In a cluster, messages to agents on other hubs (and topics, broadcasts) go through Redis from here on.
  cluster?.attachMessaging(messaging);
  noticeCockpitReleases(reservations, registry, messaging);
  // Workflows run on tasks; after a crash the engine finishes what the crash cut off before the hub serves.
  const workflows = new WorkflowEngine(db, registry, tasks);
  noticeApprovers(workflows, registry, messaging);

  const memory = new MemoryEngine({
    dataDir,
    encoder: () => deps.encoders.load(),
    // The fp32 USE-lite (the built-in encoder before the int8 one), for memories still indexed with it.
    earlierEncoders: { [USE_LITE_VARIANTS.fp32.id]: () => deps.encoders.load('fp32') },
    services,
    ...config.memory,
    observe: (op, ms, count) => {
      metrics.record(op, ms, () => (op === 'embed' ? `${count} texts` : op === 'store' ? `${count} memor${count === 1 ? 'y' : 'ies'}` : 'one query'));
      if (op === 'store') metrics.count('memoriesStored', count);
      if (op === 'search') metrics.count('searches');
    },
    observeExtract: (ms) => metrics.record('extract', ms),
  });
  // In a cluster, memories are replicated across the hubs (before any request, so every change is seen).
  cluster?.attachMemory(memory);

  // Databases are copied through their live connections (SQLite's online backup), so a backup taken while agents
  // write is consistent.
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
    lastRestore: deps.lastRestore,
  });

  try {
    services.set('vector-index', 'up', checkVectorIndex());
  } catch (error) {
    // FAISS itself loads when this module is imported (a missing addon stops the process before here); this is
    // the search check failing.
    services.set('vector-index', 'down', `FAISS does not answer: ${(error as Error).message}`);
  }

  // The gateway takes agent sockets on the API server's upgrade router, which exists before the server listens.
  const upgrades = new UpgradeRouter();
  const realtime = new RealtimeGateway({
    registry,
    messaging,
    router: upgrades,
    maxBodyBytes: config.messages.maxBytes,
    observeDelivery: (ms, to) => metrics.record('deliver', ms, () => `to ${to.name}`),
    memory,
    reservations,
    tasks,
  });
  const mailbox = new FileMailbox({ dataDir, registry, messaging, reservations, tasks, maxFileBytes: config.messages.maxBytes + ENVELOPE_BYTES });
  // An agent without a socket but with a file mailbox gets its task frames as files in its inbox.
  tasks.connectSockets((agentId, frame) => realtime.sendTo(agentId, frame) || (frame.type.startsWith('task.') && mailbox.taskFrame(agentId, frame as TaskServerFrame)));
  // MCP clients (Claude Code, Gemini CLI, Codex) reach the same services through the official SDK's transport.
  const mcp = new McpGateway({ registry, messaging, memory, reservations, tasks, workflows, cockpitToken, sessionIdleMs: config.mcp.sessionIdleMinutes * 60_000 });
  // Agents on other frameworks reach the same messaging through A2A (official SDK): tasks completed by replies.
  const a2a = new A2aGateway({
    db,
    registry,
    messaging,
    cockpitToken,
    host: config.api.host,
    maxBodyBytes: config.messages.maxBytes,
    keepFinishedTasksMs: config.a2a.keepFinishedTasksDays * 86_400_000,
  });
  // Bottlenecks from the hub's own measurements (it reads the services through `hub`), and profiles on request.
  const advisor = new Advisor({ hub: () => hub, metrics, settings: () => config.advisor, dataDir, backupTarget: () => config.backup.target });
  const attention = new AttentionService(
    { db, registry, messaging, tasks, workflows, reservations, backup, services, backupSettings: () => config.backup, advice: advisor, cluster },
    { onChanged: (list) => events.emit('attention.changed', list), watched: () => events.listening('attention.changed') },
  );
  const profiler = new Profiler(dataDir);
  profiler.onChange((profiles) => events.emit('profiles.changed', profiles));
  const hub: Hub = { db, registry, messaging, realtime, memory, mailbox, backup, checkpointer, mcp, a2a, reservations, tasks, workflows, cluster, attention, advisor, profiler };
  advisor.start();
  const feed = startLiveFeed({ events, hub, metrics, dataDir });
  // The hub's announcements to the cluster carry its health from the same metrics ticks the cockpit charts.
  cluster?.reportMetrics(feed.latest);

  const api = await createApiServer({
    host: config.api.host,
    port: config.api.port,
    maxBodyBytes: config.messages.maxBytes + ENVELOPE_BYTES,
    cockpitToken,
    rendererDir: deps.rendererDir,
    handlers: deps.handlers,
    events,
    upgrades,
    // The person at the cockpit is the overseer: present while a cockpit page is connected.
    cockpitOpened: () => {
      const overseer = registry.ensureOverseer();
      registry.connectionOpened(overseer);
      return () => registry.connectionClosed(overseer);
    },
    register: [
      (context) => registerAgentRoutes(context, registry, cockpitToken, cluster),
      (context) => registerClusterRoutes(context, registry, cluster, cockpitToken),
      (context) => registerMessageRoutes(context, registry, messaging, cockpitToken),
      (context) => registerMemoryRoutes(context, registry, memory, cockpitToken),
      (context) => registerMetricsRoutes(context, metrics, () => feed, cockpitToken),
      (context) => registerBackupRoutes(context, { registry, cockpitToken, backup }),
      (context) => mcp.register(context),
      (context) => a2a.register(context),
      (context) => registerReservationRoutes(context, registry, reservations, cockpitToken),
      (context) => registerTaskRoutes(context, registry, tasks, cockpitToken),
      (context) => registerWorkflowRoutes(context, registry, cockpitToken),
      (context) => registerWorkflowRunRoutes(context, registry, workflows, cockpitToken),
      (context) => registerAttentionRoutes(context, registry, attention, cockpitToken),
      (context) => registerAdvisorRoutes(context, { registry, advisor, profiler, cockpitToken }),
    ],
  }).catch(async (error: unknown) => {
    // The port is taken, say: close what is open, so the data directory is free again.
    await stopServices(hub, feed, null, false);
    throw error;
  });

  backup.scheduler.start();
  services.set('mailbox', 'starting', 'sending what was dropped into the file mailbox while the hub was down');
  mailbox.start().then(
    () => services.set('mailbox', 'up', `file mailbox in ${mailbox.root}`),
    (error: Error) => services.set('mailbox', 'down', `the file mailbox could not start: ${error.message}`),
  );
  services.set('api', 'up', `HTTP and WebSocket on ${api.url}`);
  listening.url = api.url;
  const runtimeFile: HubRuntimeFile = { url: api.url, pid: process.pid, startedAt: deps.startedAt.toISOString() };
  writeFileDurableSync(path.join(dataDir, HUB_RUNTIME_FILE), JSON.stringify(runtimeFile, null, 2) + '\n');

  // Loading the encoder and the memory index takes a moment (longer on first start, when the encoder is built); the
  // hub serves meanwhile, and memory requests wait for them.
  memory.store().catch(() => undefined);

  return {
    hub,
    api,
    feed,
    async stop({ quitBackup }) {
      await stopServices(hub, feed, api, quitBackup);
      rmSync(path.join(dataDir, HUB_RUNTIME_FILE), { force: true });
    },
  };
}

/**
 * The mailbox and sockets first (the HTTP server waits for sockets), then the queue's last commit, the last backup,
 * and the databases.
 */
async function stopServices(hub: Hub, feed: LiveFeed, api: ApiServer | null, quitBackup: boolean): Promise<void> {
  feed.stop();
  hub.attention.close();
  hub.advisor.stop();
  await hub.profiler.stop();
  await hub.mailbox.close();
  hub.realtime.close();
  await hub.mcp.close();
  await hub.a2a.close();
  await api?.close();
  hub.messaging.close();
  if (quitBackup) await hub.backup.scheduler.onQuit(QUIT_BACKUP_TIMEOUT_MS).catch(() => undefined);
  await hub.backup.scheduler.stop();
  await hub.cluster?.stopMemory();
  await hub.memory.close();
  hub.reservations.close();
  hub.workflows.close();
  hub.tasks.close();
  await hub.cluster?.stop();
  hub.registry.close();
  await hub.checkpointer.stop();
  hub.db.close();
  hub.backup.engine.close();
}
