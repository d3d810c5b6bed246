/** The file mailbox under bursts of files. */
import { utimesSync, writeFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentDir, inboxFiles, listing, readInbox, registerByFile, sleep, startMailboxHub, until } from './harness';

describe('bursts', () => {
  // Rescanning every 20 ms makes every file be found again and again while it is being sent; without rescans, the
  // watcher alone must find every file.
  it.each([
    ['the watcher alone', 0],
    ['rescans every 20 ms on top', 20],
  ])('delivers a burst of 300 files exactly once (%s)', async (_label, rescanIntervalMs) => {
    const hub = await startMailboxHub({ mailbox: { rescanIntervalMs } });
    const sender = await registerByFile(hub.root, 'sender');
    const receiver = await registerByFile(hub.root, 'receiver');
    const other = await hub.register('http-receiver');
    const outbox = path.join(agentDir(hub.root, 'test', 'sender'), 'outbox');
    const receiverDir = agentDir(hub.root, 'test', 'receiver');

    const total = 300;
    for (let i = 0; i < total; i++) {
      const file = path.join(outbox, `msg-${i}.json`);
      const to = i % 3 === 0 ? 'http-receiver' : 'receiver';
      writeFileSync(`${file}.tmp`, JSON.stringify({ to, body: `message ${i}`, subject: `#${i}` }));
      renameSync(`${file}.tmp`, file);
      // A few touches for good measure: more events for the same file.
      if (i % 10 === 0) {
        try {
          utimesSync(file, new Date(), new Date());
        } catch {
          // already picked up
        }
      }
    }
    const toReceiver = Array.from({ length: total }, (_, i) => i).filter((i) => i % 3 !== 0);
    const toOther = Array.from({ length: total }, (_, i) => i).filter((i) => i % 3 === 0);
    await until(() => inboxFiles(receiverDir).length >= toReceiver.length, 20_000, `${toReceiver.length} inbox files`);
    await until(() => hub.hub.messaging.store.inbox(other.agent.id, 0, 1000).length >= toOther.length, 20_000, 'the HTTP agent\'s messages');
    await sleep(300); // time for any duplicate to show up
    await hub.mailbox.settled();

    const delivered = readInbox(receiverDir);
    expect(delivered).toHaveLength(toReceiver.length);
    expect(new Set(delivered.map((m) => m.id)).size).toBe(toReceiver.length);
    expect(delivered.map((m) => m.body).sort()).toEqual(toReceiver.map((i) => `message ${i}`).sort());
    expect(delivered.every((m) => m.from === sender.id && m.to.type === 'agent' && m.to.id === receiver.id)).toBe(true);

    const others = hub.hub.messaging.store.inbox(other.agent.id, 0, 1000, 'all');
    expect(others.map((m) => m.body).sort()).toEqual(toOther.map((i) => `message ${i}`).sort());

    expect(listing(outbox)).toEqual(['.sending']);
    expect(listing(path.join(outbox, '.sending'))).toEqual([]);
    expect(listing(path.join(receiverDir, 'inbox')).filter((name) => name.startsWith('.'))).toEqual([]);
    expect(hub.hub.messaging.store.inbox(receiver.id, 0, 1000, 'unacked')).toEqual([]);
    expect(hub.hub.registry.get(sender.id).messagesOut).toBe(total);
    expect(hub.logs).toEqual([]);
  }, 60_000);
});
