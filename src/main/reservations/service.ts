/**
 * File reservations (leases): who holds which paths of a project, exclusively or shared, until when. Active leases are
 * kept in memory (every reserve checks them all) and written through to SQLite, so they outlive a restart.
 *
 * Conflict rule: two leases conflict when they are in the same project, held by different agents, at least one is
 * exclusive, and some path can match a pattern of each (patterns.ts). An expired lease never conflicts; a sweep
 * removes it within a second. Leases end when released, when they expire, and when their holder is revoked.
 */
import type { z } from 'zod';
import {
  MAX_HELD_PATHS_PER_AGENT,
  MAX_HELD_PATHS_PER_PROJECT,
  type ReleaseRequest,
  type ReleaseResponse,
  type Reservation,
  type ReservationChange,
  type ReservationConflict,
  type ReservationMode,
  type ReservationQuery,
  type ReserveRequest,
  type ReserveResponse,
} from '../../shared/reservation-protocol';
import type { AgentRecord, AgentRegistry } from '../agents/registry';
import type { SqliteDatabase } from '../db/database';
import { badRequest, forbidden, HubError, notFound } from '../errors';
import { ulidGenerator } from '../ids';
import { compileFile, compilePattern, patternsOverlap, type CompiledPattern } from './patterns';

/** How often expired leases are removed (and announced): they stop conflicting the moment they expire anyway. */
const SWEEP_MS = 1000;
/** Pattern pairs compared per slice of a check (~0.1-0.3 µs each): a slice stays within a few milliseconds. */
const CHECK_SLICE_PAIRS = 20_000;

/** Who acts: an agent on its own leases, or the person at the cockpit on anyone's. */
export type ReservationCaller = { kind: 'agent'; agent: AgentRecord } | { kind: 'cockpit' };

interface Lease {
  id: string;
  project: string;
  holderId: string;
  paths: string[];
  compiled: CompiledPattern[];
  mode: ReservationMode;
  reason: string;
  ttlSeconds: number;
  createdAt: number;
  expiresAt: number;
  renewedAt: number | null;
}

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

/** How leases ended: released (by whom), or expired (given per lease: whether its holder was offline). */
type EndedHow =
  | Omit<Extract<ReservationChange, { kind: 'released' }>, 'reservation'>
  | ((lease: Lease) => Omit<Extract<ReservationChange, { kind: 'expired' }>, 'reservation'>);

/** A refused reservation: 409 with the leases in the way, over every surface. */
export function reservationConflict(conflicts: ReservationConflict[]): HubError {
  const parts = conflicts.map(
    (c) => `${c.requestedPaths.join(', ')} overlaps ${c.heldPaths.join(', ')} held ${c.mode === 'exclusive' ? 'exclusively' : 'shared'} by ${c.holderName} until ${c.expiresAt}${c.reason ? ` (${c.reason})` : ''}`,
  );
  const holders = [...new Set(conflicts.map((c) => c.holderName))].join(', ');
  const error = new HubError(
    'reservation_conflict',
    `nothing was reserved: ${parts.join('; ')}. Wait until the lease ends, ask ${holders} to release it, or reserve other paths`,
  );
  error.details = { conflicts };
  return error;
}

export class ReservationService {
  private readonly leases = new Map<string, Lease>();
  /** The same leases by project: a reserve or check looks at its own project's only. */
  private readonly byProject = new Map<string, Set<Lease>>();
  private readonly listeners = new Set<(change: ReservationChange) => void>();
  private readonly newId = ulidGenerator();
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly offAgents: () => void;
  private readonly statements;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly registry: AgentRegistry,
    options: { sweepMs?: number } = {},
  ) {
    this.statements = {
      insert: db.prepare(
        `INSERT INTO reservations (id, project, holder_id, paths, mode, reason, ttl_seconds, created_at, expires_at, renewed_at)
         VALUES (@id, @project, @holderId, @paths, @mode, @reason, @ttlSeconds, @createdAt, @expiresAt, @renewedAt)`,
      ),
      update: db.prepare(
        'UPDATE reservations SET paths = @paths, reason = @reason, ttl_seconds = @ttlSeconds, expires_at = @expiresAt, renewed_at = @renewedAt WHERE id = @id',
      ),
      delete: db.prepare('DELETE FROM reservations WHERE id = ?'),
    };
    for (const row of db.prepare('SELECT * FROM reservations').all() as LeaseRow[]) {
      const paths = JSON.parse(row.paths) as string[];
      this.remember({
        id: row.id,
        project: row.project,
        holderId: row.holder_id,
        paths,
        compiled: paths.map(compilePattern),
        mode: row.mode,
        reason: row.reason,
        ttlSeconds: row.ttl_seconds,
        createdAt: Date.parse(row.created_at),
        expiresAt: Date.parse(row.expires_at),
        renewedAt: row.renewed_at === null ? null : Date.parse(row.renewed_at),
      });
    }
    // What ended while the hub was down goes first.
    this.sweep();
    for (const lease of this.leases.values()) if (this.registry.find(lease.holderId)?.revokedAt) this.end([lease], { kind: 'released', by: 'revoked' });
    this.sweepTimer = setInterval(() => this.sweep(), options.sweepMs ?? SWEEP_MS);
    this.sweepTimer.unref();
    this.offAgents = registry.onChange((info) => {
      if (!info.revoked) return;
      const held = this.heldBy(info.project, info.id);
      if (held.length > 0) this.end(held, { kind: 'released', by: 'revoked' });
    });
  }

  /**
   * Reserves every requested path for the agent, or none (409 naming the leases in the way). The agent's own leases
   * never stand in its way: a lease of the same mode whose paths are all requested again is renewed, and only the
   * paths no such lease covers make a new one.
   */
  reserve(agent: AgentRecord, request: z.output<typeof ReserveRequest>): ReserveResponse {
    const now = Date.now();
    const paths = [...new Set(request.paths)];
    const compiled = paths.map(compilePattern);
    const conflicts = this.conflicts(agent.project, compiled, request.mode, agent.id, now);
    if (conflicts.length > 0) throw reservationConflict(conflicts);

    const wanted = new Set(paths);
    const own = this.heldBy(agent.project, agent.id, now);
    const renewing = own.filter((lease) => lease.mode === request.mode && lease.paths.every((path) => wanted.has(path)));
    const covered = new Set(renewing.flatMap((lease) => lease.paths));
    const fresh = paths.filter((path) => !covered.has(path));
    const held = own.reduce((total, lease) => total + lease.paths.length, 0);
    if (held + fresh.length > MAX_HELD_PATHS_PER_AGENT) {
      throw badRequest(`an agent may hold at most ${MAX_HELD_PATHS_PER_AGENT} paths at once (you hold ${held}): release some, or reserve a folder or glob`);
    }
    const inProject = this.patternCount(agent.project, now);
    if (inProject + fresh.length > MAX_HELD_PATHS_PER_PROJECT) {
      throw badRequest(`a project's agents may hold at most ${MAX_HELD_PATHS_PER_PROJECT} paths at once (project ${agent.project} holds ${inProject}): release some, or reserve folders or globs`);
    }

    const expiresAt = now + request.ttlSeconds * 1000;
    const renewals = renewing.map((lease) => ({ lease, next: { ...lease, ttlSeconds: request.ttlSeconds, expiresAt, renewedAt: now, reason: request.reason || lease.reason } }));
    const created: Lease | undefined =
      fresh.length === 0
        ? undefined
        : {
            id: this.newId(),
            project: agent.project,
            holderId: agent.id,
            paths: fresh,
            compiled: fresh.map(compilePattern),
            mode: request.mode,
            reason: request.reason,
            ttlSeconds: request.ttlSeconds,
            createdAt: now,
            expiresAt,
            renewedAt: null,
          };
    // Stored first, then taken into memory: a failed write leaves both as they were.
    this.store(() => {
      for (const { next } of renewals) this.statements.update.run(this.row(next));
      if (created) this.statements.insert.run(this.row(created));
    });
    for (const { lease, next } of renewals) Object.assign(lease, next);
    if (created) this.remember(created);
    for (const lease of renewing) this.emit({ kind: 'renewed', reservation: this.view(lease) });
    if (created) this.emit({ kind: 'added', reservation: this.view(created) });
    return { reservations: [...renewing, ...(created ? [created] : [])].map((lease) => this.view(lease)), created: created !== undefined };
  }

  /** The lease lasts ttlSeconds (its own TTL when not given) from now; only its holder renews it. */
  renew(agent: AgentRecord, id: string, ttlSeconds?: number): Reservation {
    const lease = this.live(id);
    if (lease.holderId !== agent.id) throw forbidden(`reservation ${id} is held by ${this.holderName(lease)}: only its holder renews it`);
    const now = Date.now();
    const ttl = ttlSeconds ?? lease.ttlSeconds;
    const next = { ...lease, ttlSeconds: ttl, expiresAt: now + ttl * 1000, renewedAt: now };
    this.store(() => this.statements.update.run(this.row(next)));
    Object.assign(lease, next);
    const reservation = this.view(lease);
    this.emit({ kind: 'renewed', reservation });
    return reservation;
  }

  /**
   * Releases leases by id (the holder's own; the cockpit's, anyone's) and patterns from the caller's leases. Checked
   * whole before anything changes: one id that is not the caller's refuses the request.
   */
  release(caller: ReservationCaller, request: z.output<typeof ReleaseRequest>): ReleaseResponse {
    const byId = (request.ids ?? []).map((id) => {
      const lease = this.live(id);
      if (caller.kind === 'agent' && lease.holderId !== caller.agent.id) {
        throw forbidden(`reservation ${id} is held by ${this.holderName(lease)}: only its holder or the person at the cockpit may release it`);
      }
      return lease;
    });
    const ending = new Set(byId);
    const narrowing = new Map<Lease, string[]>();
    if (request.paths) {
      if (caller.kind !== 'agent') throw badRequest('the cockpit releases leases by id (ids), not by paths');
      const dropped = new Set(request.paths);
      for (const lease of this.heldBy(caller.agent.project, caller.agent.id)) {
        if (ending.has(lease) || !lease.paths.some((path) => dropped.has(path))) continue;
        const kept = lease.paths.filter((path) => !dropped.has(path));
        if (kept.length === 0) ending.add(lease);
        else narrowing.set(lease, kept);
      }
    }
    // One transaction for the whole release, then memory and the events.
    this.store(() => {
      for (const [lease, kept] of narrowing) this.statements.update.run(this.row({ ...lease, paths: kept }));
      for (const lease of ending) this.statements.delete.run(lease.id);
    });
    for (const [lease, kept] of narrowing) {
      lease.paths = kept;
      lease.compiled = kept.map(compilePattern);
      this.emit({ kind: 'narrowed', reservation: this.view(lease) });
    }
    const released = this.forget([...ending], { kind: 'released', by: caller.kind === 'agent' ? 'holder' : 'cockpit' });
    return { released, narrowed: [...narrowing.keys()].map((lease) => this.view(lease)) };
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
    const perSlice = Math.max(1, Math.floor(CHECK_SLICE_PAIRS / Math.max(1, this.patternCount(project, Date.now()))));
    const byLease = new Map<string, ReservationConflict>();
    for (let start = 0; start < requested.length; start += perSlice) {
      if (start > 0) await new Promise((resolve) => setImmediate(resolve));
      for (const conflict of this.conflicts(project, requested.slice(start, start + perSlice), mode, exceptHolder, Date.now())) {
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

  onChange(listener: (change: ReservationChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    clearInterval(this.sweepTimer);
    this.offAgents();
  }

  private conflicts(project: string, requested: CompiledPattern[], mode: ReservationMode, exceptHolder: string | undefined, now: number): ReservationConflict[] {
    const conflicts: ReservationConflict[] = [];
    for (const lease of this.byProject.get(project) ?? []) {
      if (lease.holderId === exceptHolder || lease.expiresAt <= now) continue;
      if (mode === 'shared' && lease.mode === 'shared') continue;
      const heldPaths = new Set<string>();
      const requestedPaths = new Set<string>();
      for (const held of lease.compiled) {
        for (const wanted of requested) {
          if (!patternsOverlap(held, wanted)) continue;
          heldPaths.add(held.source);
          requestedPaths.add(wanted.source);
        }
      }
      if (heldPaths.size === 0) continue;
      conflicts.push({
        reservationId: lease.id,
        holderId: lease.holderId,
        holderName: this.holderName(lease),
        mode: lease.mode,
        heldPaths: [...heldPaths],
        requestedPaths: [...requestedPaths],
        reason: lease.reason,
        expiresAt: new Date(lease.expiresAt).toISOString(),
      });
    }
    return conflicts;
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
    const offline = new Set(expired.filter((lease) => {
      const holder = this.registry.find(lease.holderId);
      return !holder || this.registry.presence(holder) === 'offline';
    }));
    this.end(expired, (lease) => ({ kind: 'expired', holderOffline: offline.has(lease) }));
  }

  /** Deletes the leases' rows, then forgets them. */
  private end(leases: Lease[], how: EndedHow): Reservation[] {
    if (leases.length === 0) return [];
    this.store(() => {
      for (const lease of leases) this.statements.delete.run(lease.id);
    });
    return this.forget(leases, how);
  }

  /** Drops leases whose rows are gone from memory, and tells the listeners how each ended. */
  private forget(leases: Lease[], how: EndedHow): Reservation[] {
    const views = leases.map((lease) => {
      this.leases.delete(lease.id);
      const inProject = this.byProject.get(lease.project);
      inProject?.delete(lease);
      if (inProject?.size === 0) this.byProject.delete(lease.project);
      const reservation = this.view(lease);
      const change = typeof how === 'function' ? how(lease) : how;
      this.emit({ ...change, reservation } as ReservationChange);
      return reservation;
    });
    return views;
  }

  /** Runs writes in one transaction; a failure (disk full, say) is the documented storage_failed, with nothing changed. */
  private store(writes: () => void): void {
    try {
      this.db.transaction(writes)();
    } catch (error) {
      throw new HubError('storage_failed', `the hub could not store the reservation change: ${(error as Error).message}`);
    }
  }

  /** Patterns held in a project by live leases: what one reserve is checked against. */
  private patternCount(project: string, now: number): number {
    let count = 0;
    for (const lease of this.byProject.get(project) ?? []) if (lease.expiresAt > now) count += lease.paths.length;
    return count;
  }

  /** The agent's leases (live at `now`, when given), from its project's. */
  private heldBy(project: string, agentId: string, now?: number): Lease[] {
    return [...(this.byProject.get(project) ?? [])].filter((lease) => lease.holderId === agentId && (now === undefined || lease.expiresAt > now));
  }

  private remember(lease: Lease): void {
    this.leases.set(lease.id, lease);
    let inProject = this.byProject.get(lease.project);
    if (!inProject) this.byProject.set(lease.project, (inProject = new Set()));
    inProject.add(lease);
  }

  private live(id: string): Lease {
    const lease = this.leases.get(id);
    if (!lease) throw notFound(`there is no reservation ${id}: it was released or expired (reserve the paths again)`);
    if (lease.expiresAt <= Date.now()) throw notFound(`reservation ${id} expired at ${new Date(lease.expiresAt).toISOString()}: reserve the paths again`);
    return lease;
  }

  private holderName(lease: Lease): string {
    return this.registry.find(lease.holderId)?.name ?? lease.holderId;
  }

  private view(lease: Lease): Reservation {
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

  private row(lease: Lease) {
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

  private emit(change: ReservationChange): void {
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (error) {
        // A watcher's failure must not undo the change, which is already stored.
        console.error('[reservations] a change listener failed:', error);
      }
    }
  }
}
