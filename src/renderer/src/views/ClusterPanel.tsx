/**
 * The Status view's Cluster section: this hub's link to Redis, the hubs of the cluster and any name conflicts; the
 * Cluster view has each hub's health, agents and the traffic between them.
 */
import type { ClusterHub, ClusterState } from '../../../shared/cluster-protocol';
import { formatAgo } from '../format';
import { useNow } from '../hooks';
import { href } from '../router';
import { useClusterState } from './cluster/useClusterState';

export function ClusterPanel() {
  const cluster = useClusterState();
  return (
    <section className="cluster" aria-label="Cluster" data-testid="cluster">
      <h2 className="section-heading">Cluster</h2>
      {cluster.state === 'loading' && <p className="muted">Asking the hub…</p>}
      {cluster.state === 'error' && (
        <div className="notice notice-error" role="alert">
          The cluster state did not load: {cluster.message}
        </div>
      )}
      {cluster.state === 'ready' && <ClusterDetails state={cluster.value} />}
    </section>
  );
}

function ClusterDetails({ state }: { state: ClusterState }) {
  const now = useNow(1_000);
  if (!state.enabled) {
    return (
      <p className="muted" data-testid="cluster-off">
        This hub runs on its own (cluster.redis is not set; see docs/cluster.md)
      </p>
    );
  }
  return (
    <>
      <p data-testid="cluster-link" data-connected={String(state.connected)}>
        <span className={`dot dot-${state.connected ? 'up' : 'degraded'}`} aria-hidden="true" />{state.connected ? 'Connected' : 'Not connected'}: {state.detail}
      </p>
      <p className="small">
        <a href={href('cluster')} data-testid="cluster-open-view">
          Each hub's health, agents and cross-hub traffic: the Cluster view
        </a>
      </p>
      <div className="table-scroll">
        <table className="table" data-testid="cluster-hubs">
          <thead>
            <tr>
              <th>Hub</th>
              <th>State</th>
              <th className="right">Agents connected</th>
              <th>Last seen</th>
              <th>Address</th>
            </tr>
          </thead>
          <tbody>
            {state.hubs.map((hub) => (
              <HubRow key={hub.id} hub={hub} self={hub.id === state.hubId} now={now} />
            ))}
          </tbody>
        </table>
      </div>
      {state.conflicts.length > 0 && (
        <>
          <h3 className="section-heading">Name conflicts</h3>
          <p className="muted">Agents named alike on two hubs before they joined: the cluster keeps its own, this hub's stays local.</p>
          <ul data-testid="cluster-conflicts">
            {state.conflicts.map((conflict) => (
              <li key={conflict.localId}>
                {conflict.project}/{conflict.name}: this hub's {conflict.localId}, the cluster's {conflict.clusterId}
              </li>
            ))}
          </ul>
        </>
      )}
    </>
  );
}

function HubRow({ hub, self, now }: { hub: ClusterHub; self: boolean; now: number }) {
  return (
    <tr data-testid={`cluster-hub-${hub.name}`} data-alive={String(hub.alive)}>
      <td>
        {hub.name}
        {self && <span className="muted"> (this hub)</span>}
      </td>
      <td>
        <span className={`dot dot-${hub.alive ? 'up' : 'down'}`} aria-hidden="true" /><span data-testid="cluster-hub-state">{hub.alive ? 'alive' : 'gone'}</span>
      </td>
      <td className="right">{hub.connectedAgents}</td>
      <td title={hub.seenAt}>{formatAgo(hub.seenAt, now)}</td>
      <td>{hub.apiUrl ?? '—'}</td>
    </tr>
  );
}
