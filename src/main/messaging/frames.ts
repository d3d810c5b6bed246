/**
 * Messages as they leave the hub: the public shape, realtime frames and JSON documents. A message whose body is
 * kept as bytes (see body-store.ts) goes out as the message without its body, then the body's JSON bytes as they
 * are, then the closing braces: as three fragments of one WebSocket text message, or as consecutive pieces of a
 * document. No copy of the body is made per frame or per recipient.
 */
import type { WebSocket } from 'ws';
import type { Message, ServerFrame } from '../../shared/agent-protocol';
import type { MessagePreview } from '../../shared/contract';
import { bodyChunks, bodyHead, withExternalBody, type ExternalBody } from './body-store';
import { jsonPreviewOf, previewOf } from './json-body';
import type { StoredMessage } from './store';

/** A frame as one string, or as parts sent as the fragments of one text message. */
export type OutgoingFrame = string | Buffer[];

const TAIL = Buffer.from('}}');

/** A frame's size in bytes (for a string, its length: exact for ASCII, close enough for buffering decisions). */
export function frameLength(frame: OutgoingFrame): number {
  return typeof frame === 'string' ? frame.length : frame.reduce((total, part) => total + part.length, 0);
}

/** A message's public fields but its body, copied one by one: spreading would read (and parse) a body kept in a file. */
function envelopeOf(message: StoredMessage): Omit<Message, 'body'> {
  const { id, from, to, threadId, replyTo, subject, contentType, importance, ackRequired, createdAt } = message;
  return { id, from, to, threadId, replyTo, subject, contentType, importance, ackRequired, createdAt };
}

/** A stored message as agents and the cockpit see it; a body kept in a file stays unread until it is used. */
export function publicMessage(stored: StoredMessage): Message {
  if (stored.external) return withExternalBody(envelopeOf(stored), stored.external);
  // Field by field, as envelopeOf: a rest-spread copy is several times slower, and this runs for every delivery.
  const { id, from, to, threadId, replyTo, subject, contentType, body, importance, ackRequired, createdAt } = stored;
  return { id, from, to, threadId, replyTo, subject, contentType, body, importance, ackRequired, createdAt };
}

/**
 * A message as the cockpit lists it (the live stream, lists, threads): a body kept as bytes (in memory when just
 * delivered, else in its file, of which only the first bytes are read) or a text over `maxBytes` becomes its first
 * characters, as text, with `truncated` giving the full size; the body is never parsed or serialised whole. Other
 * bodies are below messages.bodyFileBytes and go as they are.
 */
export function previewMessage(stored: StoredMessage, maxBytes: number): MessagePreview {
  const external = stored.external;
  if (external) {
    // A JSON string literal's escapes may make a character take up to 12 bytes: read enough to cut after a whole one.
    const head = bodyHead(external, maxBytes + 16);
    const body = stored.contentType === 'text' ? previewOf(head, maxBytes) : jsonPreviewOf(head, maxBytes);
    return { ...envelopeOf(stored), body, truncated: { bytes: external.bytes } };
  }
  if (typeof stored.body === 'string' && stored.body.length > maxBytes) {
    return { ...envelopeOf(stored), body: stored.body.slice(0, maxBytes), truncated: { bytes: Buffer.byteLength(stored.body) } };
  }
  return publicMessage(stored);
}

/** A message's JSON up to its body: `{"id":…,"createdAt":"…","body":`. */
function headOf(message: StoredMessage): string {
  return `${JSON.stringify(envelopeOf(message)).slice(0, -1)},"body":`;
}

/** The frame for a message, made once and sent to every recipient as the same string (or the same parts). */
export function messageFrame(message: StoredMessage): OutgoingFrame {
  if (message.external) return externalMessageFrame(message, message.external);
  return JSON.stringify({ type: 'message', message: publicMessage(message) } satisfies ServerFrame);
}

function externalMessageFrame(message: StoredMessage, external: ExternalBody): Buffer[] {
  return [Buffer.from(`{"type":"message","message":${headOf(message)}`), external.json(), TAIL];
}

/**
 * A JSON document holding a list of messages (`before` + the messages, comma-separated + `after`), produced part by
 * part: a body kept in a file is read a slice at a time when its turn comes and written out as its bytes, so
 * answering with a page of large messages holds little memory and never turns a body into a string.
 */
export async function* messageListJson(before: string, messages: readonly StoredMessage[], after: string): AsyncGenerator<Buffer | string> {
  yield before;
  for (const [i, message] of messages.entries()) {
    if (i > 0) yield ',';
    yield* messageJson(message);
  }
  yield after;
}

/** Search hits as `{"hits":[{message, snippet, rank}, …]}`, produced part by part as messageListJson does. */
export async function* searchHitsJson(hits: ReadonlyArray<{ message: StoredMessage; snippet: string; rank: number }>): AsyncGenerator<Buffer | string> {
  yield '{"hits":[';
  for (const [i, hit] of hits.entries()) {
    if (i > 0) yield ',';
    yield '{"message":';
    yield* messageJson(hit.message);
    yield `,"snippet":${JSON.stringify(hit.snippet)},"rank":${JSON.stringify(hit.rank)}}`;
  }
  yield ']}';
}

/** One message's JSON; a body kept in a file is copied in from it, a slice at a time. */
async function* messageJson(message: StoredMessage): AsyncGenerator<Buffer | string> {
  if (!message.external) {
    yield JSON.stringify(publicMessage(message));
    return;
  }
  yield headOf(message);
  yield* bodyChunks(message.external);
  yield '}';
}

/**
 * A message as an inbox file of the file mailbox: JSON.stringify(message, null, 2) and a newline, with a body kept
 * in a file copied in as its bytes, a slice at a time.
 */
export async function* prettyMessageJson(message: StoredMessage): AsyncGenerator<Buffer | string> {
  if (!message.external) {
    yield JSON.stringify(publicMessage(message), null, 2) + '\n';
    return;
  }
  yield `${JSON.stringify(envelopeOf(message), null, 2).slice(0, -2)},\n  "body": `;
  yield* bodyChunks(message.external);
  yield '\n}\n';
}

/** Sends a frame; parts go out back to back as the fragments of one text message. */
export function sendFrame(ws: WebSocket, frame: OutgoingFrame): void {
  if (typeof frame === 'string') {
    ws.send(frame);
    return;
  }
  frame.forEach((part, i) => ws.send(part, { binary: false, fin: i === frame.length - 1 }));
}
