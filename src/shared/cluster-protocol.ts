/**
 * Hubs joined into a cluster through Redis (config `cluster.redis`): what a hub says about itself and the others.
 * `GET /api/v1/cluster` answers a ClusterState; a hub without `cluster.redis` answers `enabled: false`.
 */

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
