/**
 * kill -9 of the hub in the middle of a burst: every send the hub acknowledged must be there after a restart.
 * The hub runs as a real child process (from source, through tsx) so the kill is a real one.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RegisterResponse } from '../../src/shared/agent-protocol';
import { tempDir } from '../helpers';
import { startHubProcess, type HubProcess } from '../support/hub-process';
import { openSocket, until } from './harness';

async function post(url: string, path: string, body: unknown, token?: string): Promise<any> {
  const response = await fetch(`${url}/api/v1${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return response.json();
}

type Hub = HubProcess;
type Inbox = Array<{ id: string; body: string }>;

/** Every message in an agent's inbox, page by page, oldest first. */
async function readInbox(hub: Hub, agent: RegisterResponse, pageSize: number): Promise<Inbox> {
  const messages: Inbox = [];
  let after: string | null = null;
  do {
    const page: { messages: Inbox; next: string | null } = await fetch(
      `${hub.url}/api/v1/agents/${agent.agent.id}/messages?limit=${pageSize}${after ? `&after=${after}` : ''}`,
      { headers: { authorization: `Bearer ${agent.token}` } },
    ).then((r) => r.json());
    messages.push(...page.messages);
    after = page.next;
  } while (after);
  return messages;
}

/**
 * A sender pipelines `total` sends over its socket to a receiver; once `killAfter` are acknowledged the hub gets
 * kill -9, and `check` runs against a restarted hub on the same data, with the acknowledged sends (ref -> id).
 */
async function crashMidBurst(
  burst: { total: number; killAfter: number; body: (i: number) => string; config?: unknown },
  check: (restarted: Hub, receiver: RegisterResponse, acknowledged: Map<string, string>, dataDir: string) => Promise<void>,
): Promise<void> {
  const dataDir = tempDir();
  if (burst.config) writeFileSync(path.join(dataDir, 'config.json'), JSON.stringify(burst.config));
  const first = await startHubProcess(dataDir);
  try {
    const a = (await post(first.url, '/agents/register', { name: 'sender', project: 'crash' })) as RegisterResponse;
    const b = (await post(first.url, '/agents/register', { name: 'receiver', project: 'crash' })) as RegisterResponse;
    const socket = await openSocket(first.url, a.agent.id, a.token);
    const acknowledged = new Map<string, string>();
    socket.ws.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.type === 'sent') acknowledged.set(frame.ref, frame.result.id);
    });
    for (let i = 0; i < burst.total; i++) {
      socket.send({ type: 'send', ref: String(i), message: { to: { type: 'agent', id: b.agent.id }, body: burst.body(i) } });
    }
    await until(() => acknowledged.size >= burst.killAfter, 30_000, `${burst.killAfter} acknowledgements`);
    await first.kill9();
    expect(acknowledged.size).toBeLessThan(burst.total);

    const second = await startHubProcess(dataDir);
    try {
      await check(second, b, acknowledged, dataDir);
    } finally {
      await second.stop();
    }
  } finally {
    await first.kill9();
  }
}

describe('crash safety', () => {
  it('keeps every acknowledged message through a kill -9 mid-burst', async () => {
    const body = (i: number) => `burst message ${i} ${'x'.repeat(200)}`;
    await crashMidBurst({ total: 20_000, killAfter: 2000, body }, async (second, b, acknowledged) => {
      const inbox = await readInbox(second, b, 1000);
      const stored = new Set(inbox.map((message) => message.id));
      expect(stored.size).toBe(inbox.length); // nothing delivered twice
      expect([...acknowledged.values()].filter((id) => !stored.has(id))).toEqual([]);
      // The keyword index, filled after commits, catches up with what the crash left unindexed.
      const lastRef = Math.max(...[...acknowledged.keys()].map(Number));
      const search = await fetch(`${second.url}/api/v1/messages/search?q=${encodeURIComponent(`burst message ${lastRef}`)}&limit=5`, {
        headers: { authorization: `Bearer ${b.token}` },
      }).then((r) => r.json());
      expect(search.hits.map((hit: { message: { body: string } }) => hit.message.body)).toContain(body(lastRef));
    });
  }, 90_000);

  it('keeps every acknowledged large message, body file and all, and no body file of an unacknowledged one', async () => {
    const body = (i: number) => `large ${i} "quoted"\n é 😀 ${'x'.repeat(70_000 + i)}`;
    // Bodies above 4 KiB go to files, so every message of the burst has one.
    const burst = { total: 400, killAfter: 40, body, config: { messages: { bodyFileBytes: 4096 } } };
    await crashMidBurst(burst, async (second, b, acknowledged, dataDir) => {
      const stored = new Map((await readInbox(second, b, 50)).map((message) => [message.id, message.body]));
      for (const [ref, id] of acknowledged) expect(stored.get(id), `message ${ref}`).toBe(body(Number(ref)));
      // Files written for sends the crash cut off before their commit are gone; every stored message has its own.
      const files = readdirSync(path.join(dataDir, 'message-bodies')).sort();
      expect(files).toEqual([...stored.keys()].map((id) => `${id}.json`).sort());
    });
  }, 90_000);
});
