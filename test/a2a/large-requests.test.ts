/**
 * Large A2A requests, decoded off the event loop (the a2a-decoder worker takes requests of 64 KiB and more): file
 * parts reach the agent whole in both protocol versions, and a malformed large request gets the JSON-RPC errors.
 */
import { Role, TaskState, type SendMessageRequest, type Task } from '@a2a-js/sdk';
import { describe, expect, it } from 'vitest';
import { A2A_PART_METADATA, A2A_PATH } from '../../src/shared/a2a-protocol';
import { DECODE_IN_WORKER_FROM } from '../../src/main/a2a/request-decoder';
import { openSocket, startHub, type TestHub } from '../hub/harness';
import { a2aClient } from './sdk-client';


/** A raw JSON-RPC POST to /a2a; the answer as text and parsed. */
async function rpc(hub: TestHub, token: string, body: string, version?: string): Promise<{ text: string; json: any }> {
  const response = await fetch(`${hub.url}${A2A_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...(version ? { 'a2a-version': version } : {}) },
    body,
  });
  const text = await response.text();
  return { text, json: JSON.parse(text) };
}

const STUB = 'devenviro-a2a-file:';

type FileBody = { text?: string; data?: unknown[]; files: Array<{ name: string | null; mediaType: string | null; bytes?: string }> };

describe('A2A door: large requests', () => {
  it('a SendMessage with megabyte and small file parts, text and data reaches the agent whole; the task keeps a reference', async () => {
    const hub = await startHub();
    const caller = await hub.register('caller');
    const worker = await hub.register('worker');
    const socket = await openSocket(hub.url, worker.agent.id, worker.token);
    const client = await a2aClient(hub, caller.token);
    const big = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    const small = Buffer.from('a small note, kept inline');
    const request: SendMessageRequest = {
      tenant: '',
      message: {
        messageId: crypto.randomUUID(),
        contextId: '',
        taskId: '',
        role: Role.ROLE_USER,
        parts: [
          { content: { $case: 'text', value: 'the dump and a note' }, mediaType: 'text/plain', filename: '', metadata: {} },
          { content: { $case: 'raw', value: big }, mediaType: 'application/octet-stream', filename: 'core.dump', metadata: { origin: 'ci' } },
          { content: { $case: 'data', value: { run: 42 } }, mediaType: 'application/json', filename: '', metadata: {} },
          { content: { $case: 'raw', value: small }, mediaType: 'text/plain', filename: 'note.txt', metadata: {} },
        ],
        metadata: { to: 'worker' },
        extensions: [],
        referenceTaskIds: [],
      },
      configuration: undefined,
      metadata: {},
    };
    const task = (await client.sendMessage(request)) as Task;
    expect(task.status?.state).toBe(TaskState.TASK_STATE_WORKING);
    // The hub's placeholders never reach the caller.
    expect(JSON.stringify(task)).not.toContain(STUB);

    const frame = await socket.next((f) => f.type === 'message');
    if (frame.type !== 'message') throw new Error('not a message');
    const body = frame.message.body as FileBody;
    expect(body.text).toBe('the dump and a note');
    expect(body.data).toEqual([{ run: 42 }]);
    expect(body.files.map(({ name, mediaType }) => ({ name, mediaType }))).toEqual([
      { name: 'core.dump', mediaType: 'application/octet-stream' },
      { name: 'note.txt', mediaType: 'text/plain' },
    ]);
    expect(Buffer.from(body.files[0]!.bytes!, 'base64').equals(big)).toBe(true);
    expect(Buffer.from(body.files[1]!.bytes!, 'base64').equals(small)).toBe(true);

    const stored = await client.getTask({ tenant: '', id: task.id });
    const parts = stored.history[0]!.parts;
    expect(parts[1]).toMatchObject({ filename: 'core.dump', content: { $case: 'url', value: `${hub.url}/api/v1/threads/${task.id}` } });
    expect(parts[1]!.metadata).toEqual({ origin: 'ci', [A2A_PART_METADATA.fileBytes]: big.length });
    expect(parts[3]!.content).toEqual({ $case: 'raw', value: small });
  });

  it('an A2A 0.3 message/send with a large file part reaches the agent whole', async () => {
    const hub = await startHub();
    const caller = await hub.register('caller');
    const worker = await hub.register('worker');
    const socket = await openSocket(hub.url, worker.agent.id, worker.token);
    const file = Buffer.alloc(1024 * 1024, 9);
    const { text, json } = await rpc(
      hub,
      caller.token,
      JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'message/send',
        params: {
          message: {
            kind: 'message',
            messageId: 'legacy-large',
            role: 'user',
            parts: [{ kind: 'file', file: { bytes: file.toString('base64'), name: 'blob.bin', mimeType: 'application/octet-stream' } }],
            metadata: { to: 'worker' },
          },
        },
      }),
    );
    expect(json.result).toMatchObject({ kind: 'task', status: { state: 'working' } });
    expect(text).not.toContain(STUB);
    const frame = await socket.next((f) => f.type === 'message');
    if (frame.type !== 'message') throw new Error('not a message');
    const body = frame.message.body as FileBody;
    expect(body.files).toHaveLength(1);
    expect(body.files[0]).toMatchObject({ name: 'blob.bin', mediaType: 'application/octet-stream' });
    expect(Buffer.from(body.files[0]!.bytes!, 'base64').equals(file)).toBe(true);
  });

  it('a caller\'s own url part that looks like the hub\'s placeholder is passed on as it is, beside a taken file', async () => {
    const hub = await startHub();
    const caller = await hub.register('caller');
    const worker = await hub.register('worker');
    const socket = await openSocket(hub.url, worker.agent.id, worker.token);
    const lookalike = `${STUB}00000000-0000-0000-0000-000000000000/0`;
    const file = Buffer.alloc(200 * 1024, 3);
    const { json } = await rpc(
      hub,
      caller.token,
      JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'SendMessage',
        params: { message: { messageId: 'look', role: 'ROLE_USER', metadata: { to: 'worker' }, parts: [{ url: lookalike, filename: 'a' }, { raw: file.toString('base64'), filename: 'b' }] } },
      }),
      '1.0',
    );
    expect(json.result.task.status.state).toBe('TASK_STATE_WORKING');
    const frame = await socket.next((f) => f.type === 'message');
    if (frame.type !== 'message') throw new Error('not a message');
    const body = frame.message.body as { files: Array<{ name: string; url?: string; bytes?: string }> };
    expect(body.files[0]).toEqual({ name: 'a', mediaType: null, url: lookalike });
    expect(Buffer.from(body.files[1]!.bytes!, 'base64').equals(file)).toBe(true);
    const got = await rpc(hub, caller.token, JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'GetTask', params: { id: json.result.task.id } }), '1.0');
    expect(got.json.result.history[0].parts[0]).toMatchObject({ url: lookalike });
    expect(got.json.result.history[0].parts[1]).toMatchObject({ url: `${hub.url}/api/v1/threads/${json.result.task.id}` });
  });

  it('a malformed large request gets the JSON-RPC parse error, a too deep one invalid request; nothing is sent or stored', async () => {
    const hub = await startHub({ maxBytes: 1024 * 1024 });
    const caller = await hub.register('caller');
    const worker = await hub.register('worker');
    const socket = await openSocket(hub.url, worker.agent.id, worker.token);
    const filler = 'A'.repeat(DECODE_IN_WORKER_FROM * 2);
    const cut = `{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":{"message":{"messageId":"m","role":"ROLE_USER","metadata":{"to":"worker"},"parts":[{"raw":"${filler}"}]`;
    expect((await rpc(hub, caller.token, cut, '1.0')).json).toEqual({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Invalid JSON payload.' } });
    const deep = `{"jsonrpc":"2.0","id":2,"method":"SendMessage","params":{"pad":"${filler}","x":${'['.repeat(600)}${']'.repeat(600)}}}`;
    const tooDeep = (await rpc(hub, caller.token, deep, '1.0')).json;
    expect(tooDeep).toMatchObject({ id: null, error: { code: -32600 } });
    expect(tooDeep.error.message).toContain('nest');
    // Well-formed, but its file is over messages.maxBytes once in the hub message: refused with InvalidParams.
    const tooLarge = JSON.stringify({
      jsonrpc: '2.0',
      id: 3,
      method: 'SendMessage',
      params: { message: { messageId: 'big', role: 'ROLE_USER', metadata: { to: 'worker' }, parts: [{ raw: Buffer.alloc(770 * 1024, 1).toString('base64'), filename: 'big.bin' }] } },
    });
    const refused = (await rpc(hub, caller.token, tooLarge, '1.0')).json;
    expect(refused).toMatchObject({ id: 3, error: { code: -32602 } });
    expect(refused.error.message).toContain('messages.maxBytes');

    // Nothing reached the agent before this message, and the caller has no task but its own.
    const ok = await rpc(hub, caller.token, JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'SendMessage', params: { message: { messageId: 'ok', role: 'ROLE_USER', metadata: { to: 'worker' }, parts: [{ text: 'after the refusals' }] } } }), '1.0');
    const frame = await socket.next((f) => f.type === 'message');
    expect(frame).toMatchObject({ message: { body: 'after the refusals' } });
    const listed = await rpc(hub, caller.token, JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'ListTasks', params: {} }), '1.0');
    expect(listed.json.result.tasks.map((t: { id: string }) => t.id)).toEqual([ok.json.result.task.id]);
  });
});
