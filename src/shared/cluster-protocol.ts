/**
 * Hubs joined into a cluster through Redis (config `cluster.redis`): what a hub says about itself and the others.
 * `GET /api/v1/cluster` answers a ClusterState; a hub without `cluster.redis` answers `enabled: false`.
 */

import type { AgentStatus } from './agent-protocol';

export const CLUSTER_PATH = '/cluster';

/** A hub of the cluster, as it last announced itself (every couple of seconds, with a time to live). */
export interface ClusterHub {
  /** Stable across the hub's restarts (kept in its data directory). */
  id: string;
  /** `cluster.hubName`, the machine's host name by default. */
  name: string;
  /** Where its agents reach it (loopback of its own machine, as a rule). */
  apiUrl: string | null;
  startedAt: string;
  /** When it last announced itself. */
  seenAt: string;
  /** Agents connected to it (by socket) at that time. */
  connectedAgents: number;
  /** false once its announcement expired: it stopped or lost Redis; its agents are shown offline. */
  alive: boolean;
  /** How the hub is doing, as of its announcement (absent from hubs of an earlier version). */
  health?: HubHealth;
  /** Messages it sent to and received from the other hubs since it started (absent before cross-hub messages). */
  traffic?: HubTraffic[];
}

/** A hub's health, measured by the hub itself and carried in each announcement. A figure not known yet is null. */
export interface HubHealth {
  /** Event-loop delay p99 over the last second: how long a request may wait before the hub looks at it. */
  loopDelayP99Ms: number | null;
  rssBytes: number;
  /** Messages sent by its agents, per second over the last second. */
  messagesSentPerSecond: number | null;
  /** Deliveries into inboxes (one per recipient), per second over the last second. */
  messagesDeliveredPerSecond: number | null;
  /** Cluster sends acknowledged and kept in SQLite while Redis is away, waiting to be forwarded (null: not known). */
  queuedSends: number | null;
  /** How long its last announcement took to reach Redis and be confirmed (null before the first). */
  redisRttMs: number | null;
}

/** An agent and the hub it is on (last connected to): the Cluster view's agents per hub. */
export interface ClusterAgent {
  id: string;
  name: string;
  project: string;
  status: AgentStatus;
  connected: boolean;
  /** null: registered on another hub and not seen connected anywhere since this hub started. */
  hubId: string | null;
}

/** An agent named differently on two hubs before they joined: the cluster keeps the first, the other stays local. */
export interface IdentityConflict {
  project: string;
  name: string;
  /** This hub's agent of that name, not shared with the cluster. */
  localId: string;
  /** The cluster's agent of that name. */
  clusterId: string;
}

export interface ClusterState {
  enabled: boolean;
  /** This hub's id in the cluster (null when not enabled). */
  hubId: string | null;
  /** Connected to Redis right now. */
  connected: boolean;
  /** Why not, in words a person can act on (the Redis URL without its password). */
  detail: string;
  hubs: ClusterHub[];
  conflicts: IdentityConflict[];
  /** Every agent with the hub it is on (absent from hubs of an earlier version). */
  agents?: ClusterAgent[];
  /** Memory replication, once the memory store is open (absent before, and on a hub without a cluster). */
  memory?: ClusterMemoryState;
}

/** This hub's part in replicating memories across the cluster, counted since it started. */
export interface ClusterMemoryState {
  /** Changes made here and not yet in Redis (Redis away, or just made). */
  waiting: number;
  sent: number;
  /** Changes made on other hubs and applied here. */
  applied: number;
  /** Memories from other hubs this hub embedded itself (their vector was of another model than its own). */
  embeddedHere: number;
  /** Full reads of every memory the cluster has (a first join, or a hub further behind than the stream keeps). */
  fullResyncs: number;
  lastError: string | null;
}

/**
 * Messages one hub handed to another through Redis since the reporting hub started: the cockpit's cross-hub traffic.
 * A hub reports what it sent (from = itself) and what it received (to = itself).
 */
export interface HubTraffic {
  from: string;
  to: string;
  messages: number;
  bytes: number;
}
