/**
 * An error a caller can act on: an HTTP status, a stable code for programs, and a sentence for people. Services
 * throw it; the HTTP layer turns it into a response and the realtime socket into an error frame.
 */
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

export const badRequest = (message: string) => new HubError(400, 'invalid_request', message);
export const unauthorized = (message: string) => new HubError(401, 'unauthorized', message);
export const forbidden = (message: string) => new HubError(403, 'forbidden', message);
export const notFound = (message: string) => new HubError(404, 'not_found', message);
export const conflict = (message: string) => new HubError(409, 'conflict', message);
export const tooLarge = (message: string) => new HubError(413, 'too_large', message);
