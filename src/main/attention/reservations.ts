/**
 * File leases held by agents that are offline: the files stay reserved for someone who is not working on them until
 * the leases expire. One item per holder, with Release as its action (the holder is told when it comes back).
 * Leases live in the reservation service's memory: no query.
 */
import { durationWords, type AttentionItem } from '../../shared/attention-protocol';
import type { Reservation } from '../../shared/reservation-protocol';
import { describeAction } from './actions';
import type { SourceFactory } from './source';

/** Paths named in a title before "…". */
const PATHS_SHOWN = 3;

export const offlineReservationsSource: SourceFactory = ({ registry, reservations }) => (now) => {
  const byHolder = new Map<string, Reservation[]>();
  for (const lease of reservations.list()) {
    const holder = registry.find(lease.holderId);
    if (!holder || registry.presence(holder) !== 'offline') continue;
    let leases = byHolder.get(lease.holderId);
    if (!leases) byHolder.set(lease.holderId, (leases = []));
    leases.push(lease);
  }
  const items: AttentionItem[] = [];
  for (const [holderId, leases] of byHolder) {
    const holder = registry.get(holderId);
    const paths = leases.flatMap((lease) => lease.paths);
    const shown = paths.slice(0, PATHS_SHOWN).join(', ') + (paths.length > PATHS_SHOWN ? ', …' : '');
    const lastExpiry = Math.max(...leases.map((lease) => Date.parse(lease.expiresAt)));
    const offlineMs = holder.lastSeen === null ? null : now - holder.lastSeen;
    const exclusive = leases.filter((lease) => lease.mode === 'exclusive').length;
    items.push({
      id: `reservations-offline:${holderId}`,
      kind: 'reservations-offline',
      severity: 'warning',
      project: holder.project,
      title: `${holder.name} is offline${offlineMs === null ? '' : ` (${durationWords(offlineMs)})`} and holds ${leases.length} lease${leases.length === 1 ? '' : 's'} on ${shown}`,
      detail: `Other agents cannot reserve ${exclusive > 0 ? 'these files' : 'these files exclusively'} until the lease${leases.length === 1 ? ' expires' : 's expire'} in ${durationWords(lastExpiry - now)} or ${leases.length === 1 ? 'it is' : 'they are'} released.`,
      evidence: [
        { label: 'leases', value: leases.length, unit: 'count' },
        { label: 'exclusive', value: exclusive, unit: 'count' },
        { label: 'expire in', value: Math.max(0, lastExpiry - now), unit: 'ms' },
        ...(offlineMs === null ? [] : [{ label: 'offline for', value: offlineMs, unit: 'ms' as const }]),
      ],
      since: holder.lastSeen === null ? null : new Date(holder.lastSeen).toISOString(),
      link: { view: 'reservations', selection: null, label: 'Open Reservations' },
      action: describeAction.release(
        leases.map((lease) => lease.id),
        holder.name,
      ),
    });
  }
  return items;
};
