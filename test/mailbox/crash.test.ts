/**
 * Exactly once through crashes: first the awkward states a crash can leave, set up by hand; then real kill -9s of
 * a hub process in the middle of a burst.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Message } from '../../src/shared/agent-protocol';
import { publicMessage } from '../../src/main/messaging/frames';
import { FileMailbox, mailboxIdempotencyKey } from '../../src/main/mailbox';
import { tempDir } from '../helpers';
import { agentDir, inboxFiles, listing, readInbox, registerByFile, startMailboxHub, until } from './harness';

describe('crash recovery (states set up by hand)', () => {
  it('an outbox file whose send was committed but not deleted is not sent twice; one never sent is', async () => {
    const hub = await startMailboxHub();
    const sender = await registerByFile(hub.root, 'sender');
    const receiver = await registerByFile(hub.root, 'receiver');
    await hub.mailbox.close(); // the "crash": the hub keeps running, the mailbox is gone
    const { registry, messaging } = hub.hub;
    const senderDir = agentDir(hub.root, 'test', 'sender');
    const outbox = path.join(senderDir, 'outbox');
    const sending = path.join(outbox, '.sending');
    mkdirSync(sending, { recursive: true });

    const committed = async (file: string, body: string) => {
      const content = JSON.stringify({ to: 'receiver', body });
      await messaging.send(registry.get(sender.id), {
        to: { type: 'agent', id: receiver.id },
        body,
        importance: 'normal',
        ackRequired: false,
        idempotencyKey: mailboxIdempotencyKey(path.basename(file), content),
      });
      writeFileSync(file, content);
    };
    // Committed, then the crash came before the delete: one still in outbox/, one claimed into .sending/.
    await committed(path.join(outbox, 'committed-in-outbox.json'), 'A');
    await committed(path.join(sending, 'committed-in-sending.json'), 'B');
    // Claimed, then the crash came before the commit.
    writeFileSync(path.join(sending, 'claimed-not-sent.json'), JSON.stringify({ to: 'receiver', body: 'C' }));
    // Claimed and not sent, while the agent already wrote a new file of the same name: both are sent, in turn.
    writeFileSync(path.join(sending, 'same-name.json'), JSON.stringify({ to: 'receiver', body: 'D1' }));
    writeFileSync(path.join(outbox, 'same-name.json'), JSON.stringify({ to: 'receiver', body: 'D2' }));
    // Dropped while the mailbox was down.
    writeFileSync(path.join(outbox, 'while-down.json'), JSON.stringify({ to: 'receiver', body: 'E' }));

    await hub.restartMailbox();
    const receiverDir = agentDir(hub.root, 'test', 'receiver');
    expect(readInbox(receiverDir).map((m) => m.body).sort()).toEqual(['A', 'B', 'C', 'D1', 'D2', 'E']);
    expect(messaging.store.inbox(receiver.id, 0, 100, 'all')).toHaveLength(6);
    expect(messaging.store.inbox(receiver.id, 0, 100, 'unacked')).toEqual([]);
    expect(listing(outbox)).toEqual(['.sending']);
    expect(listing(sending)).toEqual([]);
    expect(listing(path.join(senderDir, 'rejected'))).toEqual([]);
  });

  it('inbox temporaries: acknowledged ones are renamed into place, the others written again; nothing twice', async () => {
    const hub = await startMailboxHub();
    const sender = await registerByFile(hub.root, 'sender');
    const receiver = await registerByFile(hub.root, 'receiver');
    const receiverDir = agentDir(hub.root, 'test', 'receiver');
    const inbox = path.join(receiverDir, 'inbox');
    const { registry, messaging } = hub.hub;
    const send = (body: string) =>
      messaging.send(registry.get(sender.id), { to: { type: 'agent', id: receiver.id }, body, importance: 'normal', ackRequired: false });

    // Delivered earlier, then handled (deleted) by the agent: it must not come back.
    const handled = await send('handled earlier');
    await until(() => inboxFiles(receiverDir).length === 1, 5000, 'first delivery');
    rmSync(path.join(inbox, `${handled.id}.json`));

    await hub.mailbox.close();
    const acked = await send('temp written and acknowledged');
    const notAcked = await send('temp half written, not acknowledged');
    const notWritten = await send('not written at all');
    const stored = (id: string) => messaging.store.inbox(receiver.id, 0, 100, 'all').find((m) => m.id === id)!;
    // The crash came after the acknowledgement's commit and before the rename.
    writeFileSync(path.join(inbox, `.${acked.id}.json.tmp`), JSON.stringify(publicMessage(stored(acked.id)), null, 2) + '\n');
    await messaging.ack(registry.get(receiver.id), [acked.id]);
    // The crash came while the temporary was being written.
    writeFileSync(path.join(inbox, `.${notAcked.id}.json.tmp`), '{"id": "trunc');

    await hub.restartMailbox();
    expect(listing(inbox)).toEqual([acked.id, notAcked.id, notWritten.id].sort().map((id) => `${id}.json`));
    const byId = new Map(readInbox(receiverDir).map((m) => [m.id, m]));
    expect(byId.get(acked.id)!.body).toBe('temp written and acknowledged');
    expect(byId.get(notAcked.id)).toEqual(publicMessage(stored(notAcked.id)));
    expect(byId.get(notWritten.id)!.body).toBe('not written at all');
    expect(messaging.store.inbox(receiver.id, 0, 100, 'unacked')).toEqual([]);

    // A further restart changes nothing.
    await hub.restartMailbox();
    expect(listing(inbox)).toEqual([acked.id, notAcked.id, notWritten.id].sort().map((id) => `${id}.json`));
  });

  it('closes cleanly in the middle of a backlog; the next start sends the rest, nothing twice', async () => {
    const hub = await startMailboxHub();
    await registerByFile(hub.root, 'sender');
    const receiver = await registerByFile(hub.root, 'receiver');
    await hub.mailbox.close();
    const outbox = path.join(agentDir(hub.root, 'test', 'sender'), 'outbox');
    for (let i = 0; i < 300; i++) writeFileSync(path.join(outbox, `b${i}.json`), JSON.stringify({ to: 'receiver', body: `backlog ${i}` }));
    const interrupted = new FileMailbox({ dataDir: hub.dataDir, registry: hub.hub.registry, messaging: hub.hub.messaging, reservations: hub.hub.reservations, tasks: hub.hub.tasks, log: () => undefined });
    const starting = interrupted.start();
    await until(() => inboxFiles(agentDir(hub.root, 'test', 'receiver')).length > 0, 5000, 'some progress');
    await interrupted.close();
    await starting;
    await hub.restartMailbox();
    const bodies = readInbox(agentDir(hub.root, 'test', 'receiver')).map((m) => m.body);
    expect(bodies).toHaveLength(300);
    expect(new Set(bodies).size).toBe(300);
    expect(hub.hub.messaging.store.inbox(receiver.id, 0, 1000, 'all')).toHaveLength(300);
  });

  it('sends files that waited together in name order, numbers compared as numbers', async () => {
    const hub = await startMailboxHub();
    await registerByFile(hub.root, 'sender');
    const receiver = await registerByFile(hub.root, 'receiver');
    await hub.mailbox.close();
    const outbox = path.join(agentDir(hub.root, 'test', 'sender'), 'outbox');
    for (const n of [10, 2, 1, 33, 3]) writeFileSync(path.join(outbox, `step-${n}.json`), JSON.stringify({ to: 'receiver', body: `step ${n}` }));
    await hub.restartMailbox();
    expect(hub.hub.messaging.store.inbox(receiver.id, 0, 100, 'all').map((m) => m.body)).toEqual(['step 1', 'step 2', 'step 3', 'step 10', 'step 33']);
  });
});

function startMailboxProcess(dataDir: string): { child: ChildProcess; ready: Promise<void>; output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/mailbox/hub-process.ts', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (output.includes('mailbox ready')) {
        clearInterval(timer);
        resolve();
      }
    }, 5);
    child.once('exit', (code, signal) => {
      clearInterval(timer);
      reject(new Error(`the hub process exited (${code ?? signal}):\n${output}`));
    });
  });
  ready.catch(() => undefined);
  return { child, ready, output: () => output };
}

async function kill9(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/** What a crash left behind: claimed outbox files and inbox temporaries. */
function leftovers(senderDir: string, receiverDir: string): { sending: number; temps: number } {
  const sending = path.join(senderDir, 'outbox', '.sending');
  return {
    sending: existsSync(sending) ? readdirSync(sending).length : 0,
    temps: readdirSync(path.join(receiverDir, 'inbox')).filter((name) => name.endsWith('.tmp')).length,
  };
}

describe('crash recovery (kill -9 of a hub process)', () => {
  it('delivers a 300-file burst exactly once through kill -9 at several points', async () => {
    const dataDir = tempDir();
    const root = path.join(dataDir, 'mailbox');
    const senderDir = agentDir(root, 'crash', 'sender');
    const receiverDir = agentDir(root, 'crash', 'receiver');
    const children: ChildProcess[] = [];
    try {
      mkdirSync(path.join(root, '_register'), { recursive: true });
      writeFileSync(path.join(root, '_register', 'sender.json'), JSON.stringify({ name: 'sender', project: 'crash' }));
      writeFileSync(path.join(root, '_register', 'receiver.json'), JSON.stringify({ name: 'receiver', project: 'crash' }));
      const first = startMailboxProcess(dataDir);
      children.push(first.child);
      await first.ready;

      // A live burst: the hub picks the files up while they are being written, and is killed midway.
      const total = 300;
      for (let i = 0; i < total; i++) {
        const file = path.join(senderDir, 'outbox', `m${String(i).padStart(3, '0')}.json`);
        writeFileSync(`${file}.tmp`, JSON.stringify({ to: 'receiver', body: `burst ${i}` }));
        renameSync(`${file}.tmp`, file);
      }
      await until(() => inboxFiles(receiverDir).length >= 40, 20_000, 'the first deliveries');
      await kill9(first.child);
      const seen = [{ delivered: inboxFiles(receiverDir).length, ...leftovers(senderDir, receiverDir) }];

      // Killed again and again while recovering, each time after some progress.
      for (let round = 0; round < 3; round++) {
        const before = inboxFiles(receiverDir).length;
        const next = startMailboxProcess(dataDir);
        children.push(next.child);
        await until(() => inboxFiles(receiverDir).length >= before + 40 || next.output().includes('mailbox ready'), 30_000, 'more deliveries');
        await kill9(next.child);
        seen.push({ delivered: inboxFiles(receiverDir).length, ...leftovers(senderDir, receiverDir) });
      }

      const last = startMailboxProcess(dataDir);
      children.push(last.child);
      await last.ready;
      await kill9(last.child);

      // Checked by a hub in this process, on the same data directory.
      const hub = await startMailboxHub({ dataDir });
      const receiver = hub.hub.registry.findByName('crash', 'receiver')!;
      const files = readInbox(receiverDir);
      const bodies = files.map((m: Message) => m.body as string);
      expect(bodies.length, `state at each kill: ${JSON.stringify(seen)}`).toBe(total);
      expect(new Set(bodies).size).toBe(total);
      expect(new Set(files.map((m) => m.id)).size).toBe(total);
      expect(bodies.sort()).toEqual(Array.from({ length: total }, (_, i) => `burst ${i}`).sort());
      for (const message of files) expect(readFileSync(path.join(receiverDir, 'inbox', `${message.id}.json`), 'utf8')).toContain(message.id);
      expect(hub.hub.messaging.store.inbox(receiver.id, 0, 1000, 'all')).toHaveLength(total);
      expect(hub.hub.messaging.store.inbox(receiver.id, 0, 1000, 'unacked')).toEqual([]);
      expect(listing(path.join(senderDir, 'outbox'))).toEqual(['.sending']);
      expect(listing(path.join(senderDir, 'outbox', '.sending'))).toEqual([]);
      expect(listing(path.join(senderDir, 'rejected'))).toEqual([]);
      expect(leftovers(senderDir, receiverDir)).toEqual({ sending: 0, temps: 0 });
    } finally {
      for (const child of children) await kill9(child);
    }
  }, 120_000);
});
