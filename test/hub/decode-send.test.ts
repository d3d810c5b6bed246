/**
 * decodeSend, as the send-decoder worker runs it: large sends split into a small envelope and the body's JSON bytes,
 * other large frames left whole, and the refusals the small-document parser makes (depth, prototype poisoning).
 */
import { describe, expect, it } from 'vitest';
import { decodeSend, MAX_ENVELOPE_BYTES, rawBodyFrom } from '../../src/main/messaging/decode-send';
import { SPLIT_SENDS_FROM } from '../../src/main/messaging/json-body';
import { MAX_JSON_DEPTH } from '../../src/shared/agent-protocol';

const large = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, i]));
const bytes = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));

describe('decodeSend', () => {
  it('splits a large object body into the envelope and its JSON bytes, over HTTP and in a frame', () => {
    const http = decodeSend(bytes({ to: { type: 'broadcast' }, subject: 's', body: large }), false);
    expect(http.kind).toBe('split');
    if (http.kind !== 'split') return;
    expect(JSON.parse(http.envelope)).toEqual({ to: { type: 'broadcast' }, subject: 's', body: '' });
    const raw = rawBodyFrom(http.body);
    expect(raw.contentType).toBe('json');
    expect(raw.value()).toEqual(large);
    expect(raw.utf8Bytes).toBe(Buffer.byteLength(JSON.stringify(large)));

    const frame = decodeSend(bytes({ type: 'send', ref: '1', message: { to: { type: 'broadcast' }, body: [large, 'x'] } }), true);
    expect(frame.kind).toBe('split');
    if (frame.kind !== 'split') return;
    expect(JSON.parse(frame.envelope)).toEqual({ type: 'send', ref: '1', message: { to: { type: 'broadcast' }, body: '' } });
    expect(rawBodyFrom(frame.body).value()).toEqual([large, 'x']);
  });

  it('leaves small documents and large frames other than sends whole', () => {
    expect(decodeSend(bytes({ to: { type: 'broadcast' }, body: { a: 1 } }), false)).toEqual({ kind: 'whole' });
    expect(bytes({ type: 'memory.store', ref: '1', memories: [{ content: 'x'.repeat(SPLIT_SENDS_FROM) }] }).length).toBeGreaterThan(SPLIT_SENDS_FROM);
    expect(decodeSend(bytes({ type: 'memory.store', ref: '1', memories: [{ content: 'x'.repeat(SPLIT_SENDS_FROM) }] }), true)).toEqual({ kind: 'whole' });
  });

  it('refuses what the hub refuses anyway, without handing the document back to the event loop', () => {
    const refused = (document: Buffer, nested = false) => {
      const result = decodeSend(document, nested);
      expect(result.kind).toBe('invalid');
      return result.kind === 'invalid' ? result.message : '';
    };
    expect(refused(bytes(`{"body":${'['.repeat(MAX_JSON_DEPTH + 1)}${']'.repeat(MAX_JSON_DEPTH + 1)}}`))).toContain(`deeper than ${MAX_JSON_DEPTH} levels`);
    expect(refused(bytes(`{"body":{"pad":${JSON.stringify(large)},"__proto__":{"polluted":true}}}`))).toContain('forbidden prototype property');
    expect(refused(bytes(`{"body":{"pad":${JSON.stringify(large)},"constructor":{"prototype":{"polluted":true}}}}`))).toContain('forbidden prototype property');
    expect(refused(bytes({ to: { type: 'broadcast' }, body: 42, pad: large }))).toContain('a send is a JSON object');
    expect(refused(bytes({ type: 'send', ref: '1', message: 'not an object', pad: large }), true)).toContain('a send is a JSON object');
    expect(refused(bytes({ to: { type: 'broadcast' }, body: 'x', junk: large }))).toContain(`${MAX_ENVELOPE_BYTES} bytes`);
    expect(refused(bytes(`{"body":${JSON.stringify(large)}`))).toMatch(/JSON/);
  });
});
