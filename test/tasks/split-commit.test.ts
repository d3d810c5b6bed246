/**
 * A split's aggregate commits with the end of its last subtask, in one transaction: read from a second connection
 * (which sees only what is committed) the moment that end is told, the split has its aggregate; and after a kill -9
 * of the hub right after the last completion was answered, the file has it before any restart catches up.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/main/db/database';
import type { RegisterResponse } from '../../src/shared/agent-protocol';
import type { Task } from '../../src/shared/task-protocol';
import { tempDir } from '../helpers';
import { startHub } from '../hub/harness';
import { hubCall, startHubProcess, type HubProcess } from '../support/hub-process';

type SplitRow = { state: string; result: string | null; error: string | null };

function splitRows(dataDir: string): SplitRow[] {
  const db = openDatabase(path.join(dataDir, 'hub.sqlite'), { readonly: true });
  try {
    return db.prepare('SELECT state, result, error FROM task_splits ORDER BY seq').all() as SplitRow[];
  } finally {
    db.close();
  }
}

const SPLIT = {
  subtasks: [
    { key: 'model', title: 'cart model', capabilities: ['code'] },
    { key: 'api', title: 'cart api', capabilities: ['code'] },
  ],
  aggregate: 'merge',
};

describe('a split and its aggregate', () => {
  it('stores the aggregate in the transaction that ends the last subtask', async () => {
    const hub = await startHub();
    const lead = await hub.register('lead', { tier: 'strategic' });
    const dev = await hub.register('dev', { capabilities: ['code'] });
    const parent = (await hub.api('/tasks', { token: hub.app.cockpitToken, body: { project: 'test', title: 'add a cart', tier: 'strategic' } })).body as Task;
    expect((await hub.api(`/agents/${lead.agent.id}/tasks/next`, { token: lead.token, body: {} })).body.task.id).toBe(parent.id);

    // What a second connection sees when each subtask's end is told (listening before the split is made).
    const seen: Array<{ taskId: string; splits: SplitRow[] }> = [];
    const off = hub.app.hub().tasks.onTransition((t) => {
      if (t.to === 'succeeded' && t.taskId !== parent.id) seen.push({ taskId: t.taskId, splits: splitRows(hub.dataDir) });
    });
    try {
      expect((await hub.api(`/tasks/${parent.id}/subtasks`, { token: lead.token, body: SPLIT })).status).toBe(201);
      for (let i = 0; i < 2; i++) {
        const task = (await hub.api(`/agents/${dev.agent.id}/tasks/next`, { token: dev.token, body: {} })).body.task as Task;
        const part = task.title === 'cart model' ? { model: 'Cart' } : { api: '/cart' };
        expect((await hub.api(`/tasks/${task.id}/complete`, { token: dev.token, body: { json: part } })).status).toBe(200);
      }
    } finally {
      off();
    }
    expect(seen).toHaveLength(2);
    // After the first: still running. After the last: the aggregate, already committed when its end was told.
    expect(seen[0]!.splits).toEqual([{ state: 'running', result: null, error: null }]);
    expect(seen[1]!.splits).toEqual([{ state: 'succeeded', result: JSON.stringify({ model: 'Cart', api: '/cart' }), error: null }]);
    expect((await hub.api(`/tasks/${parent.id}`, { token: lead.token })).body.subtasks).toMatchObject({ state: 'succeeded', result: { model: 'Cart', api: '/cart' } });
  });

  it('has the aggregate in the file after a kill -9 right after the last completion was answered', async () => {
    const dataDir = tempDir();
    let hub: HubProcess = await startHubProcess(dataDir);
    try {
      const register = async (name: string, extra: Record<string, unknown>) =>
        (await hubCall(hub, '/agents/register', undefined, { name, project: 'crash', ...extra })).body as RegisterResponse;
      const lead = await register('lead', { tier: 'strategic' });
      const dev = await register('dev', { capabilities: ['code'] });
      const parent = (await hubCall(hub, '/tasks', lead.token, { title: 'add a cart', tier: 'strategic' })).body as Task;
      expect((await hubCall(hub, `/agents/${lead.agent.id}/tasks/next`, lead.token, {})).body.task.id).toBe(parent.id);
      expect((await hubCall(hub, `/tasks/${parent.id}/subtasks`, lead.token, SPLIT)).status).toBe(201);
      for (let i = 0; i < 2; i++) {
        const task = (await hubCall(hub, `/agents/${dev.agent.id}/tasks/next`, dev.token, {})).body.task as Task;
        const part = task.title === 'cart model' ? { model: 'Cart' } : { api: '/cart' };
        expect((await hubCall(hub, `/tasks/${task.id}/complete`, dev.token, { json: part })).status).toBe(200);
      }
      await hub.kill9();
      expect(splitRows(dataDir)).toEqual([{ state: 'succeeded', result: JSON.stringify({ model: 'Cart', api: '/cart' }), error: null }]);

      hub = await startHubProcess(dataDir);
      const after = (await hubCall(hub, `/tasks/${parent.id}`, lead.token)).body as Task;
      expect(after).toMatchObject({ state: 'running', holderId: lead.agent.id, subtasks: { state: 'succeeded', result: { model: 'Cart', api: '/cart' } } });
      expect((await hubCall(hub, `/tasks/${parent.id}/complete`, lead.token, { json: { cart: 'done' } })).status).toBe(200);
    } finally {
      await hub.kill9();
    }
  }, 60_000);
});
