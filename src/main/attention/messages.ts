/**
 * Urgent and ack-required messages their recipient has not acknowledged in time, one item per recipient. Read
 * through the index of unacknowledged deliveries, oldest first and bounded per agent (SCAN_LIMIT): an agent with a
 * bigger backlog than that is listed for its backlog anyway (agents.ts). The answer for an agent with a large
 * backlog is kept while its inbox does not change, for up to REUSE_MS, so it is not read again on every refresh.
 */
import { durationWords, type AttentionItem } from '../../shared/attention-protocol';
import { describeAction } from './actions';
import { iso, type SourceFactory } from './source';

/** The oldest unacknowledged deliveries looked at per agent: the overdue ones are the oldest. */
const SCAN_LIMIT = 1000;
/** How long an agent's answer is reused while its inbox is unchanged (a message may become overdue meanwhile). */
const REUSE_MS = 30_000;
/** Inboxes up to this many unread are cheap to read: always read afresh. */
const REUSE_FROM = 200;

// SQLite fills the bare columns (created_at, thread_id) from the row of the one min() aggregate: the oldest message.
type Row = { n: number; urgent: number | null; first: number | null; oldest: string | null; thread: string | null };

export const unacknowledgedSource: SourceFactory = ({ db, registry }, limits) => {
  const overdue = db.prepare(
    `SELECT count(*) AS n, sum(m.importance = 'urgent') AS urgent, min(m.seq) AS first, m.created_at AS oldest, m.thread_id AS thread
     FROM (SELECT d.seq FROM deliveries d INDEXED BY deliveries_unacked WHERE d.agent_id = ? AND d.acked_at IS NULL ORDER BY d.seq LIMIT ${SCAN_LIMIT}) u
     JOIN messages m ON m.seq = u.seq
     WHERE (m.importance = 'urgent' AND m.created_at <= ?) OR (m.ack_required = 1 AND m.created_at <= ?)`,
  );
  const reuse = new Map<string, { key: string; at: number; row: Row }>();
  return (now) => {
    const overseer = registry.ensureOverseer();
    const items: AttentionItem[] = [];
    for (const agent of registry.all()) {
      // The overseer's inbox is the person's own: the Messages view, not a wait on someone else.
      if (agent.revokedAt || agent === overseer || agent.inboxDepth === 0) continue;
      const key = `${agent.inboxDepth}:${agent.messagesIn}`;
      let kept = reuse.get(agent.id);
      if (!kept || kept.key !== key || now - kept.at >= REUSE_MS || agent.inboxDepth <= REUSE_FROM) {
        // Staggered, so large backlogs are not all read again in the same refresh.
        kept = { key, at: now - Math.random() * (REUSE_MS / 2), row: overdue.get(agent.id, iso(now - limits.urgentAckMs), iso(now - limits.ackRequiredMs)) as Row };
        reuse.set(agent.id, kept);
      }
      const { row } = kept;
      if (row.n === 0 || row.oldest === null) continue;
      const oldestMs = now - Date.parse(row.oldest);
      const urgent = row.urgent ?? 0;
      const what = urgent === row.n ? 'urgent' : urgent === 0 ? 'ack-required' : 'urgent or ack-required';
      const present = registry.presence(agent) !== 'offline';
      items.push({
        id: `unacknowledged:${agent.id}`,
        kind: 'unacknowledged',
        severity: urgent > 0 ? 'critical' : 'warning',
        project: agent.project,
        title: `${row.n} ${what} message${row.n === 1 ? '' : 's'} to ${agent.name} not acknowledged; oldest ${durationWords(oldestMs)}`,
        detail: `Senders wait for ${agent.name} to acknowledge ${row.n === 1 ? 'it' : 'them'}${present ? '' : ', and it is offline'}.`,
        evidence: [
          { label: 'unacknowledged', value: row.n, unit: 'count' },
          { label: 'urgent', value: urgent, unit: 'count' },
          { label: 'oldest', value: oldestMs, unit: 'ms' },
        ],
        since: row.oldest,
        link: { view: 'messages', selection: row.thread, label: 'Open the oldest thread' },
        action: describeAction.message(agent),
      });
    }
    return items;
  };
};
