/**
 * The agent client's file reservation calls (AgentClient inherits them): reserve paths or globs, renew, release,
 * list, and check paths or files against other agents' leases without reserving.
 */
import {
  RESERVATIONS_CHECK_PATH,
  RESERVATIONS_PATH,
  RESERVATIONS_RELEASE_PATH,
  reservationRenewPath,
  type CheckResponse,
  type ReleaseRequest,
  type ReleaseResponse,
  type Reservation,
  type ReservationConflict,
  type ReservationList,
  type ReservationMode,
  type ReservationQuery,
  type ReserveRequest,
  type ReserveResponse,
} from '../shared/reservation-protocol';
import { apiRoute } from './http';
import { WorkflowCalls } from './workflow-calls';

export abstract class ReservationCalls extends WorkflowCalls {
  /**
   * Reserves repo-relative paths or globs in the agent's project, all or none: exclusive by default, for
   * `ttlSeconds` (the hub's default 30 min). Reserving one's own paths again renews those leases. Another agent's
   * lease in the way rejects with ReservationConflictError, whose `conflicts` say who holds what until when.
   */
  reserve(paths: string[], options: Omit<ReserveRequest, 'paths'> = {}): Promise<ReserveResponse> {
    return this.http.request<ReserveResponse>('POST', apiRoute(RESERVATIONS_PATH), { body: { ...options, paths } });
  }

  /** The lease lasts `ttlSeconds` (its own TTL when left out) from now. */
  renew(id: string, ttlSeconds?: number): Promise<Reservation> {
    return this.http.request<Reservation>('POST', apiRoute(reservationRenewPath(id)), { body: ttlSeconds === undefined ? {} : { ttlSeconds } });
  }

  /**
   * Releases the agent's leases by id and/or patterns (as written when reserved; a lease left with none ends, one
   * left with some is narrowed).
   */
  release(what: ReleaseRequest): Promise<ReleaseResponse> {
    return this.http.request<ReleaseResponse>('POST', apiRoute(RESERVATIONS_RELEASE_PATH), { body: what });
  }

  /** The active leases of the agent's project, oldest first: all, one holder's, or those that could match a path. */
  listReservations(query: Omit<ReservationQuery, 'project'> = {}): Promise<Reservation[]> {
    return this.http.request<ReservationList>('GET', apiRoute(RESERVATIONS_PATH), { query }).then((r) => r.reservations);
  }

  /**
   * The other agents' leases that would refuse these paths, without reserving: with mode `shared` (the default)
   * their exclusive leases, with `exclusive` all of them. The git guard asks this with a commit's files.
   */
  checkReservations(paths: string[], mode: ReservationMode = 'shared'): Promise<ReservationConflict[]> {
    return this.http.request<CheckResponse>('POST', apiRoute(RESERVATIONS_CHECK_PATH), { body: { paths, mode } }).then((r) => r.conflicts);
  }

  /**
   * As checkReservations, for concrete files taken literally (a file named `app/[id]/page.tsx` is that file, not a
   * glob; a name without an extension is a file, not a folder): the git guard's question.
   */
  checkFiles(files: string[], mode: ReservationMode = 'shared'): Promise<ReservationConflict[]> {
    return this.http.request<CheckResponse>('POST', apiRoute(RESERVATIONS_CHECK_PATH), { body: { files, mode } }).then((r) => r.conflicts);
  }
}
