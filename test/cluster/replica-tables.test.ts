/**
 * The cluster tables of a hub's database (ReplicaTables) on a real SQLite file: messages read from inbox streams
 * are stored once and delivered once per recipient, repeats and entries of acknowledged deliveries come back to be
 * deleted from Redis; forwarded batches clear the outbox up to their last message; an acknowledgement takes exactly
 * the entries of the messages it names.
 */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentRegistry } from '../../src/main/agents/registry';
import { migrate, openDatabase, type SqliteDatabase } from '../../src/main/db/database';
import { hubMigrations } from '../../src/main/db/migrations';
import { BodyStore } from '../../src/main/messaging/body-store';
import { ReplicaTables, type EntryMeta, type ReplicatedEntry } from '../../src/main/messaging/replication';
import { MessageStore } from '../../src/main/messaging/store';
import { tempDir } from '../helpers';

const open: SqliteDatabase[] = [];
afterEach(() => open.splice(0).forEach((db) => db.close()));

const A = '01JEXAMPQE0000000000000A01';
const B = '01JEXAMPQE0000000000000B02';
const C = '01JEXAMPQE0000000000000C03';
const ids = (n: number) => `01JEXAMPQEM0000000000000${String(n).padStart(2, '0')}`;

function setUp() {
  const dir = tempDir('replica-tables-');
  const db = openDatabase(path.join(dir, 'hub.sqlite'));
  open.push(db);
  migrate(db, hubMigrations);
  const add = db.prepare(
    "INSERT INTO agents (id, name, project, tier, capabilities, token_hash, created_at) VALUES (?, ?, 'p', 'development', '[]', ?, '2026-12-07T00:00:00.000Z')",
  );
  for (const [id, name] of [[A, 'a'], [B, 'b'], [C, 'c']] as const) add.run(id, name, `hash-${name}`);
  const store = new MessageStore(db, new BodyStore(path.join(dir, 'bodies')));
  const registry = new AgentRegistry(db);
  return { db, store, registry, tables: new ReplicaTables(db, store) };
}

function meta(n: number, to: EntryMeta['to']): EntryMeta {
  return { id: ids(n), from: A, to, threadId: ids(n), replyTo: null, subject: null, contentType: 'text', importance: 'normal', ackRequired: false, createdAt: '2026-12-07T00:00:01.000Z', hub: 'hub-a' };
}

function entry(agentId: string, entryId: string, m: EntryMeta): ReplicatedEntry {
  return { agentId, entryId, meta: m, body: Buffer.from(`body of ${m.id}`), bodyFile: null };
}

describe('ReplicaTables', () => {
  it('stores a message once, delivers it once per recipient, and returns repeats and acknowledged entries as stale', () => {
    const { db, store, registry, tables } = setUp();
    const direct = meta(1, { type: 'agent', id: B });
    const topic = meta(2, { type: 'topic', name: 'ci' });
    const first = tables.apply([entry(B, '1-0', direct), entry(B, '2-0', topic), entry(C, '2-1', topic)], registry);
    expect(first.taken).toBe(2);
    expect(first.stale).toEqual([]);
    expect(first.deliveries.map((d) => [d.message.id, d.recipients[0], d.message.body])).toEqual([
      [ids(1), B, `body of ${ids(1)}`],
      [ids(2), B, `body of ${ids(2)}`],
      [ids(2), C, `body of ${ids(2)}`],
    ]);
    expect(db.prepare('SELECT COUNT(*) FROM messages').pluck().get()).toBe(2);
    expect(store.inbox(B, 0, 10).map((m) => m.id)).toEqual([ids(1), ids(2)]);
    expect(store.inbox(C, 0, 10).map((m) => m.id)).toEqual([ids(2)]);
    expect(registry.get(B).inboxDepth).toBe(2);
    expect(tables.tracked(B)).toEqual([
      { seq: store.seqOf(ids(1)), entryId: '1-0' },
      { seq: store.seqOf(ids(2)), entryId: '2-0' },
    ]);

    // Read again (the agent came back): nothing new; the same message under a second entry (forwarded twice) is stale.
    const again = tables.apply([entry(B, '1-0', direct), entry(B, '3-0', direct)], registry);
    expect(again.taken).toBe(0);
    expect(again.deliveries).toEqual([]);
    expect(again.stale.map((e) => e.entryId)).toEqual(['3-0']);
    expect(registry.get(B).inboxDepth).toBe(2);

    // Acknowledged here: its entry is taken (to delete from Redis), and an entry of it read later is stale.
    expect(store.ack(B, [ids(1)], '2026-12-07T00:00:05.000Z')).toBe(1);
    expect(tables.takeEntries(B, [ids(1)])).toEqual(['1-0']);
    expect(tables.takeEntries(B, [ids(1)])).toEqual([]);
    expect(tables.tracked(B).map((t) => t.entryId)).toEqual(['2-0']);
    const late = tables.apply([entry(B, '1-0', direct)], registry);
    expect(late.stale.map((e) => e.entryId)).toEqual(['1-0']);
    expect(late.deliveries).toEqual([]);
  });

  it('clears the outbox up to the last message of a forwarded batch and remembers each delivery\'s entry', () => {
    const { db, store, tables } = setUp();
    const seqs = [1, 2, 3, 4].map((n) =>
      store.insert({ id: ids(n), sender: A, to: { type: 'agent', id: B }, threadId: ids(n), replyTo: null, subject: null, contentType: 'text', bodyText: 'x', importance: 'normal', ackRequired: false, createdAt: '2026-12-07T00:00:01.000Z', idempotencyKey: null }),
    );
    // Message 2 has no cluster recipient (no outbox row); 1 and 3 go in the first batch, 4 waits.
    for (const seq of [seqs[0]!, seqs[2]!, seqs[3]!]) tables.addOutbox(seq, [B, C]);
    tables.forwarded([
      { seq: seqs[0]!, recipients: [B, C], entryIds: ['1-0', '1-1'] },
      { seq: seqs[2]!, recipients: [B, C], entryIds: ['3-0', '3-1'] },
    ]);
    expect(tables.outboxCount()).toBe(1);
    expect(tables.outboxPage(0, 10, 'hub-a').map((item) => [item.seq, item.recipients, item.meta.hub])).toEqual([[seqs[3], [B, C], 'hub-a']]);
    expect(db.prepare('SELECT agent_id, seq, entry_id FROM cluster_inbox ORDER BY seq, agent_id').raw().all()).toEqual([
      [B, seqs[0], '1-0'],
      [C, seqs[0], '1-1'],
      [B, seqs[2], '3-0'],
      [C, seqs[2], '3-1'],
    ]);
    tables.forwarded([{ seq: seqs[3]!, recipients: [B, C], entryIds: ['4-0', '4-1'] }]);
    expect(tables.outboxCount()).toBe(0);
  });
});
