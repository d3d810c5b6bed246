/** The hub's A2A door, driven by the official @a2a-js/sdk client against a real hub on loopback. */
import { Role, TaskState, type Message, type Task } from '@a2a-js/sdk';
import { ClientFactory, JsonRpcTransportFactory } from '@a2a-js/sdk/client';
import { request as httpRequest } from 'node:http';
import path from 'node:path';
import { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { describe, expect, it } from 'vitest';
import { AgentRegistry } from '../../src/main/agents/registry';
import { openDatabase } from '../../src/main/db/database';
import { BODY_DIR } from '../../src/main/messaging/body-store';
import { SendDecoder } from '../../src/main/messaging/send-decoder';
import { MessagingService } from '../../src/main/messaging/service';
import { A2A_CANCELED_SUBJECT, A2A_CARD_PATH, A2A_PART_METADATA, A2A_PATH, A2A_TASK_METADATA } from '../../src/shared/a2a-protocol';
import { SendRequest } from '../../src/shared/agent-protocol';
import { MCP_PATH } from '../../src/shared/mcp-protocol';
import { openSocket, startHub, type TestHub } from '../hub/harness';
import { a2aClient, textMessage } from './sdk-client';



function asTask(result: Message | Task): Task {
  if (!('status' in result)) throw new Error(`expected a task, got a message: ${JSON.stringify(result)}`);
  return result;
}

function textOf(parts: Task['artifacts'][number]['parts']): string {
  return parts.map((part) => (part.content?.$case === 'text' ? part.content.value : '')).join('');
}

/** A normal hub reply over HTTP: to the original's sender, with replyTo (so in its thread). */
function replyOver(hub: TestHub, token: string, to: string, messageId: string | undefined, body: string): Promise<{ status: number; body: any }> {
  return hub.api(`/agents/${to}/messages`, { token, body: { body, replyTo: messageId } });
}

/** A POST to /a2a naming another Host (fetch does not let one set it), as a DNS-rebinding page would. */
function statusWithHost(hub: TestHub, host: string, token: string): Promise<number> {
  const url = new URL(`${hub.url}${A2A_PATH}`);
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { host, authorization: `Bearer ${token}`, 'content-type': 'application/json' } },
      (response) => {
        response.resume();
        resolve(response.statusCode!);
      },
    );
    request.on('error', reject);
    request.end('{}');
  });
}

/** A raw JSON-RPC POST to /a2a (what the SDK client would not send). */
async function rpc(hub: TestHub, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; challenge: string | null }> {
  const response = await fetch(`${hub.url}${A2A_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'a2a-version': '1.0', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null, challenge: response.headers.get('www-authenticate') };
}

const SEND_PARAMS = (to: string, text = 'hello') => ({
  message: { messageId: crypto.randomUUID(), role: 'ROLE_USER', parts: [{ text }], metadata: { to } },
});

describe('A2A door', () => {
  it('publishes an agent card listing the agents as skills, with bearer security and the JSON-RPC interface', async () => {
    const hub = await startHub();
    await hub.register('builder', { capabilities: ['typescript', 'tests'], description: 'Builds things' });
    await hub.register('reviewer', { tier: 'strategic' });
    const response = await fetch(`${hub.url}${A2A_CARD_PATH}`);
    expect(response.status).toBe(200);
    const card = await response.json();
    expect(card.supportedInterfaces).toEqual([{ url: `${hub.url}${A2A_PATH}`, protocolBinding: 'JSONRPC', protocolVersion: '1.0' }]);
    expect(card.capabilities).toMatchObject({ streaming: false, pushNotifications: false });
    expect(card.securitySchemes.agentToken.httpAuthSecurityScheme.scheme).toBe('bearer');
    const skills = new Map(card.skills.map((skill: { id: string }) => [skill.id, skill]));
    expect(skills.get('builder')).toMatchObject({ name: 'builder', description: 'Builds things', tags: ['development', 'project:test', 'typescript', 'tests'] });
    expect(skills.get('reviewer')).toMatchObject({ tags: ['strategic', 'project:test'] });
    expect(JSON.stringify(card)).not.toMatch(/token"?\s*:\s*"[A-Za-z0-9_-]{20,}/);

    // The SDK's own resolver reads it the same way.
    const me = await hub.register('caller');
    const client = await a2aClient(hub, me.token);
    const viaSdk = await client.getAgentCard();
    expect(viaSdk.skills.map((skill) => skill.id)).toEqual(expect.arrayContaining(['builder', 'reviewer', 'caller']));
  });

  it('SendMessage lands in the WebSocket agent\'s inbox; its reply completes the task with the reply as artifact', async () => {
    const hub = await startHub();
    const caller = await hub.register('a2a-caller');
    const worker = await hub.register('ws-worker');
    const socket = await openSocket(hub.url, worker.agent.id, worker.token);
    const client = await a2aClient(hub, caller.token);

    const task = asTask(await client.sendMessage(textMessage('please run the tests', { to: 'ws-worker', subject: 'tests' })));
    expect(task.status?.state).toBe(TaskState.TASK_STATE_WORKING);
    expect(task.metadata).toMatchObject({ [A2A_TASK_METADATA.agentId]: worker.agent.id, [A2A_TASK_METADATA.agentName]: 'ws-worker' });

    const frame = await socket.next((f) => f.type === 'message');
    if (frame.type !== 'message') throw new Error('not a message');
    expect(frame.message).toMatchObject({ from: caller.agent.id, threadId: task.id, subject: 'tests', body: 'please run the tests' });
    expect(task.metadata?.[A2A_TASK_METADATA.requestMessageId]).toBe(frame.message.id);
    // The same message in the worker's inbox over HTTP, as for any message.
    const workerInbox = await hub.api(`/agents/${worker.agent.id}/messages`, { token: worker.token });
    expect(workerInbox.body.messages).toMatchObject([{ id: frame.message.id, threadId: task.id, body: 'please run the tests' }]);

    // A normal hub reply, over HTTP.
    const replied = await replyOver(hub, worker.token, caller.agent.id, frame.message.id, 'all 42 tests pass');
    expect(replied.status).toBe(201);

    let done: Task | undefined;
    for (let i = 0; i < 100; i++) {
      done = await client.getTask({ tenant: '', id: task.id });
      if (done.status?.state === TaskState.TASK_STATE_COMPLETED) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(done!.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(textOf(done!.status!.message!.parts)).toBe('all 42 tests pass');
    expect(done!.status!.message!.role).toBe(Role.ROLE_AGENT);
    expect(done!.artifacts).toHaveLength(1);
    expect(textOf(done!.artifacts[0]!.parts)).toBe('all 42 tests pass');
    expect(done!.history.map((m) => m.role)).toEqual([Role.ROLE_USER, Role.ROLE_AGENT]);
    expect(done!.metadata?.[A2A_TASK_METADATA.replyMessageId]).toBe(replied.body.id);

    // The reply also reached the caller's hub inbox, like any reply.
    const inbox = await hub.api(`/agents/${caller.agent.id}/messages`, { token: caller.token });
    expect(inbox.body.messages.map((m: { id: string }) => m.id)).toContain(replied.body.id);
  });

  it('an MCP agent\'s reply (send_message with replyTo) completes the task', async () => {
    const hub = await startHub();
    const caller = await hub.register('caller');
    const worker = await hub.register('mcp-worker');
    const mcp = new McpClient({ name: 'worker', version: '1.0.0' });
    await mcp.connect(new StreamableHTTPClientTransport(new URL(`${hub.url}${MCP_PATH}`), { requestInit: { headers: { authorization: `Bearer ${worker.token}` } } }));
    const client = await a2aClient(hub, caller.token);
    const task = asTask(await client.sendMessage(textMessage('summarise the log', { to: 'mcp-worker' })));

    const inbox = (await mcp.callTool({ name: 'read_inbox', arguments: {} })).structuredContent as { messages: Array<{ id: string; threadId: string; body: unknown }> };
    expect(inbox.messages).toMatchObject([{ threadId: task.id, body: 'summarise the log' }]);
    const sent = await mcp.callTool({ name: 'send_message', arguments: { to: { type: 'agent', id: caller.agent.id }, body: 'three errors, all timeouts', replyTo: inbox.messages[0]!.id } });
    expect(sent.isError).toBeFalsy();
    let done: Task | undefined;
    for (let i = 0; i < 100 && done?.status?.state !== TaskState.TASK_STATE_COMPLETED; i++) {
      done = await client.getTask({ tenant: '', id: task.id });
      if (done.status?.state !== TaskState.TASK_STATE_COMPLETED) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(textOf(done!.artifacts[0]!.parts)).toBe('three errors, all timeouts');
    await mcp.close();
  });

  it('data and file parts become a JSON body; a JSON reply comes back as a data part', async () => {
    const hub = await startHub();
    const caller = await hub.register('caller');
    const worker = await hub.register('worker');
    const socket = await openSocket(hub.url, worker.agent.id, worker.token);
    const client = await a2aClient(hub, caller.token);
    const request = textMessage('see attached', { to: 'worker' });
    request.message!.parts.push(
      { content: { $case: 'data', value: { pr: 42, files: ['a.ts'] } }, mediaType: 'application/json', filename: '', metadata: {} },
      { content: { $case: 'raw', value: Buffer.from('diff --git a/a.ts') }, mediaType: 'text/x-diff', filename: 'change.diff', metadata: {} },
    );
    const task = asTask(await client.sendMessage(request));
    const frame = await socket.next((f) => f.type === 'message');
    if (frame.type !== 'message') throw new Error('not a message');
    expect(frame.message.body).toEqual({
      text: 'see attached',
      data: [{ pr: 42, files: ['a.ts'] }],
      files: [{ name: 'change.diff', mediaType: 'text/x-diff', bytes: Buffer.from('diff --git a/a.ts').toString('base64') }],
    });
    // The reply over the socket, in the task's thread.
    socket.send({ type: 'send', ref: 'r1', message: { to: { type: 'agent', id: caller.agent.id }, threadId: task.id, body: { verdict: 'approve' } } });
    await socket.next((f) => f.type === 'sent');
    let done: Task | undefined;
    for (let i = 0; i < 100 && done?.status?.state !== TaskState.TASK_STATE_COMPLETED; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      done = await client.getTask({ tenant: '', id: task.id });
    }
    expect(done!.artifacts[0]!.parts[0]!.content).toEqual({ $case: 'data', value: { verdict: 'approve' } });
  });

  it('a large file part reaches the agent whole; the stored task keeps a reference to it; over messages.maxBytes is refused', async () => {
    const hub = await startHub({ maxBytes: 1024 * 1024 });
    const caller = await hub.register('caller');
    const worker = await hub.register('worker');
    const socket = await openSocket(hub.url, worker.agent.id, worker.token);
    const client = await a2aClient(hub, caller.token);
    const file = Buffer.alloc(300 * 1024, 5);
    const request = textMessage('the build log', { to: 'worker' });
    request.message!.parts.push({ content: { $case: 'raw', value: file }, mediaType: 'text/plain', filename: 'build.log', metadata: {} });
    const task = asTask(await client.sendMessage(request));
    const frame = await socket.next((f) => f.type === 'message');
    if (frame.type !== 'message') throw new Error('not a message');
    expect(Buffer.from((frame.message.body as { files: Array<{ bytes: string }> }).files[0]!.bytes, 'base64').equals(file)).toBe(true);

    const stored = await client.getTask({ tenant: '', id: task.id });
    const part = stored.history[0]!.parts[1]!;
    expect(part).toMatchObject({ filename: 'build.log', mediaType: 'text/plain', content: { $case: 'url', value: `${hub.url}/api/v1/threads/${task.id}` } });
    expect(part.metadata).toMatchObject({ [A2A_PART_METADATA.fileBytes]: file.length });
    // The reference works for the caller, with its token.
    const thread = await fetch(part.content?.$case === 'url' ? part.content.value : '', { headers: { authorization: `Bearer ${caller.token}` } });
    expect(((await thread.json()) as { messages: Array<{ id: string }> }).messages.map((m) => m.id)).toEqual([frame.message.id]);

    const tooLarge = textMessage('too much', { to: 'worker' });
    // Its base64 is over the 1 MiB messages.maxBytes, while the request still fits the API's body limit.
    tooLarge.message!.parts.push({ content: { $case: 'raw', value: Buffer.alloc(770 * 1024, 1) }, mediaType: 'application/octet-stream', filename: 'big.bin', metadata: {} });
    await expect(client.sendMessage(tooLarge)).rejects.toMatchObject({ name: 'RequestMalformedError', message: expect.stringContaining('messages.maxBytes') });
    const listAll = { tenant: '', contextId: '', status: TaskState.TASK_STATE_UNSPECIFIED, pageToken: '', statusTimestampAfter: undefined };
    expect((await client.listTasks(listAll)).tasks.map((t) => t.id)).toEqual([task.id]);
  });

  it('names agents across projects (name@project where names repeat); a follow-up message goes to the task\'s agent', async () => {
    const hub = await startHub();
    const caller = await hub.register('caller', { project: 'shop' });
    const shopReviewer = await hub.register('reviewer', { project: 'shop' });
    const blogReviewer = await hub.register('reviewer', { project: 'blog' });
    const blogWriter = await hub.register('writer', { project: 'blog' });
    const card = await (await fetch(`${hub.url}${A2A_CARD_PATH}`)).json();
    expect(card.skills.map((skill: { id: string }) => skill.id)).toEqual(expect.arrayContaining(['reviewer@blog', 'reviewer@shop', 'writer', 'caller']));

    const shopSocket = await openSocket(hub.url, shopReviewer.agent.id, shopReviewer.token);
    const blogSocket = await openSocket(hub.url, blogReviewer.agent.id, blogReviewer.token);
    const writerSocket = await openSocket(hub.url, blogWriter.agent.id, blogWriter.token);
    const client = await a2aClient(hub, caller.token);
    // A bare name: the caller's own project first; a name unique across projects; name@project; an id.
    await client.sendMessage(textMessage('to my reviewer', { to: 'reviewer' }));
    expect(await shopSocket.next((f) => f.type === 'message')).toMatchObject({ message: { body: 'to my reviewer' } });
    await client.sendMessage(textMessage('to the writer', { to: 'writer' }));
    expect(await writerSocket.next((f) => f.type === 'message')).toMatchObject({ message: { body: 'to the writer' } });
    const task = asTask(await client.sendMessage(textMessage('to the blog reviewer', { to: 'reviewer@blog' })));
    expect(await blogSocket.next((f) => f.type === 'message')).toMatchObject({ message: { body: 'to the blog reviewer', threadId: task.id } });
    await client.sendMessage(textMessage('by id', { to: blogWriter.agent.id }));
    expect(await writerSocket.next((f) => f.type === 'message')).toMatchObject({ message: { body: 'by id' } });

    // A second message of the open task, with no `to`: same agent, same thread, one task with both in its history.
    const followUp = asTask(await client.sendMessage(textMessage('one more thing', {}, task.id)));
    expect(followUp.id).toBe(task.id);
    expect(await blogSocket.next((f) => f.type === 'message')).toMatchObject({ message: { body: 'one more thing', threadId: task.id } });
    expect((await client.getTask({ tenant: '', id: task.id })).history.map((m) => textOf(m.parts))).toEqual(['to the blog reviewer', 'one more thing']);
  });

  it('CancelTask marks the task canceled and tells the agent in the task\'s thread; a later reply changes nothing', async () => {
    const hub = await startHub();
    const caller = await hub.register('caller');
    const worker = await hub.register('worker');
    const socket = await openSocket(hub.url, worker.agent.id, worker.token);
    const client = await a2aClient(hub, caller.token);
    const task = asTask(await client.sendMessage(textMessage('long job', { to: 'worker' })));
    const first = await socket.next((f) => f.type === 'message');

    const canceled = await client.cancelTask({ tenant: '', id: task.id, metadata: {} });
    expect(canceled.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    const notice = await socket.next((f) => f.type === 'message');
    if (notice.type !== 'message' || first.type !== 'message') throw new Error('not a message');
    expect(notice.message).toMatchObject({ from: caller.agent.id, threadId: task.id, subject: A2A_CANCELED_SUBJECT });

    await replyOver(hub, worker.token, caller.agent.id, first.message.id, 'done anyway');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const after = await client.getTask({ tenant: '', id: task.id });
    expect(after.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    expect(after.artifacts).toEqual([]);
    // Canceling again answers the canceled task; a completed task is not cancelable (TaskNotCancelable).
    expect((await client.cancelTask({ tenant: '', id: task.id, metadata: {} })).status?.state).toBe(TaskState.TASK_STATE_CANCELED);
  });

  it('a task fails when its agent is revoked from the cockpit, and SendMessage to a revoked agent is refused', async () => {
    const hub = await startHub();
    const caller = await hub.register('caller');
    const worker = await hub.register('worker');
    const client = await a2aClient(hub, caller.token);
    const task = asTask(await client.sendMessage(textMessage('are you there?', { to: 'worker' })));
    expect((await hub.api(`/agents/${worker.agent.id}/revoke`, { token: hub.app.cockpitToken, body: {} })).status).toBe(200);
    let failed: Task | undefined;
    for (let i = 0; i < 100 && failed?.status?.state !== TaskState.TASK_STATE_FAILED; i++) {
      failed = await client.getTask({ tenant: '', id: task.id });
      if (failed.status?.state !== TaskState.TASK_STATE_FAILED) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(failed!.status?.state).toBe(TaskState.TASK_STATE_FAILED);
    expect(textOf(failed!.status!.message!.parts)).toContain('worker was revoked');
    await expect(client.sendMessage(textMessage('again?', { to: 'worker' }))).rejects.toMatchObject({ name: 'RequestMalformedError', message: expect.stringContaining('revoked') });
  });

  it('answers the spec\'s errors: unknown task, not cancelable, bad params, streaming and push configs unsupported', async () => {
    const hub = await startHub();
    const caller = await hub.register('caller');
    const worker = await hub.register('worker');
    const client = await a2aClient(hub, caller.token);

    await expect(client.getTask({ tenant: '', id: 'no-such-task' })).rejects.toMatchObject({ name: 'TaskNotFoundError' });
    await expect(client.cancelTask({ tenant: '', id: 'no-such-task', metadata: {} })).rejects.toMatchObject({ name: 'TaskNotFoundError' });

    const unknown = await rpc(hub, { jsonrpc: '2.0', id: 1, method: 'GetTask', params: { id: 'nope' } }, { authorization: `Bearer ${caller.token}` });
    expect(unknown.body.error.code).toBe(-32001);
    const noTarget = await rpc(hub, { jsonrpc: '2.0', id: 2, method: 'SendMessage', params: { message: { messageId: 'm1', role: 'ROLE_USER', parts: [{ text: 'x' }] } } }, { authorization: `Bearer ${caller.token}` });
    expect(noTarget.body.error).toMatchObject({ code: -32602, message: expect.stringContaining('message.metadata.to') });
    const noAgent = await rpc(hub, { jsonrpc: '2.0', id: 3, method: 'SendMessage', params: SEND_PARAMS('ghost') }, { authorization: `Bearer ${caller.token}` });
    expect(noAgent.body.error).toMatchObject({ code: -32602, message: expect.stringContaining('no agent named ghost') });
    const toSelf = await rpc(hub, { jsonrpc: '2.0', id: 4, method: 'SendMessage', params: SEND_PARAMS('caller') }, { authorization: `Bearer ${caller.token}` });
    expect(toSelf.body.error.code).toBe(-32602);
    const noParts = await rpc(hub, { jsonrpc: '2.0', id: 5, method: 'SendMessage', params: { message: { messageId: 'm2', role: 'ROLE_USER', parts: [], metadata: { to: 'worker' } } } }, { authorization: `Bearer ${caller.token}` });
    expect(noParts.body.error.code).toBe(-32602);
    // Nothing of the refused sends was stored: no task, no message.
    const tasks = await client.listTasks({ tenant: '', contextId: '', status: TaskState.TASK_STATE_UNSPECIFIED, pageToken: '', statusTimestampAfter: undefined });
    expect(tasks.tasks).toEqual([]);
    expect((await hub.api(`/agents/${worker.agent.id}/messages`, { token: worker.token })).body.messages).toEqual([]);

    const rawStream = await rpc(hub, { jsonrpc: '2.0', id: 6, method: 'SendStreamingMessage', params: SEND_PARAMS('worker') }, { authorization: `Bearer ${caller.token}` });
    expect(rawStream).toMatchObject({ status: 200, body: { id: 6, error: { code: -32004 } } });
    const resubscribe = await rpc(hub, { jsonrpc: '2.0', id: 7, method: 'SubscribeToTask', params: { id: 'x' } }, { authorization: `Bearer ${caller.token}` });
    expect(resubscribe.body.error.code).toBe(-32004);
    const push = await rpc(hub, { jsonrpc: '2.0', id: 8, method: 'CreateTaskPushNotificationConfig', params: { taskId: 'x', url: 'http://127.0.0.1:1/hook' } }, { authorization: `Bearer ${caller.token}` });
    expect(push.body.error.code).toBe(-32003);

    // A finished task is not cancelable.
    const socket = await openSocket(hub.url, worker.agent.id, worker.token);
    const task = asTask(await client.sendMessage(textMessage('quick', { to: 'worker' })));
    const frame = await socket.next((f) => f.type === 'message');
    if (frame.type !== 'message') throw new Error('not a message');
    await replyOver(hub, worker.token, caller.agent.id, frame.message.id, 'ok');
    for (let i = 0; i < 100 && (await client.getTask({ tenant: '', id: task.id })).status?.state !== TaskState.TASK_STATE_COMPLETED; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await expect(client.cancelTask({ tenant: '', id: task.id, metadata: {} })).rejects.toMatchObject({ name: 'TaskNotCancelableError' });
  });

  it('malformed JSON-RPC gets the spec\'s errors; an unknown method is MethodNotFound', async () => {
    const hub = await startHub();
    const caller = await hub.register('caller');
    const auth = { authorization: `Bearer ${caller.token}` };
    expect((await rpc(hub, '{"jsonrpc":"2.0",', auth)).body).toEqual({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Invalid JSON payload.' } });
    expect((await rpc(hub, { jsonrpc: '1.0', id: 1, method: 'GetTask' }, auth)).body.error.code).toBe(-32602);
    expect((await rpc(hub, [{ jsonrpc: '2.0', id: 1, method: 'GetTask', params: { id: 'x' } }], auth)).body.error.code).toBe(-32600);
    expect((await rpc(hub, { jsonrpc: '2.0', id: 9, method: 'NoSuchMethod', params: {} }, auth)).body).toMatchObject({ id: 9, error: { code: -32601 } });
    expect((await rpc(hub, { jsonrpc: '2.0', id: 11, method: 'GetExtendedAgentCard', params: {} }, auth)).body.error.code).toBe(-32004);
    expect((await rpc(hub, { jsonrpc: '2.0', id: 10, method: 'GetTask', params: { id: 'x' } }, { ...auth, 'a2a-version': '9.9' })).body.error.code).toBe(-32009);
    const deep = '['.repeat(600) + ']'.repeat(600);
    expect((await rpc(hub, deep, auth)).body.error.code).toBe(-32600);
    const xml = await fetch(`${hub.url}${A2A_PATH}`, { method: 'POST', headers: { ...auth, 'content-type': 'text/xml' }, body: '<x/>' });
    expect((await xml.json()).error.code).toBe(-32005);
  });

  it('accepts the A2A 0.3 method names when the request has no A2A-Version header', async () => {
    const hub = await startHub();
    const caller = await hub.register('caller');
    const worker = await hub.register('worker');
    const socket = await openSocket(hub.url, worker.agent.id, worker.token);
    const response = await fetch(`${hub.url}${A2A_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${caller.token}` },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'message/send',
        params: { message: { kind: 'message', messageId: 'legacy-1', role: 'user', parts: [{ kind: 'text', text: 'from a 0.3 client' }], metadata: { to: 'worker' } } },
      }),
    });
    const answer = await response.json();
    expect(answer.result).toMatchObject({ kind: 'task', status: { state: 'working' } });
    const frame = await socket.next((f) => f.type === 'message');
    expect(frame).toMatchObject({ message: { body: 'from a 0.3 client', threadId: answer.result.id } });
    const got = await (
      await fetch(`${hub.url}${A2A_PATH}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${caller.token}` },
        body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tasks/get', params: { id: answer.result.id } }),
      })
    ).json();
    expect(got.result).toMatchObject({ id: answer.result.id, status: { state: 'working' } });
  });

  it('refuses a missing or wrong token, the cockpit\'s token and browser pages; another agent cannot see a task', async () => {
    const hub = await startHub();
    const caller = await hub.register('caller');
    const other = await hub.register('other');
    const worker = await hub.register('worker');
    const request = { jsonrpc: '2.0', id: 1, method: 'SendMessage', params: SEND_PARAMS('worker') };

    const none = await rpc(hub, request);
    expect(none.status).toBe(401);
    expect(none.challenge).toBe('Bearer');
    expect(none.body.code).toBe('unauthorized');
    expect((await rpc(hub, request, { authorization: 'Bearer not-a-token' })).status).toBe(401);
    expect((await rpc(hub, request, { authorization: `Bearer ${hub.app.cockpitToken}` })).status).toBe(403);
    expect((await rpc(hub, request, { authorization: `Bearer ${caller.token}`, origin: 'http://127.0.0.1:1234' })).status).toBe(403);
    expect(await statusWithHost(hub, 'evil.example', caller.token)).toBe(421);
    const noTokenClient = await new ClientFactory({ transports: [new JsonRpcTransportFactory()] }).createFromUrl(hub.url);
    await expect(noTokenClient.sendMessage(textMessage('x', { to: 'worker' }))).rejects.toThrow(/401/);
    expect((await hub.api(`/agents/${worker.agent.id}/messages`, { token: worker.token })).body.messages).toEqual([]);

    const client = await a2aClient(hub, caller.token);
    const task = asTask(await client.sendMessage(textMessage('mine', { to: 'worker' })));
    const stranger = await a2aClient(hub, other.token);
    await expect(stranger.getTask({ tenant: '', id: task.id })).rejects.toMatchObject({ name: 'TaskNotFoundError' });
    await expect(stranger.cancelTask({ tenant: '', id: task.id, metadata: {} })).rejects.toMatchObject({ name: 'TaskNotFoundError' });
    await expect(stranger.sendMessage(textMessage('hijack', {}, task.id))).rejects.toMatchObject({ name: 'TaskNotFoundError' });
    expect((await client.getTask({ tenant: '', id: task.id })).status?.state).toBe(TaskState.TASK_STATE_WORKING);
    const listAll = { tenant: '', contextId: '', status: TaskState.TASK_STATE_UNSPECIFIED, pageToken: '', statusTimestampAfter: undefined };
    expect((await client.listTasks(listAll)).tasks.map((t) => t.id)).toEqual([task.id]);
    expect((await stranger.listTasks(listAll)).tasks).toEqual([]);
  });

  it('keeps tasks across a restart, and a reply sent after it still completes the task', async () => {
    const hub = await startHub();
    const caller = await hub.register('caller');
    const worker = await hub.register('worker');
    let client = await a2aClient(hub, caller.token);
    const task = asTask(await client.sendMessage(textMessage('survive a restart', { to: 'worker' })));
    const done = asTask(await client.sendMessage(textMessage('and this one finishes', { to: 'worker' })));
    const socket = await openSocket(hub.url, worker.agent.id, worker.token);
    const frames = [await socket.next((f) => f.type === 'message'), await socket.next((f) => f.type === 'message')];
    const byThread = new Map(frames.map((f) => (f.type === 'message' ? [f.message.threadId, f.message.id] : ['', ''])));
    await replyOver(hub, worker.token, caller.agent.id, byThread.get(done.id), 'finished before the restart');
    for (let i = 0; i < 100 && (await client.getTask({ tenant: '', id: done.id })).status?.state !== TaskState.TASK_STATE_COMPLETED; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    socket.ws.close();

    await hub.restart();
    client = await a2aClient(hub, caller.token);
    expect((await client.getTask({ tenant: '', id: task.id })).status?.state).toBe(TaskState.TASK_STATE_WORKING);
    const finished = await client.getTask({ tenant: '', id: done.id });
    expect(finished.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(textOf(finished.artifacts[0]!.parts)).toBe('finished before the restart');

    await replyOver(hub, worker.token, caller.agent.id, byThread.get(task.id), 'after the restart');
    let after: Task | undefined;
    for (let i = 0; i < 100 && after?.status?.state !== TaskState.TASK_STATE_COMPLETED; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      after = await client.getTask({ tenant: '', id: task.id });
    }
    expect(textOf(after!.status!.message!.parts)).toBe('after the restart');
  });
  it('a reply stored while the door was not watching (a crash before the task was updated) completes the task at start', async () => {
    const hub = await startHub();
    const caller = await hub.register('caller');
    const worker = await hub.register('worker');
    const client = await a2aClient(hub, caller.token);
    const task = asTask(await client.sendMessage(textMessage('reply while I am away', { to: 'worker' })));
    const requestId = String(task.metadata?.[A2A_TASK_METADATA.requestMessageId]);
    await hub.app.stop();

    // The worker's reply committed by the messaging service alone (no door listening), as a crash right after the
    // commit would leave it.
    const db = openDatabase(path.join(hub.dataDir, 'hub.sqlite'));
    const registry = new AgentRegistry(db);
    const messaging = new MessagingService(db, registry, { maxBodyBytes: 1 << 20, bodyDir: path.join(hub.dataDir, BODY_DIR), bodyFileBytes: 1 << 20, decoder: new SendDecoder() });
    await messaging.send(registry.get(worker.agent.id), SendRequest.parse({ to: { type: 'agent', id: caller.agent.id }, body: 'done while you were away', replyTo: requestId }));
    messaging.close();
    registry.close();
    db.close();

    await hub.restart();
    const again = await a2aClient(hub, caller.token);
    let done: Task | undefined;
    for (let i = 0; i < 100 && done?.status?.state !== TaskState.TASK_STATE_COMPLETED; i++) {
      done = await again.getTask({ tenant: '', id: task.id });
      if (done.status?.state !== TaskState.TASK_STATE_COMPLETED) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(done!.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(textOf(done!.artifacts[0]!.parts)).toBe('done while you were away');
  });
});
