/** Retention of A2A tasks: finished ones older than a2a.keepFinishedTasksDays go, in batches; open ones stay. */
import { TaskState, type Task } from '@a2a-js/sdk';
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configFile, loadConfig } from '../../src/main/config/config';
import { SWEEP_BATCH } from '../../src/main/a2a/task-sweeper';
import { tempDir } from '../helpers';
import { openSocket, startHub } from '../hub/harness';
import { a2aClient, textMessage } from './sdk-client';



const KEEP_SECONDS = 1;

describe('A2A task retention', () => {
  it('deletes finished tasks older than the configured age, in batches; open and recent ones stay', async () => {
    const hub = await startHub({ configure: (config) => (config.a2a.keepFinishedTasksDays = KEEP_SECONDS / 86_400) });
    const caller = await hub.register('caller');
    const worker = await hub.register('worker');
    const socket = await openSocket(hub.url, worker.agent.id, worker.token);
    const client = await a2aClient(hub, caller.token);
    const gateway = hub.app.hub().a2a;

    const completed = (await client.sendMessage(textMessage('finish me', { to: 'worker' }))) as Task;
    const request = await socket.next((f) => f.type === 'message');
    if (request.type !== 'message') throw new Error('not a message');
    await hub.api(`/agents/${caller.agent.id}/messages`, { token: worker.token, body: { body: 'done', replyTo: request.message.id } });
    const canceled = (await client.sendMessage(textMessage('cancel me', { to: 'worker' }))) as Task;
    await client.cancelTask({ tenant: '', id: canceled.id, metadata: {} });
    const open = (await client.sendMessage(textMessage('still working', { to: 'worker' }))) as Task;
    for (let i = 0; i < 100 && (await client.getTask({ tenant: '', id: completed.id })).status?.state !== TaskState.TASK_STATE_COMPLETED; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // More old finished tasks than one batch deletes, written as the door writes them.
    const old = new Date(Date.now() - 10 * 86_400_000).toISOString();
    const backlog = SWEEP_BATCH * 2 + 7;
    for (let i = 0; i < backlog; i++) {
      gateway.store.put(
        { id: `old-${i}`, contextId: 'c', status: { state: TaskState.TASK_STATE_COMPLETED, message: undefined, timestamp: old }, artifacts: [], history: [], metadata: {} },
        caller.agent.id,
      );
    }

    await new Promise((resolve) => setTimeout(resolve, KEEP_SECONDS * 1000 + 200));
    const recent = (await client.sendMessage(textMessage('recent', { to: 'worker' }))) as Task;
    await client.cancelTask({ tenant: '', id: recent.id, metadata: {} });

    expect(await gateway.sweepFinishedTasks()).toBe(backlog + 2);
    await expect(client.getTask({ tenant: '', id: completed.id })).rejects.toMatchObject({ name: 'TaskNotFoundError' });
    await expect(client.getTask({ tenant: '', id: canceled.id })).rejects.toMatchObject({ name: 'TaskNotFoundError' });
    expect((await client.getTask({ tenant: '', id: open.id })).status?.state).toBe(TaskState.TASK_STATE_WORKING);
    expect((await client.getTask({ tenant: '', id: recent.id })).status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    expect(hub.app.hub().db.prepare('SELECT COUNT(*) AS n FROM a2a_tasks').get()).toEqual({ n: 2 });
    // Nothing more to delete; the open task still completes after the sweep.
    expect(await gateway.sweepFinishedTasks()).toBe(0);
  });

  it('config.json: 30 days by default, written on first start; zero refused', () => {
    const dir = tempDir();
    expect(loadConfig(dir).a2a.keepFinishedTasksDays).toBe(30);
    expect(JSON.parse(readFileSync(configFile(dir), 'utf8')).a2a).toEqual({ keepFinishedTasksDays: 30 });
    writeFileSync(configFile(dir), JSON.stringify({ a2a: { keepFinishedTasksDays: 0 } }));
    expect(() => loadConfig(dir)).toThrow(/a2a\.keepFinishedTasksDays/);
  });
});
