/**
 * Message frames built from their parts (frames.ts): the same JSON as serialising the whole frame, and a text body
 * taken from the bytes it arrived in only when those bytes are exactly its JSON string literal.
 */
import { describe, expect, it } from 'vitest';
import type { Recipient } from '../../src/shared/agent-protocol';
import { messageFrame, publicMessage, sentFrame, textBodyLiteral, type OutgoingFrame } from '../../src/main/messaging/frames';
import type { StoredMessage } from '../../src/main/messaging/store';

const ID = '01JEXAMPLE0000000000000001';
const FROM = '01JEXAMPLE0000000000000002';

function stored(overrides: Partial<StoredMessage>): StoredMessage {
  return {
    seq: 7,
    id: ID,
    from: FROM,
    to: { type: 'agent', id: '01JEXAMPLE0000000000000003' },
    threadId: ID,
    replyTo: null,
    subject: null,
    contentType: 'text',
    body: 'hello',
    importance: 'normal',
    ackRequired: false,
    createdAt: '2026-12-07T06:00:00.000Z',
    ...overrides,
  };
}

const text = (frame: OutgoingFrame) => (typeof frame === 'string' ? frame : Buffer.concat(frame).toString('utf8'));
const serialised = (message: StoredMessage) => JSON.stringify({ type: 'message', message: publicMessage(message) });

describe('message frames', () => {
  const recipients: Recipient[] = [{ type: 'agent', id: '01JEXAMPLE0000000000000003' }, { type: 'topic', name: 'build/ci:main' }, { type: 'broadcast' }];
  const variants: Array<Partial<StoredMessage>> = [
    {},
    { subject: 'quotes " and \\ backslash, tab\t, newline\n, é, 😀, \u2028', threadId: 'my "thread" \u0001', replyTo: '01JEXAMPLE0000000000000009' },
    { body: 'a body with "quotes", \\, \n, control \u0007, lone surrogate \ud800 and emoji 😀' },
    { contentType: 'json', body: { nested: [1, 'two', { three: null }], quote: '"' }, importance: 'urgent', ackRequired: true },
    { contentType: 'json', body: [] },
  ];

  it('writes exactly what serialising the whole frame writes, for every recipient kind and awkward field', () => {
    for (const to of recipients) {
      for (const variant of variants) {
        const message = stored({ to, ...variant });
        expect(text(messageFrame(message))).toBe(serialised(message));
        // With the body's JSON given (a JSON body's serialisation, or a text body's literal), the same.
        expect(text(messageFrame(message, JSON.stringify(message.body)))).toBe(serialised(message));
        expect(text(messageFrame(message, Buffer.from(JSON.stringify(message.body))))).toBe(serialised(message));
      }
    }
  });

  it('puts the body in as the bytes given (a literal with escapes stays as the sender wrote it)', () => {
    const message = stored({ body: 'AB' });
    const frame = JSON.parse(text(messageFrame(message, Buffer.from('"\\u0041B"'))));
    expect(frame).toEqual(JSON.parse(serialised(message)));
  });

  it('answers a send with the sent frame as serialising it would', () => {
    const result = { id: ID, threadId: 'thread "x"', createdAt: '2026-12-07T06:00:00.000Z', recipients: 3, duplicate: true };
    expect(sentFrame('ref "1"', result)).toBe(JSON.stringify({ type: 'sent', ref: 'ref "1"', result }));
  });
});

describe('a text body\'s literal in the bytes it arrived in', () => {
  const frameOf = (bodyJson: string, before = '', after = '') =>
    Buffer.from(`{"type":"send","ref":"r",${before}"message":{"to":{"type":"agent","id":"${ID}"},"body":${bodyJson}${after}}}`);
  const literal = (bytes: Buffer) => {
    const body = (JSON.parse(bytes.toString('utf8')) as { message: { body: string } }).message.body;
    return textBodyLiteral(bytes, body)?.toString('utf8');
  };

  it('is found when the body needs no escapes, in any script', () => {
    expect(literal(frameOf('"plain text"'))).toBe('"plain text"');
    expect(literal(frameOf('"héllo wörld, 日本語, 😀, \u2028"'))).toBe('"héllo wörld, 日本語, 😀, \u2028"');
    expect(literal(frameOf('""'))).toBe('""');
    expect(literal(frameOf('"x"', '', ',"subject":"after it"'))).toBe('"x"');
  });

  it('is not taken when it has escapes, or when the first "body" is not the body that was parsed', () => {
    expect(literal(frameOf('"a \\"quoted\\" word"'))).toBeUndefined();
    expect(literal(frameOf('"line\\nbreak"'))).toBeUndefined();
    expect(literal(frameOf('"\\u0041"'))).toBeUndefined();
    // A repeated key: JSON.parse keeps the last one, of the same length as the first.
    expect(literal(frameOf('"evil"', '', ',"body":"real"'))).toBeUndefined();
    // A repeated key whose parsed value spells the first one's bytes up to a later quote.
    expect(literal(frameOf('"abc","subject":"def"', '', ',"body":"abc\\",\\"subject\\":\\"def"'))).toBeUndefined();
    // Whitespace after the colon: not looked for, serialised as usual.
    expect(literal(frameOf(' "spaced"'))).toBeUndefined();
  });
});
