/**
 * Request bodies of the send routes: read into one buffer of the announced length (no list of chunks plus a
 * concatenated copy), checked for depth, and when large, decoded off the event loop into the envelope, parsed as
 * usual, and the body, kept as JSON bytes (see decode-send.ts). Small bodies are parsed exactly as Fastify's own
 * JSON parser does.
 */
import type { IncomingMessage } from 'node:http';
import { errorCodes, type FastifyInstance, type FastifyRequest } from 'fastify';
import { badRequest } from '../errors';
import { rawBodyFrom, type DecodedSend } from './decode-send';
import type { RawBody } from './json-body';
import type { SendDecoder } from './send-decoder';

const rawBodies = new WeakMap<object, RawBody>();

/** The body of a send as it arrived, if the parser kept it as bytes (the parsed body's `body` is then ""). */
export function rawBodyOf(parsed: unknown): RawBody | undefined {
  return typeof parsed === 'object' && parsed !== null ? rawBodies.get(parsed) : undefined;
}

/** Replaces the JSON parser of `scope` (an encapsulated plugin holding the send routes). */
export function acceptLargeSends(scope: FastifyInstance, decoder: SendDecoder): void {
  const parseJson = scope.getDefaultJsonParser('error', 'error');
  // In place of the hub's JSON parser (api/server.ts), which this one does the work of.
  scope.removeContentTypeParser('application/json');
  scope.addContentTypeParser('application/json', (request: FastifyRequest, payload: IncomingMessage, done: (error: Error | null, body?: unknown) => void) => {
    readBody(request, payload, (error, body) => {
      if (error) return done(error);
      const use = (decoded: DecodedSend) => {
        if (decoded.kind === 'invalid') return done(badRequest(`invalid message: ${decoded.message}`));
        if (decoded.kind === 'whole') return parseJson(request, body!.toString('utf8'), done);
        const raw = rawBodyFrom(decoded.body);
        parseJson(request, decoded.envelope, (parseError: Error | null, parsed?: unknown) => {
          if (!parseError && typeof parsed === 'object' && parsed !== null && (parsed as { body?: unknown }).body === '') rawBodies.set(parsed, raw);
          done(parseError, parsed);
        });
      };
      let decoded: DecodedSend | Promise<DecodedSend>;
      try {
        decoded = decoder.decode(body!, false);
      } catch (decodeError) {
        return done(decodeError as Error);
      }
      if (decoded instanceof Promise) decoded.then(use, (decodeError: Error) => done(decodeError));
      else use(decoded);
    });
  });
}
function readBody(request: FastifyRequest, payload: IncomingMessage, done: (error: Error | null, body?: Buffer) => void): void {
  const limit = request.routeOptions.bodyLimit ?? Number.POSITIVE_INFINITY;
  const declared = Number(request.headers['content-length']);
  if (declared > limit) return done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
  // With a Content-Length, each chunk is copied into place as it arrives and can be collected at once. The buffer
  // is made when the first bytes arrive: a request that only announces a large body holds no memory for it.
  const length = Number.isSafeInteger(declared) && declared >= 0 ? declared : undefined;
  let buffer: Buffer | undefined;
  const chunks: Buffer[] = [];
  let received = 0;
  const finish = (error: Error | null, body?: Buffer) => {
    payload.removeListener('data', onData);
    payload.removeListener('end', onEnd);
    payload.removeListener('error', onError);
    done(error, body);
  };
  const onData = (chunk: Buffer) => {
    if (received + chunk.length > limit) return finish(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
    if (length !== undefined) {
      if (received + chunk.length > length) return finish(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
      buffer ??= Buffer.allocUnsafe(length);
      chunk.copy(buffer, received);
    } else chunks.push(chunk);
    received += chunk.length;
  };
  const onEnd = () => {
    if (length === undefined) return finish(null, Buffer.concat(chunks, received));
    if (received !== length) return finish(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
    finish(null, buffer ?? Buffer.alloc(0));
  };
  const onError = (error: Error & { statusCode?: number }) => {
    if (!(typeof error.statusCode === 'number' && error.statusCode >= 400)) error.statusCode = 400;
    finish(error);
  };
  payload.on('data', onData);
  payload.on('end', onEnd);
  payload.on('error', onError);
  payload.resume();
}
