/**
 * File reservations with one owner cluster-wide. Every project's active leases live in one Redis hash, beside a
 * version number that every change increments. A reserve, renew or release reads the hash, the version and Redis's
 * clock, decides in the hub (reservations/plans.ts: the glob geometry is JavaScript), and commits through a Lua
 * script that applies the decision only if the version is still the one read; otherwise it reads and decides again.
 * Two hubs racing for overlapping paths thus never both succeed, and expiry is judged by one clock, Redis's.
 *
 * The same script appends the committed changes to a stream that every hub follows, to keep its own copy (memory and
 * SQLite) for listing, the cockpit and the git guard's checks, each entry numbered with the project's version: a hub
 * applies its own commits at once, so it skips another hub's older change of a lease it has changed since (a renew
 * read after its own release would bring the lease back). A hub that lost Redis reloads every lease when it
 * is back. Without Redis a hub refuses reserves, renewals and releases (503 cluster_unavailable): granting one alone
 * could give a second owner.
 */
import { HubError } from '../errors';
import { ulidGenerator } from '../ids';
import { compilePattern, patternsOverlap } from '../reservations/patterns';
import type { LeaseEffect, LeasePlan, LeaseRecord, ReservationService, SharedLeases } from '../reservations/service';
import type { ClusterKeys } from './keys';
import type { RedisLink } from './redis-link';

/** Attempts of one decision before it gives up (each lost only to another change of the same project). */
const MAX_ATTEMPTS = 50;
const CHANGES_KEPT = 100_000;
const FOLLOW_MS = 50;
const FOLLOW_COUNT = 500;

/** KEYS: hash, version. Answers [version, seconds, microseconds, hash as field/value pairs]. */
const READ_SCRIPT = `
local version = redis.call('GET', KEYS[2]) or '0'
local now = redis.call('TIME')
return {version, now[1], now[2], redis.call('HGETALL', KEYS[1])}
`;

/**
 * KEYS: hash, version, projects, changes. ARGV: the version read, the project, the decision as JSON
 * {put: [[id, lease json]], del: [id], event: json or ""}, changes kept. Answers the project's new version when applied,
 0 when the version moved on. The stream entry carries that version, so a hub can apply the changes in their order.
 */
const COMMIT_SCRIPT = `
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[1] then return 0 end
local decision = cjson.decode(ARGV[3])
for _, put in ipairs(decision.put) do redis.call('HSET', KEYS[1], put[1], put[2]) end
for _, id in ipairs(decision.del) do redis.call('HDEL', KEYS[1], id) end
local version = redis.call('INCR', KEYS[2])
redis.call('SADD', KEYS[3], ARGV[2])
if decision.event ~= '' then redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[4], '*', 'event', decision.event, 'version', version) end
return version
`;

/** KEYS: hash. ARGV: ids. Drops those that have expired by Redis's clock (no version change: they decide nothing). */
const DROP_EXPIRED_SCRIPT = `
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
for _, id in ipairs(ARGV) do
  local text = redis.call('HGET', KEYS[1], id)
  if text and cjson.decode(text).expiresAt <= ms then redis.call('HDEL', KEYS[1], id) end
end
return 1
`;

/** One commit as the stream carries it: which hub, and what changed. */
interface ChangeEvent {
  hub: string;
  commit: string;
  effects: Array<Omit<LeaseEffect, 'lease'> & { lease: LeaseRecord }>;
}

export class ClusterReservations implements SharedLeases {
  private lastId = '0-0';
  private stopped = false;
  private following: Promise<void> | null = null;
  /** Commits this hub sent and applies itself: their stream entries are skipped. */
  private readonly mine = new Set<string>();
  private readonly newCommitId = ulidGenerator();
  private offLink: (() => void) | null = null;
  /** Until the first load, nothing is decided: not even alone, which could give a path a second owner. */
  private loaded = false;
  private offering = false;
  /**
   * The version of each lease's last change this hub committed itself (and applied at once), until the stream has
   * passed it: another hub's older change of that lease, read from the stream later, must not undo it.
   */
  private readonly ownChanges = new Map<string, { project: string; version: number }>();
  /** Each project's version when its leases were last loaded whole: older stream entries are in that load. */
  private readonly loadedVersion = new Map<string, number>();

  /** From now on the service decides in Redis (refusing until the cluster's leases are loaded, by start). */
  constructor(
    private readonly link: RedisLink,
    private readonly keys: ClusterKeys,
    private readonly service: ReservationService,
    private readonly hubId: string,
  ) {
    service.attachShared(this);
    // Each time Redis is back: every lease again, as the cluster holds them.
    this.offLink = this.link.onChange((state) => {
      if (state.connected && this.following) void this.sync().catch(() => undefined);
    });
  }

  /** Loads the cluster's leases (offering this hub's own on its first join), then follows the changes. */
  async start(): Promise<void> {
    this.following ??= this.follow();
    await this.sync();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.offLink?.();
    this.service.attachShared(null);
    await this.following;
  }

  async commit<T>(project: string, decide: (leases: LeaseRecord[], now: number) => LeasePlan<T>): Promise<LeasePlan<T>> {
    const keys = [this.keys.reservations(project), this.keys.reservationsVersion(project)];
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (!this.link.current.connected || (!this.loaded && !this.offering)) throw unavailable();
      let read: [string, string, string, string[]];
      try {
        read = (await this.link.commands.eval(READ_SCRIPT, { keys })) as typeof read;
      } catch {
        throw unavailable();
      }
      const [version, seconds, micros, pairs] = read;
      const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
      const leases: LeaseRecord[] = [];
      for (let i = 1; i < pairs.length; i += 2) leases.push(JSON.parse(pairs[i]!) as LeaseRecord);
      const plan = decide(leases, now);
      // Leases that expired by Redis's clock go with the decision; each hub's sweep tells its listeners.
      const expired = leases.filter((lease) => lease.expiresAt <= now && !plan.effects.some((effect) => effect.lease.id === lease.id)).map((lease) => lease.id);
      if (plan.effects.length === 0 && expired.length === 0) return plan;
      const commit = this.newCommitId();
      const event: ChangeEvent = { hub: this.hubId, commit, effects: plan.effects.map((effect) => ({ ...effect, lease: record(effect.lease) })) };
      const decision = {
        put: plan.effects.filter((effect) => !ends(effect)).map((effect) => [effect.lease.id, JSON.stringify(record(effect.lease))]),
        del: [...plan.effects.filter(ends).map((effect) => effect.lease.id), ...expired],
        event: plan.effects.length > 0 ? JSON.stringify(event) : '',
      };
      this.mine.add(commit);
      let applied: unknown;
      try {
        applied = await this.link.commands.eval(COMMIT_SCRIPT, {
          keys: [...keys, this.keys.reservationProjects, this.keys.reservationChanges],
          arguments: [version, project, JSON.stringify(decision), String(CHANGES_KEPT)],
        });
      } catch {
        // Perhaps applied, perhaps not: this hub reloads every lease once Redis is back.
        this.mine.delete(commit);
        throw unavailable();
      }
      if (typeof applied === 'number' && applied > 0) {
        for (const effect of plan.effects) this.ownChanges.set(effect.lease.id, { project, version: applied });
        return plan;
      }
      this.mine.delete(commit);
      // Another change of this project came first: decide again over what it left.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(2 ** attempt, 20)));
    }
    throw new HubError('cluster_busy', `project ${project}'s reservations changed ${MAX_ATTEMPTS} times while this one was decided: try again`, 503);
  }

  dropExpired(leases: LeaseRecord[]): void {
    if (!this.link.current.connected) return;
    const byProject = new Map<string, string[]>();
    for (const lease of leases) byProject.set(lease.project, [...(byProject.get(lease.project) ?? []), lease.id]);
    for (const [project, ids] of byProject) {
      this.link.commands.eval(DROP_EXPIRED_SCRIPT, { keys: [this.keys.reservations(project)], arguments: ids }).catch(() => undefined);
    }
  }

  /** Reads every project's leases; on this hub's first join, its own leases go in first where nothing conflicts. */
  private async sync(): Promise<void> {
    const redis = this.link.commands;
    // The stream's end first, then the leases: a change in between is both loaded and read again, never lost.
    const last = await redis.xRevRange(this.keys.reservationChanges, '+', '-', { COUNT: 1 });
    const from = last?.[0]?.id ?? '0-0';
    if (await redis.sAdd(this.keys.reservationHubs, this.hubId)) await this.offerOwn();
    const records: LeaseRecord[] = [];
    this.loadedVersion.clear();
    for (const project of await redis.sMembers(this.keys.reservationProjects)) {
      // The leases with their version, read at once.
      const [version, , , pairs] = (await redis.eval(READ_SCRIPT, { keys: [this.keys.reservations(project), this.keys.reservationsVersion(project)] })) as [string, string, string, string[]];
      this.loadedVersion.set(project, Number(version));
      for (let i = 1; i < pairs.length; i += 2) records.push(JSON.parse(pairs[i]!) as LeaseRecord);
    }
    this.ownChanges.clear();
    this.lastId = from;
    this.service.replaceAll(records);
    this.loaded = true;
  }

  /** A hub that ran alone before: each of its leases joins the cluster's unless another hub's is in the way. */
  private async offerOwn(): Promise<void> {
    this.offering = true;
    try {
      await this.offerEach();
    } finally {
      this.offering = false;
    }
  }

  private async offerEach(): Promise<void> {
    for (const lease of this.service.records()) {
      await this.commit(lease.project, (leases, now) => {
        if (lease.expiresAt <= now || leases.some((other) => other.id === lease.id)) return { effects: [], answer: () => null };
        const taken = leases.some((other) => other.holderId !== lease.holderId && other.expiresAt > now && (other.mode === 'exclusive' || lease.mode === 'exclusive') && overlapsAny(other, lease));
        // One that conflicts stays out, and replaceAll ends it here.
        return taken ? { effects: [], answer: () => null } : { effects: [{ kind: 'added', lease: { ...lease, compiled: [] } }], answer: () => null };
      }).catch(() => undefined);
    }
  }

  /**
   * Another hub's change, unless this hub already has a newer state of its project (a load) or of the lease (its own
   * later change, applied at once, while the stream still carried older ones).
   */
  private applyInOrder(event: ChangeEvent, version: number): void {
    const project = event.effects[0]?.lease.project;
    if (project === undefined) return;
    if (this.mine.delete(event.commit)) {
      // Its effects are applied already.
    } else if (version === 0) {
      this.service.applyShared(event.effects as LeaseEffect[]); // from a hub that does not number its changes
    } else if (version > (this.loadedVersion.get(project) ?? 0)) {
      const effects = event.effects.filter((effect) => version > (this.ownChanges.get(effect.lease.id)?.version ?? 0));
      if (effects.length > 0) this.service.applyShared(effects as LeaseEffect[]);
    }
    // No older change of this project can follow in the stream.
    for (const [id, own] of this.ownChanges) if (own.project === project && own.version <= version) this.ownChanges.delete(id);
  }

  private async follow(): Promise<void> {
    while (!this.stopped) {
      await new Promise((resolve) => setTimeout(resolve, FOLLOW_MS));
      if (!this.link.current.connected || !this.loaded) continue;
      try {
        const reply = await this.link.commands.xRead({ key: this.keys.reservationChanges, id: this.lastId }, { COUNT: FOLLOW_COUNT });
        const streams = (reply ?? []) as Array<{ messages: Array<{ id: string; message: Record<string, string> }> }>;
        for (const stream of streams) {
          for (const entry of stream.messages) {
            this.lastId = entry.id;
            const event = JSON.parse(entry.message.event!) as ChangeEvent;
            this.applyInOrder(event, Number(entry.message.version ?? 0));
          }
        }
      } catch {
        // Redis went away: the link's reconnection reloads every lease.
      }
    }
  }
}

function unavailable(): HubError {
  return new HubError('cluster_unavailable', "the cluster's Redis cannot be reached: reservations are granted, renewed and released only through it, so that a path never has two owners; try again once it is back", 503);
}

function ends(effect: LeaseEffect): boolean {
  return effect.kind === 'released' || effect.kind === 'expired';
}

function record(lease: LeaseRecord): LeaseRecord {
  const { id, project, holderId, paths, mode, reason, ttlSeconds, createdAt, expiresAt, renewedAt } = lease;
  return { id, project, holderId, paths, mode, reason, ttlSeconds, createdAt, expiresAt, renewedAt };
}

/** Whether some path can match a pattern of each lease. */
function overlapsAny(a: LeaseRecord, b: LeaseRecord): boolean {
  const theirs = a.paths.map(compilePattern);
  return b.paths.map(compilePattern).some((mine) => theirs.some((other) => patternsOverlap(mine, other)));
}
