/**
 * The Reservations view: who holds which repository paths (file leases), live, with leases of offline agents marked,
 * a way for the person to release one, and the leases that ended while it was open (and how).
 */
import { useCallback, useEffect, useMemo, useState } from 'react';
import type { AgentInfo } from '../../../shared/agent-protocol';
import type { Reservation, ReservationChange } from '../../../shared/reservation-protocol';
import { Empty, ErrorNotice, Loading, Panel, StatusBadge, Tag, ViewHeader } from '../components/ui';
import { formatAgo, formatDateTime, formatTimeLeft } from '../format';
import { invoke, useAgentLookup, useConnection, useEvent, useNow, useTransport } from '../hooks';
import { href } from '../router';

type Leases = { state: 'loading' } | { state: 'error'; message: string } | { state: 'ready'; byId: Map<string, Reservation> };
type Ending = Extract<ReservationChange, { kind: 'released' | 'expired' }>;
/** How many ended leases the view keeps listing. */
const ENDED_SHOWN = 20;

/**
 * Every active lease, fetched when the connection opens and then kept by the hub's `reservations.changed` events.
 * The answer and the events travel on one connection in order, so an event that came before the answer is already
 * in it, and one after it applies on top.
 */
function useLeases(onEnded?: (change: Ending) => void): Leases {
  const transport = useTransport();
  const connection = useConnection();
  const [leases, setLeases] = useState<Leases>({ state: 'loading' });

  useEvent('reservations.changed', (change: ReservationChange) => {
    if (change.kind === 'released' || change.kind === 'expired') onEnded?.(change);
    setLeases((current) => {
      if (current.state !== 'ready') return current;
      const byId = new Map(current.byId);
      if (change.kind === 'released' || change.kind === 'expired') byId.delete(change.reservation.id);
      else byId.set(change.reservation.id, change.reservation);
      return { state: 'ready', byId };
    });
  });

  useEffect(() => {
    if (connection !== 'open') return;
    let live = true;
    invoke(transport, 'reservations.list', {}).then(
      (list) => live && setLeases({ state: 'ready', byId: new Map(list.map((lease) => [lease.id, lease])) }),
      (error: Error) => live && setLeases({ state: 'error', message: error.message }),
    );
    return () => {
      live = false;
    };
  }, [transport, connection]);

  return leases;
}

export function ReservationsView() {
  const [ended, setEnded] = useState<Array<Ending & { at: number }>>([]);
  const leases = useLeases(useCallback((change: Ending) => setEnded((list) => [{ ...change, at: Date.now() }, ...list].slice(0, ENDED_SHOWN)), []));
  const lookup = useAgentLookup();
  const now = useNow(1000);
  const [project, setProject] = useState('');

  const all = useMemo(() => (leases.state === 'ready' ? [...leases.byId.values()] : []), [leases]);
  const projects = useMemo(() => [...new Set(all.map((lease) => lease.project))].sort(), [all]);
  const rows = useMemo(
    () => all.filter((lease) => !project || lease.project === project).sort((a, b) => a.project.localeCompare(b.project) || a.createdAt.localeCompare(b.createdAt)),
    [all, project],
  );
  const offlineCount = all.filter((lease) => isOffline(lookup(lease.holderId))).length;

  return (
    <div className="view" data-testid="view-reservations">
      <ViewHeader
        title="Reservations"
        subtitle={
          leases.state === 'ready' ? (
            <>
              <span className="num" data-testid="reservations-count">{all.length}</span> lease{all.length === 1 ? '' : 's'} held
              {offlineCount > 0 && (
                <>
                  {' · '}
                  <span className="text-warn num">{offlineCount}</span> by offline agents
                </>
              )}
            </>
          ) : undefined
        }
        actions={
          projects.length > 1 && (
            <select className="input" value={project} onChange={(e) => setProject(e.target.value)} aria-label="Project">
              <option value="">All projects</option>
              {projects.map((name) => (
                <option key={name} value={name}>
                  {name}
                </option>
              ))}
            </select>
          )
        }
      />
      <Panel className="table-panel" bodyClassName="panel-body-flush">
        {leases.state === 'loading' && <Loading>Loading reservations…</Loading>}
        {leases.state === 'error' && <ErrorNotice message={leases.message} />}
        {leases.state === 'ready' &&
          (rows.length === 0 ? (
            <Empty title="No file is reserved" testId="reservations-empty">
              Agents reserve repository paths before editing them (MCP, HTTP, the socket or <code>devenviro reserve</code>); their leases show here as they are taken.
            </Empty>
          ) : (
            <div className="table-scroll">
              <table className="table" data-testid="reservations-table">
                <thead>
                  <tr>
                    <th>Project</th>
                    <th>Holder</th>
                    <th>Paths</th>
                    <th>Mode</th>
                    <th>Reason</th>
                    <th className="right">Time left</th>
                    <th />
                  </tr>
                </thead>
                <tbody>
                  {rows.map((lease) => (
                    <LeaseRow key={lease.id} lease={lease} holder={lookup(lease.holderId)} now={now} />
                  ))}
                </tbody>
              </table>
            </div>
          ))}
      </Panel>
      {ended.length > 0 && <EndedLeases ended={ended} now={now} />}
      <p className="muted small">
        A lease ends when its holder releases it or its time runs out; an agent that stays offline cannot renew, so its leases end with their time (and all of them when it is
        revoked). Releasing one here lets other agents reserve those paths at once; its holder is not asked.
      </p>
    </div>
  );
}

function isOffline(agent: AgentInfo | undefined): boolean {
  return agent !== undefined && (agent.revoked || agent.status === 'offline');
}

function LeaseRow({ lease, holder, now }: { lease: Reservation; holder: AgentInfo | undefined; now: number }) {
  const offline = isOffline(holder);
  const left = Date.parse(lease.expiresAt) - now;
  return (
    <tr className={offline ? 'lease-offline' : ''} data-testid="reservation-row" data-id={lease.id} data-holder={lease.holderName} data-offline={offline}>
      <td className="project" title={lease.project}>
        {lease.project}
      </td>
      <td className="nowrap">
        <a href={href('agents', lease.holderId)}>{lease.holderName}</a> {holder && <StatusBadge status={holder.status} revoked={holder.revoked} />}
        {offline && (
          <div className="small text-warn" data-testid="reservation-offline">
            holder offline: it cannot renew
          </div>
        )}
      </td>
      <td>
        <ul className="lease-paths">
          {lease.paths.map((path) => (
            <li key={path} className="num">
              {path}
            </li>
          ))}
        </ul>
      </td>
      <td>
        <Tag tone={lease.mode === 'exclusive' ? 'accent' : undefined}>{lease.mode}</Tag>
      </td>
      <td className="muted lease-reason">{lease.reason || '—'}</td>
      <td className={`num right nowrap ${left < 60_000 ? 'text-warn' : ''}`} title={`until ${formatDateTime(lease.expiresAt)} (${Math.round(lease.ttlSeconds / 60)} min lease)`} data-testid="reservation-left">
        {formatTimeLeft(lease.expiresAt, now)}
      </td>
      <td className="right">
        <ReleaseButton lease={lease} />
      </td>
    </tr>
  );
}

function ReleaseButton({ lease }: { lease: Reservation }) {
  const transport = useTransport();
  const [stage, setStage] = useState<'idle' | 'confirm' | 'working'>('idle');
  const [error, setError] = useState<string | null>(null);

  const release = useCallback(async () => {
    setStage('working');
    setError(null);
    try {
      // The row goes when the hub's released event arrives.
      await invoke(transport, 'reservations.release', { id: lease.id });
    } catch (failure) {
      setError((failure as Error).message);
      setStage('confirm');
    }
  }, [transport, lease.id]);

  if (stage === 'idle') {
    return (
      <button type="button" className="btn btn-small" onClick={() => setStage('confirm')} data-testid="reservation-release">
        Release…
      </button>
    );
  }
  return (
    <div className="confirm lease-confirm" role="alertdialog" aria-label={`Release ${lease.holderName}'s lease?`}>
      <p>
        Release <strong>{lease.holderName}</strong>’s {lease.mode} lease on {lease.paths.length === 1 ? lease.paths[0] : `${lease.paths.length} paths`}? Other agents may then edit them.
      </p>
      {error && <p className="text-down small">{error}</p>}
      <div className="confirm-actions">
        <button type="button" className="btn btn-small" onClick={() => setStage('idle')} disabled={stage === 'working'}>
          Cancel
        </button>
        <button type="button" className="btn btn-small btn-danger" onClick={release} disabled={stage === 'working'} data-testid="reservation-release-confirm">
          {stage === 'working' ? 'Releasing…' : 'Release'}
        </button>
      </div>
    </div>
  );
}

const HOW_ENDED = {
  holder: 'released by its holder',
  cockpit: 'released from the cockpit',
  revoked: 'released: its holder was revoked',
} as const;

/** Leases that ended while the view was open, newest first: who let go, and which ran out with their holder away. */
function EndedLeases({ ended, now }: { ended: Array<Ending & { at: number }>; now: number }) {
  return (
    <Panel title="Ended while this view was open" testId="reservations-ended">
      <ul className="mini-list">
        {ended.map((change) => (
          <li key={`${change.reservation.id} ${change.at}`} className="mini-row" data-testid="reservation-ended" data-kind={change.kind}>
            <span className="mini-who">{change.reservation.holderName}</span>
            <span className="mini-text num">{change.reservation.paths.join(', ')}</span>
            <span className={change.kind === 'expired' && change.holderOffline ? 'text-warn small' : 'muted small'}>
              {change.kind === 'released' ? HOW_ENDED[change.by] : change.holderOffline ? 'expired: its holder was offline' : 'expired'}
            </span>
            <span className="mini-time num">{formatAgo(new Date(change.at).toISOString(), now)}</span>
          </li>
        ))}
      </ul>
    </Panel>
  );
}

/** The sidebar's figure: how many leases are held now. */
export function ReservationsNavHint() {
  const leases = useLeases();
  if (leases.state !== 'ready' || leases.byId.size === 0) return null;
  return (
    <span className="nav-hint num" title="file leases held">
      {leases.byId.size}
    </span>
  );
}
