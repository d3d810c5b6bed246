import { TransportContext, useConnection } from './hooks';
import type { Transport } from './transport';
import { StatusView } from './views/StatusView';

export function App({ transport }: { transport: Transport | { error: string } }) {
  if ('error' in transport) {
    return (
      <main className="shell">
        <div className="notice notice-error" role="alert">{transport.error}</div>
      </main>
    );
  }
  return (
    <TransportContext.Provider value={transport}>
      <main className="shell">
        <header className="topbar">
          <h1>DevEnviro Cockpit</h1>
          <ConnectionBadge />
        </header>
        <StatusView />
      </main>
    </TransportContext.Provider>
  );
}

const CONNECTION_LABEL = { open: 'connected', connecting: 'connecting…', closed: 'disconnected: retrying' } as const;

function ConnectionBadge() {
  const connection = useConnection();
  return (
    <span className={`badge badge-${connection}`} data-testid="connection">
      {CONNECTION_LABEL[connection]}
    </span>
  );
}
