/**
 * The message store on a real SQLite file: who each message reached and who acknowledged it (the cockpit's
 * receipts) and a repeated send's recipient count, for direct, topic and broadcast messages, on a database the
 * previous schema made and migrated in place, and on messages stored after.
 */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { migrate, openDatabase, type SqliteDatabase } from '../../src/main/db/database';
import { hubMigrations } from '../../src/main/db/migrations';
import { BodyStore } from '../../src/main/messaging/body-store';
import { MessageStore, type NewMessage } from '../../src/main/messaging/store';
import { tempDir } from '../helpers';

const open: SqliteDatabase[] = [];
afterEach(() => open.splice(0).forEach((db) => db.close()));

const A = '01JEXAMPQE0000000000000A01';
const B = '01JEXAMPQE0000000000000B02';
const C = '01JEXAMPQE0000000000000C03';

function addAgents(db: SqliteDatabase): void {
  const add = db.prepare("INSERT INTO agents (id, name, project, tier, capabilities, token_hash, created_at) VALUES (?, ?, 'p', 'development', '[]', ?, '2026-12-07T00:00:00.000Z')");
  for (const [id, name] of [[A, 'a'], [B, 'b'], [C, 'c']] as const) add.run(id, name, `hash-${name}`);
}

function message(id: string, to: NewMessage['to'], idempotencyKey: string | null): NewMessage {
  return { id, sender: A, to, threadId: id, replyTo: null, subject: null, contentType: 'text', bodyText: `body of ${id}`, importance: 'normal', ackRequired: false, createdAt: '2026-12-07T00:00:01.000Z', idempotencyKey };
}

const ids = (n: number) => `01JEXAMPQEM00000000000000${n}`;

describe('message store receipts and recipient counts', () => {
  it('are the same before and after the deliveries index migration, for every kind of message', () => {
    const dir = tempDir('message-store-');
    const file = path.join(dir, 'hub.sqlite');
    // The schema before the migration, with a direct, a topic and a broadcast message delivered the old way.
    const before = openDatabase(file);
    migrate(before, hubMigrations.filter((m) => m.version <= 12));
    addAgents(before);
    const insert = before.prepare(
      `INSERT INTO messages (id, sender, to_type, to_value, thread_id, content_type, body, importance, ack_required, created_at, idempotency_key)
       VALUES (?, ?, ?, ?, ?, 'text', 'x', 'normal', 0, '2026-12-07T00:00:00.000Z', ?)`,
    );
    const deliver = before.prepare('INSERT INTO deliveries (agent_id, seq, acked_at) VALUES (?, ?, ?)');
    const direct = Number(insert.run(ids(1), A, 'agent', B, ids(1), 'k1').lastInsertRowid);
    deliver.run(B, direct, '2026-12-07T00:00:02.000Z');
    const topic = Number(insert.run(ids(2), A, 'topic', 'ci', ids(2), 'k2').lastInsertRowid);
    deliver.run(B, topic, null);
    deliver.run(C, topic, '2026-12-07T00:00:03.000Z');
    const broadcast = Number(insert.run(ids(3), A, 'broadcast', null, ids(3), 'k3').lastInsertRowid);
    deliver.run(B, broadcast, null);
    deliver.run(C, broadcast, null);
    before.close();

    const db = openDatabase(file);
    open.push(db);
    expect(migrate(db, hubMigrations).applied.map((m) => m.version)).toContain(13);
    const indexes = db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'deliveries'").pluck().all();
    expect(indexes).toContain('deliveries_fanout');
    expect(indexes).not.toContain('deliveries_by_message');
    const store = new MessageStore(db, new BodyStore(path.join(dir, 'message-bodies')));

    const expected = (direct: number, topic: number, broadcast: number) =>
      new Map([
        [direct, [{ agentId: B, ackedAt: '2026-12-07T00:00:02.000Z' }]],
        [topic, [{ agentId: B, ackedAt: null }, { agentId: C, ackedAt: '2026-12-07T00:00:03.000Z' }]],
        [broadcast, [{ agentId: B, ackedAt: null }, { agentId: C, ackedAt: null }]],
      ]);
    const sorted = (receipts: Map<number, Array<{ agentId: string; ackedAt: string | null }>>) =>
      new Map([...receipts].map(([seq, list]) => [seq, [...list].sort((x, y) => x.agentId.localeCompare(y.agentId))]));
    expect(sorted(store.receiptsOf([direct, topic, broadcast]))).toEqual(expected(direct, topic, broadcast));
    expect(store.findByIdempotencyKey(A, 'k1')?.recipients).toBe(1);
    expect(store.findByIdempotencyKey(A, 'k2')?.recipients).toBe(2);
    expect(store.findByIdempotencyKey(A, 'k3')?.recipients).toBe(2);

    // Stored after the migration: a direct delivery is found through its recipient, not the fan-out index.
    const direct2 = store.insert(message(ids(4), { type: 'agent', id: B }, 'k4'));
    expect(store.deliver(B, direct2, false)).toBe(true);
    const topic2 = store.insert(message(ids(5), { type: 'topic', name: 'ci' }, 'k5'));
    expect(store.deliver(B, topic2, true)).toBe(true);
    expect(store.deliver(C, topic2, true)).toBe(true);
    const broadcast2 = store.insert(message(ids(6), { type: 'broadcast' }, 'k6'));
    expect(store.deliver(B, broadcast2)).toBe(true);
    expect(store.deliver(C, broadcast2)).toBe(true);
    store.ack(B, [ids(4)], '2026-12-07T00:00:02.000Z');
    store.ack(C, [ids(5)], '2026-12-07T00:00:03.000Z');
    expect(sorted(store.receiptsOf([direct2, topic2, broadcast2]))).toEqual(expected(direct2, topic2, broadcast2));
    expect([4, 5, 6].map((n) => store.findByIdempotencyKey(A, `k${n}`)?.recipients)).toEqual([1, 2, 2]);
    const indexed = db.prepare('SELECT seq FROM deliveries INDEXED BY deliveries_fanout WHERE seq > 0 AND fanout IS NOT NULL ORDER BY seq').pluck().all();
    expect(indexed).toEqual([topic, topic, broadcast, broadcast, topic2, topic2, broadcast2, broadcast2]);
    // The inbox reads as before.
    expect(store.inbox(B, 0, 10, 'all').map((m) => m.id)).toEqual([ids(1), ids(2), ids(3), ids(4), ids(5), ids(6)]);
    expect(store.inbox(B, 0, 10, 'unacked').map((m) => m.id)).toEqual([ids(2), ids(3), ids(5), ids(6)]);
  });
});
