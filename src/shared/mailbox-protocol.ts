/**
 * The file mailbox's files, as agents read and write them (docs/file-mailbox.md): outbox files are SendRequests
 * (agent-protocol.ts), inbox files are Messages, a registration drop file is a RegisterRequest, and the hub answers a
 * registration with the agent's `agent.json`, declared here; so are the request files agents drop into `requests/`
 * (file reservations) and the answers the hub writes into `answers/`.
 */
import { z } from 'zod';
import type { ReleaseResponse, Reservation, ReservationConflict, ReservationList, ReserveResponse } from './reservation-protocol';

/** What `agent.json` holds for an agent registered through the mailbox. */
export interface AgentFile {
  id: string;
  name: string;
  project: string;
  /** The agent's secret for the HTTP API (`Authorization: Bearer <token>`), should it ever be able to use it. */
  token: string;
  /** Where the running hub writes its URL. */
  hubFile: string;
  registeredAt: string;
}

/**
 * A request file in an agent's `requests/` folder: `op` says what, and the other fields are the body the HTTP API
 * takes for the same request (reservation-protocol.ts): reserve → ReserveRequest, renew → `id` and RenewRequest,
 * release → ReleaseRequest, list → ReservationQuery without `project` (an agent lists its own).
 */
export const MAILBOX_REQUEST_OPS = ['reserve', 'renew', 'release', 'list'] as const;
export type MailboxRequestOp = (typeof MAILBOX_REQUEST_OPS)[number];

/** Only `op` is read here; the rest is checked by the schema of that request. */
export const MailboxRequestHead = z.looseObject({ op: z.enum(MAILBOX_REQUEST_OPS) });

/** The largest request file read (a reserve of the most paths, each of the longest, fits many times over). */
export const MAX_MAILBOX_REQUEST_BYTES = 256 * 1024;

/** Every answer says which request file it answers, what it asked for, and when. */
interface AnswerHead {
  /** The request file's name (the answer has the same name in `answers/`). */
  request: string;
  answeredAt: string;
}

/**
 * The hub's answer, written to `answers/<request file name>`: `ok: true` with what the HTTP API answers to the same
 * request, or `ok: false` with the HTTP API's error (status, code, error; a reservation conflict adds `conflicts`,
 * who holds what until when). Nothing was done when `ok` is false.
 */
export type MailboxAnswer = AnswerHead &
  (
    | ({ op: 'reserve'; ok: true } & ReserveResponse)
    | { op: 'renew'; ok: true; reservation: Reservation }
    | ({ op: 'release'; ok: true } & ReleaseResponse)
    | ({ op: 'list'; ok: true } & ReservationList)
    | { op: MailboxRequestOp | null; ok: false; status: number; code: string; error: string; conflicts?: ReservationConflict[] }
  );
