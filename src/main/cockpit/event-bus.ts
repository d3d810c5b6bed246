/** The typed stream of contract events the hub pushes to every cockpit transport. */
import { events as eventNames, type EventName, type EventPayload } from '../../shared/contract';

type Listener<K extends EventName> = (payload: EventPayload<K>) => void;

/** The hub's typed event stream: services emit contract events here, and each cockpit transport forwards them. */
export class EventBus {
  private readonly listeners = new Map<EventName, Set<Listener<EventName>>>();

  emit<K extends EventName>(name: K, payload: EventPayload<K>): void {
    for (const listener of this.listeners.get(name) ?? []) {
      try {
        listener(payload);
      } catch (error) {
        // One broken subscriber (a closed window, say) must not starve the others.
        console.error(`[events] a ${name} listener failed:`, error);
      }
    }
  }

  on<K extends EventName>(name: K, listener: Listener<K>): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(listener as Listener<EventName>);
    return () => set.delete(listener as Listener<EventName>);
  }

  /** Whether anyone listens to this event now (a cockpit page is open): work done only to push it can be skipped. */
  listening(name: EventName): boolean {
    return (this.listeners.get(name)?.size ?? 0) > 0;
  }

  /** Every event, for transports that forward them all. */
  onAny(listener: (name: EventName, payload: unknown) => void): () => void {
    const unsubscribers = (Object.keys(eventNames) as EventName[]).map((name) =>
      this.on(name, (payload) => listener(name, payload)),
    );
    return () => unsubscribers.forEach((off) => off());
  }
}

