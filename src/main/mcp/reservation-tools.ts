/** MCP tools of file reservations: reserve, renew, release and list leases in the caller's project (reservations/service.ts). */
import {
  ListReservationsInput,
  ListReservationsOutput,
  ReleaseFilesInput,
  ReleaseFilesOutput,
  RenewReservationInput,
  RenewReservationOutput,
  ReserveFilesInput,
  ReserveFilesOutput,
} from '../../shared/mcp-protocol';
import { DEFAULT_TTL_SECONDS, type ReservationConflict } from '../../shared/reservation-protocol';
import { HubError } from '../errors';
import { run, type ToolGroup } from './tool-kit';

/** A conflict, told to the model with what it can do next: whom to ask (by id, for send_message) and until when. */
function withNextSteps(error: unknown): never {
  if (!(error instanceof HubError) || error.code !== 'reservation_conflict') throw error;
  const conflicts = (error.details?.conflicts ?? []) as ReservationConflict[];
  const asks = conflicts.map((c) => `${c.holderName} (send_message to {"type":"agent","id":"${c.holderId}"}; lease ${c.reservationId} ends ${c.expiresAt})`);
  throw new HubError(
    'reservation_conflict',
    `${error.message}. Next: work on other files, or ask ${asks.join(', ')} and wait_for_messages for the answer, ` +
      'or call reserve_files again after the lease ends',
  );
}

export const registerReservationTools: ToolGroup = (server, { reservations, me }) => {
  server.registerTool(
    'reserve_files',
    {
      description:
        'Reserve repository paths or globs (src/auth/**, package.json; a folder path covers all in it) in your project before editing them, so other agents do not overwrite your work. ' +
        'mode exclusive (default) keeps everyone else off; shared lets others hold shared leases too (for reading, or edits you coordinate). ' +
        'All or nothing: if another agent holds an overlapping lease you get an error naming it and when it ends. ' +
        `Leases end after ttlSeconds (default ${DEFAULT_TTL_SECONDS}) unless renewed; release them when done. ` +
        'Reserving your own paths again renews them.',
      inputSchema: ReserveFilesInput,
      outputSchema: ReserveFilesOutput,
    },
    (input) =>
      run(async () => {
        try {
          return await reservations.reserve(me(), input);
        } catch (error) {
          return withNextSteps(error);
        }
      }),
  );

  server.registerTool(
    'renew_reservation',
    {
      description: 'Extend one of your leases (its id from reserve_files or list_reservations): it then lasts ttlSeconds from now (its own TTL when left out). Renew before expiresAt, or the files are free for others.',
      inputSchema: RenewReservationInput,
      outputSchema: RenewReservationOutput,
    },
    ({ id, ttlSeconds }) => run(async () => ({ reservation: await reservations.renew(me(), id, ttlSeconds) })),
  );

  server.registerTool(
    'release_files',
    {
      description:
        'Release your leases when you are done: by ids, and/or by paths (the patterns as you reserved them; a lease left with no pattern ends). Others waiting for those files can then reserve them.',
      inputSchema: ReleaseFilesInput,
      outputSchema: ReleaseFilesOutput,
    },
    (input) => run(() => reservations.release({ kind: 'agent', agent: me() }, input)),
  );

  server.registerTool(
    'list_reservations',
    {
      description: "Who holds what in your project: every active lease (holder, paths, mode, reason, expiresAt), or those touching a path or glob, or one holder's.",
      inputSchema: ListReservationsInput,
      outputSchema: ListReservationsOutput,
    },
    ({ path, holder }) => run(() => ({ reservations: reservations.list({ project: me().project, path, holder }) })),
  );
};
