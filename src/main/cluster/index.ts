/**
 * Hubs on several machines joined through Redis (config `cluster.redis`): membership (membership.ts), identities
 * and presence (identity.ts), messages (messages.ts, inbox-reader.ts) and topic subscriptions (subscriptions.ts)
 * over one connection (redis-link.ts). Without `cluster.redis` there is no cluster and
 * nothing here runs: a hub on its own is unchanged.
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ClusterAgent, ClusterState, HubHealth, HubTraffic } from '../../shared/cluster-protocol';
import type { MetricsSnapshot } from '../../shared/monitor-protocol';
import { writeFileDurableSync } from '../../shared/node/durable-file';
import { OVERSEER, type AgentRecord, type AgentRegistry } from '../agents/registry';
import type { AppConfig } from '../config/config';
import { ulidGenerator } from '../ids';
import type { MemoryEngine } from '../memory/engine';
import type { MessagingService } from '../messaging/service';
import type { ServiceRegistry } from '../monitor/service-registry';
import { ClusterIdentity } from './identity';
import { clusterKeys } from './keys';
import { Membership } from './membership';
import { MemoryReplication } from './memory-replication';
import { ClusterMessages } from './messages';
import { ClusterSubscriptions } from './subscriptions';
import { RedisLink, type ClusterSettings } from './redis-link';
import type { ReservationService } from '../reservations/service';
import { ClusterReservations } from './reservations';
import type { TaskService } from '../tasks/service';
import { ClusterTasks } from './tasks';

/** This hub's id in the cluster, kept in its data directory so a restarted hub is the same hub. */
const HUB_ID_FILE = 'cluster-hub.json';
/** How long a starting hub waits for Redis before it serves without it (and joins when Redis answers). */
const FIRST_CONNECT_WAIT_MS = 5_000;

export interface ClusterOptions {
  dataDir: string;
  settings: AppConfig['cluster'];
  registry: AgentRegistry;
  services: ServiceRegistry;
  apiUrl: () => string | null;
  startedAt: Date;
}

export class Cluster {
  private readonly link: RedisLink;
  private readonly membership: Membership;
  private readonly identity: ClusterIdentity;
  private readonly messages: ClusterMessages;
  private readonly subscriptions: ClusterSubscriptions;
  private joined: Promise<void> | null = null;
  private memory: MemoryReplication | null = null;
  private stopping = false;
  /** The live feed's latest metrics tick, once the feed runs (it starts after the cluster). */
  private latestMetrics: () => MetricsSnapshot | null = () => null;

  private readonly keys;
  /** Services attached after start (reservations, tasks, ...): stopped before the link closes. */
  private readonly attached: Array<{ stop(): Promise<void> }> = [];

  private constructor(
    readonly hubId: string,
    settings: ClusterSettings,
    private readonly options: ClusterOptions,
  ) {
    const keys = clusterKeys(settings.keyPrefix);
    this.keys = keys;
    this.link = new RedisLink(settings);
    this.identity = new ClusterIdentity(this.link, keys, options.registry, hubId);
    this.membership = new Membership(
      this.link,
      keys,
      {
        id: hubId,
        name: settings.hubName ?? os.hostname(),
        apiUrl: options.apiUrl,
        startedAt: options.startedAt.toISOString(),
        // The cockpit's own socket is not an agent of the cluster (the Cluster view lists agents without it).
        connectedAgents: () => options.registry.all().filter((agent) => agent.connections > 0 && !isOverseer(agent)).length,
        health: () => this.health(),
        // Announced even when empty: the cockpit tells "no messages between hubs yet" from a hub that counts none.
        traffic: () => this.messages.traffic(),
      },
      settings,
      (gone) => options.registry.hubGone(gone),
    );
    // What the cluster shares of an agent: not this hub's cockpit identity, nor an agent whose name another hub holds.
    const shared = (agent: AgentRecord) => !isOverseer(agent) && !this.identity.isConflict(agent.id);
    const report = () => {
      const { connected, detail } = this.link.current;
      const queued = this.messages.queued();
      const waiting = queued > 0 ? `; ${queued} send${queued === 1 ? '' : 's'} wait${queued === 1 ? 's' : ''} for Redis` : '';
      options.services.set('cluster', connected && queued === 0 ? 'up' : 'degraded', connected ? `${detail}${waiting}` : `${detail}; serving this hub's agents meanwhile${waiting}`);
    };
    this.messages = new ClusterMessages(this.link, keys, options.registry, hubId, shared, report);
    this.subscriptions = new ClusterSubscriptions(this.link, keys, options.registry, hubId, shared);
    this.identity.onSubscription = (event) => this.subscriptions.take(event);
    this.link.onChange(report);
    report();
  }

  /** Joins the cluster when `cluster.redis` is set (waiting a few seconds for Redis at most); null otherwise. */
  static async start(options: ClusterOptions): Promise<Cluster | null> {
    const { redis } = options.settings;
    if (!redis) return null;
    const cluster = new Cluster(hubIdOf(options.dataDir), { ...options.settings, redis }, options);
    cluster.joined = cluster.link.connect().then(async () => {
      if (cluster.stopping) return;
      await cluster.identity.start();
      cluster.membership.start();
    });
    cluster.joined.catch(() => undefined);
    await Promise.race([cluster.joined.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, FIRST_CONNECT_WAIT_MS).unref())]);
    return cluster;
  }

  /**
   * Replicates the memory engine's memories across the cluster (memory-replication.ts). The engine is built after the
   * cluster starts; this is called before the hub serves, so every memory change is seen.
   */
  attachMemory(engine: MemoryEngine): void {
    this.memory ??= new MemoryReplication(this.link, this.keys, this.hubId);
    this.memory.attach(engine);
  }

  /** Stops memory replication: before the memory engine closes. */
  async stopMemory(): Promise<void> {
    await this.memory?.stop();
  }

  state(): ClusterState {
    const { connected, detail } = this.link.current;
    const memory = this.memory?.state();
    return {
      enabled: true,
      hubId: this.hubId,
      connected,
      detail,
      hubs: this.membership.list(),
      conflicts: this.identity.conflictList(),
      agents: this.agents(),
      ...(memory ? { memory } : {}),
    };
  }

  /** This hub's announcements carry figures from the live feed's metrics ticks from now on. */
  reportMetrics(latest: () => MetricsSnapshot | null): void {
    this.latestMetrics = latest;
  }

  /**
   * Messages go through the cluster from here on: sends to agents on other hubs, topics and broadcasts reach them,
   * and this hub reads the inboxes of the agents present on it. Called once messaging exists.
   */
  attachMessaging(messaging: MessagingService): void {
    this.messages.attach(messaging);
    this.subscriptions.attach(messaging.store);
  }

  /** Messages and bytes this hub sent to each other hub through Redis, and received from each, since it started. */
  traffic(): HubTraffic[] {
    return this.messages.traffic();
  }

  /** Sends committed on this hub that wait for Redis (it is away, or they are being caught up). */
  queued(): number {
    return this.messages.queued();
  }

  prepareRegister(project: string, name: string): Promise<void> {
    return this.identity.prepareRegister(project, name);
  }

  claimNew(agent: AgentRecord): Promise<void> {
    return this.identity.claimNew(agent);
  }

  private health(): Omit<HubHealth, 'redisRttMs'> {
    const latest = this.latestMetrics();
    return {
      loopDelayP99Ms: latest?.process.eventLoopDelayP99Ms ?? null,
      rssBytes: process.memoryUsage.rss(),
      messagesSentPerSecond: latest?.rates.messagesSent ?? null,
      messagesDeliveredPerSecond: latest?.rates.messagesDelivered ?? null,
      queuedSends: this.messages.queued(),
    };
  }

  /** Every agent (but the cockpit's own, which is each hub's) with the hub it was last seen on. */
  private agents(): ClusterAgent[] {
    const { registry } = this.options;
    const agents: ClusterAgent[] = [];
    for (const agent of registry.all()) {
      if (agent.revokedAt || isOverseer(agent)) continue;
      const info = registry.info(agent);
      const hubId = agent.remote ? agent.remote.hubId || null : this.hubId;
      agents.push({ id: agent.id, name: agent.name, project: agent.project, status: info.status, connected: info.connected, hubId });
    }
    return agents;
  }

  /** File reservations decided in Redis from now on (refused until this hub has joined): one owner cluster-wide. */
  attachReservations(service: ReservationService): void {
    const shared = new ClusterReservations(this.link, this.keys, service, this.hubId);
    this.attached.push(shared);
    this.afterJoin('reservations', () => shared.start());
  }

  /**
   * Tasks shared with the other hubs from now on: each given out by one hub at a time, under a claim in Redis that
   * lives twice the hub's time to live (cluster/tasks.ts).
   */
  attachTasks(service: TaskService): void {
    const hubName = (id: string) => {
      const hub = this.membership.list().find((each) => each.id === id);
      return hub ? `${hub.name}${hub.alive ? '' : ' (gone)'}` : id;
    };
    const shared = new ClusterTasks(this.link, this.keys, service, this.hubId, Math.max(2 * this.options.settings.hubTtlMs, 2_000), hubName);
    this.attached.push(shared);
    this.afterJoin('tasks', () => shared.start());
  }

  /** Runs `step` once this hub has joined (at once if it has); a failure is logged (each attached part loads again when Redis comes back). */
  private afterJoin(what: string, step: () => Promise<void>): void {
    const run = () => {
      if (!this.stopping) step().catch((error: Error) => console.error(`[cluster] ${what} could not join yet:`, error.message));
    };
    void this.joined?.then(run, () => undefined);
  }

  async stop(): Promise<void> {
    // Not waiting for the first connection: with Redis away (or refusing the password) it may never come.
    this.stopping = true;
    await this.memory?.stop();
    for (const part of this.attached) await part.stop();
    await this.messages.stop();
    this.subscriptions.stop();
    await this.identity.stop();
    await this.membership.stop();
    await this.link.close();
    this.options.services.set('cluster', 'down', 'left the cluster (the hub stopped)');
  }
}

function isOverseer(agent: AgentRecord): boolean {
  return agent.project === OVERSEER.project && agent.name === OVERSEER.name;
}

/** The state of a hub that is not in a cluster. */
export const NO_CLUSTER: ClusterState = { enabled: false, hubId: null, connected: false, detail: 'cluster.redis is not set', hubs: [], conflicts: [] };

function hubIdOf(dataDir: string): string {
  const file = path.join(dataDir, HUB_ID_FILE);
  if (existsSync(file)) {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { id?: unknown };
    if (typeof saved.id === 'string' && saved.id) return saved.id;
  }
  const id = ulidGenerator()();
  writeFileDurableSync(file, JSON.stringify({ id }, null, 2) + '\n');
  return id;
}
