/** The cockpit's shell: the sidebar with live figures, the connection banner, and the routed view. */
import { useEffect, useMemo, useState, type ReactNode } from 'react';
import { ViewBoundary } from './components/ui';
import { formatRate } from './format';
import { LiveContext, TransportContext, useAgents, useConnection, useMetrics } from './hooks';
import { countAgents, LiveData } from './live/live-data';
import { href, useRoute, type ViewName } from './router';
import { COCKPIT_URL_COMMAND } from '../../shared/socket-protocol';
import type { Transport } from './transport';
import { AgentsView } from './views/AgentsView';
import { AttentionNavHint } from './views/attention/AttentionStrip';
import { BackupNavHint, BackupView } from './views/BackupView';
import { ClusterView } from './views/cluster/ClusterView';
import { ConnectView } from './views/ConnectView';
import { MemoryView } from './views/MemoryView';
import { MessagesView } from './views/MessagesView';
import { OverviewView } from './views/OverviewView';
import { PerformanceView } from './views/PerformanceView';
import { ReservationsNavHint, ReservationsView } from './views/ReservationsView';
import { StatusView } from './views/StatusView';
import { TasksNavHint, TasksView } from './views/work/TasksView';
import { WorkflowsNavHint, WorkflowsView } from './views/work/WorkflowsView';

export function App({ transport }: { transport: Transport | { error: string } }) {
  if ('error' in transport) {
    return (
      <main className="shell-error">
        <div className="notice notice-error" role="alert">
          {transport.error}
        </div>
      </main>
    );
  }
  return <Cockpit transport={transport} />;
}

function Cockpit({ transport }: { transport: Transport }) {
  const [live] = useState(() => new LiveData(transport));
  useEffect(() => live.start(), [live]);
  return (
    <TransportContext.Provider value={transport}>
      <LiveContext.Provider value={live}>
        <Shell />
      </LiveContext.Provider>
    </TransportContext.Provider>
  );
}

const NAV: Array<{ view: ViewName; label: string; icon: ReactNode }> = [
  { view: 'overview', label: 'Overview', icon: <Icon d="M3 13h4v6H3zM10 8h4v11h-4zM17 4h4v15h-4z" /> },
  { view: 'agents', label: 'Agents', icon: <Icon d="M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM4 20c0-3.3 3.6-6 8-6s8 2.7 8 6" /> },
  { view: 'connect', label: 'Connect an agent', icon: <Icon d="M9 7V3M15 7V3M6 7h12v4a6 6 0 0 1-12 0zM12 17v4" /> },
  { view: 'reservations', label: 'Reservations', icon: <Icon d="M6 11V8a6 6 0 0 1 12 0v3M5 11h14v10H5zM12 15v2" /> },
  { view: 'workflows', label: 'Workflows', icon: <Icon d="M5 5h5v5H5zM14 14h5v5h-5zM7.5 10v3.5a1 1 0 0 0 1 1H14M14 5h5v5h-5zM10 7.5h4" /> },
  { view: 'tasks', label: 'Tasks', icon: <Icon d="M9 6h11M9 12h11M9 18h11M4 6l1 1 2-2M4 12l1 1 2-2M4 18l1 1 2-2" /> },
  { view: 'messages', label: 'Messages', icon: <Icon d="M4 5h16v11H8l-4 4z" /> },
  { view: 'memory', label: 'Memory', icon: <Icon d="M5 4h14v16H5zM9 8h6M9 12h6M9 16h3" /> },
  { view: 'backup', label: 'Backup', icon: <Icon d="M7 18a4.5 4.5 0 0 1-.6-8.96A6 6 0 0 1 18 8.5a4.5 4.5 0 0 1-.5 9.5M12 12v8M9 15l3-3 3 3" /> },
  { view: 'performance', label: 'Performance', icon: <Icon d="M3 17l5-6 4 4 8-10M15 5h5v5" /> },
  { view: 'cluster', label: 'Cluster', icon: <Icon d="M5 5h5v5H5zM14 5h5v5h-5zM9.5 14h5v5h-5zM10 7.5h4M7.5 10l3.5 4M16.5 10L13 14" /> },
  { view: 'status', label: 'Status', icon: <Icon d="M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zM12 8v5M12 16v.5" /> },
];

function Icon({ d }: { d: string }) {
  return (
    <svg className="nav-icon" viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor" strokeWidth={1.7} strokeLinecap="round" strokeLinejoin="round">
      <path d={d} />
    </svg>
  );
}

function Shell() {
  const route = useRoute();
  const connection = useConnection();
  return (
    <div className="app">
      {/* The first tab stop: past the sidebar's links to the view itself (a button: the hash is the route). */}
      <button type="button" className="skip-link" onClick={() => document.getElementById('view')?.focus()} data-testid="skip-link">
        Skip to the view
      </button>
      <nav className="sidebar" aria-label="Views">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true" />
          <span>
            <span className="brand-name">DevEnviro</span>
            <span className="brand-sub">Cockpit</span>
          </span>
        </div>
        <ul className="nav">
          {NAV.map((item) => (
            <li key={item.view}>
              <a
                href={href(item.view)}
                className={`nav-link ${route.view === item.view ? 'active' : ''}`}
                aria-current={route.view === item.view ? 'page' : undefined}
                data-testid={`nav-${item.view}`}
              >
                {item.icon}
                <span className="nav-label">{item.label}</span>
                <NavHint view={item.view} />
              </a>
            </li>
          ))}
        </ul>
        <div className="sidebar-footer">
          <ConnectionBadge />
        </div>
      </nav>
      <main className="content" data-view={route.view} id="view" tabIndex={-1}>
        {connection === 'refused' && <TokenRefused />}
        {connection === 'closed' && (
          <div className="banner banner-down" role="status">
            Disconnected from the hub: reconnecting. What you see is as of the last update.
          </div>
        )}
        <ViewBoundary name={route.view}>
          <CurrentView view={route.view} param={route.param} />
        </ViewBoundary>
      </main>
    </div>
  );
}

function CurrentView({ view, param }: { view: ViewName; param: string | null }) {
  switch (view) {
    case 'overview':
      return <OverviewView />;
    case 'agents':
      return <AgentsView selectedId={param} />;
    case 'connect':
      return <ConnectView />;
    case 'reservations':
      return <ReservationsView />;
    case 'workflows':
      return <WorkflowsView selectedId={param} />;
    case 'tasks':
      return <TasksView />;
    case 'messages':
      return <MessagesView threadId={param} />;
    case 'memory':
      return <MemoryView selectedId={param} />;
    case 'backup':
      return <BackupView />;
    case 'performance':
      return <PerformanceView />;
    case 'cluster':
      return <ClusterView />;
    case 'status':
      return <StatusView />;
  }
}

/** A live figure beside a nav entry, so the sidebar alone tells whether anything is happening. */
function NavHint({ view }: { view: ViewName }) {
  const { latest } = useMetrics();
  const { byId, state } = useAgents();
  const online = useMemo(() => countAgents(byId).online, [byId]);
  if (view === 'overview') return <AttentionNavHint />;
  if (view === 'backup') return <BackupNavHint />;
  if (view === 'reservations') return <ReservationsNavHint />;
  if (view === 'tasks') return <TasksNavHint />;
  if (view === 'workflows') return <WorkflowsNavHint />;
  if (view === 'agents' && state === 'ready') {
    return (
      <span className="nav-hint num" title="agents online">
        {online}
      </span>
    );
  }
  if (!latest) return null;
  if (view === 'messages' && latest.rates.messagesSent > 0) {
    return (
      <span className="nav-hint num" title="messages sent per second">
        {formatRate(latest.rates.messagesSent)}
      </span>
    );
  }
  return null;
}

/** The hub refused this page's token: say so, and how to get the right link, instead of retrying forever. */
function TokenRefused() {
  return (
    <div className="banner banner-down banner-refused" role="alert" data-testid="token-refused">
      <strong>This cockpit link’s token is not valid</strong>: the hub refused it, so nothing here is live. Open the URL
      the hub printed when it started, or print it on this machine with <code className="num">{COCKPIT_URL_COMMAND}</code>{' '}
      (add <code className="num">--data-dir DIR</code> for a hub with its own data folder).
    </div>
  );
}

const CONNECTION_LABEL = { open: 'connected', connecting: 'connecting…', closed: 'disconnected: retrying', refused: 'token not valid' } as const;

function ConnectionBadge() {
  const connection = useConnection();
  return (
    <span className={`badge badge-${connection}`} data-testid="connection">
      {CONNECTION_LABEL[connection]}
    </span>
  );
}
