/**
 * Decoding a send from the bytes it arrived in (an HTTP send body, a realtime frame): the nesting limit first, then
 * the split into a small envelope (parsed and validated on the event loop) and the body as JSON bytes. Pure code:
 * the send-decoder worker runs it on large documents, the event loop on small ones (send-decoder.ts).
 */
import { isUtf8 } from 'node:buffer';
import secureJsonParse from 'secure-json-parse';
import { nestsDeeperThan, tooDeepMessage } from '../../shared/json-depth';
import { RawBody, splitSend, SPLIT_SENDS_FROM } from './json-body';

/** Everything in a send but its body (recipient, subject, ids…) fits in this many bytes many times over. */
export const MAX_ENVELOPE_BYTES = 64 * 1024;

/** A body taken out of its document: its JSON bytes, their UTF-8 size as `messages.maxBytes` counts it, its kind. */
export interface DecodedBody {
  json: Uint8Array;
  utf8Bytes: number;
  contentType: 'text' | 'json';
}

/** A decoded body as the messaging service takes it (a Buffer over the same bytes: no copy). */
export function rawBodyFrom(body: DecodedBody): RawBody {
  return new RawBody(Buffer.from(body.json.buffer, body.json.byteOffset, body.json.byteLength), body.utf8Bytes, body.contentType);
}

export type DecodedSend =
  /** Parse the document as usual (it is small, or a realtime frame other than a send). */
  | { kind: 'whole' }
  /** The document with its body replaced by `""`, and the body. */
  | { kind: 'split'; envelope: string; body: DecodedBody }
  /** Refused: answered with 400 (HTTP) or an `invalid_frame` error (socket). `tooDeep`: by the nesting limit, unparsed. */
  | { kind: 'invalid'; message: string; tooDeep?: true };

const textEncoder = new TextEncoder();

/**
 * Decodes a send: `{"body": …, …}` (HTTP), or with `nested`, a realtime frame (`{"type": "send", "message": {…}}`
 * for a send; any other frame is left whole). Documents under SPLIT_SENDS_FROM bytes are only checked for depth.
 */
export function decodeSend(bytes: Uint8Array, nested: boolean): DecodedSend {
  if (nestsDeeperThan(bytes)) return { kind: 'invalid', message: tooDeepMessage(), tooDeep: true };
  if (bytes.length < SPLIT_SENDS_FROM) return { kind: 'whole' };
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // A text body as its literal, found by a scan: nothing is parsed but the envelope.
  const utf8 = isUtf8(buf);
  const split = utf8 ? splitSend(buf, nested) : null;
  if (split) {
    if (split.envelope.length > MAX_ENVELOPE_BYTES) return { kind: 'invalid', message: envelopeMessage() };
    return { kind: 'split', envelope: split.envelope, body: { json: split.body.json, utf8Bytes: split.body.utf8Bytes, contentType: 'text' } };
  }
  // Anything else (a JSON body, unusual escapes): parsed whole, here.
  const text = buf.toString('utf8');
  let document: unknown;
  try {
    // Fastify's own parser for small documents, so large ones get the same refusals (prototype poisoning).
    document = secureJsonParse(text, { protoAction: 'error', constructorAction: 'error' });
  } catch (error) {
    return { kind: 'invalid', message: (error as Error).message };
  }
  // A frame other than a send (a large memory.store, say) is parsed again where it is handled.
  if (nested && !(isObject(document) && document.type === 'send')) return { kind: 'whole' };
  const holder = nested ? (document as Record<string, unknown>).message : document;
  if (!isObject(holder) || !('body' in holder) || holder.body === null || (typeof holder.body !== 'string' && typeof holder.body !== 'object')) {
    // Every field but the body is small: a large send without a usable body is no send.
    return { kind: 'invalid', message: 'a send is a JSON object whose body is a string, an object or an array (see docs/agents.md)' };
  }
  const body = holder.body;
  holder.body = '';
  const envelope = JSON.stringify(document);
  if (envelope.length > MAX_ENVELOPE_BYTES) return { kind: 'invalid', message: envelopeMessage() };
  // A buffer of its own (never a slice of Node's shared pool), so the worker can hand it over without a copy.
  const json = textEncoder.encode(JSON.stringify(body));
  const contentType = typeof body === 'string' ? 'text' : 'json';
  return { kind: 'split', envelope, body: { json, utf8Bytes: contentType === 'text' ? Buffer.byteLength(body as string) : json.length, contentType } };
}

function envelopeMessage(): string {
  return `everything in a send but its body must fit in ${MAX_ENVELOPE_BYTES} bytes`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
