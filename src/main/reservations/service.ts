/**
 * File reservations (leases): who holds which paths of a project, exclusively or shared, until when. Active leases are
 * kept in memory (every reserve checks them all) and written through to SQLite, so they outlive a restart.
 *
 * Conflict rule: two leases conflict when they are in the same project, held by different agents, at least one is
 * exclusive, and some path can match a pattern of each (patterns.ts). An expired lease never conflicts; a sweep
 * removes it within a second. Leases end when released, when they expire, and when their holder is revoked.
 *
 * In a cluster (cluster/reservations.ts) the leases of every hub are decided in Redis: a reserve, renew or release
 * is worked out (plans.ts) over the project's leases as Redis holds them and committed only if none changed
 * meanwhile, so two hubs never grant overlapping leases. This hub's memory and SQLite then hold a copy of every
 * hub's leases, for listing and checks.
 */
import type { z } from 'zod';
import type {
  ReleaseRequest,
  ReleaseResponse,
  Reservation,
  ReservationChange,
  ReservationConflict,
  ReservationMode,
  ReservationQuery,
  ReserveRequest,
  ReserveResponse,
} from '../../shared/reservation-protocol';
import type { AgentRecord, AgentRegistry } from '../agents/registry';
import type { SqliteDatabase } from '../db/database';
import { HubError, notFound } from '../errors';
import { ulidGenerator } from '../ids';
import { compileFile, compilePattern, patternsOverlap } from './patterns';
import {
  conflictsAmong,
  patternCount,
  planRelease,
  planRenew,
  planReserve,
  recordOf,
  toLease,
  type Lease,
  type LeaseEffect,
  type LeasePlan,
  type LeaseRecord,
  type ReservationCaller,
} from './plans';

export { reservationConflict, type LeaseEffect, type LeasePlan, type LeaseRecord, type ReservationCaller } from './plans';

/** How often expired leases are removed (and announced): they stop conflicting the moment they expire anyway. */
const SWEEP_MS = 1000;
/** Pattern pairs compared per slice of a check (~0.1-0.3 µs each): a slice stays within a few milliseconds. */
const CHECK_SLICE_PAIRS = 20_000;

type LeaseRow = {
  id: string;
  project: string;
  holder_id: string;
  paths: string;
  mode: ReservationMode;
  reason: string;
  ttl_seconds: number;
  created_at: string;
  expires_at: string;
  renewed_at: string | null;
};

/** The leases every hub of a cluster shares (cluster/reservations.ts). */
export interface SharedLeases {
  /**
   * Works `decide` out over the project's leases as the cluster holds them, at the cluster's time, and commits its
   * effects if no lease of the project changed meanwhile (otherwise decides again). Answers the committed plan.
   */
  commit<T>(project: string, decide: (leases: LeaseRecord[], now: number) => LeasePlan<T>): Promise<LeasePlan<T>>;
  /** Expired leases the cluster may drop (they no longer conflict anyway). */
  dropExpired(leases: LeaseRecord[]): void;
}

/** Hears each change; `fromAnotherHub` when a hub of the cluster made it (this hub only copies it). */
export type ReservationListener = (change: ReservationChange, fromAnotherHub: boolean) => void;

export class ReservationService {
  private readonly leases = new Map<string, Lease>();
  /** The same leases by project: a reserve or check looks at its own project's only. */
  private readonly byProject = new Map<string, Set<Lease>>();
  private readonly listeners = new Set<ReservationListener>();
  private readonly newId = ulidGenerator();
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly offAgents: () => void;
  private readonly statements;
  private shared: SharedLeases | null = null;
  private readonly nameOf = (lease: LeaseRecord) => this.holderName(lease);

  constructor(
    private readonly db: SqliteDatabase,
    private readonly registry: AgentRegistry,
    options: { sweepMs?: number } = {},
  ) {
    this.statements = {
      upsert: db.prepare(
        `INSERT INTO reservations (id, project, holder_id, paths, mode, reason, ttl_seconds, created_at, expires_at, renewed_at)
         VALUES (@id, @project, @holderId, @paths, @mode, @reason, @ttlSeconds, @createdAt, @expiresAt, @renewedAt)
         ON CONFLICT (id) DO UPDATE SET paths = excluded.paths, reason = excluded.reason, ttl_seconds = excluded.ttl_seconds,
           expires_at = excluded.expires_at, renewed_at = excluded.renewed_at`,
      ),
      delete: db.prepare('DELETE FROM reservations WHERE id = ?'),
    };
    for (const row of db.prepare('SELECT * FROM reservations').all() as LeaseRow[]) this.remember(toLease(recordOfRow(row)));
    // What ended while the hub was down goes first.
    this.sweep();
    const revoked = [...this.leases.values()].filter((lease) => this.registry.find(lease.holderId)?.revokedAt);
    this.apply(revoked.map((lease) => ({ kind: 'released', lease, by: 'revoked' })), false);
    this.sweepTimer = setInterval(() => this.sweep(), options.sweepMs ?? SWEEP_MS);
    this.sweepTimer.unref();
    this.offAgents = registry.onChange((info) => {
      if (!info.revoked) return;
      if (this.heldBy(info.project, info.id).length > 0) void this.endRevoked(info.project, info.id);
    });
  }

  /**
   * Joins the cluster's leases: from now on every reserve, renew and release is decided in Redis. Called by the
   * cluster once it has loaded the cluster's leases into this copy (replaceAll).
   */
  attachShared(shared: SharedLeases | null): void {
    this.shared = shared;
  }

  /**
   * Reserves every requested path for the agent, or none (409 naming the leases in the way). The agent's own leases
   * never stand in its way: a lease of the same mode whose paths are all requested again is renewed, and only the
   * paths no such lease covers make a new one.
   */
  async reserve(agent: AgentRecord, request: z.output<typeof ReserveRequest>): Promise<ReserveResponse> {
    const plan = await this.decide(agent.project, (leases, now) => planReserve(agent, request, leases, now, this.newId, this.nameOf));
    const { leases, created } = plan.answer();
    return { reservations: leases.map((lease) => this.view(lease)), created };
  }

  /** The lease lasts ttlSeconds (its own TTL when not given) from now; only its holder renews it. */
  async renew(agent: AgentRecord, id: string, ttlSeconds?: number): Promise<Reservation> {
    const project = this.shared ? this.projectOf(id) : agent.project;
    const plan = await this.decide(project, (leases, now) => planRenew(agent, id, ttlSeconds, leases, now, this.nameOf));
    return this.view(plan.answer());
  }

  /**
   * Releases leases by id (the holder's own; the cockpit's, anyone's) and patterns from the caller's leases. Checked
   * whole before anything changes: one id that is not the caller's refuses the request (in a cluster, per project).
   */
  async release(caller: ReservationCaller, request: z.output<typeof ReleaseRequest>): Promise<ReleaseResponse> {
    // Ids name leases of any project (the cockpit's); each project's are decided on their own.
    const projects = new Map<string, string[]>();
    for (const id of request.ids ?? []) {
      const project = caller.kind === 'agent' && !this.leases.has(id) ? caller.agent.project : this.projectOf(id);
      projects.set(project, [...(projects.get(project) ?? []), id]);
    }
    if (caller.kind === 'agent' && request.paths && !projects.has(caller.agent.project)) projects.set(caller.agent.project, []);
    const answer: ReleaseResponse = { released: [], narrowed: [] };
    for (const [project, ids] of projects) {
      const part = { ...request, ids, paths: caller.kind === 'agent' && project === caller.agent.project ? request.paths : undefined };
      const plan = await this.decide(project, (leases, now) => planRelease(caller, part, leases, now, this.nameOf));
      const { released, narrowed } = plan.answer();
      answer.released.push(...released.map((lease) => this.view(lease)));
      answer.narrowed.push(...narrowed.map((lease) => this.view(lease)));
    }
    return answer;
  }

  /** Active leases, oldest first. */
  list(query: z.output<typeof ReservationQuery> = {}): Reservation[] {
    const now = Date.now();
    const path = query.path === undefined ? undefined : compilePattern(query.path);
    const leases = query.project === undefined ? this.leases.values() : (this.byProject.get(query.project) ?? []);
    return [...leases]
      .filter((lease) => lease.expiresAt > now)
      .filter((lease) => (query.project === undefined || lease.project === query.project) && (query.holder === undefined || lease.holderId === query.holder))
      .filter((lease) => !path || lease.compiled.some((pattern) => patternsOverlap(pattern, path)))
      .sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id))
      .map((lease) => this.view(lease));
  }

  /** One active lease; an unknown or expired one is not found. */
  get(id: string): Reservation {
    return this.view(this.live(id));
  }

  /**
   * The leases that would refuse a reservation of these paths in this mode in the project (other holders' only when
   * `exceptHolder` is given): a shared request meets exclusive leases, an exclusive one meets all. `paths` are
   * patterns, as reserve reads them; `files` are concrete files, taken literally (a file named `[id]` is not a glob).
   */
  async check(project: string, what: { paths?: string[]; files?: string[] }, mode: ReservationMode, exceptHolder?: string): Promise<ReservationConflict[]> {
    const requested = [...[...new Set(what.paths ?? [])].map(compilePattern), ...[...new Set(what.files ?? [])].map(compileFile)];
    // Up to 10,000 paths against a full project: worked through in slices, letting other requests in between.
    const perSlice = Math.max(1, Math.floor(CHECK_SLICE_PAIRS / Math.max(1, patternCount(this.byProject.get(project) ?? [], Date.now()))));
    const byLease = new Map<string, ReservationConflict>();
    for (let start = 0; start < requested.length; start += perSlice) {
      if (start > 0) await new Promise((resolve) => setImmediate(resolve));
      const slice = requested.slice(start, start + perSlice);
      for (const conflict of conflictsAmong(this.byProject.get(project) ?? [], slice, mode, exceptHolder, Date.now(), this.nameOf)) {
        const seen = byLease.get(conflict.reservationId);
        if (!seen) byLease.set(conflict.reservationId, conflict);
        else {
          seen.heldPaths = [...new Set([...seen.heldPaths, ...conflict.heldPaths])];
          seen.requestedPaths.push(...conflict.requestedPaths);
        }
      }
    }
    return [...byLease.values()];
  }

  onChange(listener: ReservationListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    clearInterval(this.sweepTimer);
    this.offAgents();
  }

  // -- the cluster's copy (cluster/reservations.ts) -----------------------------------------------------------------

  /** Changes another hub committed: copied here, and told to this hub's listeners. */
  applyShared(effects: LeaseEffect[]): void {
    this.apply(effects.map((effect) => ({ ...effect, lease: toLease(effect.lease) })), true);
  }

  /** The cluster's leases as a whole (on joining, and after Redis was away): what differs is changed and told. */
  replaceAll(records: LeaseRecord[]): void {
    const now = Date.now();
    const wanted = new Map(records.map((record) => [record.id, record]));
    const effects: LeaseEffect[] = [];
    for (const lease of this.leases.values()) {
      if (wanted.has(lease.id)) continue;
      effects.push(lease.expiresAt <= now ? { kind: 'expired', lease, holderOffline: false } : { kind: 'released', lease, by: 'holder' });
    }
    for (const record of wanted.values()) {
      const known = this.leases.get(record.id);
      if (known && JSON.stringify(recordOf(known)) === JSON.stringify(recordOf(record))) continue;
      effects.push({ kind: known ? 'renewed' : 'added', lease: toLease(record) });
    }
    this.apply(effects, true);
  }

  /** Every lease this copy holds (a hub joining the cluster for the first time offers its own). */
  records(): LeaseRecord[] {
    return [...this.leases.values()].map(recordOf);
  }

  // -- deciding and applying ----------------------------------------------------------------------------------------

  /** Over this hub's leases (alone), or over the cluster's (in Redis); then applied here. */
  private async decide<T>(project: string, plan: (leases: Lease[], now: number) => LeasePlan<T>): Promise<LeasePlan<T>> {
    const shared = this.shared;
    if (!shared) {
      const decided = plan([...(this.byProject.get(project) ?? [])], Date.now());
      this.apply(decided.effects, false);
      return decided;
    }
    const decided = await shared.commit(project, (records, now) => plan(records.map((record) => this.compiled(record)), now));
    this.apply(decided.effects, false);
    return decided;
  }

  /** A record as a lease, its patterns compiled once: the copy's compiled patterns when it has the same ones. */
  private compiled(record: LeaseRecord): Lease {
    const known = this.leases.get(record.id);
    if (known && known.paths.length === record.paths.length && known.paths.every((path, i) => path === record.paths[i])) {
      return { ...recordOf(record), compiled: known.compiled };
    }
    return toLease(record);
  }

  /**
   * Stores the effects in one transaction, then takes them into memory and tells the listeners. A change copied from
   * another hub is kept in memory even if this hub cannot store it (its holder not yet known here, say).
   */
  private apply(effects: LeaseEffect[], fromAnotherHub: boolean): void {
    if (effects.length === 0) return;
    const write = () => {
      for (const effect of effects) {
        if (effect.kind === 'released' || effect.kind === 'expired') this.statements.delete.run(effect.lease.id);
        else if (!fromAnotherHub || this.registry.find(effect.lease.holderId)) this.statements.upsert.run(this.row(effect.lease));
      }
    };
    if (!fromAnotherHub) this.store(write);
    else {
      try {
        this.store(write);
      } catch (error) {
        console.error('[reservations] could not store a copy of another hub\'s lease change:', (error as Error).message);
      }
    }
    for (const effect of effects) {
      if (effect.kind === 'released' || effect.kind === 'expired') this.drop(effect.lease.id);
      else {
        const known = this.leases.get(effect.lease.id);
        if (known) Object.assign(known, effect.lease);
        else this.remember({ ...effect.lease });
      }
      const { lease, ...change } = effect;
      this.emit({ ...change, reservation: this.view(lease) } as ReservationChange, fromAnotherHub);
    }
  }

  /** The revoked agent's leases end (in a cluster, every hub hears the revocation; the first to commit ends them). */
  private async endRevoked(project: string, agentId: string): Promise<void> {
    try {
      await this.decide(project, (leases) => {
        const held = leases.filter((lease) => lease.holderId === agentId);
        return { effects: held.map((lease) => ({ kind: 'released' as const, lease, by: 'revoked' as const })), answer: () => held };
      });
    } catch (error) {
      console.error('[reservations] could not end the leases of a revoked agent:', (error as Error).message);
    }
  }

  /** Removes expired leases, telling whether their holder had gone offline (it could not renew). */
  private sweep(): void {
    if (!this.db.open) return;
    try {
      this.sweepExpired();
    } catch (error) {
      // Expired leases already never conflict; the rows go at the next sweep.
      console.error('[reservations] the expiry sweep failed:', (error as Error).message);
    }
  }

  private sweepExpired(): void {
    const now = Date.now();
    const expired = [...this.leases.values()].filter((lease) => lease.expiresAt <= now);
    if (expired.length === 0) return;
    const effects = expired.map((lease): LeaseEffect => {
      const holder = this.registry.find(lease.holderId);
      return { kind: 'expired', lease, holderOffline: !holder || this.registry.presence(holder) === 'offline' };
    });
    // Every hub tells its own listeners of an expiry; the cluster's copy just drops them.
    this.apply(effects, false);
    this.shared?.dropExpired(expired.map(recordOf));
  }

  private projectOf(id: string): string {
    const lease = this.leases.get(id);
    if (!lease) throw notFound(`there is no reservation ${id}: it was released or expired (reserve the paths again)`);
    return lease.project;
  }

  /** Runs writes in one transaction; a failure (disk full, say) is the documented storage_failed, with nothing changed. */
  private store(writes: () => void): void {
    try {
      this.db.transaction(writes)();
    } catch (error) {
      throw new HubError('storage_failed', `the hub could not store the reservation change: ${(error as Error).message}`);
    }
  }

  /** The agent's leases, from its project's. */
  private heldBy(project: string, agentId: string): Lease[] {
    return [...(this.byProject.get(project) ?? [])].filter((lease) => lease.holderId === agentId);
  }

  private remember(lease: Lease): void {
    this.leases.set(lease.id, lease);
    let inProject = this.byProject.get(lease.project);
    if (!inProject) this.byProject.set(lease.project, (inProject = new Set()));
    inProject.add(lease);
  }

  private drop(id: string): void {
    const lease = this.leases.get(id);
    if (!lease) return;
    this.leases.delete(id);
    const inProject = this.byProject.get(lease.project);
    inProject?.delete(lease);
    if (inProject?.size === 0) this.byProject.delete(lease.project);
  }

  private live(id: string): Lease {
    const lease = this.leases.get(id);
    if (!lease) throw notFound(`there is no reservation ${id}: it was released or expired (reserve the paths again)`);
    if (lease.expiresAt <= Date.now()) throw notFound(`reservation ${id} expired at ${new Date(lease.expiresAt).toISOString()}: reserve the paths again`);
    return lease;
  }

  private holderName(lease: LeaseRecord): string {
    return this.registry.find(lease.holderId)?.name ?? lease.holderId;
  }

  private view(lease: LeaseRecord): Reservation {
    return {
      id: lease.id,
      project: lease.project,
      holderId: lease.holderId,
      holderName: this.holderName(lease),
      paths: [...lease.paths],
      mode: lease.mode,
      reason: lease.reason,
      ttlSeconds: lease.ttlSeconds,
      createdAt: new Date(lease.createdAt).toISOString(),
      expiresAt: new Date(lease.expiresAt).toISOString(),
      renewedAt: lease.renewedAt === null ? null : new Date(lease.renewedAt).toISOString(),
    };
  }

  private row(lease: LeaseRecord) {
    return {
      id: lease.id,
      project: lease.project,
      holderId: lease.holderId,
      paths: JSON.stringify(lease.paths),
      mode: lease.mode,
      reason: lease.reason,
      ttlSeconds: lease.ttlSeconds,
      createdAt: new Date(lease.createdAt).toISOString(),
      expiresAt: new Date(lease.expiresAt).toISOString(),
      renewedAt: lease.renewedAt === null ? null : new Date(lease.renewedAt).toISOString(),
    };
  }

  private emit(change: ReservationChange, fromAnotherHub: boolean): void {
    for (const listener of this.listeners) {
      try {
        listener(change, fromAnotherHub);
      } catch (error) {
        // A watcher's failure must not undo the change, which is already stored.
        console.error('[reservations] a change listener failed:', error);
      }
    }
  }
}

function recordOfRow(row: LeaseRow): LeaseRecord {
  return {
    id: row.id,
    project: row.project,
    holderId: row.holder_id,
    paths: JSON.parse(row.paths) as string[],
    mode: row.mode,
    reason: row.reason,
    ttlSeconds: row.ttl_seconds,
    createdAt: Date.parse(row.created_at),
    expiresAt: Date.parse(row.expires_at),
    renewedAt: row.renewed_at === null ? null : Date.parse(row.renewed_at),
  };
}
