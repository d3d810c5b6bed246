/**
 * Outbox files with large JSON object bodies are decoded off the event loop, as large sends over HTTP are, and
 * arrive whole; a file nested too deep is rejected with the limit named.
 */
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH } from '../../src/shared/agent-protocol';
import { agentDir, drop, listing, registerByFile, startMailboxHub, until } from './harness';

const KEYS = 1_000_000;
/** As in test/hub/stall.test.ts: decoded on the event loop this held it for seconds; the goal is ~50 ms. */
const MAX_HOLD_MS = 1000;

describe('large JSON bodies in outbox files', () => {
  it('sends a 1M-key object body without holding the event loop', { timeout: 120_000 }, async () => {
    const hub = await startMailboxHub();
    const filer = await registerByFile(hub.root, 'filer');
    const receiver = await hub.register('receiver', 'test');
    const parts: string[] = [];
    for (let i = 0; i < KEYS; i++) parts.push(`"${i.toString(36)}":${i % 10}`);
    const outbox = path.join(agentDir(hub.root, 'test', filer.name), 'outbox');
    const file = path.join(outbox, 'large.json');
    writeFileSync(`${file}.tmp`, `{"to":"receiver","subject":"large","body":{${parts.join(',')}}}`);

    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    renameSync(`${file}.tmp`, file);
    await until(() => listing(outbox).filter((name) => !name.startsWith('.')).length === 0 && listing(path.join(outbox, '.sending')).length === 0, 60_000, 'the outbox file to be sent');
    loop.disable();
    const listed = await hub.api(`/agents/${receiver.agent.id}/messages`, { token: receiver.token });
    expect(loop.max / 1e6 - 5).toBeLessThan(MAX_HOLD_MS);
    expect(listed.body.messages).toHaveLength(1);
    const [message] = listed.body.messages;
    expect(message).toMatchObject({ from: filer.id, subject: 'large', contentType: 'json' });
    expect(Object.keys(message.body)).toHaveLength(KEYS);
    expect(message.body[(KEYS - 1).toString(36)]).toBe((KEYS - 1) % 10);
  });

  it('rejects a file nested deeper than the limit, saying so', async () => {
    const hub = await startMailboxHub();
    const filer = await registerByFile(hub.root, 'filer');
    await hub.register('receiver', 'test');
    const dir = agentDir(hub.root, 'test', filer.name);
    drop(path.join(dir, 'outbox'), 'deep.json', `{"to":"receiver","body":${'['.repeat(5000)}${']'.repeat(5000)}}`);
    await until(() => listing(path.join(dir, 'rejected')).includes('deep.error.txt'), 10_000, 'the rejection');
    expect(readFileSync(path.join(dir, 'rejected', 'deep.error.txt'), 'utf8')).toContain(`deeper than ${MAX_JSON_DEPTH} levels`);
  });
});
