/** `devenviro task create | next | done | fail | show | list` against a real hub, run as child processes from the source. */
import { describe, expect, it } from 'vitest';
import { HubClient } from '../../src/client';
import { tempDir } from '../helpers';
import { runCli } from './cli-run';
import { startHub } from './hub';

describe('devenviro task', { timeout: 120_000 }, () => {
  it('creates a task, takes it with next, completes it; fails another; says why there is nothing to take', async () => {
    const dataDir = tempDir();
    const hub = await startHub(dataDir);
    await HubClient.register({ name: 'lead', project: 'shop', url: hub.url, dataDir, persist: true });
    const dev = await HubClient.register({ name: 'dev', project: 'shop', url: hub.url, dataDir, persist: true, capabilities: ['code'] });
    const cli = (args: string[]) => runCli([...args, '--data-dir', dataDir]);

    const created = await cli(['task', 'create', 'add', 'a', 'cart', '--capability', 'code', '--input', '{"sku":42}', '--as', 'lead']);
    expect(created.code).toBe(0);
    const id = created.stdout.trim();
    expect(created.stderr).toContain('Created "add a cart": ready');

    const next = await cli(['task', 'next', '--as', 'dev']);
    expect(next.code).toBe(0);
    expect(next.stdout).toContain(`${id}  add a cart`);
    expect(next.stdout).toContain('state: running (attempt 1 of 3)');
    expect(next.stdout).toContain('"sku": 42');
    const done = await cli(['task', 'done', id, '--text', 'cart added', '--ref', 'file:src/cart.ts', '--as', 'dev']);
    expect(done.code).toBe(0);
    expect((await dev.task(id)).result).toEqual({ text: 'cart added', refs: [{ kind: 'file', ref: 'src/cart.ts' }] });

    // Nothing is left to take: the claim says why.
    const none = await cli(['task', 'next', '--as', 'lead']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('No task for you: no task is ready in any project.');

    const second = (await cli(['task', 'create', 'flaky', '--as', 'lead'])).stdout.trim();
    expect((await cli(['task', 'next', '--as', 'dev'])).stdout).toContain(second);
    const failed = await cli(['task', 'fail', second, 'tests', 'broke', '--final', '--as', 'dev']);
    expect(failed.stderr).toContain(`Task ${second} failed.`);
    const late = await cli(['task', 'done', second, '--text', 'fixed', '--as', 'dev']);
    expect(late.code).not.toBe(0);
    expect(late.stderr).toContain('your lease on task');

    const list = await cli(['task', 'list', '--state', 'failed', '--json', '--as', 'lead']);
    expect(JSON.parse(list.stdout).map((t: { id: string; error: { message: string } }) => [t.id, t.error.message])).toEqual([[second, 'tests broke']]);
    expect((await cli(['task', 'show', id, '--as', 'lead'])).stdout).toContain('state: succeeded');
  });
});
