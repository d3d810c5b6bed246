/** The Status view: the hub's runtime, data folder and each service's state. */
import type { HubStatus, ServiceStatus } from '../../../shared/contract';
import { formatDuration } from '../format';
import { ViewHeader } from '../components/ui';
import { useLiveCall } from '../hooks';
import { useBackupHealth } from './backup/BackupHealth';
import { ClusterPanel } from './ClusterPanel';

/** The hub at a glance: what runs, since when, where its data is, and whether each service is up. */
export function StatusView() {
  const status = useLiveCall('hub.status');
  return (
    <div className="view" data-testid="view-status">
      <ViewHeader title="Status" subtitle={status.state === 'ready' ? `${status.value.product} ${status.value.version}` : 'The hub process and its services.'} />
      {status.state === 'loading' && (
        <div className="notice" aria-busy="true">
          Connecting to the hub…
        </div>
      )}
      {status.state === 'error' && (
        <div className="notice notice-error" role="alert">
          The hub did not answer: {status.message}
        </div>
      )}
      {status.state === 'ready' && <StatusPanels status={status.value} />}
    </div>
  );
}

function StatusPanels({ status }: { status: HubStatus }) {
  const facts: Array<[string, string, string]> = [
    ['Version', status.version, 'version'],
    ['Runtime', status.runtime === 'electron' ? 'Desktop (Electron)' : 'Headless (Node)', 'runtime'],
    ['Uptime', formatDuration(status.uptimeMs), 'uptime'],
    ['Data directory', status.dataDir, 'data-dir'],
    ['Agents connect at', status.apiUrl ?? 'not listening', 'api-url'],
    ['Process', `pid ${status.pid}, Node ${status.nodeVersion}`, 'process'],
  ];
  return (
    <section className="status" aria-label="Hub status">
      <dl className="facts">
        {facts.map(([label, value, id]) => (
          <div key={id} className="fact">
            <dt>{label}</dt>
            <dd data-testid={`status-${id}`}>{value}</dd>
          </div>
        ))}
      </dl>
      <h2 className="section-heading">Services</h2>
      <ul className="services" data-testid="services">
        {status.services.map((service) => (
          <ServiceRow key={service.name} service={service} />
        ))}
        <BackupRow />
      </ul>
      <ClusterPanel />
    </section>
  );
}

/** The backup as a row among the services: its last good run, or why it is failing, or that it is not set up. */
function BackupRow() {
  const health = useBackupHealth();
  if (!health) return null;
  const state = health.state === 'off' ? 'degraded' : health.state;
  return <ServiceRow service={{ name: 'backup', state, detail: health.detail }} />;
}

function ServiceRow({ service }: { service: ServiceStatus }) {
  return (
    <li className={`service service-${service.state}`} data-testid={`service-${service.name}`} data-state={service.state}>
      <span className={`dot dot-${service.state}`} aria-hidden="true" />
      <span className="service-name">{service.name}</span>
      <span className="service-state">{service.state}</span>
      <span className="service-detail">{service.detail}</span>
      {service.progress !== undefined && (
        <progress className="service-progress" max={1} value={service.progress} aria-label={`${service.name} progress`} />
      )}
    </li>
  );
}
