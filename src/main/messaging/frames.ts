/**
 * Messages as they leave the hub: the public shape, realtime frames and JSON documents. A message whose body is
 * kept as bytes (see body-store.ts) goes out as the message without its body, then the body's JSON bytes as they
 * are, then the closing braces: as three fragments of one WebSocket text message, or as consecutive pieces of a
 * document. No copy of the body is made per frame or per recipient.
 */
import type { WebSocket } from 'ws';
import type { Message, SendResponse } from '../../shared/agent-protocol';
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

/**
 * The frame for a message, made once and sent to every recipient as the same bytes (or the same parts).
 * `bodyJson`, when given, is the body's JSON encoding (a text body's string literal, as the sender sent it; a JSON
 * body's serialisation, made once to store it): it goes into the frame as it is instead of serialising the body
 * again, which cost about 2 µs per KiB.
 */
export function messageFrame(message: StoredMessage, bodyJson?: string | Buffer): OutgoingFrame {
  if (message.external) return externalMessageFrame(message, message.external);
  return [frameAround(messageFrameHead(message), bodyJson ?? JSON.stringify(message.body), messageFrameTail(message))];
}

/**
 * The `message` frame up to its body, as JSON.stringify({type: 'message', message}) writes it, from the fields
 * themselves: ids and times are the hub's own (ULIDs, ISO times), enumerations are the schema's; anything a sender
 * chose (thread, subject, topic) is serialised.
 */
function messageFrameHead(m: StoredMessage): string {
  const to = m.to.type === 'agent' ? `{"type":"agent","id":"${m.to.id}"}` : m.to.type === 'topic' ? `{"type":"topic","name":${JSON.stringify(m.to.name)}}` : '{"type":"broadcast"}';
  return (
    `{"type":"message","message":{"id":"${m.id}","from":"${m.from}","to":${to},"threadId":${JSON.stringify(m.threadId)},` +
    `"replyTo":${m.replyTo === null ? 'null' : JSON.stringify(m.replyTo)},"subject":${m.subject === null ? 'null' : JSON.stringify(m.subject)},` +
    `"contentType":"${m.contentType}","body":`
  );
}

function messageFrameTail(m: StoredMessage): string {
  return `,"importance":"${m.importance}","ackRequired":${m.ackRequired},"createdAt":"${m.createdAt}"}}`;
}

/** One buffer of head + body + tail: converted to bytes once, whatever the number of recipients. */
function frameAround(head: string, body: string | Buffer, tail: string): Buffer {
  const headBytes = Buffer.byteLength(head);
  const bodyBytes = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  const frame = Buffer.allocUnsafe(headBytes + bodyBytes + Buffer.byteLength(tail));
  frame.write(head, 0);
  if (typeof body === 'string') frame.write(body, headBytes);
  else body.copy(frame, headBytes);
  frame.write(tail, headBytes + bodyBytes);
  return frame;
}

/** The `sent` answer to a send frame (as JSON.stringify writes it; the result's ids and time are the hub's own). */
export function sentFrame(ref: string, r: SendResponse): string {
  return `{"type":"sent","ref":${JSON.stringify(ref)},"result":{"id":"${r.id}","threadId":${JSON.stringify(r.threadId)},"createdAt":"${r.createdAt}","recipients":${r.recipients},"duplicate":${r.duplicate}}}`;
}

/**
 * A text body's JSON string literal inside the bytes of the frame or request it arrived in, when it can be taken
 * as it is: the first `"body":"` there starts it, and it is exactly `"` + the body's UTF-8 + `"` with no quote or
 * backslash within (a literal with escapes is left to JSON.stringify). `body` is what JSON.parse read from those
 * bytes; comparing the two makes sure the literal found is the one parsed (not, say, an earlier duplicate key).
 */
export function textBodyLiteral(bytes: Buffer, body: string): Buffer | undefined {
  const key = bytes.indexOf(BODY_KEY);
  if (key < 0) return undefined;
  const start = key + BODY_KEY.length - 1;
  const end = start + Buffer.byteLength(body) + 2;
  if (end > bytes.length || bytes.indexOf(QUOTE, start + 1) !== end - 1) return undefined;
  const backslash = bytes.indexOf(BACKSLASH, start + 1);
  if (backslash !== -1 && backslash < end) return undefined;
  if (bytes.toString('utf8', start + 1, end - 1) !== body) return undefined;
  return bytes.subarray(start, end);
}
const BODY_KEY = Buffer.from('"body":"');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

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
