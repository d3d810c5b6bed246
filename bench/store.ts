/**
 * The message store's write path alone: `npm run bench -- store`. What SQLite costs per message when nothing else
 * runs: the hub's own schema (its migrations), its MessageStore statements and its settings (WAL, synchronous =
 * NORMAL, foreign keys), in one process, no sockets, no JSON frames. Per group of N messages, as the messaging
 * service commits them: one transaction that acknowledges the previous group's messages (one statement, as an ack
 * frame does), inserts N messages of 1 KiB to one agent, delivers each, and saves the two agents' counters. Reports
 * CPU time per message (user and system) by group size: the floor under the hub's CPU per delivered message.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { migrate, openDatabase } from '../src/main/db/database';
import { hubMigrations } from '../src/main/db/migrations';
import { ulidGenerator } from '../src/main/ids';
import { BodyStore } from '../src/main/messaging/body-store';
import { MessageStore } from '../src/main/messaging/store';
import { machineFacts, machineLine } from './lib/machine';
import { intOption } from './lib/options';
import { writeResults } from './lib/results';
import { printTable } from './lib/table';
import { makeBody } from './lib/traffic';

export const description = 'message store write path alone (SQLite, the hub schema): CPU µs per message by commit group size';

const USAGE = `Usage: npm run bench -- store [options]

  --messages N     messages per measurement (40000)
  --groups LIST    commit group sizes, comma-separated (10,50,200,1000)
  --repeat N       measurements per group size, each on a fresh database (3)
  --body-bytes N   message body size (1024)
  --data-root DIR  where the databases are made (default: the OS temp dir; /dev/shm takes the disk out)`;

interface Measurement {
  group: number;
  messages: number;
  cpuUsPerMsg: number;
  userUsPerMsg: number;
  systemUsPerMsg: number;
  wallUsPerMsg: number;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      messages: { type: 'string' },
      groups: { type: 'string' },
      repeat: { type: 'string' },
      'body-bytes': { type: 'string' },
      'data-root': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const messages = intOption('messages', values.messages, 40_000);
  const groups = (values.groups ?? '10,50,200,1000').split(',').map((g) => intOption('groups', g.trim(), 1));
  const repeat = intOption('repeat', values.repeat, 3);
  const bodyBytes = intOption('body-bytes', values['body-bytes'], 1024);
  const started = new Date();
  const machine = machineFacts();
  console.log(`Message store benchmark — ${machineLine(machine)}`);

  const results: Measurement[] = [];
  for (let r = 0; r < repeat; r++) {
    for (const group of groups) results.push(measure(group, messages, bodyBytes, values['data-root']));
  }
  printTable(
    `SQLite write path per message (${messages} × ${bodyBytes} B to one agent; ${repeat} runs per group size, each on a fresh database)`,
    ['group', 'CPU µs/msg (runs)', 'user', 'system', 'wall µs/msg'],
    groups.map((group) => {
      const runs = results.filter((m) => m.group === group);
      const range = (pick: (m: Measurement) => number) => runs.map(pick).sort((a, b) => a - b).map((v) => v.toFixed(1)).join(' / ');
      return [group, range((m) => m.cpuUsPerMsg), range((m) => m.userUsPerMsg), range((m) => m.systemUsPerMsg), range((m) => m.wallUsPerMsg)];
    }),
  );
  const file = writeResults('store', { suite: 'store', startedAt: started.toISOString(), machine, options: { messages, groups, repeat, bodyBytes }, results });
  console.log(`\nResults: ${path.relative(process.cwd(), file)}`);
  return 0;
}

function measure(group: number, count: number, bodyBytes: number, dataRoot: string | undefined): Measurement {
  const dir = mkdtempSync(path.join(dataRoot ?? os.tmpdir(), 'devenviro-store-bench-'));
  const db = openDatabase(path.join(dir, 'hub.db'));
  try {
    migrate(db, hubMigrations);
    const store = new MessageStore(db, new BodyStore(path.join(dir, 'message-bodies')));
    const newId = ulidGenerator();
    const createdAt = new Date().toISOString();
    const [sender, receiver] = [newId(), newId()];
    const addAgent = db.prepare(
      "INSERT INTO agents (id, name, project, tier, capabilities, token_hash, created_at) VALUES (?, ?, 'bench', 'development', '[]', ?, ?)",
    );
    addAgent.run(sender, 'sender', `hash-${sender}`, createdAt);
    addAgent.run(receiver, 'receiver', `hash-${receiver}`, createdAt);
    // The registry's own counters statement (agents/registry.ts), run per touched agent per group.
    const counters = db.prepare('UPDATE agents SET messages_in = ?, messages_out = ?, inbox_depth = ? WHERE id = ?');
    const body = makeBody(0, bodyBytes);
    let toAck: string[] = [];
    let sent = 0;

    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    while (sent < count) {
      const n = Math.min(group, count - sent);
      const now = new Date().toISOString();
      db.transaction(() => {
        if (toAck.length) store.ack(receiver, toAck, now);
        toAck = [];
        for (let i = 0; i < n; i++) {
          const id = newId();
          const seq = store.insert({
            id,
            sender,
            to: { type: 'agent', id: receiver },
            threadId: id,
            replyTo: null,
            subject: null,
            contentType: 'text',
            bodyText: body,
            importance: 'normal',
            ackRequired: false,
            createdAt: now,
            idempotencyKey: null,
          });
          store.deliver(receiver, seq, false);
          toAck.push(id);
        }
        sent += n;
        counters.run(0, sent, 0, sender);
        counters.run(sent, 0, n, receiver);
      })();
    }
    const cpu = process.cpuUsage(cpu0);
    const wallMs = performance.now() - wall0;
    return {
      group,
      messages: count,
      cpuUsPerMsg: (cpu.user + cpu.system) / count,
      userUsPerMsg: cpu.user / count,
      systemUsPerMsg: cpu.system / count,
      wallUsPerMsg: (wallMs * 1000) / count,
    };
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
