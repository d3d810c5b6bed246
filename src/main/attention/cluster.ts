/**
 * Hubs of the cluster that are gone: their announcements expired (stopped, killed, cut off from Redis), so their
 * agents are shown offline everywhere. A gone hub that had agents is a warning; one without is only noted. (This
 * hub losing Redis is the `cluster` service's item, from services.ts.)
 */
import { durationWords, type AttentionItem } from '../../shared/attention-protocol';
import type { SourceFactory } from './source';

export const clusterSource: SourceFactory = ({ cluster }) => (now) => {
  const state = cluster?.state();
  if (!state?.enabled) return [];
  const items: AttentionItem[] = [];
  for (const hub of state.hubs) {
    if (hub.alive || hub.id === state.hubId) continue;
    // Never seen alive since this hub started: its id is in Redis, its name and last announcement are not.
    const seen = hub.startedAt !== '';
    const agents = (state.agents ?? []).filter((agent) => agent.hubId === hub.id).length;
    const lastSeenMs = now - Date.parse(hub.seenAt);
    items.push({
      id: `hub-gone:${hub.id}`,
      kind: 'hub-gone',
      severity: agents > 0 ? 'warning' : 'info',
      project: null,
      title: seen ? `Hub ${hub.name} is gone: last seen ${durationWords(lastSeenMs)} ago` : `Hub ${hub.id} is gone`,
      detail: `Its announcement to the cluster expired: it stopped, or lost its network or Redis.${agents > 0 ? ` Its ${agents} agent${agents === 1 ? ' is' : 's are'} shown offline until ${agents === 1 ? 'it connects' : 'they connect'} to a hub again.` : ''}`,
      evidence: [...(seen ? [{ label: 'last seen', value: lastSeenMs, unit: 'ms' as const }] : []), { label: 'agents on it', value: agents, unit: 'count' }],
      since: seen ? hub.seenAt : null,
      link: { view: 'cluster', selection: null, label: 'Open Cluster' },
      action: null,
    });
  }
  return items;
};
