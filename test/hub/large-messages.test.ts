/**
 * Large messages: bodies above messages.bodyFileBytes are kept in files and travel as the bytes they arrived in.
 * Every reader (socket push and backlog, HTTP inbox and thread, search, the body download, the TypeScript client,
 * the file mailbox) must see exactly the body that was sent, escapes and non-ASCII text included; the cockpit's
 * lists and threads carry such a body as a preview and its size.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HubClient, type Message } from '../../src/client';
import { messageBodyPath } from '../../src/shared/agent-protocol';
import { MESSAGE_PREVIEW_BYTES } from '../../src/shared/contract';
import { previewOf, scanJsonString, splitSend } from '../../src/main/messaging/json-body';
import { agentDir, readInbox, registerByFile, startMailboxHub, until as mailboxUntil } from '../mailbox/harness';
import { openSocket, startHub, until, type Socket } from './harness';

const KiB = 1024;
const MiB = 1024 * KiB;
const BODY_FILE_BYTES = 16 * KiB;

/** Text with everything JSON escapes (quotes, backslashes, newlines, control characters) and non-ASCII text. */
function trickyText(bytes: number, seed = 0): string {
  const pieces = ['line "quoted"\n', 'tab\there \\ back\\slash', ' é ü ñ ß ', ' 😀🚀 ', '\u0001\u001f', '</script>', ' 日本語テキスト ', ' plain words '];
  const parts: string[] = [];
  let size = 0;
  for (let i = seed; size < bytes; i++) {
    const piece = `${pieces[i % pieces.length]}${i}`;
    parts.push(piece);
    size += Buffer.byteLength(piece);
  }
  return parts.join('');
}

/** JSON as senders that escape everything beyond ASCII write it (Python's json.dumps, say): \uXXXX, surrogate pairs. */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function bodyFiles(dataDir: string): string[] {
  const dir = path.join(dataDir, 'message-bodies');
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

async function messageFrame(socket: Socket, id: string, timeoutMs = 20_000): Promise<Message> {
  const frame = await socket.next((f) => f.type === 'message' && f.message.id === id, timeoutMs);
  return (frame as Extract<typeof frame, { type: 'message' }>).message;
}

describe('JSON bodies as bytes', () => {
  it('scans string literals exactly as JSON.parse reads them, and counts their UTF-8 size', () => {
    const samples = [
      '',
      'plain',
      trickyText(5000),
      '\ud83d\ude00 pair, lone \ud800 high and \udc00 low surrogates',
      '\u0000\u007f\u0080\u07ff\u0800\uffff',
    ];
    for (const text of samples) {
      for (const literal of [JSON.stringify(text), asciiJson(text), JSON.stringify(text).replace(/\//g, '\\/')]) {
        const buf = Buffer.from(`  ${literal}, "after"`);
        const scan = scanJsonString(buf, 2);
        expect(scan).toEqual({ end: 2 + Buffer.byteLength(literal), utf8Bytes: Buffer.byteLength(JSON.parse(literal) as string) });
      }
    }
    for (const bad of ['"raw \u0001 control"', '"bad \\x escape"', '"short \\u12"', '"unterminated', '"\\ud83d\\u12"']) {
      expect(scanJsonString(Buffer.from(bad), 0)).toBeNull();
    }
  });

  it('splits a send into its envelope and its body, and declines anything unusual', () => {
    const body = trickyText(3000);
    const http = Buffer.from(`{ "subject": "s \\"body\\": x", "meta": {"body": "inner"}, "list": [1, "]", {"a": null}],\n "body" : ${asciiJson(body)} , "importance": "high" }`);
    const split = splitSend(http, false)!;
    expect(JSON.parse(split.envelope)).toEqual({ subject: 's "body": x', meta: { body: 'inner' }, list: [1, ']', { a: null }], body: '', importance: 'high' });
    expect(split.body.value()).toBe(body);
    expect(split.body.utf8Bytes).toBe(Buffer.byteLength(body));

    const frame = Buffer.from(`{"type":"send","ref":"7","message":{"to":{"type":"agent","id":"x"},"body":${JSON.stringify(body)}}}`);
    const nested = splitSend(frame, true)!;
    expect(JSON.parse(nested.envelope)).toEqual({ type: 'send', ref: '7', message: { to: { type: 'agent', id: 'x' }, body: '' } });
    expect(nested.body.json.toString()).toBe(JSON.stringify(body));

    for (const declined of [
      '{"body": {"an": "object"}}',
      '{"body": "one", "body": "two"}',
      '{"b\\u006fdy": "escaped key", "body": "x"}',
      '{"meta": {"body": "not at the top"}}',
      '{"body": "x"} trailing',
      '{"body": "x", }',
    ]) {
      expect(splitSend(Buffer.from(declined), false), declined).toBeNull();
    }
    expect(splitSend(Buffer.from('{"type":"send","body":"x"}'), true)).toBeNull();
  });

  it('previews the first characters of a literal without cutting an escape or a character in half', () => {
    const text = trickyText(200_000);
    for (const literal of [JSON.stringify(text), asciiJson(text)]) {
      for (let max = 1000; max < 1100; max++) {
        const preview = previewOf(Buffer.from(literal), max);
        expect(text.startsWith(preview)).toBe(true);
        expect(preview.length).toBeGreaterThan(max / 12 - 2);
        expect(preview.length).toBeLessThanOrEqual(max);
      }
    }
    expect(previewOf(Buffer.from(JSON.stringify('short')), 1000)).toBe('short');
  });
});

describe('large messages through the hub', () => {
  it('delivers a body kept in a file over HTTP, unchanged, to the socket, the inbox, threads, search and the cockpit', async () => {
    const hub = await startHub({ maxBytes: 8 * MiB, bodyFileBytes: BODY_FILE_BYTES });
    const a = await hub.register('sender');
    const b = await hub.register('receiver');
    const socket = await openSocket(hub.url, b.agent.id, b.token);
    await socket.next((f) => f.type === 'welcome');
    const body = `needle-at-start ${trickyText(3 * MiB)} needle-beyond-the-index`;

    const sent = await hub.api(`/agents/${b.agent.id}/messages`, { token: a.token, body: { body, subject: 'big one' } });
    expect(sent.status).toBe(201);
    const id = sent.body.id as string;
    expect(bodyFiles(hub.dataDir)).toEqual([`${id}.json`]);
    expect(JSON.parse(readFileSync(path.join(hub.dataDir, 'message-bodies', `${id}.json`), 'utf8'))).toBe(body);

    const pushed = await messageFrame(socket, id);
    expect(pushed).toMatchObject({ id, from: a.agent.id, subject: 'big one', contentType: 'text' });
    expect(pushed.body).toBe(body);

    const inbox = await hub.api(`/agents/${b.agent.id}/messages`, { token: b.token });
    expect(inbox.body.messages.map((m: Message) => m.body)).toEqual([body]);
    const thread = await hub.api(`/threads/${id}`, { token: a.token });
    expect(thread.body.messages[0].body).toBe(body);

    // The keyword index reads the first 64 KiB of the body only.
    const found = await hub.api(`/messages/search?q=needle-at-start`, { token: b.token });
    expect(found.body.hits.map((hit: { message: Message }) => hit.message.id)).toEqual([id]);
    expect(found.body.hits[0].message.body).toBe(body);
    const beyond = await hub.api(`/messages/search?q=needle-beyond-the-index`, { token: b.token });
    expect(beyond.body.hits).toEqual([]);

    // The cockpit lists and opens it as a preview (its first characters and its size); the whole body is a download.
    const storedBytes = readFileSync(path.join(hub.dataDir, 'message-bodies', `${id}.json`));
    const { handlers } = hub.app;
    const previews = [
      ...(await handlers['messages.list']({ limit: 10 })),
      ...(await handlers['messages.list']({ limit: 10, text: 'needle-at-start' })),
      ...(await handlers['messages.thread']({ threadId: id })),
      ...(await handlers['agents.detail']({ id: b.agent.id })).messages,
    ];
    expect(previews).toHaveLength(4);
    for (const preview of previews) {
      expect(preview).toMatchObject({ id, subject: 'big one', contentType: 'text', truncated: { bytes: storedBytes.length } });
      expect(body.startsWith(preview.body as string)).toBe(true);
      expect(Buffer.byteLength(preview.body as string)).toBeLessThanOrEqual(MESSAGE_PREVIEW_BYTES);
      expect((preview.body as string).length).toBeGreaterThan(MESSAGE_PREVIEW_BYTES / 12 - 2);
    }
    const download = await fetch(`${hub.url}${messageBodyPath(id)}`, { headers: { authorization: `Bearer ${hub.app.cockpitToken}` } });
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toMatch(/^application\/json/);
    expect(download.headers.get('content-disposition')).toBe(`attachment; filename="message-${id}.json"`);
    const downloaded = Buffer.from(await download.arrayBuffer());
    expect(downloaded.equals(storedBytes)).toBe(true);
    expect(JSON.parse(downloaded.toString('utf8'))).toBe(body);
    // The Electron cockpit, whose page cannot reach the hub over HTTP, gets the same bytes through its bridge.
    expect((await handlers['messages.body']({ id })).json).toBe(storedBytes.toString('utf8'));
    // Its sender and its recipient may download it too; another agent is told there is no such message.
    const c = await hub.register('bystander');
    for (const [token, status] of [[a.token, 200], [b.token, 200], [c.token, 404]] as const) {
      const answer = await fetch(`${hub.url}${messageBodyPath(id)}`, { headers: { authorization: `Bearer ${token}` } });
      expect(answer.status).toBe(status);
      if (status === 200) expect(Buffer.from(await answer.arrayBuffer()).equals(storedBytes)).toBe(true);
      else expect(await answer.json()).toMatchObject({ code: 'not_found' });
    }
    expect((await fetch(`${hub.url}${messageBodyPath(id)}`)).status).toBe(401);
    expect((await fetch(`${hub.url}${messageBodyPath('not-an-id')}`, { headers: { authorization: `Bearer ${a.token}` } })).status).toBe(400);
    // A small message next to it is stored in its row as before.
    const small = await hub.api(`/agents/${b.agent.id}/messages`, { token: a.token, body: { body: 'small' } });
    expect((await messageFrame(socket, small.body.id)).body).toBe('small');
    expect((await handlers['messages.thread']({ threadId: small.body.id }))[0]).toEqual(expect.not.objectContaining({ truncated: expect.anything() }));
    const smallDownload = await fetch(`${hub.url}${messageBodyPath(small.body.id)}`, { headers: { authorization: `Bearer ${hub.app.cockpitToken}` } });
    expect(await smallDownload.text()).toBe('"small"');
    expect((await handlers['messages.body']({ id: small.body.id })).json).toBe('"small"');
    expect(bodyFiles(hub.dataDir)).toHaveLength(1);
    // A page mixing both kinds, answered with the large body streamed from its file.
    const page = await fetch(`${hub.url}/api/v1/agents/${b.agent.id}/messages?limit=1`, { headers: { authorization: `Bearer ${b.token}` } });
    expect(page.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await page.json()).toMatchObject({ messages: [{ id, body }], next: id });
    const both = await hub.api(`/agents/${b.agent.id}/messages`, { token: b.token });
    expect(both.body).toMatchObject({ messages: [{ id, body }, { id: small.body.id, body: 'small' }], next: null });
  }, 60_000);

  it('takes large sends over the socket, escaped any way, and delivers them live and from the backlog', async () => {
    const hub = await startHub({ maxBytes: 8 * MiB, bodyFileBytes: BODY_FILE_BYTES });
    const a = await hub.register('sender');
    const b = await hub.register('live');
    const c = await hub.register('later');
    const sender = await openSocket(hub.url, a.agent.id, a.token);
    const live = await openSocket(hub.url, b.agent.id, b.token);
    await live.next((f) => f.type === 'welcome');
    await hub.api('/agents/' + b.agent.id + '/topics', { token: b.token, body: { topics: ['big'] } });
    await hub.api('/agents/' + c.agent.id + '/topics', { token: c.token, body: { topics: ['big'] } });

    const bodies = ['x'.repeat(2 * MiB), trickyText(2 * MiB, 1), trickyText(2 * MiB, 2)];
    const ids: string[] = [];
    for (const [i, body] of bodies.entries()) {
      // The second is written with every non-ASCII character escaped (\uXXXX, surrogate pairs included).
      const literal = i === 1 ? asciiJson(body) : JSON.stringify(body);
      sender.ws.send(`{"type":"send","ref":"r${i}","message":{"to":{"type":"topic","name":"big"},"importance":"high","body":${literal}}}`);
      const ack = await sender.next((f) => f.type === 'sent' || f.type === 'error', 20_000);
      expect(ack).toMatchObject({ type: 'sent', ref: `r${i}`, result: { recipients: 2, duplicate: false } });
      ids.push((ack as Extract<typeof ack, { type: 'sent' }>).result.id);
    }
    for (const [i, id] of ids.entries()) {
      const message = await messageFrame(live, id);
      expect(message.body).toBe(bodies[i]);
      expect(message).toMatchObject({ to: { type: 'topic', name: 'big' }, importance: 'high', contentType: 'text' });
    }
    expect(bodyFiles(hub.dataDir)).toEqual(ids.map((id) => `${id}.json`).sort());

    // An agent that connects afterwards gets them from the backlog, after a restart too.
    await hub.restart();
    const later = await openSocket(hub.url, c.agent.id, c.token);
    for (const [i, id] of ids.entries()) expect((await messageFrame(later, id)).body).toBe(bodies[i]);
    later.ws.close();
  }, 60_000);

  it('limits the decoded size, not the escaped one, with the usual errors', async () => {
    const hub = await startHub({ maxBytes: 256 * KiB, bodyFileBytes: BODY_FILE_BYTES });
    const a = await hub.register('sender');
    const b = await hub.register('receiver');
    // Requests and frames may be maxBytes + 64 KiB; the body, decoded, maxBytes.
    const fits = '\n'.repeat(150 * KiB); // 300 KiB as JSON, 150 KiB decoded
    const over = 'é'.repeat(130 * KiB); // 260 KiB decoded, 780 KiB escaped as \u00e9: over the HTTP body limit too
    const overPlain = 'y'.repeat(257 * KiB);

    const ok = await hub.api(`/agents/${b.agent.id}/messages`, { token: a.token, body: `{"body":${JSON.stringify(fits)}}` });
    expect(ok.status).toBe(201);
    for (const body of [asciiJson({ body: over }), JSON.stringify({ body: overPlain })]) {
      const refused = await hub.api(`/agents/${b.agent.id}/messages`, { token: a.token, body });
      expect(refused.status).toBe(413);
      expect(refused.body.code).toBe('too_large');
    }

    const socket = await openSocket(hub.url, a.agent.id, a.token);
    socket.ws.send(`{"type":"send","ref":"fits","message":{"to":{"type":"agent","id":"${b.agent.id}"},"body":${JSON.stringify(fits)}}}`);
    expect(await socket.next((f) => f.type === 'sent' || f.type === 'error', 10_000)).toMatchObject({ type: 'sent', ref: 'fits' });
    socket.ws.send(`{"type":"send","ref":"over","message":{"to":{"type":"agent","id":"${b.agent.id}"},"body":${JSON.stringify(overPlain)}}}`);
    expect(await socket.next((f) => f.type === 'sent' || f.type === 'error', 10_000)).toMatchObject({ type: 'error', ref: 'over', code: 'too_large' });
    // A frame beyond the socket's limit still closes it with 1009.
    socket.ws.send(`{"type":"send","ref":"huge","message":{"to":{"type":"agent","id":"${b.agent.id}"},"body":${asciiJson(over)}}}`);
    expect((await socket.closed).code).toBe(1009);

    const inbox = await hub.api(`/agents/${b.agent.id}/messages`, { token: b.token });
    expect(inbox.body.messages.map((m: Message) => m.body)).toEqual([fits, fits]);
    expect(bodyFiles(hub.dataDir)).toHaveLength(2);
  }, 60_000);

  it('stores a large JSON body too, once per idempotency key', async () => {
    const hub = await startHub({ maxBytes: 8 * MiB, bodyFileBytes: BODY_FILE_BYTES });
    const a = await hub.register('sender');
    const b = await hub.register('receiver');
    const body = { rows: Array.from({ length: 20_000 }, (_, i) => ({ i, text: trickyText(40, i) })), done: true };
    const first = await hub.api(`/agents/${b.agent.id}/messages`, { token: a.token, body: { body, idempotencyKey: 'k1' } });
    expect(first.status).toBe(201);
    const retry = await hub.api(`/agents/${b.agent.id}/messages`, { token: a.token, body: { body, idempotencyKey: 'k1' } });
    expect(retry.body).toMatchObject({ id: first.body.id, duplicate: true });
    const text = `t${trickyText(100 * KiB)}`;
    const again = await hub.api(`/agents/${b.agent.id}/messages`, { token: a.token, body: { body: text, idempotencyKey: 'k2' } });
    const againRetry = await hub.api(`/agents/${b.agent.id}/messages`, { token: a.token, body: { body: text, idempotencyKey: 'k2' } });
    expect(againRetry.body).toMatchObject({ id: again.body.id, duplicate: true });
    // The retries' body files are removed once they turn out to be duplicates.
    await until(() => bodyFiles(hub.dataDir).length === 2, 5000, 'duplicate body files removed');
    expect(bodyFiles(hub.dataDir)).toEqual([`${first.body.id}.json`, `${again.body.id}.json`].sort());

    const inbox = await hub.api(`/agents/${b.agent.id}/messages`, { token: b.token });
    expect(inbox.body.messages[0]).toMatchObject({ contentType: 'json', body });
    expect(inbox.body.messages[1]).toMatchObject({ contentType: 'text', body: text });
    const socket = await openSocket(hub.url, b.agent.id, b.token);
    expect((await messageFrame(socket, first.body.id)).body).toEqual(body);
  }, 60_000);

  it('keeps bodies under the file threshold in their rows, whichever way they arrive', async () => {
    const hub = await startHub({ maxBytes: 8 * MiB }); // files from 1 MiB on
    const a = await hub.register('sender');
    const b = await hub.register('receiver');
    const body = trickyText(300 * KiB, 4);
    const overHttp = await hub.api(`/agents/${b.agent.id}/messages`, { token: a.token, body: `{"body":${asciiJson(body)}}` });
    expect(overHttp.status).toBe(201);
    const socket = await openSocket(hub.url, a.agent.id, a.token);
    socket.ws.send(`{"type":"send","ref":"s","message":{"to":{"type":"agent","id":"${b.agent.id}"},"body":${asciiJson(body)}}}`);
    expect(await socket.next((f) => f.type === 'sent' || f.type === 'error', 10_000)).toMatchObject({ type: 'sent', ref: 's' });
    const receiver = await openSocket(hub.url, b.agent.id, b.token);
    expect((await messageFrame(receiver, overHttp.body.id)).body).toBe(body);
    expect(receiver.messages().map((m) => m.body)).toEqual([body, body].slice(0, receiver.messages().length));
    const inbox = await hub.api(`/agents/${b.agent.id}/messages`, { token: b.token });
    expect(inbox.body.messages.map((m: Message) => m.body)).toEqual([body, body]);
    expect(bodyFiles(hub.dataDir)).toEqual([]);
  }, 60_000);

  it('hands deliveries the parsed body it was given, and the raw one parsed only when read', async () => {
    const hub = await startHub({ maxBytes: 8 * MiB, bodyFileBytes: BODY_FILE_BYTES });
    const a = await hub.register('sender');
    const b = await hub.register('receiver');
    const { messaging, registry } = hub.app.hub();
    const delivered: Array<{ id: string; message: Message }> = [];
    const off = messaging.onDelivered((deliveries) => deliveries.forEach(({ message }) => delivered.push({ id: message.id, message })));
    const parsed = { items: Array.from({ length: 2000 }, (_, i) => ({ i, text: trickyText(20, i) })) };
    const sent = await messaging.send(registry.get(a.agent.id), { to: { type: 'agent', id: b.agent.id }, body: parsed, importance: 'normal', ackRequired: false });
    const overHttp = await hub.api(`/agents/${b.agent.id}/messages`, { token: a.token, body: { body: trickyText(100 * KiB) } });
    await until(() => delivered.length === 2, 5000, 'both deliveries');
    off();
    // A body over the file threshold that arrived parsed is delivered as that very object, not parsed again from its file.
    expect(delivered.find((d) => d.id === sent.id)!.message.body).toBe(parsed);
    expect(delivered.find((d) => d.id === overHttp.body.id)!.message.body).toBe(trickyText(100 * KiB));
  });

  it('removes body files no stored message names when the hub starts', async () => {
    const hub = await startHub({ maxBytes: 8 * MiB, bodyFileBytes: BODY_FILE_BYTES });
    const a = await hub.register('sender');
    const b = await hub.register('receiver');
    const body = trickyText(100 * KiB);
    const sent = await hub.api(`/agents/${b.agent.id}/messages`, { token: a.token, body: { body } });
    const dir = path.join(hub.dataDir, 'message-bodies');
    // What a crash between a body's write and its commit leaves, and other debris.
    writeFileSync(path.join(dir, '01ARZ3NDEKTSV4RRFFQ69G5FAV.json'), JSON.stringify('never committed'));
    writeFileSync(path.join(dir, `${sent.body.id}.json.tmp`), 'partial');
    await hub.restart();
    expect(bodyFiles(hub.dataDir)).toEqual([`${sent.body.id}.json`]);
    const inbox = await hub.api(`/agents/${b.agent.id}/messages`, { token: b.token });
    expect(inbox.body.messages[0].body).toBe(body);
  }, 60_000);

  it('reaches the TypeScript client and the file mailbox in full', async () => {
    const hub = await startMailboxHub({ maxBytes: 8 * MiB, bodyFileBytes: BODY_FILE_BYTES });
    const boxAgent = await registerByFile(hub.root, 'filer');
    const sender = await HubClient.register({ url: hub.url, name: 'client-sender', project: 'test' });
    const receiver = await HubClient.register({ url: hub.url, name: 'client-receiver', project: 'test' });
    const seen: Message[] = [];
    receiver.on('message', (message) => {
      seen.push(message);
    });
    await receiver.connect();
    await sender.connect();
    const body = trickyText(2 * MiB, 3);
    const toClient = await sender.send(receiver.id, body);
    const toBox = await sender.send(boxAgent.id, body, { subject: 'to the mailbox' });
    await until(() => seen.length === 1, 20_000, 'the client to get the message');
    expect(seen[0]).toMatchObject({ id: toClient.id, body });
    expect((await receiver.inbox({ state: 'all' })).messages[0]!.body).toBe(body);

    const dir = agentDir(hub.root, 'test', 'filer');
    await mailboxUntil(() => readInbox(dir).length === 1, 20_000, 'the inbox file');
    expect(readInbox(dir)[0]).toMatchObject({ id: toBox.id, subject: 'to the mailbox', body });
    await Promise.all([sender.close(), receiver.close()]);
  }, 60_000);
});
