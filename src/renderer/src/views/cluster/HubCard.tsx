/** One hub of the cluster as a card: alive or gone, its health as it last announced it, and its agents. */
import type { ClusterAgent, ClusterHub } from '../../../../shared/cluster-protocol';
import { StatusBadge, type Tone } from '../../components/ui';
import { formatAgo, formatBytes, formatCount, formatDuration, formatMs, formatRate } from '../../format';
import { href } from '../../router';

/** Agents listed on a card; the rest are counted, and the Agents view has them all. */
const AGENTS_SHOWN = 12;
/** Event-loop delay past these holds requests up noticeably (the hub's own rule: no request holds it > ~50 ms). */
const LOOP_WARN_MS = 50;
const LOOP_BAD_MS = 200;
/** A round trip to Redis past this slows every cross-hub send. */
const RTT_WARN_MS = 20;

/** `linked`: this hub is connected to Redis (its own card says whether it is announcing itself). */
export function HubCard({ hub, self, linked, agents, now }: { hub: ClusterHub; self: boolean; linked: boolean; agents: ClusterAgent[]; now: number }) {
  const health = hub.health;
  const state = hub.alive ? 'alive' : 'gone';
  return (
    <section className={`hub-card hub-${state} ${self ? 'hub-self' : ''}`} data-testid={`hub-card-${hub.name}`} data-alive={String(hub.alive)} aria-label={`Hub ${hub.name}`}>
      <header className="hub-card-header">
        <span className={`dot dot-${hub.alive ? 'up' : 'down'}`} aria-hidden="true" />
        <h2 className="hub-name">{hub.name}</h2>
        {self && <span className="tag tone-accent">this hub</span>}
        <span className={`hub-state hub-state-${state}`} data-testid="hub-state">
          {state}
        </span>
      </header>
      <p className="hub-meta muted small">
        {hub.apiUrl ?? 'address not known'}
        {hub.startedAt && hub.alive && <> · up {formatDuration(now - Date.parse(hub.startedAt))}</>}
        {' · '}
        <span title={hub.seenAt}>{self ? (linked ? 'announcing itself' : 'not announcing: no Redis') : `seen ${formatAgo(hub.seenAt, now)}`}</span>
      </p>
      {health ? (
        <dl className="hub-health" data-testid="hub-health">
          <Figure label="Connected" value={formatCount(hub.connectedAgents)} id="agents" />
          <Figure label="Loop p99" value={formatMs(health.loopDelayP99Ms)} id="loop" tone={toneAbove(health.loopDelayP99Ms, LOOP_WARN_MS, LOOP_BAD_MS)} />
          <Figure label="Memory (RSS)" value={formatBytes(health.rssBytes)} id="rss" />
          <Figure label="Sent" value={formatRate(health.messagesSentPerSecond)} id="sent" />
          <Figure label="Delivered" value={formatRate(health.messagesDeliveredPerSecond)} id="delivered" />
          <Figure label="Queued sends" value={formatCount(health.queuedSends)} id="queued" tone={health.queuedSends ? 'warn' : undefined} />
          <Figure label="Redis RTT" value={formatMs(health.redisRttMs)} id="rtt" tone={toneAbove(health.redisRttMs, RTT_WARN_MS, Infinity)} />
        </dl>
      ) : (
        <p className="muted small" data-testid="hub-health-none">
          {hub.alive ? 'This hub does not report its health (an earlier version).' : 'No figures: the hub is gone.'} Agents connected:{' '}
          <span className="num">{hub.connectedAgents}</span>
        </p>
      )}
      <HubAgents agents={agents} />
    </section>
  );
}

function Figure({ label, value, id, tone }: { label: string; value: string; id: string; tone?: Tone }) {
  return (
    <div className={`hub-figure ${tone ? `tone-${tone}` : ''}`}>
      <dt>{label}</dt>
      <dd className="num" data-testid={`hub-${id}`}>
        {value}
      </dd>
    </div>
  );
}

function toneAbove(value: number | null, warn: number, bad: number): Tone | undefined {
  if (value === null) return undefined;
  if (value > bad) return 'down';
  return value > warn ? 'warn' : undefined;
}

function HubAgents({ agents }: { agents: ClusterAgent[] }) {
  if (agents.length === 0) return <p className="muted small hub-agents-none">No agents on this hub.</p>;
  const connected = agents.filter((agent) => agent.connected).length;
  return (
    <div className="hub-agents">
      <h3 className="hub-agents-title">
        Agents <span className="muted num">{connected} connected of {agents.length}</span>
      </h3>
      <ul className="hub-agent-list" data-testid="hub-agent-list">
        {agents.slice(0, AGENTS_SHOWN).map((agent) => (
          <li key={agent.id} data-testid={`hub-agent-${agent.name}`}>
            <a href={href('agents', agent.id)} className="hub-agent-name" title={`${agent.project}/${agent.name}`}>
              {agent.name}
            </a>
            <span className="muted small hub-agent-project">{agent.project}</span>
            <StatusBadge status={agent.status} />
          </li>
        ))}
      </ul>
      {agents.length > AGENTS_SHOWN && (
        <a className="small" href={href('agents')}>
          and {agents.length - AGENTS_SHOWN} more in Agents
        </a>
      )}
    </div>
  );
}
