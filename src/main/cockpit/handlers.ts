import type { HubStatus } from '../../shared/contract';
import type { CallHandlers } from './dispatch';

export interface HandlerDeps {
  status(): HubStatus;
}

/** The cockpit's calls, each delegating to the service that owns the answer. */
export function createCallHandlers(deps: HandlerDeps): CallHandlers {
  return {
    'hub.status': () => deps.status(),
  };
}
