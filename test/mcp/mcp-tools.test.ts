/**
 * The MCP server's tools beyond send/inbox/wait (register, set_status, reply, read_thread, topics, search, extract),
 * its resources and its idle timeout: the official SDK's client over Streamable HTTP against a real hub on loopback.
 */
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { MCP_BODY_PREVIEW_BYTES, MCP_PATH, MCP_RESOURCES } from '../../src/shared/mcp-protocol';
import { openSocket, startHub, type TestHub } from '../hub/harness';
import { call, connect, INITIALIZE, post, text } from './mcp-client';

type Msg = { id: string; from: string; threadId: string; replyTo: string | null; body: unknown; to: { type: string } };

async function inboxOf(hub: TestHub, agent: { agent: { id: string }; token: string }): Promise<Msg[]> {
  return (await hub.api(`/agents/${agent.agent.id}/messages?state=all`, { token: agent.token })).body.messages;
}

function structured<T>(result: { structuredContent?: unknown; isError?: boolean }): T {
  expect(result.isError, JSON.stringify(result)).toBeFalsy();
  return result.structuredContent as T;
}

describe('MCP tools', () => {
  it('register updates the caller\'s own listing and refuses to become another agent; set_status sets presence', async () => {
    const hub = await startHub();
    const me = await hub.register('lister', { capabilities: ['build'] });
    const { client } = await connect(hub, me.token);

    const updated = structured<{ agent: { id: string; tier: string; capabilities: string[]; description: string } }>(
      await call(client, 'register', { tier: 'strategic', capabilities: ['review', 'typescript'], description: 'reviews pull requests' }),
    );
    expect(updated.agent).toMatchObject({ id: me.agent.id, tier: 'strategic', capabilities: ['review', 'typescript'], description: 'reviews pull requests' });
    // Seen over HTTP too (the same registry), and it survives a restart (written to the database).
    await hub.restart();
    const after = (await hub.api(`/agents/${me.agent.id}/status`, { token: me.token })).body;
    expect(after).toMatchObject({ tier: 'strategic', capabilities: ['review', 'typescript'], description: 'reviews pull requests' });

    const again = (await connect(hub, me.token)).client;
    // Its own name is fine; another name is another agent: a tool error that says how to connect as it.
    expect((await call(again, 'register', { name: 'lister', project: 'test', description: 'same me' })).isError).toBeFalsy();
    const other = await call(again, 'register', { name: 'someone-else', capabilities: ['x'] });
    expect(other.isError).toBe(true);
    expect(text(other)).toMatch(/another agent: connect as it .*devenviro connect <client> --name someone-else --project test/);
    expect((await hub.api('/agents', { token: me.token })).body.agents.map((a: { name: string }) => a.name)).not.toContain('someone-else');
    expect((await hub.api(`/agents/${me.agent.id}/status`, { token: me.token })).body.capabilities).toEqual(['review', 'typescript']);

    const status = structured<{ agent: { status: string; activity: string } }>(await call(again, 'set_status', { status: 'busy', activity: 'running the test suite' }));
    expect(status.agent).toMatchObject({ status: 'busy', activity: 'running the test suite' });
    expect((await hub.api(`/agents/${me.agent.id}/status`, { token: me.token })).body).toMatchObject({ status: 'busy', activity: 'running the test suite' });
    const bad = await call(again, 'set_status', { status: 'offline' });
    expect(bad.isError).toBe(true);
    expect(text(bad)).toMatch(/Invalid arguments for tool set_status/);
    expect((await hub.api(`/agents/${me.agent.id}/status`, { token: me.token })).body.status).toBe('busy');
    await again.close();
  });

  it('reply answers in the same thread: to the sender, to the topic for a topic message, or privately', async () => {
    const hub = await startHub();
    const asker = await hub.register('asker');
    const answerer = await hub.register('answerer');
    const listener = await hub.register('listener');
    const { client } = await connect(hub, answerer.token);

    const question = await hub.api('/messages', { token: asker.token, body: { to: { type: 'agent', id: answerer.agent.id }, body: 'is build 7 green?', subject: 'build 7' } });
    expect(question.status).toBe(201);
    const replied = structured<{ id: string; threadId: string; to: unknown }>(await call(client, 'reply', { messageId: question.body.id, body: 'yes, green', importance: 'high' }));
    expect(replied).toMatchObject({ threadId: question.body.threadId, to: { type: 'agent', id: asker.agent.id }, recipients: 1 });
    const landed = (await inboxOf(hub, asker)).find((m) => m.id === replied.id)!;
    expect(landed).toMatchObject({ from: answerer.agent.id, threadId: question.body.threadId, replyTo: question.body.id, body: 'yes, green', importance: 'high' });

    // A topic message: the reply goes to the topic (the asker's subscription brings it back), or privately to its sender.
    for (const agent of [asker, answerer, listener]) {
      expect((await hub.api(`/agents/${agent.agent.id}/topics`, { token: agent.token, body: { topics: ['builds'] } })).status).toBe(200);
    }
    const announcement = await hub.api('/messages', { token: asker.token, body: { to: { type: 'topic', name: 'builds' }, body: 'build 8 started' } });
    const toTopic = structured<{ id: string; to: unknown; recipients: number }>(await call(client, 'reply', { messageId: announcement.body.id, body: 'watching it' }));
    expect(toTopic).toMatchObject({ to: { type: 'topic', name: 'builds' }, recipients: 2, threadId: announcement.body.threadId });
    expect((await inboxOf(hub, listener)).map((m) => m.id)).toContain(toTopic.id);
    const privately = structured<{ id: string; to: unknown }>(await call(client, 'reply', { messageId: announcement.body.id, body: 'just to you', privately: true }));
    expect(privately.to).toEqual({ type: 'agent', id: asker.agent.id });
    expect((await inboxOf(hub, listener)).map((m) => m.id)).not.toContain(privately.id);
    expect((await inboxOf(hub, asker)).find((m) => m.id === privately.id)).toMatchObject({ threadId: announcement.body.threadId });

    // A message the caller never saw, an unknown id and a malformed one: tool errors, nothing sent.
    const elsewhere = await hub.api('/messages', { token: asker.token, body: { to: { type: 'agent', id: listener.agent.id }, body: 'private' } });
    const before = (await inboxOf(hub, asker)).length;
    for (const messageId of [elsewhere.body.id, '01ARZ3NDEKTSV4RRFFQ69G5FAV']) {
      const refused = await call(client, 'reply', { messageId, body: 'sneaky' });
      expect(refused.isError).toBe(true);
      expect(text(refused)).toMatch(/no message .* that you sent or received.*\(not_found\)/);
    }
    const malformed = await call(client, 'reply', { messageId: 'nope', body: 'x' });
    expect(text(malformed)).toMatch(/Invalid arguments for tool reply/);
    expect((await inboxOf(hub, asker)).length).toBe(before);
    expect((await inboxOf(hub, listener)).map((m) => m.body)).not.toContain('sneaky');
    await client.close();
  });

  it('read_thread shows a thread the caller is in and refuses one it is not in; search_messages sees only its messages', async () => {
    const hub = await startHub();
    const a = await hub.register('thread-a');
    const b = await hub.register('thread-b');
    const outsider = await hub.register('outsider');
    const first = await hub.api('/messages', { token: a.token, body: { to: { type: 'agent', id: b.agent.id }, body: 'the flamingo migration starts at noon', subject: 'migration' } });
    const second = await hub.api('/messages', { token: b.token, body: { to: { type: 'agent', id: a.agent.id }, body: 'flamingo ready', replyTo: first.body.id } });
    const aside = await hub.api('/messages', { token: a.token, body: { to: { type: 'agent', id: outsider.agent.id }, body: 'flamingo gossip' } });

    const { client } = await connect(hub, b.token);
    const thread = structured<{ threadId: string; messages: Msg[] }>(await call(client, 'read_thread', { threadId: first.body.threadId }));
    expect(thread.messages.map((m) => m.id)).toEqual([first.body.id, second.body.id]);
    // The same answer as GET /threads/{threadId}.
    const overHttp = await hub.api(`/threads/${first.body.threadId}`, { token: b.token });
    expect(overHttp.body.messages.map((m: Msg) => m.id)).toEqual(thread.messages.map((m) => m.id));

    const notMine = await call(client, 'read_thread', { threadId: aside.body.threadId });
    expect(notMine.isError).toBe(true);
    expect(text(notMine)).toMatch(/no thread .* that you can see.*\(not_found\)/);
    expect((await hub.api(`/threads/${aside.body.threadId}`, { token: b.token })).status).toBe(404);
    const outsiders = (await connect(hub, outsider.token)).client;
    expect((await call(outsiders, 'read_thread', { threadId: first.body.threadId })).isError).toBe(true);

    const found = structured<{ hits: Array<{ message: Msg; snippet: string }> }>(await call(client, 'search_messages', { query: 'flamingo' }));
    expect(found.hits.map((hit) => hit.message.id).sort()).toEqual([first.body.id, second.body.id].sort());
    expect(found.hits[0]!.snippet).toMatch(/\[flamingo\]/);
    const outsiderFinds = structured<{ hits: Array<{ message: Msg }> }>(await call(outsiders, 'search_messages', { query: 'flamingo', limit: 5 }));
    expect(outsiderFinds.hits.map((hit) => hit.message.id)).toEqual([aside.body.id]);
    expect((await call(client, 'search_messages', { query: '' })).isError).toBe(true);
    expect((await call(client, 'search_messages', { query: 'x', limit: 0 })).isError).toBe(true);
    await client.close();
    await outsiders.close();
  });

  it('a large body reaches the reading tools and the inbox resource as a preview with its size and the route that gives it whole', async () => {
    const hub = await startHub();
    const a = await hub.register('big-sender');
    const b = await hub.register('big-reader');
    const send = async (body: unknown, subject: string) => {
      const sent = await hub.api('/messages', { token: a.token, body: { to: { type: 'agent', id: b.agent.id }, body, subject } });
      expect(sent.status).toBe(201);
      return sent.body as { id: string; threadId: string };
    };
    // Kept in a file (over messages.bodyFileBytes, 1 MiB), a long text in its row, a JSON body in its row, a small one.
    const hugeText = 'zebra ' + 'lorem ipsum dolor '.repeat(150_000);
    const longText = 'quagga ' + 'y'.repeat(20_000);
    const report = { kind: 'report', rows: Array.from({ length: 1000 }, (_, i) => ({ i, file: `src/f${i}.ts`, ok: i % 3 !== 0 })) };
    const huge = await send(hugeText, 'huge');
    const long = await send(longText, 'long');
    const json = await send(report, 'json');
    const small = await send('a small okapi', 'small');

    const { client } = await connect(hub, b.token);
    const result = await call(client, 'read_inbox');
    // The whole answer (structured content and its text copy) stays small although the bodies hold 2.7 MB.
    expect(JSON.stringify(result).length).toBeLessThan(4 * 3 * MCP_BODY_PREVIEW_BYTES);
    type Out = Msg & { truncated?: { bytes: number; bodyPath: string } };
    const inbox = structured<{ messages: Out[] }>(result).messages;
    expect(inbox.map((m) => m.id)).toEqual([huge.id, long.id, json.id, small.id]);
    const [h, l, j, s] = inbox as [Out, Out, Out, Out];
    expect(h.truncated).toEqual({ bytes: Buffer.byteLength(JSON.stringify(hugeText)), bodyPath: `/api/v1/messages/${huge.id}/body` });
    expect(typeof h.body === 'string' && h.body.length <= MCP_BODY_PREVIEW_BYTES && hugeText.startsWith(h.body) && h.body.length > 1000).toBe(true);
    expect(l.truncated).toEqual({ bytes: Buffer.byteLength(longText), bodyPath: `/api/v1/messages/${long.id}/body` });
    expect(l.body).toBe(longText.slice(0, MCP_BODY_PREVIEW_BYTES));
    // A JSON body's preview is the start of its JSON text.
    expect(j.truncated).toEqual({ bytes: Buffer.byteLength(JSON.stringify(report)), bodyPath: `/api/v1/messages/${json.id}/body` });
    expect(j.body).toBe(JSON.stringify(report).slice(0, MCP_BODY_PREVIEW_BYTES));
    expect(s.truncated).toBeUndefined();
    expect(s.body).toBe('a small okapi');

    // The route gives each body whole with the reader's token (as the JSON the hub keeps).
    for (const [message, whole] of [[h, hugeText], [l, longText], [j, report]] as const) {
      const answer = await fetch(hub.url + message.truncated!.bodyPath, { headers: { authorization: `Bearer ${b.token}` } });
      expect(answer.status).toBe(200);
      expect(await answer.json()).toEqual(whole);
    }

    // The other readers: wait_for_messages, read_thread, search_messages and the inbox resource.
    const waited = structured<{ messages: Out[] }>(await call(client, 'wait_for_messages', { timeoutMs: 1000 }));
    expect(waited.messages.map((m) => m.truncated?.bytes ?? null)).toEqual([h.truncated!.bytes, l.truncated!.bytes, j.truncated!.bytes, null]);
    const thread = structured<{ messages: Out[] }>(await call(client, 'read_thread', { threadId: huge.threadId }));
    expect(thread.messages[0]).toMatchObject({ id: huge.id, truncated: h.truncated, body: h.body });
    const found = structured<{ hits: Array<{ message: Out }> }>(await call(client, 'search_messages', { query: 'quagga' }));
    expect(found.hits.map((hit) => hit.message)).toMatchObject([{ id: long.id, truncated: l.truncated }]);
    const { contents } = await client.readResource({ uri: MCP_RESOURCES.inbox });
    const resource = (contents[0] as { text: string }).text;
    expect(resource.length).toBeLessThan(4 * 3 * MCP_BODY_PREVIEW_BYTES);
    expect((JSON.parse(resource) as { messages: Out[] }).messages.map((m) => m.truncated?.bodyPath ?? null)).toEqual([h.truncated!.bodyPath, l.truncated!.bodyPath, j.truncated!.bodyPath, null]);
    await client.close();
  });

  it('subscribe brings a topic\'s messages to the inbox (wait_for_messages wakes), unsubscribe stops them, list_topics lists them', async () => {
    const hub = await startHub();
    const watcher = await hub.register('watcher');
    const poster = await hub.register('poster');
    const socket = await openSocket(hub.url, poster.agent.id, poster.token);
    const { client } = await connect(hub, watcher.token);

    expect(structured(await call(client, 'list_topics'))).toEqual({ topics: [] });
    expect(structured(await call(client, 'subscribe', { topics: ['deploys', 'builds'] }))).toEqual({ topics: ['builds', 'deploys'] });
    expect((await hub.api(`/agents/${watcher.agent.id}/topics`, { token: watcher.token })).body.topics).toEqual(['builds', 'deploys']);

    const waiting = call(client, 'wait_for_messages', { timeoutMs: 20_000 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    socket.send({ type: 'send', ref: 't1', message: { to: { type: 'topic', name: 'deploys' }, body: 'deploy 12 done' } });
    const woke = structured<{ timedOut: boolean; messages: Msg[] }>(await waiting);
    expect(woke).toMatchObject({ timedOut: false, messages: [{ from: poster.agent.id, to: { type: 'topic', name: 'deploys' }, body: 'deploy 12 done' }] });

    expect(structured(await call(client, 'unsubscribe', { topics: ['deploys'] }))).toEqual({ topics: ['builds'] });
    expect(structured(await call(client, 'list_topics'))).toEqual({ topics: ['builds'] });
    socket.send({ type: 'send', ref: 't2', message: { to: { type: 'topic', name: 'deploys' }, body: 'deploy 13 done' } });
    const sent = await socket.next((frame) => frame.type === 'sent' && frame.ref === 't2');
    expect(sent).toMatchObject({ result: { recipients: 0 } });
    expect((await inboxOf(hub, watcher)).map((m) => m.body)).toEqual(['deploy 12 done']);

    for (const topics of [[], ['no spaces allowed'], Array.from({ length: 101 }, (_, i) => `t${i}`)]) {
      const refused = await call(client, 'subscribe', { topics });
      expect(refused.isError).toBe(true);
      expect(text(refused)).toMatch(/Invalid arguments for tool subscribe/);
    }
    expect(structured(await call(client, 'list_topics'))).toEqual({ topics: ['builds'] });
    await client.close();
    socket.ws.close();
  });

  it('memory_extract stores memories from text in the caller\'s project, memory_search finds them; limits as over HTTP', async () => {
    const hub = await startHub();
    const agent = await hub.register('extractor', { project: 'shop' });
    const { client } = await connect(hub, agent.token);
    const notes = '# Release notes\n\nWe decided to ship the checkout redesign on Friday after the load test.\n\nTODO: update the changelog before the release.';
    const extracted = structured<{ stored: Array<{ memory: { id: string; project: string; kind: string } }>; stats: { memories: number } }>(
      await call(client, 'memory_extract', { text: notes, title: 'release notes', source: { type: 'file', ref: 'notes.md' } }),
    );
    expect(extracted.stats.memories).toBeGreaterThan(0);
    expect(extracted.stored.every((s) => s.memory.project === 'shop')).toBe(true);
    expect(extracted.stored.map((s) => s.memory.kind)).toContain('decision');

    const found = structured<{ hits: Array<{ memory: { id: string; text: string } }> }>(await call(client, 'memory_search', { query: 'when does the checkout redesign ship', k: 3 }));
    expect(extracted.stored.map((s) => s.memory.id)).toContain(found.hits[0]!.memory.id);
    expect(found.hits[0]!.memory.text).toMatch(/checkout redesign/);

    const total = (await hub.api('/memory/stats', { token: agent.token })).body.total;
    // Another project: the access rule of the HTTP route; over the text limit of the HTTP route: a schema error.
    const elsewhere = await call(client, 'memory_extract', { text: notes, project: 'blog' });
    expect(elsewhere.isError).toBe(true);
    expect(text(elsewhere)).toMatch(/only in its own project \(shop\).*\(forbidden\)/);
    const tooLong = await call(client, 'memory_extract', { text: 'a'.repeat(5_000_001) });
    expect(tooLong.isError).toBe(true);
    expect(text(tooLong)).toMatch(/Invalid arguments for tool memory_extract/);
    expect((await call(client, 'memory_extract', { text: '' })).isError).toBe(true);
    expect((await hub.api('/memory/stats', { token: agent.token })).body.total).toBe(total);
    await client.close();
  });

  it('offers the inbox and the agent directory as resources, and announces inbox changes to a subscriber', async () => {
    const hub = await startHub();
    const me = await hub.register('reader');
    const peer = await hub.register('peer');
    const { client } = await connect(hub, me.token);

    const { resources } = await client.listResources();
    expect(resources.map((r) => r.uri).sort()).toEqual([MCP_RESOURCES.agents, MCP_RESOURCES.inbox]);
    for (const resource of resources) expect(resource).toMatchObject({ mimeType: 'application/json', description: expect.any(String) });
    expect(client.getServerCapabilities()?.resources).toMatchObject({ subscribe: true });

    const read = async (uri: string) => {
      const { contents } = await client.readResource({ uri });
      expect(contents).toHaveLength(1);
      expect(contents[0]).toMatchObject({ uri, mimeType: 'application/json' });
      return JSON.parse((contents[0] as { text: string }).text);
    };
    expect(await read(MCP_RESOURCES.inbox)).toEqual({ unacknowledged: 0, messages: [] });
    const directory = await read(MCP_RESOURCES.agents);
    expect(directory.agents.map((a: { name: string }) => a.name)).toEqual(expect.arrayContaining(['peer', 'reader']));
    expect(directory.agents).toHaveLength((await hub.api('/agents', { token: me.token })).body.agents.length);

    const updates: string[] = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) => void updates.push(notification.params.uri));
    await client.subscribeResource({ uri: MCP_RESOURCES.inbox });
    await new Promise((resolve) => setTimeout(resolve, 200)); // the client's notification stream (GET /mcp) opens
    const sent = await hub.api(`/agents/${me.agent.id}/messages`, { token: peer.token, body: { body: 'look at this' } });
    await waitUntil(() => updates.includes(MCP_RESOURCES.inbox), 'the inbox update notification');
    const inbox = await read(MCP_RESOURCES.inbox);
    expect(inbox).toMatchObject({ unacknowledged: 1, messages: [{ id: sent.body.id, body: 'look at this', from: peer.agent.id }] });

    // Acknowledged, the inbox changes again and is announced again; then it is empty.
    updates.length = 0;
    expect(structured(await call(client, 'acknowledge', { ids: [sent.body.id] }))).toEqual({ acknowledged: 1 });
    await waitUntil(() => updates.includes(MCP_RESOURCES.inbox), 'the update after acknowledging');
    expect(await read(MCP_RESOURCES.inbox)).toEqual({ unacknowledged: 0, messages: [] });

    // Unsubscribed: no more announcements. An unknown resource is refused.
    await client.unsubscribeResource({ uri: MCP_RESOURCES.inbox });
    updates.length = 0;
    await hub.api(`/agents/${me.agent.id}/messages`, { token: peer.token, body: { body: 'quietly' } });
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(updates).toEqual([]);
    await expect(client.readResource({ uri: 'devenviro://nothing' })).rejects.toThrow(/not found/);
    await expect(client.subscribeResource({ uri: 'devenviro://nothing' })).rejects.toThrow(/no resource devenviro:\/\/nothing/);
    await client.close();
  });

  it('a tool call in another agent\'s session is refused and sends nothing; huge arguments are refused cleanly', async () => {
    const hub = await startHub({ maxBytes: 64 * 1024 });
    const a = await hub.register('owner');
    const b = await hub.register('intruder');
    const { client, transport } = await connect(hub, a.token);
    const question = await hub.api('/messages', { token: b.token, body: { to: { type: 'agent', id: a.agent.id }, body: 'hello' } });

    const reply = { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'reply', arguments: { messageId: question.body.id, body: 'as a' } } };
    const stolen = await post(hub, reply, { authorization: `Bearer ${b.token}`, 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-06-18' });
    expect(stolen.status).toBe(403);
    expect((await inboxOf(hub, b)).map((m) => m.body)).not.toContain('as a');

    // Over the request limit (messages.maxBytes plus 64 KiB): 413 before anything is parsed; the session goes on.
    const huge = { ...reply, params: { name: 'memory_extract', arguments: { text: 'z'.repeat(200_000) } } };
    const refused = await post(hub, huge, { authorization: `Bearer ${a.token}`, 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-06-18' });
    expect(refused.status).toBe(413);
    expect((await refused.json()).code).toBe('too_large');
    // Within it but past a field's limit: a tool error.
    const longTopic = await call(client, 'subscribe', { topics: ['t'.repeat(100_000)] });
    expect(longTopic.isError).toBe(true);
    expect((await hub.api('/memory/stats', { token: a.token })).body.total).toBe(0);
    expect(structured(await call(client, 'list_topics'))).toEqual({ topics: [] });
    await client.close();
  });
});

describe('MCP session idle timeout', () => {
  it('closes the session of a client that went away without DELETE (404 after); a live client keeps its own however long it is quiet', async () => {
    // 0.01 minutes: 600 ms.
    const hub = await startHub({ configure: (config) => void (config.mcp.sessionIdleMinutes = 0.01) });
    const a = await hub.register('idler');
    const sessions = () => hub.app.hub().mcp.sessionCount;

    // A live SDK client holds its notification stream open: however long it makes no call, its session stays.
    const live = await connect(hub, a.token);
    // A client that went away: its transport closed without DELETE, as when its process ends.
    const gone = await connect(hub, a.token);
    const goneId = gone.transport.sessionId!;
    await gone.transport.close();
    // A client without a notification stream, in the middle of a call longer than the timeout: in use until it ends.
    const initialize = await post(hub, INITIALIZE, { authorization: `Bearer ${a.token}` });
    const rawId = initialize.headers.get('mcp-session-id')!;
    const raw = { authorization: `Bearer ${a.token}`, 'mcp-session-id': rawId, 'mcp-protocol-version': '2025-06-18' };
    expect((await post(hub, { jsonrpc: '2.0', method: 'notifications/initialized' }, raw)).status).toBe(202);
    const waiting = post(hub, { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'wait_for_messages', arguments: { timeoutMs: 2000 } } }, raw);
    expect(sessions()).toBe(3);

    await waitUntil(() => sessions() === 2, 'the session of the client that went away to close');
    const answer = await waiting;
    expect(answer.status).toBe(200);
    expect(await answer.text()).toContain('\\"timedOut\\":true');
    // The wait over, nothing is open on the raw session: it closes; the live one stays, well past the timeout.
    await waitUntil(() => sessions() === 1, 'the raw session to close once its call ended');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(sessions()).toBe(1);
    expect(structured(await call(live.client, 'whoami'))).toMatchObject({ agent: { id: a.agent.id } });

    // A closed session's id gets the spec's 404 "Session not found", for a raw request and for the SDK's client.
    const list = { jsonrpc: '2.0', id: 4, method: 'tools/list', params: {} };
    for (const id of [goneId, rawId]) {
      const refused = await post(hub, list, { ...raw, 'mcp-session-id': id });
      expect(refused.status).toBe(404);
      expect((await refused.json()).error).toMatchObject({ code: -32001, message: expect.stringMatching(/^Session not found.*initialize a new one/) });
    }
    const stale = new StreamableHTTPClientTransport(new URL(`${hub.url}${MCP_PATH}`), { sessionId: goneId, requestInit: { headers: { authorization: `Bearer ${a.token}` } } });
    await expect(stale.send({ jsonrpc: '2.0', id: 5, method: 'tools/list', params: {} })).rejects.toThrow(/Session not found/);
    // Initializing anew works.
    const again = await connect(hub, a.token);
    expect((await call(again.client, 'whoami')).isError).toBeFalsy();
    await again.client.close();
    await live.client.close();
  });
});

async function waitUntil(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

