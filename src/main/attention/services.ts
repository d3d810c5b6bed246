/** The hub's own services that are degraded or down, as the Status view shows them, with what to do in their detail. */
import type { AttentionItem } from '../../shared/attention-protocol';
import type { SourceFactory } from './source';

export const servicesSource: SourceFactory = ({ services }) => {
  /** When each service was first seen not up, so the item's age counts from then. */
  const since = new Map<string, { state: string; at: string }>();
  return (now) => {
    const items: AttentionItem[] = [];
    for (const service of services.list()) {
      if (service.state !== 'degraded' && service.state !== 'down') {
        since.delete(service.name);
        continue;
      }
      if (since.get(service.name)?.state !== service.state) since.set(service.name, { state: service.state, at: new Date(now).toISOString() });
      items.push({
        id: `service:${service.name}`,
        kind: 'service-degraded',
        severity: service.state === 'down' ? 'critical' : 'warning',
        project: null,
        title: `${service.name} is ${service.state}`,
        detail: service.detail,
        evidence: [{ label: 'state', value: service.state }],
        since: since.get(service.name)!.at,
        // The cluster's link to Redis is best looked at with the other hubs and the sends waiting.
        link: service.name === 'cluster' ? { view: 'cluster', selection: null, label: 'Open Cluster' } : { view: 'status', selection: null, label: 'Open Status' },
        action: null,
      });
    }
    return items;
  };
};
