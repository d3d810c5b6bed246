/**
 * What a reserve, renew or release decides, worked out over one project's leases at one moment: pure, so the same
 * decision is taken over the hub's own leases (one hub) or over the leases the cluster's Redis holds (several hubs,
 * cluster/reservations.ts), and then applied by the service.
 */
import type { z } from 'zod';
import {
  MAX_HELD_PATHS_PER_AGENT,
  MAX_HELD_PATHS_PER_PROJECT,
  type ReleaseRequest,
  type ReservationConflict,
  type ReservationMode,
  type ReserveRequest,
} from '../../shared/reservation-protocol';
import type { AgentRecord } from '../agents/registry';
import { badRequest, forbidden, HubError, notFound } from '../errors';
import { compilePattern, patternsOverlap, type CompiledPattern } from './patterns';

/** A lease as stored and as the cluster shares it (times in ms since the epoch). */
export interface LeaseRecord {
  id: string;
  project: string;
  holderId: string;
  paths: string[];
  mode: ReservationMode;
  reason: string;
  ttlSeconds: number;
  createdAt: number;
  expiresAt: number;
  renewedAt: number | null;
}

export interface Lease extends LeaseRecord {
  compiled: CompiledPattern[];
}

/** Who acts: an agent on its own leases, or the person at the cockpit on anyone's. */
export type ReservationCaller = { kind: 'agent'; agent: AgentRecord } | { kind: 'cockpit' };

/** One change a decision makes: the lease as it is after (or as it was, when it ends). */
export type LeaseEffect =
  | { kind: 'added' | 'renewed' | 'narrowed'; lease: Lease }
  | { kind: 'released'; lease: Lease; by: 'holder' | 'cockpit' | 'revoked' }
  | { kind: 'expired'; lease: Lease; holderOffline: boolean };

/** A decision: its effects, and the answer built from the leases once they are applied. */
export interface LeasePlan<T> {
  effects: LeaseEffect[];
  answer: () => T;
}

export function toLease(record: LeaseRecord): Lease {
  return { ...record, paths: [...record.paths], compiled: record.paths.map(compilePattern) };
}

export function recordOf(lease: LeaseRecord): LeaseRecord {
  const { id, project, holderId, paths, mode, reason, ttlSeconds, createdAt, expiresAt, renewedAt } = lease;
  return { id, project, holderId, paths, mode, reason, ttlSeconds, createdAt, expiresAt, renewedAt };
}

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

/** The live leases among `leases` that refuse these patterns in this mode (other holders' only, with exceptHolder). */
export function conflictsAmong(
  leases: Iterable<Lease>,
  requested: CompiledPattern[],
  mode: ReservationMode,
  exceptHolder: string | undefined,
  now: number,
  holderName: (lease: Lease) => string,
): ReservationConflict[] {
  const conflicts: ReservationConflict[] = [];
  for (const lease of leases) {
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
      holderName: holderName(lease),
      mode: lease.mode,
      heldPaths: [...heldPaths],
      requestedPaths: [...requestedPaths],
      reason: lease.reason,
      expiresAt: new Date(lease.expiresAt).toISOString(),
    });
  }
  return conflicts;
}

/** Patterns held by live leases: what one reserve is checked against. */
export function patternCount(leases: Iterable<Lease>, now: number): number {
  let count = 0;
  for (const lease of leases) if (lease.expiresAt > now) count += lease.paths.length;
  return count;
}

/**
 * Reserves every requested path for the agent, or none (409 naming the leases in the way). The agent's own leases
 * never stand in its way: a lease of the same mode whose paths are all requested again is renewed, and only the
 * paths no such lease covers make a new one. `leases` are the project's.
 */
export function planReserve(
  agent: AgentRecord,
  request: z.output<typeof ReserveRequest>,
  leases: Lease[],
  now: number,
  newId: () => string,
  holderName: (lease: Lease) => string,
): LeasePlan<{ leases: Lease[]; created: boolean }> {
  const paths = [...new Set(request.paths)];
  const compiled = paths.map(compilePattern);
  const conflicts = conflictsAmong(leases, compiled, request.mode, agent.id, now, holderName);
  if (conflicts.length > 0) throw reservationConflict(conflicts);

  const wanted = new Set(paths);
  const own = leases.filter((lease) => lease.holderId === agent.id && lease.expiresAt > now);
  const renewing = own.filter((lease) => lease.mode === request.mode && lease.paths.every((path) => wanted.has(path)));
  const covered = new Set(renewing.flatMap((lease) => lease.paths));
  const fresh = paths.filter((path) => !covered.has(path));
  const held = own.reduce((total, lease) => total + lease.paths.length, 0);
  if (held + fresh.length > MAX_HELD_PATHS_PER_AGENT) {
    throw badRequest(`an agent may hold at most ${MAX_HELD_PATHS_PER_AGENT} paths at once (you hold ${held}): release some, or reserve a folder or glob`);
  }
  const inProject = patternCount(leases, now);
  if (inProject + fresh.length > MAX_HELD_PATHS_PER_PROJECT) {
    throw badRequest(`a project's agents may hold at most ${MAX_HELD_PATHS_PER_PROJECT} paths at once (project ${agent.project} holds ${inProject}): release some, or reserve folders or globs`);
  }

  const expiresAt = now + request.ttlSeconds * 1000;
  const renewed = renewing.map((lease): Lease => ({ ...lease, ttlSeconds: request.ttlSeconds, expiresAt, renewedAt: now, reason: request.reason || lease.reason }));
  const created: Lease | undefined =
    fresh.length === 0
      ? undefined
      : {
          id: newId(),
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
  const effects: LeaseEffect[] = renewed.map((lease) => ({ kind: 'renewed', lease }));
  if (created) effects.push({ kind: 'added', lease: created });
  return { effects, answer: () => ({ leases: [...renewed, ...(created ? [created] : [])], created: created !== undefined }) };
}

/** One live lease among `leases`; an unknown or expired one is not found. */
export function liveLease(leases: Lease[], id: string, now: number): Lease {
  const lease = leases.find((candidate) => candidate.id === id);
  if (!lease) throw notFound(`there is no reservation ${id}: it was released or expired (reserve the paths again)`);
  if (lease.expiresAt <= now) throw notFound(`reservation ${id} expired at ${new Date(lease.expiresAt).toISOString()}: reserve the paths again`);
  return lease;
}

/** The lease lasts ttlSeconds (its own TTL when not given) from now; only its holder renews it. */
export function planRenew(agent: AgentRecord, id: string, ttlSeconds: number | undefined, leases: Lease[], now: number, holderName: (lease: Lease) => string): LeasePlan<Lease> {
  const lease = liveLease(leases, id, now);
  if (lease.holderId !== agent.id) throw forbidden(`reservation ${id} is held by ${holderName(lease)}: only its holder renews it`);
  const ttl = ttlSeconds ?? lease.ttlSeconds;
  const next: Lease = { ...lease, ttlSeconds: ttl, expiresAt: now + ttl * 1000, renewedAt: now };
  return { effects: [{ kind: 'renewed', lease: next }], answer: () => next };
}

/**
 * Releases leases by id (the holder's own; the cockpit's, anyone's) and patterns from the caller's leases. Checked
 * whole before anything changes: one id that is not the caller's refuses the request. `leases` are the project's.
 */
export function planRelease(
  caller: ReservationCaller,
  request: z.output<typeof ReleaseRequest>,
  leases: Lease[],
  now: number,
  holderName: (lease: Lease) => string,
): LeasePlan<{ released: Lease[]; narrowed: Lease[] }> {
  const byId = (request.ids ?? []).map((id) => {
    const lease = liveLease(leases, id, now);
    if (caller.kind === 'agent' && lease.holderId !== caller.agent.id) {
      throw forbidden(`reservation ${id} is held by ${holderName(lease)}: only its holder or the person at the cockpit may release it`);
    }
    return lease;
  });
  const ending = new Set(byId);
  const narrowed: Lease[] = [];
  if (request.paths) {
    if (caller.kind !== 'agent') throw badRequest('the cockpit releases leases by id (ids), not by paths');
    const dropped = new Set(request.paths);
    for (const lease of leases) {
      if (lease.holderId !== caller.agent.id || ending.has(lease) || !lease.paths.some((path) => dropped.has(path))) continue;
      const kept = lease.paths.filter((path) => !dropped.has(path));
      if (kept.length === 0) ending.add(lease);
      else narrowed.push({ ...lease, paths: kept, compiled: kept.map(compilePattern) });
    }
  }
  const by: 'holder' | 'cockpit' = caller.kind === 'agent' ? 'holder' : 'cockpit';
  const effects: LeaseEffect[] = [...narrowed.map((lease) => ({ kind: 'narrowed' as const, lease })), ...[...ending].map((lease) => ({ kind: 'released' as const, lease, by }))];
  return { effects, answer: () => ({ released: [...ending], narrowed }) };
}
