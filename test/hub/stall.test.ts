/**
 * A large JSON object body (1M keys, ~9 MB, under the limit) never holds the hub's event loop: it is parsed,
 * checked and re-serialised in the send-decoder worker, over HTTP and over the socket, while other agents' requests
 * keep being answered; the message arrives whole. Once stored, the cockpit listing and opening it (previews, the
 * body a download) holds nobody either.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { messageBodyPath } from '../../src/shared/agent-protocol';
import { MESSAGE_PREVIEW_BYTES, type CallName, type MessagePreview } from '../../src/shared/contract';
import { COCKPIT_SOCKET_PATH, COCKPIT_SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX, type CockpitServerFrame } from '../../src/shared/socket-protocol';
import { openSocket, startHub, type TestHub } from './harness';

const KEYS = 1_000_000;
/**
 * The longest this process's event loop (the hub's, and this test's clients') may be held while a large body goes
 * through. Decoding it on the event loop held it 4-6 s. The goal is ~50 ms, which `npm run bench -- hub --phase
 * stall` measures on a hub of its own; here the bound leaves room for a machine shared with other jobs, where a
 * descheduled thread alone shows gaps of 100-800 ms.
 */
const MAX_HOLD_MS = 1000;

/** `{"0":0,"1":1,…}` with short base-36 keys: 1M keys, about 9 MB. */
function millionKeys(): string {
  const parts: string[] = [];
  for (let i = 0; i < KEYS; i++) parts.push(`"${i.toString(36)}":${i % 10}`);
  return `{${parts.join(',')}}`;
}

/**
 * Runs `send` while another agent polls the hub as fast as it answers; returns the longest event-loop delay seen
 * (this process is the hub's) and the poller's slowest answer.
 */
async function whileSending(hub: TestHub, pollerToken: string, pollerId: string, send: () => Promise<void>): Promise<{ loopMaxMs: number; pollMaxMs: number; polls: number }> {
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  let sending = true;
  let pollMaxMs = 0;
  let polls = 0;
  const poller = (async () => {
    while (sending) {
      const started = performance.now();
      const answer = await hub.api(`/agents/${pollerId}/status`, { token: pollerToken });
      expect(answer.status).toBe(200);
      pollMaxMs = Math.max(pollMaxMs, performance.now() - started);
      polls++;
    }
  })();
  try {
    await send();
  } finally {
    sending = false;
    await poller;
    loop.disable();
  }
  return { loopMaxMs: loop.max / 1e6 - 5, pollMaxMs, polls };
}

describe('the hub never stalls on a large JSON body', () => {
  it('takes a 1M-key object over HTTP and over the socket without holding other agents', { timeout: 120_000 }, async () => {
    const hub = await startHub();
    const [sender, receiver, other] = await Promise.all(['sender', 'receiver', 'other'].map((name) => hub.register(name)));
    const object = millionKeys();
    expect(object.length).toBeGreaterThan(8_000_000);
    expect(object.length).toBeLessThan(10 * 1024 * 1024);

    const overHttp = Buffer.from(`{"subject":"http","body":${object}}`);
    const http = await whileSending(hub, other!.token, other!.agent.id, async () => {
      const response = await fetch(`${hub.url}/api/v1/agents/${receiver!.agent.id}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${sender!.token}` },
        body: overHttp,
      });
      expect(response.status).toBe(201);
    });

    const socket = await openSocket(hub.url, sender!.agent.id, sender!.token);
    await socket.next((f) => f.type === 'welcome');
    const overSocket = Buffer.from(`{"type":"send","ref":"big","message":{"to":{"type":"agent","id":"${receiver!.agent.id}"},"subject":"socket","body":${object}}}`);
    const ws = await whileSending(hub, other!.token, other!.agent.id, async () => {
      socket.ws.send(overSocket, { binary: false });
      const answer = await socket.next((f) => f.type === 'sent' || f.type === 'error', 60_000);
      expect(answer, JSON.stringify(answer)).toMatchObject({ type: 'sent', ref: 'big' });
    });
    socket.ws.close();

    console.log(`[stall] HTTP: loop max ${http.loopMaxMs.toFixed(1)} ms, other agent's slowest answer ${http.pollMaxMs.toFixed(1)} ms over ${http.polls} requests`);
    console.log(`[stall] socket: loop max ${ws.loopMaxMs.toFixed(1)} ms, other agent's slowest answer ${ws.pollMaxMs.toFixed(1)} ms over ${ws.polls} requests`);
    for (const run of [http, ws]) {
      expect(run.polls).toBeGreaterThan(5);
      expect(run.loopMaxMs).toBeLessThan(MAX_HOLD_MS);
      expect(run.pollMaxMs).toBeLessThan(MAX_HOLD_MS + 250);
    }

    // Both arrive whole, as JSON bodies.
    const inbox = await hub.api(`/agents/${receiver!.agent.id}/messages`, { token: receiver!.token });
    expect(inbox.body.messages.map((m: { subject: string; contentType: string }) => [m.subject, m.contentType])).toEqual([
      ['http', 'json'],
      ['socket', 'json'],
    ]);
    for (const message of inbox.body.messages) {
      expect(Object.keys(message.body)).toHaveLength(KEYS);
      expect(message.body[(KEYS - 1).toString(36)]).toBe((KEYS - 1) % 10);
    }
  });
});

/** The browser cockpit's socket: calls a contract call and waits for its answer, as the renderer's transport does. */
async function cockpitSocket(hub: TestHub): Promise<{ call(name: CallName, params: unknown): Promise<unknown>; close(): void }> {
  const url = `${hub.url.replace('http', 'ws')}${COCKPIT_SOCKET_PATH}`;
  const ws = new WebSocket(url, [COCKPIT_SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX + hub.app.cockpitToken]);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const waiting = new Map<number, (frame: CockpitServerFrame) => void>();
  ws.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as CockpitServerFrame;
    if (frame.type !== 'event') waiting.get(frame.id)?.(frame);
  });
  let next = 1;
  return {
    call(name, params) {
      const id = next++;
      ws.send(JSON.stringify({ type: 'call', id, name, params }));
      return new Promise((resolve, reject) =>
        waiting.set(id, (frame) => (frame.type === 'result' ? resolve(frame.result) : reject(new Error(JSON.stringify(frame))))),
      );
    },
    close: () => ws.close(),
  };
}

describe('the cockpit never stalls the hub on a large stored body', () => {
  it('lists and opens a stored 1M-key body as a preview while other agents are answered; the download and search have it whole', { timeout: 120_000 }, async () => {
    const hub = await startHub();
    const [sender, receiver, other] = await Promise.all(['sender', 'receiver', 'other'].map((name) => hub.register(name)));
    const object = millionKeys();
    const sent = await fetch(`${hub.url}/api/v1/agents/${receiver!.agent.id}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${sender!.token}` },
      body: `{"subject":"big","body":${object}}`,
    });
    expect(sent.status).toBe(201);
    const { id } = (await sent.json()) as { id: string };
    // The hub keeps the JSON it re-serialised (integer-like keys first, as JavaScript orders them).
    const stored = readFileSync(path.join(hub.dataDir, 'message-bodies', `${id}.json`));
    expect(stored.length).toBe(Buffer.byteLength(object));
    const storedText = stored.toString('utf8');
    const cockpit = await cockpitSocket(hub);

    // What the cockpit does when a person opens the stream, the thread and the receiving agent, again and again, then
    // downloads the body (streamed from its file).
    let answers = 0;
    let download: Response | undefined;
    let downloaded: Buffer | undefined;
    let found = '';
    const run = await whileSending(hub, other!.token, other!.agent.id, async () => {
      for (let round = 0; round < 5; round++) {
        const listed = (await cockpit.call('messages.list', { limit: 50 })) as MessagePreview[];
        const thread = (await cockpit.call('messages.thread', { threadId: id })) as MessagePreview[];
        const detail = (await cockpit.call('agents.detail', { id: receiver!.agent.id })) as { messages: MessagePreview[] };
        for (const message of [listed[0]!, thread[0]!, detail.messages[0]!]) {
          expect(message).toMatchObject({ id, contentType: 'json', truncated: { bytes: stored.length } });
          expect(typeof message.body).toBe('string');
          expect(storedText.startsWith(message.body as string)).toBe(true);
          expect((message.body as string).length).toBeGreaterThan(MESSAGE_PREVIEW_BYTES - 16);
          expect((message.body as string).length).toBeLessThanOrEqual(MESSAGE_PREVIEW_BYTES);
          answers++;
        }
      }
      download = await fetch(`${hub.url}${messageBodyPath(id)}`, { headers: { authorization: `Bearer ${hub.app.cockpitToken}` } });
      downloaded = Buffer.from(await download.arrayBuffer());
      // An agent's keyword search gets the body whole, streamed from its file as well.
      const search = await fetch(`${hub.url}/api/v1/messages/search?q=big`, { headers: { authorization: `Bearer ${receiver!.token}` } });
      expect(search.status).toBe(200);
      found = await search.text();
    });
    cockpit.close();
    console.log(`[stall] cockpit lists, download, agent's search: loop max ${run.loopMaxMs.toFixed(1)} ms, other agent's slowest answer ${run.pollMaxMs.toFixed(1)} ms over ${run.polls} requests`);
    expect(answers).toBe(15);
    expect(run.polls).toBeGreaterThan(5);
    expect(run.loopMaxMs).toBeLessThan(MAX_HOLD_MS);
    expect(run.pollMaxMs).toBeLessThan(MAX_HOLD_MS + 250);

    // The whole body is the download the cockpit links to: the stored bytes, as they are, and the object that was sent.
    expect(download!.status).toBe(200);
    expect(download!.headers.get('content-type')).toMatch(/^application\/json/);
    expect(Number(download!.headers.get('content-length'))).toBe(stored.length);
    expect(downloaded!.equals(stored)).toBe(true);
    expect(JSON.parse(downloaded!.toString('utf8'))).toEqual(JSON.parse(object));
    const hits = (JSON.parse(found) as { hits: Array<{ message: { id: string; body: Record<string, number> }; snippet: string }> }).hits;
    expect(hits.map((hit) => hit.message.id)).toEqual([id]);
    expect(hits[0]!.snippet).toContain('[big]');
    expect(Object.keys(hits[0]!.message.body)).toHaveLength(KEYS);
  });
});
