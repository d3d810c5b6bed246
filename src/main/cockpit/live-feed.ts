/**
 * What the cockpit watches live, pushed as contract events: agents and file reservations as they change, new messages (batched per tenth
 * of a second, so 1,000 messages/s arrive as 10 events), and a metrics snapshot every second.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { MESSAGE_PREVIEW_BYTES, type LiveMessage } from '../../shared/contract';
import type { MetricsSnapshot } from '../../shared/monitor-protocol';
import type { Hub } from '../hub';
import { previewMessage } from '../messaging/frames';
import type { Delivery } from '../messaging/service';
import type { Metrics } from '../monitor/metrics';
import { taskBoardOf } from '../tasks/board';
import type { EventBus } from './event-bus';

const MESSAGE_BATCH_MS = 100;
/** The stream shows the newest; a burst beyond this per batch is summarised by the throughput chart instead. */
const MAX_MESSAGES_PER_BATCH = 200;
const METRICS_TICK_MS = 1000;
/** Ticks kept for a cockpit that opens (or reloads) mid-session: the two minutes its charts span. */
export const METRICS_HISTORY_TICKS = 120;
/** Task counts go out at most this often: a burst of thousands of transitions is one event per interval. */
const TASKS_CHANGED_MS = 250;

export interface LiveFeed {
  latest(): MetricsSnapshot | null;
  /** The last METRICS_HISTORY_TICKS ticks, oldest first; all but the newest without their slowest operations. */
  history(): MetricsSnapshot[];
  stop(): void;
}

export function startLiveFeed({ events, hub, metrics, dataDir }: { events: EventBus; hub: Hub; metrics: Metrics; dataDir: string }): LiveFeed {
  const offAgents = hub.registry.onChange((agent) => events.emit('agents.changed', agent));
  // The whole list, at most once per batch interval: many clients connecting at once make one event, not one each.
  let mcpTimer: NodeJS.Timeout | undefined;
  const offMcp = hub.mcp.onChange(() => {
    mcpTimer ??= setTimeout(() => {
      mcpTimer = undefined;
      events.emit('mcp.sessions', hub.mcp.list());
    }, MESSAGE_BATCH_MS);
  });
  const offReservations = hub.reservations.onChange((change) => events.emit('reservations.changed', change));
  // Workflow runs: summaries of the changed ones, batched by the engine (once per tenth of a second).
  const offWorkflows = hub.workflows.onChange((runs) => events.emit('workflows.changed', runs));
  // A2A tasks: the list, at most once per batch interval (a send writes its task several times).
  let a2aTimer: NodeJS.Timeout | undefined;
  const offA2a = hub.a2a.store.onChange(() => {
    a2aTimer ??= setTimeout(() => {
      a2aTimer = undefined;
      events.emit('a2a.tasks', hub.a2a.store.cockpitList());
    }, MESSAGE_BATCH_MS);
  });

  const stopTasks = watchTasks(events, hub);

  // The newest deliveries since the last batch, as they are: only those still here when the batch leaves are copied.
  let pending: Delivery[][] = [];
  let pendingCount = 0;
  let batchTimer: NodeJS.Timeout | undefined;
  const offMessages = hub.messaging.onDelivered((deliveries) => {
    pending.push(deliveries);
    pendingCount += deliveries.length;
    while (pendingCount - pending[0]!.length >= MAX_MESSAGES_PER_BATCH) pendingCount -= pending.shift()!.length;
    batchTimer ??= setTimeout(() => {
      batchTimer = undefined;
      const batch: LiveMessage[] = pending
        .flat()
        .slice(-MAX_MESSAGES_PER_BATCH)
        .map(({ message, recipients }) => ({ ...previewMessage(message, MESSAGE_PREVIEW_BYTES), delivery: { recipients: recipients.length, acked: 0 } }));
      pending = [];
      pendingCount = 0;
      events.emit('messages.new', batch);
    }, MESSAGE_BATCH_MS);
  });

  let latest: MetricsSnapshot | null = null;
  // A ring buffer: `next` is where the next tick goes, over the oldest once full.
  const ring: MetricsSnapshot[] = [];
  let next = 0;
  const tick = setInterval(() => {
    latest = metrics.tick({ agents: agentCounts(hub), storage: storageSizes(dataDir, hub) });
    ring[next] = latest;
    next = (next + 1) % METRICS_HISTORY_TICKS;
    events.emit('metrics.tick', latest);
  }, METRICS_TICK_MS);
  tick.unref();

  return {
    latest: () => latest,
    history: () => {
      const ordered = ring.length < METRICS_HISTORY_TICKS ? ring.slice() : [...ring.slice(next), ...ring.slice(0, next)];
      // The charts need the figures of each tick; the slowest list matters only now (and is the bulk of a tick).
      return ordered.map((snapshot, i) => (i === ordered.length - 1 ? snapshot : { ...snapshot, slowest: [] }));
    },
    stop() {
      offAgents();
      offMcp();
      clearTimeout(mcpTimer);
      offReservations();
      offWorkflows();
      offA2a();
      clearTimeout(a2aTimer);
      stopTasks();
      offMessages();
      clearTimeout(batchTimer);
      clearInterval(tick);
    },
  };
}

/**
 * 'tasks.changed': the task counts after tasks changed (any committed transition or progress report), at most once
 * per TASKS_CHANGED_MS; also when an agent's presence changes, which can make waiting work stuck or not.
 */
function watchTasks(events: EventBus, hub: Hub): () => void {
  let timer: NodeJS.Timeout | undefined;
  const changed = () => {
    timer ??= setTimeout(() => {
      timer = undefined;
      if (hub.db.open) events.emit('tasks.changed', taskBoardOf(hub).counts());
    }, TASKS_CHANGED_MS);
  };
  const offTransitions = hub.tasks.onTransition(changed);
  // An agent's traffic counters change many times a second; only its presence matters to stuck work.
  const presence = new Map<string, string>();
  const offAgents = hub.registry.onChange((agent) => {
    const now = agent.revoked ? 'revoked' : agent.status;
    if (presence.get(agent.id) === now) return;
    presence.set(agent.id, now);
    changed();
  });
  return () => {
    offTransitions();
    offAgents();
    clearTimeout(timer);
  };
}

function agentCounts(hub: Hub): MetricsSnapshot['agents'] {
  const byTier: Record<string, number> = {};
  const byStatus: Record<string, number> = {};
  let online = 0;
  // The overseer is the person at the cockpit, not an agent.
  const overseer = hub.registry.ensureOverseer();
  const agents = hub.registry.all().filter((agent) => !agent.revokedAt && agent !== overseer);
  for (const agent of agents) {
    const status = hub.registry.presence(agent);
    byStatus[status] = (byStatus[status] ?? 0) + 1;
    if (status !== 'offline') {
      online++;
      byTier[agent.tier] = (byTier[agent.tier] ?? 0) + 1;
    }
  }
  return { registered: agents.length, online, byTier, byStatus };
}

function storageSizes(dataDir: string, hub: Hub): Record<string, number> {
  const size = (...files: string[]) =>
    files.reduce((total, file) => {
      try {
        return total + statSync(path.join(dataDir, file)).size;
      } catch {
        return total;
      }
    }, 0);
  return {
    // Message bodies in files: the body store's running total (their folder grows without bound; no walk per tick).
    messages: size('hub.sqlite', 'hub.sqlite-wal') + hub.messaging.store.bodies.bytes,
    memory: size('memory.sqlite', 'memory.sqlite-wal'),
    vectors: directorySize(path.join(dataDir, 'vectors')),
  };
}

function directorySize(dir: string): number {
  try {
    // Vector index files sit flat in their folder.
    return readdirSync(dir).reduce((total, name) => total + statSync(path.join(dir, name)).size, 0);
  } catch {
    return 0;
  }
}
