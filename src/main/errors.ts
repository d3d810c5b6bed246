/**
 * An error a caller can act on: an HTTP status, a stable code for programs, and a sentence for people. Services
 * throw it; the HTTP layer turns it into a response and the realtime socket into an error frame. The hub's codes and
 * their statuses are defined once, in ERROR_CODES (shared/agent-protocol.ts); the backup's own, in backup/errors.ts.
 */
import { ERROR_CODES, type ErrorCode } from '../shared/agent-protocol';

export class HubError extends Error {
  override name = 'HubError';
  /** The HTTP status: ERROR_CODES gives it for the hub's own codes. */
  readonly status: number;
  /** Fields the answer carries beside `error` and `code` (a reservation conflict's `conflicts`, say). */
  details?: Record<string, unknown>;
  constructor(code: ErrorCode, message: string);
  /** For a module with codes of its own beside ERROR_CODES (BackupError), which gives their status. */
  constructor(code: string, message: string, status: number);
  constructor(
    readonly code: string,
    message: string,
    status?: number,
  ) {
    super(message);
    this.status = status ?? ERROR_CODES[code as ErrorCode].status;
  }
}

export const badRequest = (message: string) => new HubError('invalid_request', message);
export const unauthorized = (message: string) => new HubError('unauthorized', message);
export const forbidden = (message: string) => new HubError('forbidden', message);
export const notFound = (message: string) => new HubError('not_found', message);
export const conflict = (message: string) => new HubError('conflict', message);
/** The agent (the caller, or a message's recipient) was revoked from the cockpit. */
export const revoked = (message: string) => new HubError('revoked', message);
export const tooLarge = (message: string) => new HubError('too_large', message);
