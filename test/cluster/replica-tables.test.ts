/**
 * The cluster tables of a hub's database (ReplicaTables) on a real SQLite file: messages read from inbox streams
 * are stored once and delivered once per recipient, repeats and entries of acknowledged deliveries come back to be
 * deleted from Redis; forwarded batches clear the outbox up to their last message; an acknowledgement takes exactly
 * the entries of the messages it names; a database of the schema before migration 14 keeps its entries.
 */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentRegistry } from '../../src/main/agents/registry';
import { migrate, openDatabase, type SqliteDatabase } from '../../src/main/db/database';
import { hubMigrations } from '../../src/main/db/migrations';
import { BodyStore } from '../../src/main/messaging/body-store';
import { FORWARDED, ReplicaTables, type EntryMeta, type ReplicatedEntry } from '../../src/main/messaging/replication';
import { MessageStore } from '../../src/main/messaging/store';
import { tempDir } from '../helpers';

const open: SqliteDatabase[] = [];
afterEach(() => open.splice(0).forEach((db) => db.close()));

const A = '01JEXAMPQE0000000000000A01';
const B = '01JEXAMPQE0000000000000B02';
const C = '01JEXAMPQE0000000000000C03';
const ids = (n: number) => `01JEXAMPQEM0000000000000${String(n).padStart(2, '0')}`;

function addAgents(db: SqliteDatabase): void {
  const add = db.prepare(
    "INSERT INTO agents (id, name, project, tier, capabilities, token_hash, created_at) VALUES (?, ?, 'p', 'development', '[]', ?, '2026-12-07T00:00:00.000Z')",
  );
  for (const [id, name] of [[A, 'a'], [B, 'b'], [C, 'c']] as const) add.run(id, name, `hash-${name}`);
}

function setUp() {
  const dir = tempDir('replica-tables-');
  const db = openDatabase(path.join(dir, 'hub.sqlite'));
  open.push(db);
  migrate(db, hubMigrations);
  addAgents(db);
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
      { seq: store.seqOf(ids(1)), entryId: '1-0', messageId: ids(1) },
      { seq: store.seqOf(ids(2)), entryId: '2-0', messageId: ids(2) },
    ]);
    expect(tables.tracked(C).map((t) => t.entryId)).toEqual(['2-1']);

    // Read again (the agent came back): nothing new; the same message under a second entry (forwarded twice) is stale.
    const again = tables.apply([entry(B, '1-0', direct), entry(B, '3-0', direct)], registry);
    expect(again.taken).toBe(0);
    expect(again.deliveries).toEqual([]);
    expect(again.stale.map((e) => e.entryId)).toEqual(['3-0']);
    expect(registry.get(B).inboxDepth).toBe(2);

    // Acknowledged here: its entry is taken (to delete from Redis), and an entry of it read later is stale.
    expect(store.ackTaking(B, [ids(1)], '2026-12-07T00:00:05.000Z')).toEqual(['1-0']);
    expect(store.ackTaking(B, [ids(1)], '2026-12-07T00:00:06.000Z')).toEqual([]);
    expect(tables.tracked(B).map((t) => t.entryId)).toEqual(['2-0']);
    const late = tables.apply([entry(B, '1-0', direct)], registry);
    expect(late.stale.map((e) => e.entryId)).toEqual(['1-0']);
    expect(late.deliveries).toEqual([]);
  });

  it('clears the outbox up to the last message of a forwarded batch; a forwarded delivery learns its entry when read back', () => {
    const { db, store, registry, tables } = setUp();
    const seqs = [1, 2, 3, 4].map((n) =>
      store.insert({ id: ids(n), sender: A, to: { type: 'agent', id: B }, threadId: ids(n), replyTo: null, subject: null, contentType: 'text', bodyText: 'x', importance: 'normal', ackRequired: false, createdAt: '2026-12-07T00:00:01.000Z', idempotencyKey: null }),
    );
    // Message 2 has no cluster recipient (no outbox row, a delivery of its own); 1 and 3 go in the first batch, 4 waits.
    for (const seq of seqs) store.deliver(B, seq, false, seq === seqs[1] ? null : FORWARDED);
    for (const seq of [seqs[0]!, seqs[2]!, seqs[3]!]) tables.addOutbox(seq, [B]);
    expect(tables.forwardedBefore()).toBe(seqs[0]);
    tables.forwarded(seqs[2]!);
    expect(tables.outboxCount()).toBe(1);
    expect(tables.forwardedBefore()).toBe(seqs[3]);
    expect(tables.outboxPage(0, 10, 'hub-a').map((item) => [item.seq, item.recipients, item.meta.hub])).toEqual([[seqs[3], [B], 'hub-a']]);
    tables.forwarded(seqs[3]!);
    expect(tables.outboxCount()).toBe(0);
    expect(tables.forwardedBefore()).toBe(seqs[3]! + 1);
    // What this hub forwarded is tracked without its entry until it is read back from the stream.
    expect(tables.tracked(B).map((t) => [t.messageId, t.entryId])).toEqual([[ids(1), ''], [ids(3), ''], [ids(4), '']]);
    const read = tables.apply([entry(B, '7-0', meta(1, { type: 'agent', id: B })), entry(B, '7-1', meta(3, { type: 'agent', id: B }))], registry);
    expect(read.deliveries).toEqual([]);
    expect(read.stale).toEqual([]);
    expect(tables.tracked(B).map((t) => [t.messageId, t.entryId])).toEqual([[ids(1), '7-0'], [ids(3), '7-1'], [ids(4), '']]);
    // A repeat of it forwarded again is stale; an acknowledgement takes the known entry, none for the other.
    expect(tables.apply([entry(B, '8-0', meta(1, { type: 'agent', id: B }))], registry).stale.map((e) => e.entryId)).toEqual(['8-0']);
    expect(store.ackTaking(B, [ids(1), ids(4)], '2026-12-07T00:00:05.000Z')).toEqual(['7-0', '']);
    expect(db.prepare('SELECT COUNT(*) FROM deliveries WHERE acked_at IS NULL').pluck().get()).toBe(2);
  });

  it('keeps the entries and waiting sends of a database migrated from the schema before deliveries held them', () => {
    const dir = tempDir('replica-tables-');
    const file = path.join(dir, 'hub.sqlite');
    const before = openDatabase(file);
    migrate(before, hubMigrations.filter((m) => m.version <= 13));
    addAgents(before);
    const insert = before.prepare(
      `INSERT INTO messages (id, sender, to_type, to_value, thread_id, content_type, body, importance, ack_required, created_at)
       VALUES (?, ?, ?, ?, ?, 'text', 'x', 'normal', 0, '2026-12-07T00:00:00.000Z')`,
    );
    const deliver = before.prepare('INSERT INTO deliveries (agent_id, seq, fanout) VALUES (?, ?, ?)');
    // 1: received from another hub (its entry remembered); 2: forwarded by this hub to B and C (entries remembered);
    // 3: waits in the outbox for B; 4: local only.
    const one = Number(insert.run(ids(1), A, 'agent', B, ids(1)).lastInsertRowid);
    deliver.run(B, one, null);
    const two = Number(insert.run(ids(2), A, 'topic', 'ci', ids(2)).lastInsertRowid);
    deliver.run(B, two, 1);
    deliver.run(C, two, 1);
    const three = Number(insert.run(ids(3), A, 'agent', B, ids(3)).lastInsertRowid);
    deliver.run(B, three, null);
    const four = Number(insert.run(ids(4), A, 'agent', B, ids(4)).lastInsertRowid);
    deliver.run(B, four, null);
    const remember = before.prepare('INSERT INTO cluster_inbox (agent_id, seq, entry_id) VALUES (?, ?, ?)');
    remember.run(B, one, '1-0');
    remember.run(B, two, '2-0');
    remember.run(C, two, '2-1');
    before.prepare('INSERT INTO cluster_outbox (seq, recipients) VALUES (?, ?)').run(three, JSON.stringify([B]));
    before.close();

    const db = openDatabase(file);
    open.push(db);
    expect(migrate(db, hubMigrations).applied.map((m) => m.version)).toContain(14);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'cluster_inbox'").get()).toBeUndefined();
    const store = new MessageStore(db, new BodyStore(path.join(dir, 'bodies')));
    const tables = new ReplicaTables(db, store);
    expect(tables.tracked(B).map((t) => [t.seq, t.entryId])).toEqual([[one, '1-0'], [two, '2-0'], [three, '']]);
    expect(tables.tracked(C).map((t) => [t.seq, t.entryId])).toEqual([[two, '2-1']]);
    expect(tables.outboxPage(0, 10, 'hub-a').map((item) => [item.seq, item.recipients])).toEqual([[three, [B]]]);
    expect(tables.forwardedBefore()).toBe(three);
    expect(store.ackTaking(B, [ids(2), ids(4)], '2026-12-07T00:00:05.000Z')).toEqual(['2-0', null]);
  });
});
