/**
 * kill -9 of the hub in the middle of a burst: every send the hub acknowledged must be there after a restart.
 * The hub runs as a real child process (from source, through tsx) so the kill is a real one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RegisterResponse } from '../../src/shared/agent-protocol';
import { tempDir } from '../helpers';
import { openSocket, until } from './harness';

function startHubProcess(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main/headless.ts', '--data-dir', dataDir, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hub did not start:\n${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Open the cockpit: (http:\/\/[^/]+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1]! });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`hub exited (${code}):\n${output}`)));
  });
}

async function post(url: string, path: string, body: unknown, token?: string): Promise<any> {
  const response = await fetch(`${url}/api/v1${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return response.json();
}

describe('crash safety', () => {
  it('keeps every acknowledged message through a kill -9 mid-burst', async () => {
    const dataDir = tempDir();
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
      const total = 20_000;
      for (let i = 0; i < total; i++) {
        socket.send({ type: 'send', ref: String(i), message: { to: { type: 'agent', id: b.agent.id }, body: `burst message ${i} ${'x'.repeat(200)}` } });
      }
      await until(() => acknowledged.size >= 2000, 30_000, '2000 acknowledgements');
      first.child.kill('SIGKILL');
      await new Promise((resolve) => first.child.once('exit', resolve));
      const acked = [...acknowledged.values()];
      expect(acked.length).toBeLessThan(total);

      const second = await startHubProcess(dataDir);
      try {
        const stored = new Set<string>();
        let after: string | null = null;
        do {
          const page: { messages: Array<{ id: string }>; next: string | null } = await fetch(`${second.url}/api/v1/agents/${b.agent.id}/messages?limit=1000${after ? `&after=${after}` : ''}`, {
            headers: { authorization: `Bearer ${b.token}` },
          }).then((r) => r.json());
          for (const message of page.messages) {
            expect(stored.has(message.id)).toBe(false);
            stored.add(message.id);
          }
          after = page.next;
        } while (after);
        const lost = acked.filter((id) => !stored.has(id));
        expect(lost).toEqual([]);
        // The keyword index, filled after commits, catches up with what the crash left unindexed.
        const lastRef = Math.max(...[...acknowledged.keys()].map(Number));
        const search = await fetch(`${second.url}/api/v1/messages/search?q=${encodeURIComponent(`burst message ${lastRef}`)}&limit=5`, {
          headers: { authorization: `Bearer ${b.token}` },
        }).then((r) => r.json());
        expect(search.hits.map((hit: { message: { body: string } }) => hit.message.body)).toContain(`burst message ${lastRef} ${'x'.repeat(200)}`);
      } finally {
        // Stopped before the data folder is removed, so its shutdown cannot race the removal.
        const exited = new Promise((resolve) => second.child.once('exit', resolve));
        second.child.kill('SIGTERM');
        await exited;
      }
    } finally {
      if (first.child.exitCode === null) first.child.kill('SIGKILL');
    }
  }, 90_000);

  it('keeps every acknowledged large message, body file and all, and no body file of an unacknowledged one', async () => {
    const dataDir = tempDir();
    // Bodies above 4 KiB go to files, so every message of the burst has one.
    writeFileSync(path.join(dataDir, 'config.json'), JSON.stringify({ messages: { bodyFileBytes: 4096 } }));
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
      const bodyOf = (i: number) => `large ${i} "quoted"\n é 😀 ${'x'.repeat(70_000 + i)}`;
      const total = 400;
      for (let i = 0; i < total; i++) socket.send({ type: 'send', ref: String(i), message: { to: { type: 'agent', id: b.agent.id }, body: bodyOf(i) } });
      await until(() => acknowledged.size >= 40, 30_000, '40 acknowledgements');
      first.child.kill('SIGKILL');
      await new Promise((resolve) => first.child.once('exit', resolve));
      expect(acknowledged.size).toBeLessThan(total);

      const second = await startHubProcess(dataDir);
      try {
        const stored = new Map<string, string>();
        let after: string | null = null;
        do {
          const page: { messages: Array<{ id: string; body: string }>; next: string | null } = await fetch(
            `${second.url}/api/v1/agents/${b.agent.id}/messages?limit=50${after ? `&after=${after}` : ''}`,
            { headers: { authorization: `Bearer ${b.token}` } },
          ).then((r) => r.json());
          for (const message of page.messages) stored.set(message.id, message.body);
          after = page.next;
        } while (after);
        for (const [ref, id] of acknowledged) expect(stored.get(id), `message ${ref}`).toBe(bodyOf(Number(ref)));
        // Files written for sends the crash cut off before their commit are gone; every stored message has its own.
        const files = readdirSync(path.join(dataDir, 'message-bodies')).sort();
        expect(files).toEqual([...stored.keys()].map((id) => `${id}.json`).sort());
      } finally {
        // Stopped before the data folder is removed, so its shutdown cannot race the removal.
        const exited = new Promise((resolve) => second.child.once('exit', resolve));
        second.child.kill('SIGTERM');
        await exited;
      }
    } finally {
      if (first.child.exitCode === null) first.child.kill('SIGKILL');
    }
  }, 90_000);
});
