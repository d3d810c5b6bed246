/**
 * Splitting a task into subtasks through each surface against a real hub: the client library (splitTask and the
 * taskSubtasks event on its socket), `devenviro task split` (YAML file, --wait) and the MCP tool split_task.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HubClient, type AgentClient } from '../../src/client';
import type { Task, TaskSubtasks } from '../../src/shared/task-protocol';
import { runCli } from '../client/cli-run';
import { startHub as startClientHub } from '../client/hub';
import { tempDir } from '../helpers';
import { startHub, until } from '../hub/harness';
import { call, connect } from '../mcp/mcp-client';

/** A development agent on the client library: completes each pushed task with its title and input. */
async function developer(url: string, name: string, dataDir?: string): Promise<AgentClient> {
  const dev = await HubClient.register({ name, project: 'shop', url, capabilities: ['code'], ...(dataDir ? { dataDir, persist: true } : {}) });
  dev.on('taskOffered', (task) => {
    void dev.completeTask(task.id, { json: { title: task.title, input: task.input ?? null } });
  });
  dev.takeTasks(2);
  await dev.connect();
  return dev;
}

describe('splitting a task, from each surface', { timeout: 120_000 }, () => {
  it('the client library: splitTask, then the taskSubtasks event with the aggregate', async () => {
    const hub = await startHub();
    const lead = await HubClient.register({ name: 'lead', project: 'shop', url: hub.url, tier: 'strategic' });
    const heard: Array<{ taskId: string; subtasks: TaskSubtasks }> = [];
    lead.on('taskSubtasks', (info) => heard.push(info));
    await lead.connect();
    const dev = await developer(hub.url, 'dev');
    const parent = await lead.createTask({ title: 'release notes', tier: 'strategic' });
    expect((await lead.claimNextTask()).task?.id).toBe(parent.id);

    const waiting = await lead.splitTask(parent.id, {
      aggregate: 'concat',
      subtasks: [
        { key: 'cart', title: 'notes for cart', capabilities: ['code'] },
        { key: 'pay', title: 'notes for pay', capabilities: ['code'], dependsOn: ['cart'] },
      ],
    });
    expect(waiting.subtasks).toMatchObject({ state: 'running', aggregate: { use: 'concat', separator: '\n' } });
    await until(() => heard.length > 0, 20_000, 'the taskSubtasks event');
    // concat of two objects fails: the lead is told why, and still holds its task.
    expect(heard[0]).toMatchObject({ taskId: parent.id, subtasks: { state: 'failed' } });
    expect(heard[0]!.subtasks.error).toContain('concat');
    expect(await lead.task(parent.id)).toMatchObject({ state: 'running', holderId: lead.id, subtasks: { state: 'failed' } });

    const again = await lead.splitTask(parent.id, { subtasks: [{ key: 'one', title: 'only part', capabilities: ['code'], input: 'x' }] });
    expect(again.subtasks!.state).toBe('running');
    const ended = await lead.waitForSubtasks(parent.id, { intervalMs: 100, timeoutMs: 20_000 });
    expect(ended.subtasks).toMatchObject({ state: 'succeeded', result: [{ title: 'only part', input: 'x' }] });
    await lead.completeTask(parent.id, { json: { notes: ended.subtasks!.result } });
    await Promise.all([lead.close(), dev.close()]);
  });

  it('devenviro task split: subtasks from a YAML file, --wait prints the aggregate; a YAML error names line and column', async () => {
    const dataDir = tempDir();
    const hub = await startClientHub(dataDir);
    const lead = await HubClient.register({ name: 'lead', project: 'shop', url: hub.url, dataDir, persist: true, tier: 'strategic' });
    const dev = await developer(hub.url, 'dev', dataDir);
    const parent = await lead.createTask({ title: 'add a cart', tier: 'strategic' });
    expect((await lead.claimNextTask()).task?.id).toBe(parent.id);
    const cli = (args: string[]) => runCli([...args, '--data-dir', dataDir]);

    const file = path.join(dataDir, 'parts.yaml');
    writeFileSync(
      file,
      ['- key: model', '  title: cart model', '  capabilities: [code]', '  input: { file: src/cart.ts }', '- key: tests', '  title: cart tests', '  capabilities: [code]', '  dependsOn: [model]', ''].join('\n'),
    );
    const split = await cli(['task', 'split', parent.id, file, '--wait', '--as', 'lead']);
    expect(split.stderr).toBe('');
    expect(split.code).toBe(0);
    expect(split.stdout).toContain(`Split ${parent.id} into 2 subtasks (collect):`);
    expect(split.stdout).toMatch(/model\s+[0-9A-Z]{26}\s+ready\s+cart model/);
    expect(split.stdout).toContain('subtasks: succeeded (collect, model: succeeded, tests: succeeded)');
    expect(split.stdout).toContain('"file": "src/cart.ts"');
    const shown = await cli(['task', 'show', parent.id, '--as', 'lead']);
    expect(shown.stdout).toContain('state: running');
    expect(shown.stdout).toContain('subtasks: succeeded');

    const bad = path.join(dataDir, 'bad.yaml');
    writeFileSync(bad, '- key: a\n  title: [unclosed\n');
    const refused = await cli(['task', 'split', parent.id, bad, '--as', 'lead']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/bad\.yaml is not valid YAML \(line \d+, column \d+\)/);
    await Promise.all([lead.close(), dev.close()]);
  });

  it('the MCP tool split_task, and get_task showing the aggregate', async () => {
    const hub = await startHub();
    const lead = await hub.register('lead', { tier: 'strategic' });
    const { client } = await connect(hub, lead.token);
    const worker = await hub.register('worker', { capabilities: ['code'] });
    const parent = (await hub.api('/tasks', { token: hub.app.cockpitToken, body: { project: 'test', title: 'plan', tier: 'strategic' } })).body as Task;
    const claimed = await call(client, 'next_task');
    expect((claimed.structuredContent as { task: Task }).task.id).toBe(parent.id);

    const split = await call(client, 'split_task', {
      taskId: parent.id,
      aggregate: 'majority',
      subtasks: [
        { key: 'a', title: 'vote a', capabilities: ['code'] },
        { key: 'b', title: 'vote b', capabilities: ['code'] },
        { key: 'c', title: 'vote c', capabilities: ['code'] },
      ],
    });
    expect(split.isError).toBeFalsy();
    expect((split.structuredContent as { task: Task }).task).toMatchObject({ id: parent.id, state: 'running', subtasks: { state: 'running' } });
    // The worker answers over HTTP: two say yes, one says no.
    for (const answer of ['yes', 'no', 'yes']) {
      const next = (await hub.api(`/agents/${worker.agent.id}/tasks/next`, { token: worker.token, body: {} })).body as { task: Task };
      await hub.api(`/tasks/${next.task.id}/complete`, { token: worker.token, body: { text: answer } });
    }
    const seen = (await call(client, 'get_task', { taskId: parent.id })).structuredContent as { task: Task };
    expect(seen.task.subtasks).toMatchObject({ state: 'succeeded', result: 'yes', aggregate: { use: 'majority' } });

    const refused = await call(client, 'split_task', { taskId: parent.id, subtasks: [{ key: 'x', title: 'x', dependsOn: ['x'] }] });
    expect(refused.isError).toBe(true);
  });
});
