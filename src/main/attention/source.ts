/**
 * What every attention source reads from and how long a condition may last before it needs a person. Each source
 * (one file per source in this folder) turns the hub's state into items; the service merges, caches and pushes them.
 */
import type { Advice, FixResult } from '../../shared/advice-protocol';
import type { AttentionItem } from '../../shared/attention-protocol';
import type { ClusterState } from '../../shared/cluster-protocol';
import type { AgentRegistry } from '../agents/registry';
import type { BackupService, BackupSettings } from '../backup';
import type { SqliteDatabase } from '../db/database';
import type { MessagingService } from '../messaging/service';
import type { ServiceRegistry } from '../monitor/service-registry';
import type { ReservationService } from '../reservations/service';
import type { TaskService } from '../tasks/service';
import type { WorkflowEngine } from '../workflows/engine';

/** The hub's services the sources read (the running hub's, or a test's). */
export interface AttentionDeps {
  db: SqliteDatabase;
  registry: AgentRegistry;
  messaging: MessagingService;
  tasks: TaskService;
  workflows: WorkflowEngine;
  reservations: ReservationService;
  backup: BackupService;
  /** The backup settings as saved (the schedule, the folder). */
  backupSettings(): BackupSettings;
  services: ServiceRegistry;
  /** The advisor's findings as of its last evaluation, and its fixes (absent: no bottleneck items). */
  advice?: { latest(): Advice[]; fix(id: string): Promise<FixResult>; onChange(listener: () => void): () => void };
  /** The cluster this hub joined (absent or null: no cluster, no hub-gone items). */
  cluster?: { state(): ClusterState } | null;
}

/** How long each condition may last before it is listed. Tests shorten them; a person's hub keeps the defaults. */
export interface AttentionLimits {
  /** An offline agent's unread messages, listed once the oldest is this old (or there are `backlogCount`). */
  offlineBacklogMs: number;
  /** An agent that is present but leaves messages unread this long is not reading its inbox. */
  unreadWhilePresentMs: number;
  /** Listed at once from this many unread, whatever their age. */
  backlogCount: number;
  /** An urgent message not acknowledged after this long. */
  urgentAckMs: number;
  /** An ack-required message not acknowledged after this long. */
  ackRequiredMs: number;
  /** Ready tasks no present agent can take, listed once the oldest waited this long. */
  stuckTaskMs: number;
  /** A failed workflow stays listed this long after it ended (unless retried or a newer run replaces it). */
  failedWorkflowMs: number;
  /** A backup is overdue when the last good one is older than this many intervals. */
  backupOverdueIntervals: number;
}

export const DEFAULT_LIMITS: AttentionLimits = {
  offlineBacklogMs: 5 * 60_000,
  unreadWhilePresentMs: 15 * 60_000,
  backlogCount: 100,
  urgentAckMs: 5 * 60_000,
  ackRequiredMs: 15 * 60_000,
  stuckTaskMs: 60_000,
  failedWorkflowMs: 24 * 3_600_000,
  backupOverdueIntervals: 2,
};

/** One source: the items it sees now. Sources are made once (their statements prepared) and asked on each refresh. */
export type AttentionSource = (now: number) => AttentionItem[];

export type SourceFactory = (deps: AttentionDeps, limits: AttentionLimits) => AttentionSource;

export const iso = (ms: number) => new Date(ms).toISOString();
