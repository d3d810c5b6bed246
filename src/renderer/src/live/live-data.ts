/** What the cockpit keeps live from the events: two minutes of metrics, the agent directory and their counts. */
import type { AgentInfo } from '../../../shared/agent-protocol';
import { OPERATIONS, type MetricsSnapshot, type OperationName } from '../../../shared/monitor-protocol';
import type { Transport } from '../transport';
import { invoke } from '../transport/invoke';
import { Store } from './store';

/** Two minutes of one-second ticks. */
export const SERIES_LENGTH = 120;

type OpKey = `${OperationName}P50` | `${OperationName}P99`;

/** One metrics tick, flattened so every chart can name its series by a plain key. */
export type MetricsPoint = {
  t: number;
  sent: number;
  delivered: number;
  stored: number;
  searches: number;
  cpu: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  loopP50: number;
  loopP99: number;
} & Record<OpKey, number | null>;

export interface MetricsState {
  /** `waiting` until the hub's first tick (it ticks once a second from start). */
  state: 'waiting' | 'ready';
  latest: MetricsSnapshot | null;
  points: MetricsPoint[];
}

export interface AgentsState {
  state: 'loading' | 'ready' | 'error';
  error?: string;
  byId: ReadonlyMap<string, AgentInfo>;
}

/** The cockpit's own identity: an agent in the hub's books, but the person, not one of the agents they run. */
export const OVERSEER = { name: 'overseer', project: 'cockpit' } as const;
export const isOverseer = (agent: Pick<AgentInfo, 'name' | 'project'>) => agent.name === OVERSEER.name && agent.project === OVERSEER.project;

export interface AgentCounts {
  registered: number;
  online: number;
  byTier: Record<string, number>;
}

/** Agents (the overseer left out, revoked ones too) and how many are online, per tier, from the live directory. */
export function countAgents(byId: ReadonlyMap<string, AgentInfo>): AgentCounts {
  const counts: AgentCounts = { registered: 0, online: 0, byTier: {} };
  for (const agent of byId.values()) {
    if (agent.revoked || isOverseer(agent)) continue;
    counts.registered++;
    if (agent.status === 'offline') continue;
    counts.online++;
    counts.byTier[agent.tier] = (counts.byTier[agent.tier] ?? 0) + 1;
  }
  return counts;
}

export function toPoint(snapshot: MetricsSnapshot): MetricsPoint {
  const point = {
    t: Date.parse(snapshot.at),
    sent: snapshot.rates.messagesSent,
    delivered: snapshot.rates.messagesDelivered,
    stored: snapshot.rates.memoriesStored,
    searches: snapshot.rates.searches,
    cpu: snapshot.process.cpuPercent,
    rss: snapshot.process.rssBytes,
    heapUsed: snapshot.process.heapUsedBytes,
    heapTotal: snapshot.process.heapTotalBytes,
    loopP50: snapshot.process.eventLoopDelayP50Ms,
    loopP99: snapshot.process.eventLoopDelayP99Ms,
  } as MetricsPoint;
  for (const op of OPERATIONS) {
    point[`${op}P50`] = snapshot.latency[op]?.p50Ms ?? null;
    point[`${op}P99`] = snapshot.latency[op]?.p99Ms ?? null;
  }
  return point;
}

/**
 * What several views share, kept for the whole session so switching views loses no history: the rolling metrics
 * series (from `metrics.tick`) and the agent directory (from `agents.list`, then `agents.changed`).
 */
export class LiveData {
  readonly metrics = new Store<MetricsState>({ state: 'waiting', latest: null, points: [] });
  readonly agents = new Store<AgentsState>({ state: 'loading', byId: new Map() });

  constructor(private readonly transport: Transport) {}

  /** Subscribes and fetches; returns the undo. Safe to call again after the undo (React's strict mode does). */
  start(): () => void {
    const { transport } = this;
    // The hub pushes every change to an agent as `agents.changed`, its traffic counters included (a few times a
    // second), so the directory is fetched only when the connection opens.
    const offs = [
      transport.on('metrics.tick', (snapshot) => this.pushMetrics(snapshot)),
      transport.on('agents.changed', (agent) => this.agentChanged(agent)),
      transport.onConnection((state) => {
        if (state === 'open') this.fetchAll();
      }),
    ];
    if (transport.connection() === 'open') this.fetchAll();
    return () => offs.forEach((off) => off());
  }

  private fetchAll(): void {
    void this.loadAgents();
    // The hub keeps the last two minutes: a reload draws whole charts at once, not from an empty axis.
    invoke(this.transport, 'metrics.history').then(
      (history) => this.mergeHistory(history),
      () => undefined, // the ticks keep coming anyway
    );
  }

  private async loadAgents(): Promise<void> {
    try {
      const list = await invoke(this.transport, 'agents.list');
      this.agents.set({ state: 'ready', byId: new Map(list.map((agent) => [agent.id, agent])) });
    } catch (error) {
      const current = this.agents.get();
      // Keep what is known; a failed refresh of a loaded list is not worth an error screen.
      if (current.state !== 'ready') this.agents.set({ ...current, state: 'error', error: (error as Error).message });
    }
  }

  private agentChanged(agent: AgentInfo): void {
    this.agents.update((current) => {
      const byId = new Map(current.byId);
      byId.set(agent.id, agent);
      return { ...current, byId };
    });
  }

  /** Ticks from the hub's history, merged with any that arrived live meanwhile, by time, each once. */
  private mergeHistory(history: MetricsSnapshot[]): void {
    if (history.length === 0) return;
    this.metrics.update((current) => {
      const byTime = new Map<number, MetricsPoint>();
      for (const point of [...history.map(toPoint), ...current.points]) byTime.set(point.t, point);
      const points = [...byTime.values()].sort((a, b) => a.t - b.t).slice(-SERIES_LENGTH);
      const newest = history[history.length - 1]!;
      const latest = current.latest && Date.parse(current.latest.at) >= Date.parse(newest.at) ? current.latest : newest;
      return { state: 'ready', latest, points };
    });
  }

  private pushMetrics(snapshot: MetricsSnapshot): void {
    this.metrics.update((current) => {
      const point = toPoint(snapshot);
      const last = current.points[current.points.length - 1];
      if (last && last.t >= point.t) return current.latest ? current : { ...current, latest: snapshot };
      const points = current.points.length >= SERIES_LENGTH ? current.points.slice(-(SERIES_LENGTH - 1)) : current.points.slice();
      points.push(point);
      return { state: 'ready', latest: snapshot, points };
    });
  }
}
