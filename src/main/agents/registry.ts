/**
 * Who the agents are: stable identities (one id per name per project, kept across restarts), hashed tokens,
 * presence and counters. Everything is cached in memory, since every message and every request asks; the database
 * is written on change (identity) or in batches (last seen, counters).
 */
import { ulidGenerator } from '../ids';
import type { z } from 'zod';
import type { AgentInfo, AgentStatus, AgentTier, RegisterRequest, RegisterResponse } from '../../shared/agent-protocol';
import type { SqliteDatabase } from '../db/database';
import { conflict, notFound, revoked, unauthorized } from '../errors';
import { hashToken, newAgentToken } from './tokens';

/** With no socket, an agent that has not been heard from for this long is shown offline. */
export const PRESENCE_TIMEOUT_MS = 90_000;
const LAST_SEEN_FLUSH_MS = 5_000;
const COUNTER_NOTIFY_MS = 250;

export const OVERSEER = { name: 'overseer', project: 'cockpit' } as const;

export interface AgentRecord {
  id: string;
  name: string;
  project: string;
  tier: AgentTier;
  capabilities: string[];
  description: string | null;
  tokenHash: string;
  status: Exclude<AgentStatus, 'offline'>;
  activity: string | null;
  createdAt: string;
  lastSeen: number | null;
  revokedAt: string | null;
  messagesIn: number;
  messagesOut: number;
  inboxDepth: number;
  /** Open realtime sockets (0 or 1). */
  connections: number;
  /** When its status last changed or it came back from offline, in this run of the hub (ms since the epoch). */
  statusChangedAt?: number;
  /**
   * Where the agent was last seen when that was another hub of the cluster (cluster/identity.ts), or null when it
   * was this hub (or there is no cluster). Any sign of life here makes it local again.
   */
  remote: RemotePresence | null;
}

/** An agent's presence as another hub of the cluster reported it. */
export interface RemotePresence {
  hubId: string;
  status: AgentRecord['status'];
  activity: string | null;
  /** It holds a realtime socket to that hub. */
  connected: boolean;
  lastSeen: number | null;
  /** That hub's announcements stopped: the socket it reported is gone with it. */
  hubGone?: boolean;
}

/** What the cluster shares of an agent's identity: never its token, only the token's hash. */
export type AgentReplica = Pick<AgentRecord, 'id' | 'name' | 'project' | 'tier' | 'capabilities' | 'description' | 'tokenHash' | 'createdAt' | 'revokedAt'>;

/** Who is asking: an agent by its token, or the person at the cockpit (by the cockpit token). */
export type Authority = { kind: 'agent'; agent: AgentRecord } | { kind: 'cockpit' } | { kind: 'none' };

type AgentRow = {
  id: string;
  name: string;
  project: string;
  tier: AgentTier;
  capabilities: string;
  description: string | null;
  token_hash: string;
  status: AgentRecord['status'];
  activity: string | null;
  created_at: string;
  last_seen: string | null;
  revoked_at: string | null;
  messages_in: number;
  messages_out: number;
  inbox_depth: number;
};

export class AgentRegistry {
  private readonly byId = new Map<string, AgentRecord>();
  private readonly byToken = new Map<string, AgentRecord>();
  private readonly byName = new Map<string, AgentRecord>();
  private readonly lastSeenDirty = new Set<AgentRecord>();
  private readonly countersDirty = new Set<AgentRecord>();
  private countersTimer: NodeJS.Timeout | undefined;
  private readonly changeListeners = new Set<(agent: AgentInfo) => void>();
  private readonly identityListeners = new Set<(agent: AgentRecord) => void>();
  private readonly newId = ulidGenerator();
  private readonly flushTimer: NodeJS.Timeout;
  private readonly presenceTimer: NodeJS.Timeout;
  private readonly statements;

  constructor(private readonly db: SqliteDatabase) {
    for (const row of db.prepare('SELECT * FROM agents').all() as AgentRow[]) this.remember(fromRow(row));
    this.statements = {
      insert: db.prepare(
        `INSERT INTO agents (id, name, project, tier, capabilities, description, token_hash, status, created_at, last_seen)
         VALUES (@id, @name, @project, @tier, @capabilities, @description, @tokenHash, @status, @createdAt, @lastSeen)`,
      ),
      update: db.prepare(
        `UPDATE agents SET tier = @tier, capabilities = @capabilities, description = @description, token_hash = @tokenHash,
         revoked_at = @revokedAt, status = @status, activity = @activity WHERE id = @id`,
      ),
      lastSeen: db.prepare('UPDATE agents SET last_seen = ?, status = ?, activity = ? WHERE id = ?'),
      counters: db.prepare('UPDATE agents SET messages_in = ?, messages_out = ?, inbox_depth = ? WHERE id = ?'),
    };
    this.flushTimer = setInterval(() => this.flushLastSeen(), LAST_SEEN_FLUSH_MS);
    this.flushTimer.unref();
    // Agents that stop heartbeating turn offline without anyone asking; the cockpit hears about it.
    let wasPresent = new Set<string>();
    this.presenceTimer = setInterval(() => {
      const present = new Set([...this.byId.values()].filter((agent) => this.presence(agent) !== 'offline').map((a) => a.id));
      for (const id of wasPresent) if (!present.has(id)) this.changed(this.byId.get(id)!);
      wasPresent = present;
    }, 10_000);
    this.presenceTimer.unref();
  }

  register(input: z.output<typeof RegisterRequest>, authority: Authority, presentedToken?: string): RegisterResponse {
    const existing = this.byName.get(nameKey(input.project, input.name));
    if (!existing) {
      const token = newAgentToken();
      const agent: AgentRecord = {
        id: this.newId(),
        name: input.name,
        project: input.project,
        tier: input.tier ?? 'development',
        capabilities: input.capabilities ?? [],
        description: input.description ?? null,
        tokenHash: hashToken(token),
        status: 'online',
        activity: null,
        createdAt: new Date().toISOString(),
        lastSeen: Date.now(),
        revokedAt: null,
        messagesIn: 0,
        messagesOut: 0,
        inboxDepth: 0,
        connections: 0,
        remote: null,
      };
      this.statements.insert.run({ ...agent, capabilities: JSON.stringify(agent.capabilities), lastSeen: new Date().toISOString() });
      this.remember(agent);
      this.changed(agent);
      this.identityChanged(agent);
      return { agent: this.info(agent), token, existing: false };
    }

    const ownToken = presentedToken !== undefined && hashToken(presentedToken) === existing.tokenHash;
    let token: string;
    if (authority.kind === 'cockpit') {
      // The person at the cockpit may always reclaim an identity: a fresh token, and a revoked agent restored.
      token = newAgentToken();
      this.byToken.delete(existing.tokenHash);
      existing.tokenHash = hashToken(token);
      this.byToken.set(existing.tokenHash, existing);
      existing.revokedAt = null;
      existing.remote = null;
    } else if (ownToken) {
      if (existing.revokedAt) throw revoked(`agent ${existing.name} was revoked from the cockpit; ask there to restore it`);
      token = presentedToken;
    } else {
      throw conflict(
        `an agent named ${input.name} is already registered in project ${input.project}: present its token ` +
          '(Authorization: Bearer …) to reclaim it, or re-register it from the cockpit',
      );
    }
    existing.lastSeen = Date.now();
    this.updateProfile(existing, input);
    return { agent: this.info(existing), token, existing: true };
  }

  /** Changes how an agent is listed (registering again, or the MCP `register` tool); what is not given stays. */
  updateProfile(agent: AgentRecord, profile: Pick<z.output<typeof RegisterRequest>, 'tier' | 'capabilities' | 'description'>): void {
    agent.tier = profile.tier ?? agent.tier;
    agent.capabilities = profile.capabilities ?? agent.capabilities;
    agent.description = profile.description ?? agent.description;
    this.persist(agent);
    this.changed(agent);
    this.identityChanged(agent);
  }

  /** The agent a token belongs to; a revoked agent's token no longer opens anything. */
  authenticate(token: string | undefined): AgentRecord {
    if (!token) throw unauthorized('this call needs an agent token: Authorization: Bearer <token>');
    const agent = this.byToken.get(hashToken(token));
    if (!agent) throw unauthorized('the token is not valid: register the agent to get one');
    if (agent.revokedAt) throw revoked(`agent ${agent.name} was revoked from the cockpit`);
    return agent;
  }

  get(id: string): AgentRecord {
    const agent = this.byId.get(id);
    if (!agent) throw notFound(`there is no agent with id ${id}`);
    return agent;
  }

  find(id: string): AgentRecord | undefined {
    return this.byId.get(id);
  }

  findByName(project: string, name: string): AgentRecord | undefined {
    return this.byName.get(nameKey(project, name));
  }

  all(): AgentRecord[] {
    return [...this.byId.values()];
  }

  /** Agents that can receive messages (everyone not revoked). */
  reachable(): AgentRecord[] {
    return this.all().filter((agent) => !agent.revokedAt);
  }

  presence(agent: AgentRecord): AgentStatus {
    if (agent.revokedAt) return 'offline';
    if (agent.connections > 0) return agent.status;
    const remote = agent.remote;
    if (remote) {
      if (remote.connected && !remote.hubGone) return remote.status;
      if (!remote.hubGone && remote.lastSeen !== null && Date.now() - remote.lastSeen < PRESENCE_TIMEOUT_MS) return remote.status;
      return 'offline';
    }
    if (agent.lastSeen !== null && Date.now() - agent.lastSeen < PRESENCE_TIMEOUT_MS) return agent.status;
    return 'offline';
  }

  /** Since when the agent has been in its present status (offline: since it stopped being heard from), ms. */
  statusSince(agent: AgentRecord): number | null {
    if (agent.revokedAt) return Date.parse(agent.revokedAt);
    if (this.presence(agent) === 'offline') return agent.lastSeen === null ? null : agent.lastSeen + PRESENCE_TIMEOUT_MS;
    return agent.statusChangedAt ?? agent.lastSeen ?? Date.parse(agent.createdAt);
  }

  info(agent: AgentRecord): AgentInfo {
    return {
      id: agent.id,
      name: agent.name,
      project: agent.project,
      tier: agent.tier,
      capabilities: agent.capabilities,
      description: agent.description,
      status: this.presence(agent),
      activity: agent.remote ? agent.remote.activity : agent.activity,
      connected: agent.connections > 0 || (agent.remote !== null && agent.remote.connected && !agent.remote.hubGone),
      revoked: agent.revokedAt !== null,
      createdAt: agent.createdAt,
      lastSeen: lastSeenOf(agent) === null ? null : new Date(lastSeenOf(agent)!).toISOString(),
      inboxDepth: agent.inboxDepth,
      messagesIn: agent.messagesIn,
      messagesOut: agent.messagesOut,
    };
  }

  setStatus(agent: AgentRecord, status: AgentRecord['status'], activity?: string | null): void {
    if (agent.remote) this.comeHome(agent);
    if (status !== agent.status) agent.statusChangedAt = Date.now();
    agent.status = status;
    if (activity !== undefined) agent.activity = activity;
    this.touch(agent);
    this.changed(agent);
  }

  /** A sign of life (any authenticated request or socket frame): keeps the agent from turning offline. */
  touch(agent: AgentRecord): void {
    const wasOffline = this.presence(agent) === 'offline';
    const wasRemote = agent.remote !== null;
    if (wasRemote) this.comeHome(agent);
    agent.lastSeen = Date.now();
    this.lastSeenDirty.add(agent);
    if (wasOffline) agent.statusChangedAt = agent.lastSeen;
    if (wasOffline || wasRemote) this.changed(agent);
  }

  connectionOpened(agent: AgentRecord): void {
    if (agent.remote) this.comeHome(agent);
    agent.connections++;
    this.touch(agent);
    this.changed(agent);
  }

  connectionClosed(agent: AgentRecord): void {
    agent.connections = Math.max(0, agent.connections - 1);
    agent.lastSeen = Date.now();
    this.lastSeenDirty.add(agent);
    this.changed(agent);
  }

  revoke(id: string): AgentRecord {
    const agent = this.get(id);
    agent.revokedAt ??= new Date().toISOString();
    this.persist(agent);
    this.changed(agent);
    this.identityChanged(agent);
    return agent;
  }

  // -- the cluster (cluster/identity.ts): identities and presence other hubs share -------------------------------

  /** The identity as the cluster shares it. */
  replicaOf(agent: AgentRecord): AgentReplica {
    const { id, name, project, tier, capabilities, description, tokenHash, createdAt, revokedAt } = agent;
    return { id, name, project, tier, capabilities, description, tokenHash, createdAt, revokedAt };
  }

  /**
   * Takes an identity another hub registered or changed: added, or updated in place (profile, token, revocation).
   * Listeners hear of the change but identity listeners do not, so it is not sent back. Returns null (and changes
   * nothing) when this hub has another agent of that name: the caller reports the conflict.
   */
  applyReplica(replica: AgentReplica): AgentRecord | null {
    const named = this.byName.get(nameKey(replica.project, replica.name));
    if (named && named.id !== replica.id) return null;
    let agent = this.byId.get(replica.id);
    if (!agent) {
      agent = {
        ...replica,
        status: 'online',
        activity: null,
        lastSeen: null,
        messagesIn: 0,
        messagesOut: 0,
        inboxDepth: 0,
        connections: 0,
        remote: { hubId: '', status: 'online', activity: null, connected: false, lastSeen: null },
      };
      this.statements.insert.run({ ...agent, capabilities: JSON.stringify(agent.capabilities), lastSeen: null });
      this.persist(agent);
      this.remember(agent);
    } else {
      this.byToken.delete(agent.tokenHash);
      Object.assign(agent, { tier: replica.tier, capabilities: replica.capabilities, description: replica.description });
      agent.tokenHash = replica.tokenHash;
      agent.revokedAt = replica.revokedAt;
      this.byToken.set(agent.tokenHash, agent);
      this.persist(agent);
    }
    this.changed(agent);
    return agent;
  }

  /** Forgets an agent registered here a moment ago whose name another hub had claimed first (no messages yet). */
  forget(id: string): void {
    const agent = this.byId.get(id);
    if (!agent) return;
    this.db.prepare('DELETE FROM agents WHERE id = ?').run(id);
    this.byId.delete(id);
    this.byToken.delete(agent.tokenHash);
    this.byName.delete(nameKey(agent.project, agent.name));
  }

  /** Another hub reports the agent's presence there (it connected, changed status, or left). */
  applyRemotePresence(id: string, presence: RemotePresence): void {
    const agent = this.byId.get(id);
    if (!agent) return;
    // A socket here outranks another hub's report: the agent moved here, and this hub reports that itself.
    if (agent.connections > 0) return;
    agent.remote = presence;
    this.changed(agent);
  }

  /** A hub of the cluster stopped announcing itself: the sockets it reported are gone with it. */
  hubGone(hubId: string): void {
    for (const agent of this.byId.values()) {
      if (agent.remote?.hubId === hubId && !agent.remote.hubGone) {
        agent.remote = { ...agent.remote, hubGone: true };
        this.changed(agent);
      }
    }
  }

  /** Hears every change of identity made on this hub (registration, profile, token, revocation). */
  onIdentityChange(listener: (agent: AgentRecord) => void): () => void {
    this.identityListeners.add(listener);
    return () => this.identityListeners.delete(listener);
  }

  /** Writes changed counters; called inside the messaging commit so counters and messages never disagree. */
  saveCounters(agents: Iterable<AgentRecord>): void {
    for (const agent of agents) {
      this.statements.counters.run(agent.messagesIn, agent.messagesOut, agent.inboxDepth, agent.id);
      this.countersDirty.add(agent);
    }
    // Watchers hear about counters a few times a second, not once per message.
    this.countersTimer ??= setTimeout(() => {
      this.countersTimer = undefined;
      const agents = [...this.countersDirty];
      this.countersDirty.clear();
      agents.forEach((agent) => this.changed(agent));
    }, COUNTER_NOTIFY_MS);
  }

  /** The cockpit's own identity, so the person can send and be replied to like any agent. */
  ensureOverseer(): AgentRecord {
    const existing = this.findByName(OVERSEER.project, OVERSEER.name);
    if (existing) return existing;
    const { agent } = this.register(
      { ...OVERSEER, tier: 'strategic', capabilities: ['oversight'], description: 'The person at the cockpit' },
      { kind: 'none' },
    );
    return this.get(agent.id);
  }

  onChange(listener: (agent: AgentInfo) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  close(): void {
    clearTimeout(this.countersTimer);
    clearInterval(this.flushTimer);
    clearInterval(this.presenceTimer);
    this.flushLastSeen();
  }

  private changed(agent: AgentRecord): void {
    if (this.changeListeners.size === 0) return;
    const info = this.info(agent);
    for (const listener of this.changeListeners) {
      try {
        listener(info);
      } catch (error) {
        // A watcher's failure must not undo or fail the change itself, which is already stored.
        console.error('[agents] a change listener failed:', error);
      }
    }
  }

  /** The agent shows a sign of life here after another hub had it: its status and activity there carry over. */
  private comeHome(agent: AgentRecord): void {
    const remote = agent.remote!;
    agent.remote = null;
    agent.status = remote.status;
    agent.activity = remote.activity;
  }

  private identityChanged(agent: AgentRecord): void {
    for (const listener of this.identityListeners) {
      try {
        listener(agent);
      } catch (error) {
        console.error('[agents] an identity listener failed:', error);
      }
    }
  }

  private persist(agent: AgentRecord): void {
    this.statements.update.run({ ...agent, capabilities: JSON.stringify(agent.capabilities) });
  }

  private flushLastSeen(): void {
    if (this.lastSeenDirty.size === 0 || !this.db.open) return;
    const agents = [...this.lastSeenDirty];
    this.lastSeenDirty.clear();
    this.db.transaction(() => {
      for (const agent of agents) {
        this.statements.lastSeen.run(agent.lastSeen && new Date(agent.lastSeen).toISOString(), agent.status, agent.activity, agent.id);
      }
    })();
  }

  private remember(agent: AgentRecord): void {
    this.byId.set(agent.id, agent);
    this.byToken.set(agent.tokenHash, agent);
    this.byName.set(nameKey(agent.project, agent.name), agent);
  }
}

/** The latest sign of life, here or on another hub. */
function lastSeenOf(agent: AgentRecord): number | null {
  const here = agent.lastSeen;
  const there = agent.remote?.lastSeen ?? null;
  if (here === null) return there;
  return there === null ? here : Math.max(here, there);
}

function nameKey(project: string, name: string): string {
  return `${project}\u0000${name}`;
}

function fromRow(row: AgentRow): AgentRecord {
  return {
    id: row.id,
    name: row.name,
    project: row.project,
    tier: row.tier,
    capabilities: JSON.parse(row.capabilities) as string[],
    description: row.description,
    tokenHash: row.token_hash,
    status: row.status,
    activity: row.activity,
    createdAt: row.created_at,
    lastSeen: row.last_seen === null ? null : Date.parse(row.last_seen),
    revokedAt: row.revoked_at,
    messagesIn: row.messages_in,
    messagesOut: row.messages_out,
    inboxDepth: row.inbox_depth,
    connections: 0,
    remote: null,
  };
}
