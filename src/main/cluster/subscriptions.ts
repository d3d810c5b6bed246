/**
 * Topic subscriptions known on every hub: each hub keeps the whole cluster's in its own subscriptions table, so a
 * topic send resolves its recipients locally, without asking Redis. A subscribe or unsubscribe made here goes to a
 * Redis set of every subscription (read whole when a hub joins or Redis comes back) and, as a change, on the
 * identity events stream every hub reads.
 */
import type { AgentRecord, AgentRegistry } from '../agents/registry';
import type { MessageStore } from '../messaging/store';
import { EVENTS_KEPT, type SubscriptionEvent } from './identity';
import type { ClusterKeys } from './keys';
import type { RedisLink } from './redis-link';

type Change = { agentId: string; topics: string[]; subscribed: boolean };

const member = (agentId: string, topic: string) => `${agentId}\u0000${topic}`;

export class ClusterSubscriptions {
  private store: MessageStore | null = null;
  /** Changes made while Redis was away, sent in order once it is back. */
  private backlog: Change[] = [];
  private off: (() => void) | null = null;

  constructor(
    private readonly link: RedisLink,
    private readonly keys: ClusterKeys,
    private readonly registry: AgentRegistry,
    private readonly hubId: string,
    private readonly shared: (agent: AgentRecord) => boolean,
  ) {}

  attach(store: MessageStore): void {
    this.store = store;
    this.off = store.onSubscriptionChange((agentId, topics, subscribed) => void this.publish({ agentId, topics: [...topics], subscribed }));
    this.link.onChange((state) => {
      if (state.connected) void this.resync();
    });
    if (this.link.current.connected) void this.resync();
  }

  /** A change another hub published. */
  take(event: SubscriptionEvent): void {
    if (event.hub === this.hubId || !this.store || !this.registry.find(event.agentId)) return;
    this.store.setSubscriptions(event.agentId, event.topics, event.subscribed);
  }

  stop(): void {
    this.off?.();
  }

  private async publish(change: Change): Promise<void> {
    const agent = this.registry.find(change.agentId);
    if (!agent || !this.shared(agent) || change.topics.length === 0) return;
    if (!this.link.current.connected) {
      this.backlog.push(change);
      return;
    }
    const event: SubscriptionEvent = { kind: 'subscription', hub: this.hubId, ...change };
    const members = change.topics.map((topic) => member(change.agentId, topic));
    try {
      const multi = this.link.commands.multi();
      if (change.subscribed) multi.sAdd(this.keys.subscriptions, members);
      else multi.sRem(this.keys.subscriptions, members);
      multi.xAdd(this.keys.events, '*', { event: JSON.stringify(event) }, { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: EVENTS_KEPT } });
      await multi.exec();
    } catch {
      this.backlog.push(change);
    }
  }

  /** Joined, or Redis is back: this hub's waiting changes go, then the cluster's set and this hub's table agree. */
  private async resync(): Promise<void> {
    const store = this.store;
    if (!store) return;
    try {
      for (const change of this.backlog.splice(0)) await this.publish(change);
      const all = new Set(await this.link.commands.sMembers(this.keys.subscriptions));
      const byAgent = new Map<string, string[]>();
      for (const text of all) {
        const [agentId, topic] = text.split('\u0000') as [string, string];
        if (!this.registry.find(agentId)) continue;
        let topics = byAgent.get(agentId);
        if (!topics) byAgent.set(agentId, (topics = []));
        topics.push(topic);
      }
      for (const [agentId, topics] of byAgent) store.setSubscriptions(agentId, topics, true);
      for (const { agentId, topic } of store.allSubscriptions()) {
        if (all.has(member(agentId, topic))) continue;
        const agent = this.registry.find(agentId);
        if (!agent || !this.shared(agent)) continue;
        // This hub's own agents' subscriptions the cluster lacks are shared; another hub's agent unsubscribed there.
        if (agent.remote === null) await this.link.commands.sAdd(this.keys.subscriptions, member(agentId, topic));
        else store.setSubscriptions(agentId, [topic], false);
      }
    } catch {
      // Redis dropped again: the next reconnection tries once more.
    }
  }
}
