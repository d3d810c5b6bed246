/**
 * File reservations (leases): an agent reserves repository paths or globs in its project, exclusively or shared, for
 * a while. The request bodies, answers, the 409 conflict body and the HTTP paths, declared once.
 */
import { z } from 'zod';

/**
 * Under the API's prefix (API_PREFIX in agent-protocol.ts, which imports this file for its socket frames, so this file
 * imports nothing from it).
 */
const PREFIX = '/api/v1';
/** Lease ids are ULIDs, as message and agent ids are. */
export const ReservationId = z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, 'not a reservation or agent id');

export const RESERVATION_MODES = ['exclusive', 'shared'] as const;
export type ReservationMode = (typeof RESERVATION_MODES)[number];

/** A lease lasts this long unless the request says otherwise; renewing starts the same span again from now. */
export const DEFAULT_TTL_SECONDS = 30 * 60;
export const MIN_TTL_SECONDS = 1;
export const MAX_TTL_SECONDS = 24 * 60 * 60;
/** The most paths one request may name (a larger set is better said with a glob). */
export const MAX_RESERVATION_PATHS = 100;
export const MAX_PATH_CHARS = 512;
/**
 * The most patterns one agent, and all agents of one project, may hold over their leases: each reserve is checked
 * against every lease of its project, and these keep that check within a few milliseconds (bench/reservations.ts).
 */
export const MAX_HELD_PATHS_PER_AGENT = 500;
export const MAX_HELD_PATHS_PER_PROJECT = 2000;
/** The most paths one check may name (a commit's files); it is worked through in slices, so it holds up no one. */
export const MAX_CHECK_PATHS = 10_000;
export const MAX_REASON_CHARS = 500;

/**
 * Why a path is refused, or null: each rule keeps patterns repo-relative and comparable as written. A concrete file
 * (`kind: 'file'`, a check's `files`) may start with '!': it is a name there, not a negation.
 */
export function reservationPathProblem(path: string, kind: 'pattern' | 'file' = 'pattern'): string | null {
  if (path.length === 0) return 'a path may not be empty';
  if (path.length > MAX_PATH_CHARS) return `a path may have at most ${MAX_PATH_CHARS} characters`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) return 'a path may not hold control characters';
  if (path.includes('\\')) return 'use forward slashes (a/b.ts), not backslashes';
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) return 'paths are relative to the repository root (src/a.ts), not absolute';
  if (kind === 'pattern' && path.startsWith('!')) return 'negated patterns (!…) are not reservable: name what you reserve';
  const segments = path.split('/');
  if (segments.includes('..')) return "'..' may not appear in a path: name it from the repository root";
  if (segments.includes('.')) return "'.' segments are not allowed: write src/a.ts, not ./src/a.ts";
  if (path.endsWith('/')) return 'name a folder as dir (the folder and all in it) or dir/**, without a trailing slash';
  if (segments.includes('')) return 'a path may not hold empty segments (a//b)';
  return null;
}

/** A repository-relative path (src/a.ts, a folder: src/auth) or a glob (src/**\/*.ts), with forward slashes. */
export const ReservationPath = z.string().superRefine((path, context) => {
  const problem = reservationPathProblem(path);
  if (problem) context.addIssue({ code: 'custom', message: `${problem} (got ${JSON.stringify(path.slice(0, 80))})` });
});

/** A repository file as git names it (a commit's files), taken literally: `app/[id]/page.tsx` is that one file. */
export const RepositoryFile = z.string().superRefine((path, context) => {
  const problem = reservationPathProblem(path, 'file');
  if (problem) context.addIssue({ code: 'custom', message: `${problem} (got ${JSON.stringify(path.slice(0, 80))})` });
});

const PathList = z.array(ReservationPath).min(1, 'name at least one path').max(MAX_RESERVATION_PATHS, `at most ${MAX_RESERVATION_PATHS} paths per request: reserve a folder or a glob instead`);
const TtlSeconds = z.number().int().min(MIN_TTL_SECONDS).max(MAX_TTL_SECONDS);

/** POST RESERVATIONS_PATH: reserve every path, or none of them (409 names who holds what). */
export const ReserveRequest = z
  .object({
    paths: PathList,
    mode: z.enum(RESERVATION_MODES).default('exclusive'),
    reason: z.string().max(MAX_REASON_CHARS).default(''),
    ttlSeconds: TtlSeconds.default(DEFAULT_TTL_SECONDS),
  })
  .strict();
export type ReserveRequest = z.input<typeof ReserveRequest>;

/** POST reservationRenewPath(id): the lease lasts ttlSeconds from now (its own TTL when left out). */
export const RenewRequest = z.object({ ttlSeconds: TtlSeconds.optional() }).strict();
export type RenewRequest = z.input<typeof RenewRequest>;

/**
 * POST RESERVATIONS_RELEASE_PATH: releases the caller's leases by id, and/or the given patterns (as written when
 * reserved) from the caller's leases; a lease left with no pattern is released. The cockpit releases by id only.
 */
export const ReleaseRequest = z
  .object({
    ids: z.array(ReservationId).min(1).max(MAX_RESERVATION_PATHS).optional(),
    paths: PathList.optional(),
  })
  .strict()
  .refine((request) => request.ids !== undefined || request.paths !== undefined, 'name ids or paths to release');
export type ReleaseRequest = z.input<typeof ReleaseRequest>;

/** GET RESERVATIONS_PATH query: an agent lists its own project; the cockpit any (all when left out). */
export const ReservationQuery = z
  .object({
    project: z.string().trim().min(1).max(128).optional(),
    holder: ReservationId.optional(),
    /** Leases whose patterns could match this path or glob. */
    path: ReservationPath.optional(),
  })
  .strict();
export type ReservationQuery = z.input<typeof ReservationQuery>;

/**
 * POST RESERVATIONS_CHECK_PATH: which leases of other agents would refuse a reservation of these paths in this mode
 * (mode shared: only exclusive leases; exclusive: any). `paths` are read as reserve reads them (globs, a plain path
 * is a folder or a file); `files` are concrete files, matched literally: a file named `app/[id]/page.tsx` or
 * `notes/*draft*.md` is that file, not a pattern. The git guard asks with the files of a commit. The cockpit names
 * the project; an agent checks its own.
 */
export const CheckRequest = z
  .object({
    paths: z.array(ReservationPath).min(1).max(MAX_CHECK_PATHS).optional(),
    files: z.array(RepositoryFile).min(1).max(MAX_CHECK_PATHS).optional(),
    mode: z.enum(RESERVATION_MODES).default('shared'),
    project: z.string().trim().min(1).max(128).optional(),
  })
  .strict()
  .refine((request) => request.paths !== undefined || request.files !== undefined, 'name paths (patterns) or files to check')
  .refine((request) => (request.paths?.length ?? 0) + (request.files?.length ?? 0) <= MAX_CHECK_PATHS, `at most ${MAX_CHECK_PATHS} paths and files in all per check`);
export type CheckRequest = z.input<typeof CheckRequest>;

export interface Reservation {
  id: string;
  project: string;
  holderId: string;
  holderName: string;
  /** As the holder wrote them: paths (a folder covers all in it) and globs. */
  paths: string[];
  mode: ReservationMode;
  reason: string;
  ttlSeconds: number;
  createdAt: string;
  /** The lease ends then unless renewed; an expired lease never conflicts. */
  expiresAt: string;
  renewedAt: string | null;
}

/** The answer to a reserve: the leases it made or renewed (a re-reservation of one's own paths renews). */
export interface ReserveResponse {
  reservations: Reservation[];
  /** true when a new lease was made (201); false when the request only renewed the caller's leases (200). */
  created: boolean;
}

export interface ReleaseResponse {
  /** Leases that ended. */
  released: Reservation[];
  /** Leases that lost some of their patterns and hold the rest. */
  narrowed: Reservation[];
}

/** One lease that stands in the way, with the requested patterns that collide with it. */
export interface ReservationConflict {
  reservationId: string;
  holderId: string;
  holderName: string;
  mode: ReservationMode;
  /** The holder's patterns that collide. */
  heldPaths: string[];
  /** The requested patterns that collide. */
  requestedPaths: string[];
  reason: string;
  expiresAt: string;
}

/** The 409 body of a refused reservation: nothing was reserved. */
export interface ReservationConflictBody {
  error: string;
  code: 'reservation_conflict';
  conflicts: ReservationConflict[];
}

export interface CheckResponse {
  conflicts: ReservationConflict[];
}

export interface ReservationList {
  reservations: Reservation[];
}

/** What happened to a lease, for the cockpit's live feed. */
export type ReservationChange =
  | { kind: 'added' | 'renewed' | 'narrowed'; reservation: Reservation }
  | { kind: 'released'; reservation: Reservation; by: 'holder' | 'cockpit' | 'revoked' }
  | { kind: 'expired'; reservation: Reservation; holderOffline: boolean };

// --- Realtime socket frames (part of agent-protocol's ClientFrame), answered by `result` or `error` with the ref ----

export const ReservationFrames = [
  z.object({ type: z.literal('reservations.reserve'), ref: z.string().max(100), request: ReserveRequest }).strict(),
  z.object({ type: z.literal('reservations.renew'), ref: z.string().max(100), id: ReservationId, ttlSeconds: TtlSeconds.optional() }).strict(),
  z.object({ type: z.literal('reservations.release'), ref: z.string().max(100), request: ReleaseRequest }).strict(),
  z.object({ type: z.literal('reservations.list'), ref: z.string().max(100), query: ReservationQuery.default({}) }).strict(),
] as const;

// --- HTTP paths ----------------------------------------------------------------------------------------------------

/** POST: reserve (ReserveRequest); GET: list (ReservationQuery). */
export const RESERVATIONS_PATH = `${PREFIX}/reservations`;
/** POST: release by ids and/or paths (ReleaseRequest). */
export const RESERVATIONS_RELEASE_PATH = `${PREFIX}/reservations/release`;
/** POST: conflicts a reservation of these paths would meet (CheckRequest), without reserving. */
export const RESERVATIONS_CHECK_PATH = `${PREFIX}/reservations/check`;

/** GET: one lease; DELETE: release it (its holder, or the cockpit). */
export function reservationPath(id: string): string {
  return `${RESERVATIONS_PATH}/${id}`;
}

/** POST: renew (RenewRequest). */
export function reservationRenewPath(id: string): string {
  return `${RESERVATIONS_PATH}/${id}/renew`;
}
