/**
 * The "needs attention" list: every source's items, merged, sorted and cached for a moment (a cockpit, agents and
 * scripts may all ask at once), pushed to the cockpit when it changes (at most once per `changedMs`), and the one
 * action of an item taken on the hub's current state of it.
 */
import { attentionList, type AttentionActResult, type AttentionItem, type AttentionList } from '../../shared/attention-protocol';
import { notFound } from '../errors';
import { performAction } from './actions';
import { agentBacklogSource } from './agents';
import { backupSource } from './backup';
import { bottleneckSource } from './bottlenecks';
import { clusterSource } from './cluster';
import { unacknowledgedSource } from './messages';
import { offlineReservationsSource } from './reservations';
import { servicesSource } from './services';
import { DEFAULT_LIMITS, type AttentionDeps, type AttentionLimits, type AttentionSource, type SourceFactory } from './source';
import { stuckTasksSource } from './tasks';
import { workflowSource } from './workflows';

/** Every source, in no particular order (the list is sorted by severity and age). Another source is added here. */
export const SOURCES: Record<string, SourceFactory> = {
  agents: agentBacklogSource,
  messages: unacknowledgedSource,
  tasks: stuckTasksSource,
  workflows: workflowSource,
  reservations: offlineReservationsSource,
  backup: backupSource,
  services: servicesSource,
  bottlenecks: bottleneckSource,
  cluster: clusterSource,
};

export interface AttentionOptions {
  limits?: Partial<AttentionLimits>;
  /** How long a computed list answers requests. Default 2 s. */
  cacheMs?: number;
  /** The least time between two pushes of a changed list. Default 1 s. */
  changedMs?: number;
  /** Ages grow and agents time out without an event: the list is looked at again this often. Default 15 s. */
  tickMs?: number;
  /** Told the whole (cockpit's) list when it changed. */
  onChanged?: (list: AttentionList) => void;
  /** Whether anyone would hear onChanged now; while nobody does, the list is computed only when asked for. */
  watched?: () => boolean;
}

export class AttentionService {
  private readonly sources: Array<{ name: string; source: AttentionSource }>;
  private readonly failing = new Set<string>();
  private cached: { at: number; items: AttentionItem[] } | null = null;
  private lastSignature = '';
  private timer: NodeJS.Timeout | undefined;
  private tick: NodeJS.Timeout | undefined;
  private readonly unsubscribe: Array<() => void> = [];
  private closed = false;

  constructor(
    private readonly deps: AttentionDeps,
    private readonly options: AttentionOptions = {},
  ) {
    const limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.sources = Object.entries(SOURCES).map(([name, make]) => ({ name, source: make(deps, limits) }));
    if (options.onChanged) this.watch();
  }

  /** The cockpit's list (every project's and the hub's own), or one project's (what an agent of it sees). */
  list(scope: { project?: string } = {}): AttentionList {
    const now = Date.now();
    if (!this.cached || now - this.cached.at >= (this.options.cacheMs ?? 2000)) this.cached = { at: now, items: this.compute(now) };
    const items = scope.project === undefined ? this.cached.items : this.cached.items.filter((item) => item.project === scope.project);
    return attentionList([...items], new Date(this.cached.at));
  }

  /** Takes an item's action as the person at the cockpit, on a fresh look at the item (it may have gone meanwhile). */
  async act(id: string, text?: string): Promise<AttentionActResult> {
    this.cached = null;
    const item = this.list().items.find((candidate) => candidate.id === id);
    if (!item) throw notFound(`nothing needs attention as ${id} now: it may have been dealt with already`);
    const message = await performAction(this.deps, item, text);
    this.cached = null;
    const list = this.list();
    this.push(list);
    return { message, list };
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    clearInterval(this.tick);
    this.unsubscribe.forEach((off) => off());
  }

  private compute(now: number): AttentionItem[] {
    const items: AttentionItem[] = [];
    for (const { name, source } of this.sources) {
      try {
        items.push(...source(now));
        this.failing.delete(name);
      } catch (error) {
        // One broken source must not hide the others; said once, not on every refresh.
        if (!this.failing.has(name)) console.error(`[attention] the ${name} source failed:`, error);
        this.failing.add(name);
      }
    }
    return mergeByAgent(items);
  }

  /** Recomputes soon after anything that can change the list; pushes it only if it changed. */
  private watch(): void {
    const { registry, messaging, tasks, workflows, reservations, backup, services } = this.deps;
    const changed = () => {
      if (this.closed) return;
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        if (this.closed || !this.deps.db.open) return;
        if (this.options.watched && !this.options.watched()) {
          // Nobody to tell: forget what was last told, so the next page to open hears the list as it is then.
          this.lastSignature = '';
          return;
        }
        this.cached = null;
        this.push(this.list());
      }, this.options.changedMs ?? 1000);
    };
    this.unsubscribe.push(
      registry.onChange(changed),
      messaging.onDelivered(changed),
      tasks.onTransition(changed),
      workflows.onChange(changed),
      reservations.onChange(changed),
      backup.scheduler.addListener(changed),
      services.onChange(changed),
      ...(this.deps.advice ? [this.deps.advice.onChange(changed)] : []),
    );
    this.tick = setInterval(changed, this.options.tickMs ?? 15_000);
    this.tick.unref();
  }

  private push(list: AttentionList): void {
    const signature = JSON.stringify(list.items.map((item) => [item.id, item.severity, item.title, item.detail, item.action?.kind ?? null]));
    if (signature === this.lastSignature) return;
    this.lastSignature = signature;
    this.options.onChanged?.(list);
  }
}

/**
 * A present agent that is not reading its inbox and sits on urgent or ack-required messages is one thing to deal
 * with, not two: the unacknowledged item stays (it is the more pressing) with the backlog's figures added.
 * An offline agent keeps both: its backlog (revoke it) and the senders waiting on it.
 */
function mergeByAgent(items: AttentionItem[]): AttentionItem[] {
  const unacknowledged = new Map(items.filter((item) => item.kind === 'unacknowledged').map((item) => [item.id.slice('unacknowledged:'.length), item]));
  return items.filter((item) => {
    if (item.kind !== 'agent-backlog' || item.action?.kind !== 'message-agent') return true;
    const pressing = unacknowledged.get(item.id.slice('agent-backlog:'.length));
    if (!pressing) return true;
    pressing.evidence.push(...item.evidence.filter((evidence) => evidence.label === 'unread'));
    return false;
  });
}
