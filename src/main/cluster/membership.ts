/**
 * Which hubs make up the cluster: each announces itself every heartbeat under a key that expires after hubTtlMs,
 * and reads the others' announcements. A hub whose announcement expired is gone: its agents are shown offline.
 */
import type { ClusterHub, HubHealth, HubTraffic } from '../../shared/cluster-protocol';
import type { ClusterKeys } from './keys';
import type { RedisLink } from './redis-link';

/** A hub gone this long is dropped from the list. */
const FORGET_GONE_HUB_MS = 24 * 60 * 60 * 1000;

export interface HubSelf {
  id: string;
  name: string;
  apiUrl: () => string | null;
  startedAt: string;
  connectedAgents: () => number;
  /** The hub's own figures (the live feed's last metrics tick); the round trip to Redis is measured here. */
  health: () => Omit<HubHealth, 'redisRttMs'>;
  /** What it sent to and received from the other hubs, once cross-hub messages run. */
  traffic: () => HubTraffic[] | undefined;
}

export class Membership {
  private readonly hubs = new Map<string, ClusterHub>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  /** How long the last announcement took, Redis's answer included. */
  private redisRttMs: number | null = null;

  constructor(
    private readonly link: RedisLink,
    private readonly keys: ClusterKeys,
    private readonly self: HubSelf,
    private readonly timing: { heartbeatMs: number; hubTtlMs: number },
    private readonly onHubGone: (hubId: string) => void,
  ) {}

  start(): void {
    const tick = () => {
      // One round at a time: a slow Redis must not pile rounds up.
      this.running ??= this.round()
        .catch(() => {
          // No answer from Redis: no round trip to report until the next one succeeds.
          this.redisRttMs = null;
        })
        .finally(() => (this.running = null));
    };
    tick();
    this.timer = setInterval(tick, this.timing.heartbeatMs);
    this.timer.unref();
  }

  /** Every hub as last read from Redis, this one as it is now (its figures stay current while Redis is away). */
  list(): ClusterHub[] {
    const hubs = [...this.hubs.values()];
    const self = hubs.findIndex((hub) => hub.id === this.self.id);
    if (self >= 0) hubs[self] = { ...this.announcement(), seenAt: hubs[self]!.seenAt };
    return hubs.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
    // Leaving on purpose: the others see this hub gone at once rather than after its time to live.
    if (this.link.current.connected) await this.link.commands.del(this.keys.hub(this.self.id)).catch(() => undefined);
  }

  /** Announces this hub, then reads every hub's announcement. */
  private async round(): Promise<void> {
    const me = this.announcement();
    const redis = this.link.commands;
    const sent = performance.now();
    await redis
      .multi()
      .set(this.keys.hub(me.id), JSON.stringify(me), { expiration: { type: 'PX', value: this.timing.hubTtlMs } })
      .sAdd(this.keys.hubs, me.id)
      .exec();
    this.redisRttMs = performance.now() - sent;
    const ids = await redis.sMembers(this.keys.hubs);
    const announcements = ids.length === 0 ? [] : await redis.mGet(ids.map((id) => this.keys.hub(id)));
    const now = Date.now();
    for (const [index, id] of ids.entries()) {
      const text = announcements[index];
      const known = this.hubs.get(id);
      if (text) {
        // A hub of an earlier version announces no health or traffic: those fields stay absent.
        this.hubs.set(id, { ...(JSON.parse(text) as ClusterHub), alive: true });
        continue;
      }
      if (!known) {
        this.hubs.set(id, { id, name: id, apiUrl: null, startedAt: '', seenAt: new Date(0).toISOString(), connectedAgents: 0, alive: false });
        this.onHubGone(id);
      } else if (known.alive) {
        this.hubs.set(id, { ...known, alive: false, connectedAgents: 0 });
        this.onHubGone(id);
      } else if (now - Date.parse(known.seenAt) > FORGET_GONE_HUB_MS) {
        this.hubs.delete(id);
        await redis.sRem(this.keys.hubs, id);
      }
    }
  }

  private announcement(): ClusterHub {
    const traffic = this.self.traffic();
    return {
      id: this.self.id,
      name: this.self.name,
      apiUrl: this.self.apiUrl(),
      startedAt: this.self.startedAt,
      seenAt: new Date().toISOString(),
      connectedAgents: this.self.connectedAgents(),
      alive: true,
      health: { ...this.self.health(), redisRttMs: this.redisRttMs },
      ...(traffic ? { traffic } : {}),
    };
  }
}
