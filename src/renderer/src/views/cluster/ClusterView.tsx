/**
 * The Cluster view: every hub joined through Redis with its health and its agents, the traffic between them, and a
 * clear word when this hub has lost Redis. Any hub's cockpit shows the whole cluster: each hub announces its own
 * figures and traffic, and every hub reads all the announcements.
 */
import { useMemo } from 'react';
import type { ClusterAgent, ClusterState } from '../../../../shared/cluster-protocol';
import { ErrorNotice, Loading, ViewHeader } from '../../components/ui';
import { formatCount } from '../../format';
import { useNow } from '../../hooks';
import { HubCard } from './HubCard';
import type { TrafficSample } from './traffic';
import { TrafficPanel } from './TrafficPanel';
import { useClusterState } from './useClusterState';
import './cluster.css';

export function ClusterView() {
  const cluster = useClusterState();
  return (
    <div className="view" data-testid="view-cluster">
      <ViewHeader title="Cluster" subtitle={subtitle(cluster.state === 'ready' ? cluster.value : null)} />
      {cluster.state === 'loading' && <Loading>Asking the hub…</Loading>}
      {cluster.state === 'error' && <ErrorNotice message={cluster.message} onRetry={cluster.reload} title="The cluster state did not load" />}
      {cluster.state === 'ready' && <ClusterBody state={cluster.value} samples={cluster.samples} />}
    </div>
  );
}

function subtitle(state: ClusterState | null): string {
  if (!state) return 'The hubs joined through Redis, their health, agents and traffic.';
  if (!state.enabled) return 'This hub runs on its own.';
  const alive = state.hubs.filter((hub) => hub.alive).length;
  const how = state.connected ? 'joined through Redis' : 'as last seen before Redis was lost';
  return `${alive} of ${state.hubs.length} hub${state.hubs.length === 1 ? '' : 's'} alive, ${how} · refreshed every 2 s`;
}

function ClusterBody({ state, samples }: { state: ClusterState; samples: TrafficSample[] }) {
  const now = useNow(1_000);
  const byHub = useMemo(() => agentsByHub(state.agents ?? []), [state.agents]);
  if (!state.enabled) {
    return (
      <div className="notice" data-testid="cluster-view-off">
        This hub runs on its own: <code>cluster.redis</code> is not set in its config.json. To join hubs on several
        machines through Redis, see docs/cluster.md.
      </div>
    );
  }
  const self = state.hubs.find((hub) => hub.id === state.hubId);
  const unplaced = byHub.get(null) ?? [];
  return (
    <>
      {!state.connected && <RedisLost detail={state.detail} queued={self?.health?.queuedSends ?? null} />}
      {state.connected && (self?.health?.queuedSends ?? 0) > 0 && (
        <div className="banner banner-warn cluster-banner" role="status" data-testid="cluster-catching-up">
          Catching up: {formatCount(self!.health!.queuedSends)} sends queued while Redis was away are being forwarded.
        </div>
      )}
      <div className="hub-cards" data-testid="cluster-hub-cards">
        {state.hubs.map((hub) => (
          <HubCard key={hub.id} hub={hub} self={hub.id === state.hubId} linked={state.connected} agents={byHub.get(hub.id) ?? []} now={now} />
        ))}
      </div>
      {unplaced.length > 0 && (
        <p className="muted small" data-testid="cluster-unplaced">
          Registered on another hub and not seen connected since this hub started: {unplaced.map((agent) => `${agent.project}/${agent.name}`).join(', ')}
        </p>
      )}
      <TrafficPanel hubs={state.hubs} samples={samples} />
      {state.conflicts.length > 0 && (
        <p className="muted small">
          {state.conflicts.length} name conflict{state.conflicts.length === 1 ? '' : 's'}: see the Status view.
        </p>
      )}
    </>
  );
}

/** Said at the top, in words, with the count of sends that wait: the one thing to know while Redis is away. */
function RedisLost({ detail, queued }: { detail: string; queued: number | null }) {
  return (
    <div className="banner banner-down cluster-banner" role="alert" data-testid="cluster-redis-lost">
      <strong>
        This hub has lost Redis{queued !== null && <>: {formatCount(queued)} send{queued === 1 ? '' : 's'} queued</>}
      </strong>
      . It goes on serving its own agents; cluster sends wait in its database and go out when Redis is back. The other
      hubs are shown as last seen. <span className="muted">({detail})</span>
    </div>
  );
}

/** Agents grouped by the hub they are on, connected ones first; null: not seen on any hub since this one started. */
function agentsByHub(agents: ClusterAgent[]): Map<string | null, ClusterAgent[]> {
  const groups = new Map<string | null, ClusterAgent[]>();
  for (const agent of agents) {
    const list = groups.get(agent.hubId) ?? [];
    list.push(agent);
    groups.set(agent.hubId, list);
  }
  for (const list of groups.values()) list.sort((a, b) => Number(b.connected) - Number(a.connected) || a.name.localeCompare(b.name));
  return groups;
}
