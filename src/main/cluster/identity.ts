/**
 * Agents known to every hub of the cluster: identities (id, name, project, profile, token hash, revocation) kept in
 * a Redis hash, names claimed with HSETNX so two hubs never give one name two ids, and changes of identity and
 * presence sent on one Redis stream that every hub reads. An agent registered on any hub is known to all, with the
 * same id and a token valid everywhere; its presence on one hub is seen on the others within a second.
 */
import type { IdentityConflict } from '../../shared/cluster-protocol';
import { conflict } from '../errors';
import { OVERSEER, type AgentRecord, type AgentRegistry, type AgentReplica, type RemotePresence } from '../agents/registry';
import { agentNameField, type ClusterKeys } from './keys';
import type { RedisLink } from './redis-link';

/** The stream keeps about this many changes; a hub that falls further behind reloads every identity. */
export const EVENTS_KEPT = 100_000;
const READ_BLOCK_MS = 1_000;
const READ_COUNT = 500;

/** A topic subscription made on one hub (cluster/subscriptions.ts), on the same stream. */
export type SubscriptionEvent = { kind: 'subscription'; hub: string; agentId: string; topics: string[]; subscribed: boolean };

type ClusterEvent =
  | { kind: 'agent'; hub: string; replica: AgentReplica }
  | { kind: 'presence'; hub: string; id: string; presence: Omit<RemotePresence, 'hubId'> }
  | SubscriptionEvent;

/** The cockpit's own identity is each hub's, never shared. */
function isShared(agent: { project: string; name: string }): boolean {
  return !(agent.project === OVERSEER.project && agent.name === OVERSEER.name);
}

export class ClusterIdentity {
  private lastEventId = '0-0';
  private reading: Promise<void> | null = null;
  private stopped = false;
  /** Set while a change from another hub is applied, so the listeners do not send it back. */
  private applying = false;
  private readonly published = new Map<string, string>();
  private readonly conflicts = new Map<string, IdentityConflict>();
  private readonly unsubscribe: Array<() => void> = [];
  /** Told of the subscriptions other hubs' agents make (cluster/subscriptions.ts). */
  onSubscription: ((event: SubscriptionEvent) => void) | null = null;
  /** Publishes waiting for Redis to come back, in order (latest presence per agent). */
  private readonly backlog = new Map<string, ClusterEvent>();
  /**
   * Sends go out one after another, so the others read this hub's changes in the order they happened: an agent's
   * presence never arrives before its identity (which the others would drop, not knowing the agent yet).
   */
  private sending: Promise<void> = Promise.resolve();

  constructor(
    private readonly link: RedisLink,
    private readonly keys: ClusterKeys,
    private readonly registry: AgentRegistry,
    private readonly hubId: string,
  ) {}

  /** Loads every identity the cluster has, shares this hub's, then follows the changes. */
  async start(): Promise<void> {
    await this.sync();
    this.unsubscribe.push(this.registry.onIdentityChange((agent) => this.identityChanged(agent)));
    // Presence: every change of an agent this hub holds (connect, status, activity, leave) is told to the others.
    this.unsubscribe.push(
      this.registry.onChange((info) => {
        if (this.applying) return;
        const agent = this.registry.find(info.id);
        if (agent && agent.remote === null && isShared(agent)) this.presenceChanged(agent);
      }),
    );
    this.link.onChange((state) => {
      if (state.connected) void this.resync();
    });
    this.reading = this.readLoop();
  }

  /** Identities this hub could not share because the cluster has another agent of the same name. */
  conflictList(): IdentityConflict[] {
    return [...this.conflicts.values()];
  }

  /** Whether this hub's agent of that id is kept local because the cluster has another of its name. */
  isConflict(agentId: string): boolean {
    return this.conflicts.has(agentId);
  }

  /**
   * Before a registration: if the name is not known here but the cluster has it, take that identity first, so the
   * registration finds it (and asks for its token) instead of making a second agent of the same name.
   */
  async prepareRegister(project: string, name: string): Promise<void> {
    if (this.registry.findByName(project, name) || !this.link.current.connected) return;
    const id = await this.link.commands.hGet(this.keys.agentNames, agentNameField(project, name));
    if (!id) return;
    const text = await this.link.commands.hGet(this.keys.agents, id);
    if (text) this.apply(() => this.registry.applyReplica(JSON.parse(text) as AgentReplica));
  }

  /**
   * After a registration made a new agent here: claims its name in the cluster. If another hub claimed it first
   * (both registered at the same moment), this agent is forgotten and the registration answers 409.
   */
  async claimNew(agent: AgentRecord): Promise<void> {
    if (!isShared(agent) || !this.link.current.connected) return;
    const field = agentNameField(agent.project, agent.name);
    const claimed = await this.link.commands.hSetNX(this.keys.agentNames, field, agent.id);
    if (claimed) return;
    const owner = await this.link.commands.hGet(this.keys.agentNames, field);
    if (owner === agent.id) return;
    this.registry.forget(agent.id);
    await this.prepareRegister(agent.project, agent.name);
    throw conflict(`an agent named ${agent.name} was registered in project ${agent.project} on another hub at the same moment: present its token to use it`);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const off of this.unsubscribe) off();
    await this.reading;
  }

  // -- sending this hub's changes -----------------------------------------------------------------------------------

  private identityChanged(agent: AgentRecord): void {
    if (this.applying || !isShared(agent)) return;
    const replica = this.registry.replicaOf(agent);
    void this.publish(`agent:${agent.id}`, { kind: 'agent', hub: this.hubId, replica }, async () => {
      await this.link.commands.hSet(this.keys.agents, agent.id, JSON.stringify(replica));
      await this.link.commands.hSetNX(this.keys.agentNames, agentNameField(agent.project, agent.name), agent.id);
    });
  }

  private presenceChanged(agent: AgentRecord): void {
    const info = this.registry.info(agent);
    const presence = { status: agent.status, activity: agent.activity, connected: agent.connections > 0, lastSeen: agent.lastSeen };
    // Counters change the agent's description many times a second; only presence itself is worth telling.
    const said = JSON.stringify([info.status, presence.status, presence.activity, presence.connected]);
    if (this.published.get(agent.id) === said) return;
    this.published.set(agent.id, said);
    const event: ClusterEvent = { kind: 'presence', hub: this.hubId, id: agent.id, presence };
    void this.publish(`presence:${agent.id}`, event, () => this.storePresence(event));
  }

  /** Kept in a hash too, so a hub that joins later sees who is connected where without waiting for a change. */
  private async storePresence(event: Extract<ClusterEvent, { kind: 'presence' }>): Promise<void> {
    await this.link.commands.hSet(this.keys.presence, event.id, JSON.stringify({ hub: event.hub, presence: event.presence }));
  }

  private publish(key: string, event: ClusterEvent, before?: () => Promise<void>): Promise<void> {
    this.sending = this.sending.then(() => this.publishNow(key, event, before));
    return this.sending;
  }

  private async publishNow(key: string, event: ClusterEvent, before?: () => Promise<void>): Promise<void> {
    if (!this.link.current.connected) {
      this.backlog.set(key, event);
      return;
    }
    try {
      await before?.();
      await this.link.commands.xAdd(this.keys.events, '*', { event: JSON.stringify(event) }, {
        TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: EVENTS_KEPT },
      });
    } catch {
      // Redis went away mid-send: sent again once it is back (resync), latest state per agent.
      this.backlog.set(key, event);
    }
  }

  // -- taking the others' changes ------------------------------------------------------------------------------------

  private async sync(): Promise<void> {
    const redis = this.link.commands;
    // The stream's end first, then the identities: a change made in between is both loaded and read again, never lost.
    const last = await redis.xRevRange(this.keys.events, '+', '-', { COUNT: 1 });
    this.lastEventId = last?.[0]?.id ?? '0-0';
    const all = await redis.hGetAll(this.keys.agents);
    for (const text of Object.values(all)) {
      const replica = JSON.parse(text) as AgentReplica;
      this.apply(() => this.takeReplica(replica));
    }
    // Who is connected on the other hubs now: only hubs still announcing themselves (a gone hub's sockets are gone).
    const presences = await redis.hGetAll(this.keys.presence);
    const alive = new Map<string, boolean>();
    for (const [id, text] of Object.entries(presences)) {
      const { hub, presence } = JSON.parse(text) as { hub: string; presence: Omit<RemotePresence, 'hubId'> };
      if (hub === this.hubId) continue;
      if (!alive.has(hub)) alive.set(hub, (await redis.exists(this.keys.hub(hub))) === 1);
      if (alive.get(hub)) this.apply(() => this.registry.applyRemotePresence(id, { hubId: hub, ...presence }));
    }
    // This hub's own agents that the cluster does not know yet (it ran alone before, or Redis was away).
    for (const agent of this.registry.all()) {
      if (!isShared(agent) || all[agent.id] !== undefined) continue;
      const field = agentNameField(agent.project, agent.name);
      const claimed = await redis.hSetNX(this.keys.agentNames, field, agent.id);
      const owner = claimed ? agent.id : await redis.hGet(this.keys.agentNames, field);
      if (owner === agent.id) {
        await redis.hSet(this.keys.agents, agent.id, JSON.stringify(this.registry.replicaOf(agent)));
      } else if (owner) {
        this.conflicts.set(agent.id, { project: agent.project, name: agent.name, localId: agent.id, clusterId: owner });
      }
    }
  }

  /** After Redis came back: what changed meanwhile, in both directions. */
  private async resync(): Promise<void> {
    try {
      await this.sync();
      const waiting = [...this.backlog.entries()];
      this.backlog.clear();
      for (const [key, event] of waiting) {
        if (event.kind === 'subscription') {
          continue;
        } else if (event.kind === 'agent') {
          const agent = this.registry.find(event.replica.id);
          if (agent) this.identityChanged(agent);
        } else {
          await this.publish(key, event, event.kind === 'presence' ? () => this.storePresence(event) : undefined);
        }
      }
    } catch {
      // Redis dropped again: the next reconnect tries once more.
    }
  }

  private takeReplica(replica: AgentReplica): void {
    if (this.registry.applyReplica(replica)) {
      this.conflicts.delete(replica.id);
      return;
    }
    const local = this.registry.findByName(replica.project, replica.name)!;
    this.conflicts.set(local.id, { project: replica.project, name: replica.name, localId: local.id, clusterId: replica.id });
  }

  private async readLoop(): Promise<void> {
    while (!this.stopped) {
      if (!this.link.current.connected) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        continue;
      }
      try {
        const reply = await this.link.reader.xRead({ key: this.keys.events, id: this.lastEventId }, { BLOCK: READ_BLOCK_MS, COUNT: READ_COUNT });
        const streams = (reply ?? []) as Array<{ messages: Array<{ id: string; message: Record<string, string> }> }>;
        for (const stream of streams) {
          for (const entry of stream.messages) {
            this.lastEventId = entry.id;
            this.take(JSON.parse(entry.message.event!) as ClusterEvent);
          }
        }
      } catch {
        if (!this.stopped) await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  private take(event: ClusterEvent): void {
    if (event.hub === this.hubId) return;
    if (event.kind === 'subscription') {
      this.onSubscription?.(event);
    } else if (event.kind === 'agent') {
      this.apply(() => this.takeReplica(event.replica));
    } else {
      this.apply(() => this.registry.applyRemotePresence(event.id, { hubId: event.hub, ...event.presence }));
    }
  }

  private apply(change: () => void): void {
    this.applying = true;
    try {
      change();
    } finally {
      this.applying = false;
    }
  }
}
