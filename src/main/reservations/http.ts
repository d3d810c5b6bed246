/** HTTP routes of file reservations (API v1): reserve, renew, release, list, check. */
import {
  CheckRequest,
  RenewRequest,
  ReleaseRequest,
  ReservationId,
  ReservationQuery,
  ReserveRequest,
  RESERVATIONS_CHECK_PATH,
  RESERVATIONS_PATH,
  RESERVATIONS_RELEASE_PATH,
  reservationPath,
  reservationRenewPath,
  type CheckResponse,
  type ReservationList,
} from '../../shared/reservation-protocol';
import type { AgentRegistry } from '../agents/registry';
import { authorityOf, requireAuthority } from '../api/auth';
import type { ApiContext } from '../api/server';
import { badRequest, forbidden, notFound } from '../errors';
import { parseInput } from '../validation';
import type { ReservationCaller, ReservationService } from './service';

export function registerReservationRoutes({ http }: ApiContext, registry: AgentRegistry, reservations: ReservationService, cockpitToken: string): void {
  const caller = (request: Parameters<typeof authorityOf>[0]): ReservationCaller => requireAuthority(authorityOf(request, registry, cockpitToken));
  /** Leases are held by agents; the cockpit only looks and releases. */
  const agentOf = (request: Parameters<typeof authorityOf>[0]) => {
    const who = caller(request);
    if (who.kind !== 'agent') throw forbidden('reservations are held by agents: use an agent\'s token');
    return who.agent;
  };
  const idParam = (params: unknown) => parseInput(ReservationId, (params as { id?: string }).id, 'reservation id');

  http.post(RESERVATIONS_PATH, async (request, reply) => {
    const agent = agentOf(request);
    const input = parseInput(ReserveRequest, request.body, 'reservation');
    const result = await reservations.reserve(agent, input);
    return reply.code(result.created ? 201 : 200).send(result);
  });

  /** An agent lists its own project's leases; the cockpit any project's (all of them when none is named). */
  http.get(RESERVATIONS_PATH, async (request): Promise<ReservationList> => {
    const who = caller(request);
    const query = parseInput(ReservationQuery, request.query, 'reservation query');
    if (who.kind === 'agent') {
      if (query.project !== undefined && query.project !== who.agent.project) throw forbidden('an agent sees the reservations of its own project only');
      query.project = who.agent.project;
    }
    return { reservations: reservations.list(query) };
  });

  http.get(reservationPath(':id'), async (request) => {
    const who = caller(request);
    const id = idParam(request.params);
    const reservation = reservations.get(id);
    // Another project's lease is answered as if it did not exist.
    if (who.kind === 'agent' && reservation.project !== who.agent.project) throw notFound(`there is no reservation ${id}`);
    return reservation;
  });

  http.post(reservationRenewPath(':id'), async (request) => {
    const agent = agentOf(request);
    const { ttlSeconds } = parseInput(RenewRequest, request.body ?? {}, 'renewal');
    return reservations.renew(agent, idParam(request.params), ttlSeconds);
  });

  http.delete(reservationPath(':id'), async (request) => {
    return reservations.release(caller(request), { ids: [idParam(request.params)] });
  });

  http.post(RESERVATIONS_RELEASE_PATH, async (request) => {
    return reservations.release(caller(request), parseInput(ReleaseRequest, request.body, 'release'));
  });

  /** The leases of other agents that would refuse these paths (the git guard asks with a commit's files). */
  http.post(RESERVATIONS_CHECK_PATH, async (request): Promise<CheckResponse> => {
    const who = caller(request);
    const input = parseInput(CheckRequest, request.body, 'check');
    if (who.kind === 'cockpit') {
      if (input.project === undefined) throw badRequest('invalid check: project: the cockpit names the project to check');
      return { conflicts: await reservations.check(input.project, input, input.mode) };
    }
    if (input.project !== undefined && input.project !== who.agent.project) throw forbidden('an agent checks its own project only');
    return { conflicts: await reservations.check(who.agent.project, input, input.mode, who.agent.id) };
  });
}
