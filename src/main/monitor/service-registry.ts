/** Each service's state (starting, up, degraded, down) as the cockpit's status view shows it. */
import type { ServiceState, ServiceStatus } from '../../shared/contract';

/**
 * What each of the hub's services is doing right now. Services report here; the cockpit's status view reads it.
 * Changes are announced at once so a person sees a service come up or fail without waiting for the next tick.
 */
export class ServiceRegistry {
  private readonly services = new Map<string, ServiceStatus>();
  private readonly changeListeners = new Set<() => void>();

  set(name: string, state: ServiceState, detail: string, progress?: number): void {
    const status: ServiceStatus = progress === undefined ? { name, state, detail } : { name, state, detail, progress };
    this.services.set(name, status);
    for (const listener of this.changeListeners) listener();
  }

  get(name: string): ServiceStatus | undefined {
    return this.services.get(name);
  }

  list(): ServiceStatus[] {
    return [...this.services.values()];
  }

  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }
}
