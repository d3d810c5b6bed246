/**
 * The message tables, as prepared statements. Callers run writes inside the messaging service's group-commit
 * transaction; reads may happen any time.
 */
import type { Importance, Message, Recipient, SearchHit, ThreadSummary } from '../../shared/agent-protocol';
import type { SqliteDatabase } from '../db/database';
import { withExternalBody, type BodyStore, type ExternalBody } from './body-store';

/**
 * How many inboxes message `m` landed in: a direct message's one delivery is looked up by its recipient, the
 * deliveries of topic and broadcast messages through their index (fanout is set on those; see deliver).
 */
const RECIPIENT_COUNT = `((SELECT COUNT(*) FROM deliveries d WHERE d.agent_id = m.to_value AND d.seq = m.seq AND d.fanout IS NULL)
  + (SELECT COUNT(*) FROM deliveries d WHERE d.seq = m.seq AND d.fanout IS NOT NULL))`;

/** Search covers this much of each body; a 64 MB attachment should not make the keyword index 64 MB bigger. */
export const FTS_BODY_CHARS = 64 * 1024;

export interface StoredMessage extends Message {
  seq: number;
  /** Set (non-enumerable) when the body is kept outside the row; `body` then reads it on first access. */
  external?: ExternalBody;
}

export interface NewMessage {
  id: string;
  sender: string;
  to: Recipient;
  threadId: string;
  replyTo: string | null;
  subject: string | null;
  contentType: 'text' | 'json';
  /** The stored form: the text itself, or the JSON document as text (for a body in a file: its first characters). */
  bodyText: string;
  importance: Importance;
  ackRequired: boolean;
  createdAt: string;
  idempotencyKey: string | null;
}

type MessageRow = {
  seq: number;
  id: string;
  sender: string;
  to_type: Recipient['type'];
  to_value: string | null;
  thread_id: string;
  reply_to: string | null;
  subject: string | null;
  content_type: 'text' | 'json';
  body: string;
  importance: Importance;
  ack_required: number;
  created_at: string;
  body_bytes: number | null;
};

export class MessageStore {
  private readonly s;
  private readonly subscriptionListeners = new Set<(agentId: string, topics: readonly string[], subscribed: boolean) => void>();

  constructor(
    private readonly db: SqliteDatabase,
    /** Where bodies too large for a row are. */
    readonly bodies: BodyStore,
  ) {
    this.s = {
      insert: db.prepare(
        `INSERT INTO messages (id, sender, to_type, to_value, thread_id, reply_to, subject, content_type, body, importance,
           ack_required, created_at, idempotency_key, body_bytes)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      // A message that came through another hub's stream: stored unless its id is already here (one statement).
      insertIfNew: db.prepare(
        `INSERT INTO messages (id, sender, to_type, to_value, thread_id, reply_to, subject, content_type, body, importance,
           ack_required, created_at, idempotency_key, body_bytes)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
      ),
      deliver: db.prepare('INSERT OR IGNORE INTO deliveries (agent_id, seq, fanout, entry_id) VALUES (?, ?, ?, ?)'),
      byIdempotency: db.prepare(
        `SELECT m.seq, m.id, m.thread_id, m.created_at, ${RECIPIENT_COUNT} AS recipients
         FROM messages m WHERE m.sender = ? AND m.idempotency_key = ?`,
      ),
      seqOf: db.prepare('SELECT seq FROM messages WHERE id = ?').pluck(),
      threadOf: db.prepare('SELECT thread_id FROM messages WHERE id = ?').pluck(),
      unacked: db.prepare(
        `SELECT m.* FROM deliveries d JOIN messages m ON m.seq = d.seq
         WHERE d.agent_id = ? AND d.seq > ? AND d.acked_at IS NULL ORDER BY d.seq LIMIT ?`,
      ),
      all: db.prepare(
        `SELECT m.* FROM deliveries d JOIN messages m ON m.seq = d.seq
         WHERE d.agent_id = ? AND d.seq > ? ORDER BY d.seq LIMIT ?`,
      ),
      // One statement for a whole acknowledgement frame: the ids arrive as one JSON array.
      ack: db.prepare(
        `UPDATE deliveries SET acked_at = ? WHERE agent_id = ? AND acked_at IS NULL
           AND seq IN (SELECT m.seq FROM messages m WHERE m.id IN (SELECT value FROM json_each(?)))`,
      ),
      // The same in a cluster, naming the Redis entries of what it acknowledged (to delete them there).
      ackTaking: db.prepare(
        `UPDATE deliveries SET acked_at = ? WHERE agent_id = ? AND acked_at IS NULL
           AND seq IN (SELECT m.seq FROM messages m WHERE m.id IN (SELECT value FROM json_each(?)))
         RETURNING entry_id`,
      ).pluck(),
      subscribers: db.prepare('SELECT agent_id FROM subscriptions WHERE topic = ?').pluck(),
      subscribe: db.prepare('INSERT OR IGNORE INTO subscriptions (agent_id, topic, created_at) VALUES (?, ?, ?)'),
      unsubscribe: db.prepare('DELETE FROM subscriptions WHERE agent_id = ? AND topic = ?'),
      topicsOf: db.prepare('SELECT topic FROM subscriptions WHERE agent_id = ? ORDER BY topic').pluck(),
      ftsSeq: db.prepare("SELECT CAST(value AS INTEGER) FROM hub_meta WHERE key = 'fts_seq'").pluck(),
      lastSeq: db.prepare('SELECT COALESCE(MAX(seq), 0) FROM messages').pluck(),
      setFtsSeq: db.prepare("UPDATE hub_meta SET value = ? WHERE key = 'fts_seq'"),
      toIndex: db.prepare('SELECT seq, subject, substr(body, 1, ?) AS body FROM messages WHERE seq > ? ORDER BY seq LIMIT ?'),
      ftsInsert: db.prepare('INSERT INTO messages_fts (rowid, subject, body) VALUES (?, ?, ?)'),
      thread: db.prepare('SELECT * FROM messages WHERE thread_id = ? ORDER BY seq LIMIT ?'),
      bodyBytesOf: db.prepare('SELECT body_bytes FROM messages WHERE id = ?').pluck(),
      byId: db.prepare('SELECT * FROM messages WHERE id = ?'),
      delivered: db.prepare('SELECT 1 FROM deliveries WHERE agent_id = ? AND seq = ?').pluck(),
    };
  }

  /**
   * Inserts a message. `bodyBytes` is set when the body is in a file of that many bytes (BodyStore); `bodyText` is
   * then its first characters.
   */
  insert(message: NewMessage, bodyBytes: number | null = null): number {
    const toValue = message.to.type === 'agent' ? message.to.id : message.to.type === 'topic' ? message.to.name : null;
    // Positional parameters: binding by name costs a property lookup per column on the hottest path.
    const m = message;
    const result = this.s.insert.run(m.id, m.sender, m.to.type, toValue, m.threadId, m.replyTo, m.subject, m.contentType, m.bodyText,
      m.importance, m.ackRequired ? 1 : 0, m.createdAt, m.idempotencyKey, bodyBytes);
    return Number(result.lastInsertRowid);
  }

  /** Inserts a message unless one with its id is stored already; its seq when inserted, undefined when not. */
  insertIfNew(message: NewMessage, bodyBytes: number | null = null): number | undefined {
    const toValue = message.to.type === 'agent' ? message.to.id : message.to.type === 'topic' ? message.to.name : null;
    const m = message;
    const result = this.s.insertIfNew.run(m.id, m.sender, m.to.type, toValue, m.threadId, m.replyTo, m.subject, m.contentType, m.bodyText,
      m.importance, m.ackRequired ? 1 : 0, m.createdAt, m.idempotencyKey, bodyBytes);
    return result.changes > 0 ? Number(result.lastInsertRowid) : undefined;
  }

  /**
   * Puts a message in an inbox. `fanout`: the message goes to a topic or to everyone, so its delivery is indexed by
   * message; a direct message's (false) is found through its recipient (see RECIPIENT_COUNT and receiptsOf).
   * `entryId`: in a cluster, the Redis entry holding the delivery ('' when this hub forwards it; see migration 14).
   */
  deliver(agentId: string, seq: number, fanout = true, entryId: string | null = null): boolean {
    return this.s.deliver.run(agentId, seq, fanout ? 1 : null, entryId).changes > 0;
  }

  findByIdempotencyKey(sender: string, key: string) {
    return this.s.byIdempotency.get(sender, key) as { seq: number; id: string; thread_id: string; created_at: string; recipients: number } | undefined;
  }

  /** The size of a stored message's body file; undefined when it has none (BodyStore.sweep keeps exactly those files). */
  bodyBytesOf(id: string): number | undefined {
    return (this.s.bodyBytesOf.get(id) as number | null | undefined) ?? undefined;
  }

  /** One message by id; a body kept in a file stays unread until it is used. */
  get(id: string): StoredMessage | undefined {
    const row = this.s.byId.get(id) as MessageRow | undefined;
    return row && this.fromRow(row);
  }

  /** Whether a message (by seq) was delivered to an agent's inbox. */
  deliveredTo(agentId: string, seq: number): boolean {
    return this.s.delivered.get(agentId, seq) !== undefined;
  }

  /** Whether an agent may see a message: it sent it, or the message was delivered to its inbox. */
  visibleTo(agentId: string, message: StoredMessage): boolean {
    return message.from === agentId || this.deliveredTo(agentId, message.seq);
  }

  /** A thread's messages, oldest first: those `agentId` may see, or all of them when no agent is named (the cockpit). */
  threadFor(threadId: string, agentId?: string): StoredMessage[] {
    const messages = this.thread(threadId);
    return agentId === undefined ? messages : messages.filter((message) => this.visibleTo(agentId, message));
  }

  seqOf(id: string): number | undefined {
    return this.s.seqOf.get(id) as number | undefined;
  }

  threadOf(id: string): string | undefined {
    return this.s.threadOf.get(id) as string | undefined;
  }

  /** An inbox, in delivery order, after a position. */
  inbox(agentId: string, afterSeq: number, limit: number, state: 'unacked' | 'all' = 'unacked'): StoredMessage[] {
    const statement = state === 'unacked' ? this.s.unacked : this.s.all;
    return (statement.all(agentId, afterSeq, limit) as MessageRow[]).map(this.fromRow);
  }

  /** Marks delivered messages handled; returns how many were newly acknowledged. */
  ack(agentId: string, ids: readonly string[], at: string): number {
    return ids.length === 0 ? 0 : this.s.ack.run(at, agentId, JSON.stringify(ids)).changes;
  }

  /**
   * Like ack, and names the cluster entry of each delivery newly acknowledged (null or '' where this hub knows none,
   * see migration 14): one statement for both.
   */
  ackTaking(agentId: string, ids: readonly string[], at: string): Array<string | null> {
    return ids.length === 0 ? [] : (this.s.ackTaking.all(at, agentId, JSON.stringify(ids)) as Array<string | null>);
  }

  subscribers(topic: string): string[] {
    return this.s.subscribers.all(topic) as string[];
  }

  subscribe(agentId: string, topics: readonly string[]): void {
    this.setSubscriptions(agentId, topics, true);
    this.subscriptionListeners.forEach((listener) => listener(agentId, topics, true));
  }

  unsubscribe(agentId: string, topics: readonly string[]): void {
    this.setSubscriptions(agentId, topics, false);
    this.subscriptionListeners.forEach((listener) => listener(agentId, topics, false));
  }

  /** Hears every subscribe and unsubscribe made on this hub (the cluster shares them with the other hubs). */
  onSubscriptionChange(listener: (agentId: string, topics: readonly string[], subscribed: boolean) => void): () => void {
    this.subscriptionListeners.add(listener);
    return () => this.subscriptionListeners.delete(listener);
  }

  /** Subscribes or unsubscribes without telling the listeners: a change another hub of the cluster made. */
  setSubscriptions(agentId: string, topics: readonly string[], subscribed: boolean): void {
    const now = new Date().toISOString();
    this.db.transaction(() =>
      topics.forEach((topic) => (subscribed ? this.s.subscribe.run(agentId, topic, now) : this.s.unsubscribe.run(agentId, topic))),
    )();
  }

  /** Every subscription, as agent id and topic. */
  allSubscriptions(): Array<{ agentId: string; topic: string }> {
    return this.db.prepare('SELECT agent_id AS agentId, topic FROM subscriptions').all() as Array<{ agentId: string; topic: string }>;
  }

  topicsOf(agentId: string): string[] {
    return this.s.topicsOf.all(agentId) as string[];
  }

  /** How many committed messages the keyword index has not taken in yet. */
  searchBacklog(): number {
    return (this.s.lastSeq.get() as number) - (this.s.ftsSeq.get() as number);
  }

  /** Adds committed messages to the keyword index, oldest first; returns how many it indexed. */
  indexForSearch(maxMessages: number): number {
    const from = this.s.ftsSeq.get() as number;
    const rows = this.s.toIndex.all(FTS_BODY_CHARS, from, maxMessages) as Array<{ seq: number; subject: string | null; body: string }>;
    if (rows.length === 0) return 0;
    this.db.transaction(() => {
      for (const row of rows) this.s.ftsInsert.run(row.seq, row.subject ?? '', row.body);
      this.s.setFtsSeq.run(String(rows.at(-1)!.seq));
    })();
    return rows.length;
  }

  /**
   * Keyword search (FTS5, BM25). `visibleTo` limits hits to messages an agent sent or received; the cockpit
   * passes none and sees everything.
   */
  search(query: string, limit: number, visibleTo?: string): SearchHit[] {
    const match = toMatchExpression(query);
    if (!match) return [];
    const visibility = visibleTo
      ? 'AND (m.sender = @agent OR EXISTS (SELECT 1 FROM deliveries d WHERE d.seq = m.seq AND d.agent_id = @agent))'
      : '';
    const rows = this.db
      .prepare(
        `SELECT m.*, snippet(messages_fts, -1, '[', ']', '…', 12) AS snippet, bm25(messages_fts) AS rank
         FROM messages_fts JOIN messages m ON m.seq = messages_fts.rowid
         WHERE messages_fts MATCH @match ${visibility}
         ORDER BY rank LIMIT @limit`,
      )
      .all({ match, limit, agent: visibleTo }) as Array<MessageRow & { snippet: string; rank: number }>;
    return rows.map((row) => ({ message: this.fromRow(row), snippet: row.snippet, rank: row.rank }));
  }

  thread(threadId: string, limit = 1000): StoredMessage[] {
    return (this.s.thread.all(threadId, limit) as MessageRow[]).map(this.fromRow);
  }

  /** Threads an agent took part in (or all, for the cockpit), most recent first. */
  threads(agentId: string | undefined, limit: number): ThreadSummary[] {
    const scope = agentId
      ? 'WHERE m.sender = @agent OR EXISTS (SELECT 1 FROM deliveries d WHERE d.seq = m.seq AND d.agent_id = @agent)'
      : '';
    const rows = this.db
      .prepare(
        `SELECT m.thread_id AS threadId, COUNT(*) AS messages, MAX(m.seq) AS lastSeq, MAX(m.created_at) AS lastMessageAt,
           json_group_array(DISTINCT m.sender) AS participants,
           (SELECT subject FROM messages f WHERE f.thread_id = m.thread_id AND f.subject IS NOT NULL ORDER BY f.seq LIMIT 1) AS subject
         FROM messages m ${scope}
         GROUP BY m.thread_id ORDER BY lastSeq DESC LIMIT @limit`,
      )
      .all({ agent: agentId, limit }) as Array<Omit<ThreadSummary, 'participants'> & { participants: string }>;
    return rows.map(({ threadId, subject, messages, participants, lastMessageAt }) => ({
      threadId,
      subject,
      messages,
      participants: JSON.parse(participants) as string[],
      lastMessageAt,
    }));
  }

  /**
   * The newest messages, newest first, optionally only those an agent sent or received, of a topic or of a thread
   * (the cockpit's stream and its filters).
   */
  recent(limit: number, filter: { agent?: string; topic?: string; thread?: string; before?: string } = {}): StoredMessage[] {
    const where: string[] = [];
    // A page older than a message already shown (by its id; seq is the order messages were stored in).
    if (filter.before) where.push('m.seq < (SELECT b.seq FROM messages b WHERE b.id = @before)');
    if (filter.agent) where.push('(m.sender = @agent OR EXISTS (SELECT 1 FROM deliveries d WHERE d.seq = m.seq AND d.agent_id = @agent))');
    if (filter.topic) where.push("m.to_type = 'topic' AND m.to_value = @topic");
    if (filter.thread) where.push('m.thread_id = @thread');
    const rows = this.db
      .prepare(`SELECT m.* FROM messages m ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY m.seq DESC LIMIT @limit`)
      .all({ ...filter, limit }) as MessageRow[];
    return rows.map(this.fromRow);
  }

  /**
   * Who each message went to and when each recipient acknowledged it (null: not yet), in one query for a page of
   * messages (the cockpit's delivery state).
   */
  receiptsOf(seqs: number[]): Map<number, Array<{ agentId: string; ackedAt: string | null }>> {
    const result = new Map<number, Array<{ agentId: string; ackedAt: string | null }>>();
    if (seqs.length === 0) return result;
    const list = seqs.map(() => '?').join(',');
    // A direct message's delivery through its recipient (the primary key), the others through the fan-out index.
    const rows = this.db
      .prepare(
        `SELECT d.seq, d.agent_id AS agentId, d.acked_at AS ackedAt FROM messages m
           JOIN deliveries d ON d.agent_id = m.to_value AND d.seq = m.seq AND d.fanout IS NULL
         WHERE m.seq IN (${list}) AND m.to_type = 'agent'
         UNION ALL
         SELECT seq, agent_id, acked_at FROM deliveries WHERE seq IN (${list}) AND fanout IS NOT NULL`,
      )
      .all(...seqs, ...seqs) as Array<{ seq: number; agentId: string; ackedAt: string | null }>;
    for (const { seq, agentId, ackedAt } of rows) {
      let list = result.get(seq);
      if (!list) result.set(seq, (list = []));
      list.push({ agentId, ackedAt });
    }
    return result;
  }

  /** A row as a message; a body kept in a file is read when the message's `body` is first used. */
  private readonly fromRow = (row: MessageRow): StoredMessage => {
    const message = fromRow(row);
    const bodies = this.bodies;
    if (row.body_bytes === null) return message;
    return withExternalBody(message, { bytes: row.body_bytes, file: bodies.pathOf(row.id), json: () => bodies.read(row.id) });
  };
}

/**
 * Turns what a person types into an FTS5 expression: each word quoted (so `-`, `:` or `"` in it is not syntax),
 * all words required, the last one as a prefix so results come while typing.
 */
export function toMatchExpression(query: string): string | null {
  const words = query.match(/[\p{L}\p{N}_]+/gu);
  if (!words || words.length === 0) return null;
  return words.map((word, i) => `"${word}"${i === words.length - 1 ? '*' : ''}`).join(' ');
}

export function fromRow(row: MessageRow): StoredMessage {
  const to: Recipient =
    row.to_type === 'agent' ? { type: 'agent', id: row.to_value! } : row.to_type === 'topic' ? { type: 'topic', name: row.to_value! } : { type: 'broadcast' };
  return {
    seq: row.seq,
    id: row.id,
    from: row.sender,
    to,
    threadId: row.thread_id,
    replyTo: row.reply_to,
    subject: row.subject,
    contentType: row.content_type,
    // A body kept in a file has only its first characters here (MessageStore.fromRow reads the rest).
    body: row.content_type === 'json' && row.body_bytes === null ? JSON.parse(row.body) : row.body,
    importance: row.importance,
    ackRequired: row.ack_required === 1,
    createdAt: row.created_at,
  };
}
