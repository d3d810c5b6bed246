/**
 * An error a caller can act on: an HTTP status, a stable code for programs, and a sentence for people. Services
 * throw it; the HTTP layer turns it into a response and the realtime socket into an error frame. Codes and their
 * statuses are defined once, in ERROR_CODES (shared/agent-protocol.ts).
 */
import { ERROR_CODES, type ErrorCode } from '../shared/agent-protocol';

export class HubError extends Error {
  override name = 'HubError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The error for `code`, with the status ERROR_CODES gives it. */
export const hubError = (code: ErrorCode, message: string) => new HubError(ERROR_CODES[code].status, code, message);

export const badRequest = (message: string) => hubError('invalid_request', message);
export const unauthorized = (message: string) => hubError('unauthorized', message);
export const forbidden = (message: string) => hubError('forbidden', message);
export const notFound = (message: string) => hubError('not_found', message);
export const conflict = (message: string) => hubError('conflict', message);
/** The agent (the caller, or a message's recipient) was revoked from the cockpit. */
export const revoked = (message: string) => hubError('revoked', message);
export const tooLarge = (message: string) => hubError('too_large', message);
