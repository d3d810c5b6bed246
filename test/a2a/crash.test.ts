/** Answered A2A calls survive the hub process being killed (kill -9): tasks, their states and their replies. */
import { Role, TaskState, type SendMessageRequest, type Task } from '@a2a-js/sdk';
import { ClientFactory, JsonRpcTransportFactory, type Client } from '@a2a-js/sdk/client';
import { describe, expect, it } from 'vitest';
import { A2A_TASK_METADATA } from '../../src/shared/a2a-protocol';
import { freePort, startHubProcess, waitFor } from '../client/hub';
import { tempDir } from '../helpers';

function client(url: string, token: string): Promise<Client> {
  const withToken: typeof fetch = (input, init) => {
    const headers = new Headers(init?.headers);
    headers.set('authorization', `Bearer ${token}`);
    return fetch(input, { ...init, headers });
  };
  return new ClientFactory({ transports: [new JsonRpcTransportFactory({ fetchImpl: withToken })] }).createFromUrl(url);
}

function message(text: string, to: string): SendMessageRequest {
  return {
    tenant: '',
    message: {
      messageId: crypto.randomUUID(),
      contextId: '',
      taskId: '',
      role: Role.ROLE_USER,
      parts: [{ content: { $case: 'text', value: text }, mediaType: 'text/plain', filename: '', metadata: {} }],
      metadata: { to },
      extensions: [],
      referenceTaskIds: [],
    },
    configuration: undefined,
    metadata: {},
  };
}

describe('A2A tasks across a crash of the hub', () => {
  it('every answered SendMessage, reply and CancelTask holds after kill -9 and a restart on the same data directory', async () => {
    const dataDir = tempDir();
    const port = await freePort();
    let hub = await startHubProcess(dataDir, port);
    const register = async (name: string) =>
      (await (await fetch(`${hub.url}/api/v1/agents/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, project: 'shop' }) })).json()) as { token: string; agent: { id: string } };
    const caller = await register('caller');
    const worker = await register('worker');
    let a2a = await client(hub.url, caller.token);

    const open = (await a2a.sendMessage(message('still open', 'worker'))) as Task;
    const replied = (await a2a.sendMessage(message('answer me', 'worker'))) as Task;
    const canceled = (await a2a.sendMessage(message('never mind', 'worker'))) as Task;
    expect((await a2a.cancelTask({ tenant: '', id: canceled.id, metadata: {} })).status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    const reply = await fetch(`${hub.url}/api/v1/agents/${caller.agent.id}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${worker.token}` },
      body: JSON.stringify({ body: 'here you are', replyTo: replied.metadata?.[A2A_TASK_METADATA.requestMessageId] }),
    });
    expect(reply.status).toBe(201);
    await waitFor(async () => (await a2a.getTask({ tenant: '', id: replied.id })).status?.state === TaskState.TASK_STATE_COMPLETED, 'the reply to complete its task');

    await hub.kill('SIGKILL');
    hub = await startHubProcess(dataDir, port);
    a2a = await client(hub.url, caller.token);

    expect((await a2a.getTask({ tenant: '', id: open.id })).status?.state).toBe(TaskState.TASK_STATE_WORKING);
    expect((await a2a.getTask({ tenant: '', id: canceled.id })).status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    const done = await a2a.getTask({ tenant: '', id: replied.id });
    expect(done.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(done.artifacts[0]!.parts[0]!.content).toEqual({ $case: 'text', value: 'here you are' });
  }, 120_000);
});
