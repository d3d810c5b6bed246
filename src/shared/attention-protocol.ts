/**
 * "Needs attention": what in the hub is stuck or failing and what to do about it, as one list. The hub computes it
 * from its services (src/main/attention/), the cockpit shows it at the top of the Overview with a count in the
 * sidebar, and agents and scripts read it with `GET ATTENTION_PATH`.
 *
 * An item's id is stable while its condition lasts (`agent-backlog:<agent id>`), so a person (or a script) sees the
 * same item persist, change its figures, and go away once fixed.
 */
import { z } from 'zod';
import { API_PREFIX } from './agent-protocol';

export const ATTENTION_PATH = `${API_PREFIX}/attention`;
/** POST: the person at the cockpit takes an item's action (`{ text }` for a message). */
export const attentionActPath = (id: string) => `${ATTENTION_PATH}/${encodeURIComponent(id)}/act`;

export const ATTENTION_SEVERITIES = ['critical', 'warning', 'info'] as const;
export type AttentionSeverity = (typeof ATTENTION_SEVERITIES)[number];

export const ATTENTION_KINDS = [
  /** An agent offline (or not reading) with unread messages. */
  'agent-backlog',
  /** Urgent or ack-required messages not acknowledged in time. */
  'unacknowledged',
  /** Ready tasks no present agent can take. */
  'tasks-stuck',
  /** A workflow's approval gate waiting for a decision. */
  'workflow-approval',
  /** A workflow that failed (a step can be retried). */
  'workflow-failed',
  /** File reservations held by an agent that is offline. */
  'reservations-offline',
  /** Backups failing, or none good for longer than the schedule allows. */
  'backup-failing',
  'backup-overdue',
  /** One of the hub's services degraded or down. */
  'service-degraded',
  /** A bottleneck the advisor found in the hub's own measurements (advice-protocol.ts), with its fix when it has one. */
  'bottleneck',
  /** Another hub of the cluster stopped announcing itself (docs/cluster.md). */
  'hub-gone',
] as const;
export type AttentionKind = (typeof ATTENTION_KINDS)[number];

/** A figure behind an item: a count, a duration (ms), a size (bytes) or a word. */
export interface AttentionEvidence {
  label: string;
  value: number | string;
  unit?: 'count' | 'ms' | 'bytes';
}

/** Where the item is fixed: a cockpit view and its selection (as in `#/<view>/<selection>`). */
export interface AttentionLink {
  view: 'agents' | 'messages' | 'workflows' | 'tasks' | 'reservations' | 'backup' | 'status' | 'performance' | 'cluster';
  selection: string | null;
  /** The link's words ("Open tester"). */
  label: string;
}

export const ATTENTION_ACTIONS = ['message-agent', 'release-reservations', 'retry-step', 'approve-step', 'run-backup', 'revoke-agent', 'apply-fix'] as const;
export type AttentionActionKind = (typeof ATTENTION_ACTIONS)[number];

/**
 * The one thing a person can do from the item. The cockpit takes it with the call `attention.act` (HTTP:
 * `POST attentionActPath(id)`), which does what `calls` names, on the hub's current state of the item.
 */
export interface AttentionAction {
  kind: AttentionActionKind;
  /** The button's words ("Run backup now"). */
  label: string;
  /** Asked before acting, for what cannot be undone (a revocation, an approval without reading the subject). */
  confirm?: string;
  /** The action needs a text (a message's body). */
  needsText?: boolean;
  /** What it acts on. */
  target: { agentId?: string; reservationIds?: string[]; workflowId?: string; stepId?: string; adviceId?: string };
  /** What it calls, for a script that would rather make the call itself with its own token. */
  calls: { cockpit: string; http: { method: 'POST' | 'PUT' | 'DELETE'; path: string; body?: unknown } };
}

export interface AttentionItem {
  id: string;
  kind: AttentionKind;
  severity: AttentionSeverity;
  /** The project it belongs to; null for the hub's own (backup, services), which only the cockpit sees. */
  project: string | null;
  /** One sentence a person reads: "tester is offline with 555 unread; oldest 2 h". */
  title: string;
  /** More of the why, when there is more to say (the hub's reason, the error). */
  detail: string | null;
  evidence: AttentionEvidence[];
  /** When the condition began, as far as the hub knows (the oldest unread, the first failure); null if unknown. */
  since: string | null;
  link: AttentionLink;
  action: AttentionAction | null;
}

export interface AttentionList {
  /** Most severe first, then oldest first. */
  items: AttentionItem[];
  counts: Record<AttentionSeverity, number>;
  /** When the hub computed it (it is cached for a moment). */
  at: string;
}

/** GET ATTENTION_PATH: the cockpit may ask for one project's items (an agent always gets its own project's). */
export const AttentionQuery = z.object({ project: z.string().trim().min(1).max(128).optional() }).strict();

/** `attention.act` / POST attentionActPath(id): the item, and a message's text for `message-agent`. */
export const AttentionActRequest = z.object({ id: z.string().min(1).max(300), text: z.string().trim().min(1).max(10_000).optional() }).strict();

export interface AttentionActResult {
  /** What happened, in words ("Backup run 01J… started"). */
  message: string;
  /** The list after the action. */
  list: AttentionList;
}

const SEVERITY_RANK: Record<AttentionSeverity, number> = { critical: 0, warning: 1, info: 2 };

/** Most severe first, then the oldest condition first, then by id (a stable order). */
export function sortAttention(items: AttentionItem[]): AttentionItem[] {
  return items.sort(
    (a, b) =>
      SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] ||
      (a.since ?? '\uffff').localeCompare(b.since ?? '\uffff') ||
      a.id.localeCompare(b.id),
  );
}

export function attentionList(items: AttentionItem[], at: Date): AttentionList {
  const counts: Record<AttentionSeverity, number> = { critical: 0, warning: 0, info: 0 };
  for (const item of items) counts[item.severity]++;
  return { items: sortAttention(items), counts, at: at.toISOString() };
}

/** A duration in the words of a title: "40 s", "12 min", "2 h", "3 d". */
export function durationWords(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return `${h} h`;
  return `${Math.floor(h / 24)} d`;
}
