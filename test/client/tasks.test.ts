/** The client library's task calls against a real hub: pushed offers, pull, results, failures, cancel and lease errors. */
import { describe, expect, it } from 'vitest';
import { HubClient, HubClientError, type AgentClient } from '../../src/client';
import type { Task } from '../../src/shared/task-protocol';
import { tempDir } from '../helpers';
import { startHub, startProxy, waitFor } from './hub';

describe('client tasks', () => {
  it('takes pushed tasks, reports and completes them; pulls, fails and cancels; hears of a cancelled one', async () => {
    const hub = await startHub(tempDir());
    const lead = await HubClient.register({ url: hub.url, name: 'lead', project: 'app', tier: 'strategic' });
    const dev = await HubClient.register({ url: hub.url, name: 'dev', project: 'app', capabilities: ['code'] });
    const offers: Task[] = [];
    const cancelled: string[] = [];
    dev.on('taskOffered', (task) => offers.push(task));
    dev.on('taskCancelled', (info) => cancelled.push(`${info.taskId} ${info.state} ${info.reason}`));
    dev.takeTasks(1);
    await dev.connect();

    const build = await lead.createTask({ title: 'build', capabilities: ['code'], input: 'make it compile' });
    const review = await lead.createTask({ title: 'review', tier: 'strategic', dependsOn: [build.id] });
    await waitFor(() => offers.length === 1, 'the offer');
    expect(offers[0]).toMatchObject({ id: build.id, input: 'make it compile', state: 'assigned' });
    expect((await dev.reportProgress(build.id, { percent: 40, note: 'compiling' })).progress).toMatchObject({ percent: 40, note: 'compiling' });
    expect((await dev.completeTask(build.id, { text: 'compiled', refs: [{ kind: 'file', ref: 'dist/app.js' }] })).state).toBe('succeeded');

    // The review waited for the build; only the strategic lead may take it, and it pulls.
    const claimed = await lead.claimNextTask();
    expect(claimed.task).toMatchObject({ id: review.id, state: 'running' });
    const failed = await lead.failTask(review.id, { message: 'needs tests', retry: false });
    expect(failed).toMatchObject({ state: 'failed', error: { message: 'needs tests' } });
    expect((await lead.task(build.id)).result).toEqual({ text: 'compiled', refs: [{ kind: 'file', ref: 'dist/app.js' }] });

    const refactor = await lead.createTask({ title: 'refactor', capabilities: ['code'] });
    await waitFor(() => offers.length === 2, 'the second offer');
    await lead.cancelTask(refactor.id, 'not now');
    await waitFor(() => cancelled.length === 1, 'the cancel notice');
    expect(cancelled[0]).toBe(`${refactor.id} cancelled cancelled by lead: not now`);
    const late = await dev.completeTask(refactor.id, { text: 'done' }).catch((error: unknown) => error);
    expect(late).toBeInstanceOf(HubClientError);
    expect(late).toMatchObject({ status: 409, code: 'lease_lost' });

    expect((await dev.myTasks()).map((task) => task.id).sort()).toEqual([build.id, refactor.id].sort());
    expect((await lead.tasks({ state: 'failed' })).map((task) => task.id)).toEqual([review.id]);
    await Promise.all([lead, dev].map((client: AgentClient) => client.close()));
  });

  it('completes over the socket while connected; a completion whose answer was lost is read back as done', async () => {
    const hub = await startHub(tempDir());
    const proxy = await startProxy(hub.port);
    const lead = await HubClient.register({ url: hub.url, name: 'lead', project: 'app' });
    const dev = await HubClient.register({ url: proxy.url, name: 'dev', project: 'app', capabilities: ['code'] });
    const offers: Task[] = [];
    dev.on('taskOffered', (task) => offers.push(task));
    dev.takeTasks(1);
    await dev.connect();
    // The hub's answers to task.complete frames, as they pass the proxy; the second is lost with the connection.
    let answers = 0;
    proxy.inspect = (chunk) => {
      if (!chunk.includes('"type":"result"')) return 'pass';
      answers++;
      return answers === 2 ? 'cut' : 'pass';
    };

    const first = await lead.createTask({ title: 'first', capabilities: ['code'] });
    await waitFor(() => offers.length === 1, 'the first offer');
    expect((await dev.completeTask(first.id, { text: 'one' })).state).toBe('succeeded');
    expect(answers).toBe(1);

    // Committed, but the answer never arrives: the client asks again over HTTP, hears task_finished, reads it back.
    const second = await lead.createTask({ title: 'second', capabilities: ['code'] });
    await waitFor(() => offers.length === 2, 'the second offer');
    const done = await dev.completeTask(second.id, { json: { n: 2 } });
    expect(answers).toBe(2);
    expect(done).toMatchObject({ id: second.id, state: 'succeeded', holderId: dev.id });
    expect((await lead.task(second.id)).result).toEqual({ json: { n: 2 } });
    // Someone else's finished task is no success of this agent's: that refusal stands.
    const third = await lead.createTask({ title: 'third', capabilities: ['code'] });
    await waitFor(() => offers.length === 3, 'the third offer');
    await lead.cancelTask(third.id);
    await expect(dev.completeTask(third.id, { text: 'late' })).rejects.toMatchObject({ code: 'lease_lost' });
    await Promise.all([lead, dev].map((client: AgentClient) => client.close()));
  });
});
