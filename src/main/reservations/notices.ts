/** Tells an agent, by a message from the overseer, that the person at the cockpit released one of its leases. */
import type { AgentRegistry } from '../agents/registry';
import type { MessagingService } from '../messaging/service';
import type { ReservationService } from './service';

/**
 * An agent that goes on editing after its lease was taken away would overwrite whoever reserves the files next: it
 * hears of it in its inbox (and wait_for_messages wakes). Returns the function that stops listening.
 */
export function noticeCockpitReleases(reservations: ReservationService, registry: AgentRegistry, messaging: MessagingService): () => void {
  return reservations.onChange((change, fromAnotherHub) => {
    // In a cluster the hub whose cockpit released it tells the holder, once.
    if (change.kind !== 'released' || change.by !== 'cockpit' || fromAnotherHub) return;
    const { reservation } = change;
    const holder = registry.find(reservation.holderId);
    if (!holder || holder.revokedAt) return;
    const body =
      `The person at the cockpit released your reservation ${reservation.id} on ${reservation.paths.join(', ')}: other agents may now change ` +
      'these files. Reserve them again before editing them further.';
    messaging
      .send(registry.ensureOverseer(), { to: { type: 'agent', id: holder.id }, subject: 'reservation released', body, importance: 'high', ackRequired: false })
      .catch((error: Error) => console.error('[reservations] could not tell the holder of a released lease:', error.message));
  });
}
