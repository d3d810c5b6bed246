/**
 * Outgoing realtime frames for messages whose body is kept as bytes (see body-store.ts): the frame is the message
 * without its body, the body's JSON bytes as they are, and the closing braces, sent as three fragments of one
 * WebSocket text message. No copy of the body is made per frame or per recipient.
 */
import type { WebSocket } from 'ws';
import type { ExternalBody } from './body-store';
import type { StoredMessage } from './store';

/** A frame as one string, or as parts sent as the fragments of one text message. */
export type OutgoingFrame = string | Buffer[];

const TAIL = Buffer.from('}}');

export function externalMessageFrame(message: StoredMessage, external: ExternalBody): Buffer[] {
  const { id, from, to, threadId, replyTo, subject, contentType, importance, ackRequired, createdAt } = message;
  const head = JSON.stringify({
    type: 'message',
    message: { id, from, to, threadId, replyTo, subject, contentType, importance, ackRequired, createdAt },
  });
  // `…,"createdAt":"…"}}` becomes `…,"createdAt":"…","body":` + body + `}}`.
  return [Buffer.from(`${head.slice(0, -2)},"body":`), external.json(), TAIL];
}

/** Sends a frame; parts go out back to back as the fragments of one text message. */
export function sendFrame(ws: WebSocket, frame: OutgoingFrame): void {
  if (typeof frame === 'string') {
    ws.send(frame);
    return;
  }
  frame.forEach((part, i) => ws.send(part, { binary: false, fin: i === frame.length - 1 }));
}
