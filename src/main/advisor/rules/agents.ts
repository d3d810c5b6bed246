/**
 * Inboxes: an agent offline for a while with messages piling up (start it, or revoke it so senders get an error
 * instead of a growing backlog), and a connected agent that takes its messages slower than they arrive.
 */
import { count, duration } from './format';
import type { Finding, RuleContext } from './rule';

export function agentRules({ hub, settings }: RuleContext): Finding[] {
  const { registry } = hub;
  const overseer = registry.ensureOverseer();
  const now = Date.now();
  const findings: Finding[] = [];
  for (const agent of registry.all()) {
    if (agent.revokedAt || agent.id === overseer.id) continue;
    const info = registry.info(agent);
    const lastSeen = info.lastSeen ?? info.createdAt;
    const offlineMs = now - Date.parse(lastSeen);
    if (info.status === 'offline' && offlineMs >= settings.offlineMinutes * 60_000 && info.inboxDepth >= settings.inboxUnread) {
      findings.push({
        advice: {
          id: `offline-inbox.${agent.id}`,
          rule: 'offline-inbox',
          severity: info.inboxDepth >= 5 * settings.inboxUnread ? 'critical' : 'warning',
          title: `agent \`${agent.name}\` has ${count(info.inboxDepth)} unread and has been offline ${duration(offlineMs)}`,
          project: agent.project,
          evidence: [
            { label: 'unread messages', value: info.inboxDepth, unit: 'messages', since: lastSeen },
            { label: 'offline for', value: offlineMs / 60_000, unit: 'minutes', since: lastSeen },
          ],
          suggestion: `start ${agent.name} (project ${agent.project}) so it reads its inbox, or revoke it if it is gone for good`,
          fix: { kind: 'revoke-agent', label: 'Revoke the agent', estimatedCost: 'its token stops working; its messages stay readable here', estimatedMs: 0, safe: false },
        },
        apply: async () => {
          const before = registry.info(agent);
          registry.revoke(agent.id);
          const after = registry.info(registry.get(agent.id));
          return [{ label: 'agents that can receive (this one)', before: before.revoked ? 0 : 1, after: after.revoked ? 0 : 1, unit: 'count' }];
        },
      });
    } else if (info.connected && info.inboxDepth >= settings.slowConsumerUnread) {
      findings.push({
        advice: {
          id: `slow-consumer.${agent.id}`,
          rule: 'slow-consumer',
          severity: 'warning',
          title: `agent \`${agent.name}\` is connected but ${count(info.inboxDepth)} messages wait for it`,
          project: agent.project,
          evidence: [
            { label: 'unread messages', value: info.inboxDepth, unit: 'messages', since: new Date().toISOString() },
            { label: 'received since start', value: info.messagesIn, unit: 'messages', since: null },
          ],
          suggestion: `${agent.name} reads slower than it is sent to: have it acknowledge in batches, or send it less (a topic it need not follow?)`,
          fix: null,
        },
      });
    }
  }
  return findings;
}
