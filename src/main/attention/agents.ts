/**
 * Agents with unread messages nobody is reading: offline with a backlog (the agent is gone; its mail piles up), or
 * present but leaving messages unread for long. The inbox depth is the registry's running count; only the agents
 * with a backlog cost a query (the oldest unread, through the index of unacknowledged deliveries).
 */
import { durationWords, type AttentionItem } from '../../shared/attention-protocol';
import { describeAction } from './actions';
import type { SourceFactory } from './source';

export const agentBacklogSource: SourceFactory = ({ db, registry }, limits) => {
  // The partial index of unacknowledged deliveries, named: the primary key would walk the agent's acknowledged ones too.
  const oldestUnread = db.prepare(
    `SELECT m.created_at AS createdAt FROM deliveries d INDEXED BY deliveries_unacked JOIN messages m ON m.seq = d.seq
     WHERE d.agent_id = ? AND d.acked_at IS NULL ORDER BY d.seq LIMIT 1`,
  );
  return (now) => {
    const overseer = registry.ensureOverseer();
    const items: AttentionItem[] = [];
    for (const agent of registry.all()) {
      if (agent.revokedAt || agent === overseer || agent.inboxDepth === 0) continue;
      const row = oldestUnread.get(agent.id) as { createdAt: string } | undefined;
      if (!row) continue;
      const oldestMs = now - Date.parse(row.createdAt);
      const presence = registry.presence(agent);
      const offline = presence === 'offline';
      const many = agent.inboxDepth >= limits.backlogCount;
      if (offline ? !many && oldestMs < limits.offlineBacklogMs : oldestMs < limits.unreadWhilePresentMs) continue;
      const unread = agent.inboxDepth;
      const offlineMs = agent.lastSeen === null ? null : now - agent.lastSeen;
      const title = offline
        ? `${agent.name} is offline with ${unread} unread; oldest ${durationWords(oldestMs)}`
        : `${agent.name} is ${presence} but has left ${unread} message${unread === 1 ? '' : 's'} unread; oldest ${durationWords(oldestMs)}`;
      items.push({
        id: `agent-backlog:${agent.id}`,
        kind: 'agent-backlog',
        severity: offline && (many || oldestMs >= 3_600_000) ? 'critical' : 'warning',
        project: agent.project,
        title,
        detail: offline
          ? `Messages to ${agent.name} wait in its inbox until it comes back. Start it, or revoke it so nobody waits for it.`
          : `${agent.name} is connected but does not acknowledge its messages: it may be stuck in a long task or not reading its inbox.`,
        evidence: [
          { label: 'unread', value: unread, unit: 'count' },
          { label: 'oldest unread', value: oldestMs, unit: 'ms' },
          ...(offline && offlineMs !== null ? [{ label: 'offline for', value: offlineMs, unit: 'ms' as const }] : []),
        ],
        since: row.createdAt,
        link: { view: 'agents', selection: agent.id, label: `Open ${agent.name}` },
        action: offline ? describeAction.revoke(agent, unread) : describeAction.message(agent),
      });
    }
    return items;
  };
};
