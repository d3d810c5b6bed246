/**
 * What the messaging service shares with the cluster (src/main/cluster/messages.ts) when hubs are joined through
 * Redis: the hooks it calls inside and after its group commit, the form a message takes in a Redis inbox stream,
 * and the tables that remember what waits for Redis (cluster_outbox) and which Redis entry holds each delivery
 * (deliveries.entry_id). Without a cluster none of this runs.
 */
import type { Importance, Recipient, SendResponse } from '../../shared/agent-protocol';
import type { AgentRecord, AgentRegistry } from '../agents/registry';
import type { SqliteDatabase } from '../db/database';
import { previewOf, jsonPreviewOf } from './json-body';
import { withExternalBody } from './body-store';
import { FTS_BODY_CHARS, type MessageStore, type NewMessage, type StoredMessage } from './store';

/** A message as it travels in a Redis inbox stream (field `m`, JSON); the body travels beside it (field `b`). */
export interface EntryMeta {
  id: string;
  from: string;
  to: Recipient;
  threadId: string;
  replyTo: string | null;
  subject: string | null;
  contentType: 'text' | 'json';
  importance: Importance;
  ackRequired: boolean;
  createdAt: string;
  /** The hub the message was sent to. */
  hub: string;
  /** Set when the body is the JSON encoding kept in a body file (its size, bytes); otherwise the row's text. */
  file?: number;
}

/** A committed message to hand to Redis: one entry per recipient's inbox stream. */
export interface ForwardItem {
  seq: number;
  meta: EntryMeta;
  /** The row's text, or the body file's bytes (meta.file set): the same object for every recipient, never copied. */
  body: string | Buffer;
  recipients: string[];
  idempotencyKey: string | null;
  response: SendResponse;
}

/** Redis entries to delete because their deliveries were acknowledged. */
export interface AckedEntries {
  agentId: string;
  entryIds: string[];
}

/** A message read from an agent's inbox stream, its body already where it belongs (row text, or file written). */
export interface ReplicatedEntry {
  agentId: string;
  entryId: string;
  meta: EntryMeta;
  /** The body as it travelled (field `b`): the row's text is made of it only when the message is new here. */
  body: Buffer;
  /** The body file's bytes when the body was written to a file; the file's size is then its length. */
  bodyFile: Buffer | null;
}

/** The cluster's hooks into the messaging service. */
export interface MessageReplication {
  /**
   * Whether messages between this agent and others go through Redis (not this hub's cockpit identity, not a local
   * name conflict). A send from such an agent reaches such recipients' inbox streams: their deliveries are made with
   * entry id '' (FORWARDED) and the message is staged.
   */
  isShared(agent: AgentRecord): boolean;
  /** Inside the commit of a new message: records what must reach Redis (an outbox row) for these recipients. */
  stage(message: StoredMessage, targets: string[], body: string | Buffer, idempotencyKey: string | null, response: SendResponse): ForwardItem;
  /**
   * After the commit: resolves once the messages are in Redis, or, with Redis away, at once (they wait in the
   * outbox, durably). Senders are acknowledged when it resolves.
   */
  forward(items: ForwardItem[], acks: AckedEntries[]): Promise<void> | null;
  /**
   * Inside a group commit: writes what Redis took since the last one (ReplicaTables.forwarded), so it costs no
   * transaction of its own; the function returned is called once the commit is done. Null when nothing waits.
   */
  recordForwarded(): (() => void) | null;
  /** Before an idempotent send: claims the key cluster-wide; a duplicate names the message stored first. */
  claimIdempotency(sender: AgentRecord, key: string, id: string): Promise<SendResponse | null>;
  /** Before an agent's inbox is served here: what reached it through Redis is in this hub's database. */
  ready(agent: AgentRecord): Promise<void>;
}

/**
 * The entry id of a delivery this hub forwards to the agent's stream: its real id is not written back (one statement
 * less per recipient); once the outbox row is gone the entry is in Redis, and the message's id finds it there.
 */
export const FORWARDED = '';

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
  idempotency_key: string | null;
  body_bytes: number | null;
};

/** The cluster tables of hub.sqlite (migration 12), as prepared statements. */
export class ReplicaTables {
  private readonly s;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly store: MessageStore,
  ) {
    this.s = {
      outboxAdd: db.prepare('INSERT OR REPLACE INTO cluster_outbox (seq, recipients) VALUES (?, ?)'),
      // Batches reach Redis in seq order, one at a time, so a batch clears every outbox row up to its last seq.
      outboxDeleteUpTo: db.prepare('DELETE FROM cluster_outbox WHERE seq <= ?'),
      outboxPage: db.prepare('SELECT seq, recipients FROM cluster_outbox WHERE seq > ? ORDER BY seq LIMIT ?'),
      outboxCount: db.prepare('SELECT COUNT(*) FROM cluster_outbox').pluck(),
      messageBySeq: db.prepare('SELECT * FROM messages WHERE seq = ?'),
      // Every message committed before the oldest still waiting for Redis was taken by Redis.
      forwardedBefore: db
        .prepare('SELECT COALESCE((SELECT MIN(seq) FROM cluster_outbox), (SELECT COALESCE(MAX(seq), 0) + 1 FROM messages))')
        .pluck(),
      deliveryState: db.prepare('SELECT acked_at IS NOT NULL AS acked, entry_id AS entryId FROM deliveries WHERE agent_id = ? AND seq = ?'),
      remember: db.prepare('UPDATE deliveries SET entry_id = ? WHERE agent_id = ? AND seq = ?'),
      tracked: db.prepare(
        `SELECT d.seq, d.entry_id AS entryId, m.id AS messageId FROM deliveries d JOIN messages m ON m.seq = d.seq
         WHERE d.agent_id = ? AND d.acked_at IS NULL AND d.entry_id IS NOT NULL`,
      ),
      markAcked: db.prepare('UPDATE deliveries SET acked_at = ? WHERE agent_id = ? AND seq = ? AND acked_at IS NULL'),
    };
  }

  addOutbox(seq: number, recipients: string[]): void {
    this.s.outboxAdd.run(seq, JSON.stringify(recipients));
  }

  outboxCount(): number {
    return this.s.outboxCount.get() as number;
  }

  /**
   * After Redis took batches up to `lastSeq`: their outbox rows go (one statement). The caller forwards in seq order
   * and never a batch while older rows wait, so every row up to it was taken.
   */
  forwarded(lastSeq: number): void {
    this.s.outboxDeleteUpTo.run(lastSeq);
  }

  /** Every message with a smaller seq that this hub forwards is in Redis now (its outbox row is gone). */
  forwardedBefore(): number {
    return this.s.forwardedBefore.get() as number;
  }

  /** Outbox rows after `afterSeq`, oldest first, rebuilt into what to forward (bodies read back from rows or files). */
  outboxPage(afterSeq: number, limit: number, hub: string): ForwardItem[] {
    const rows = this.s.outboxPage.all(afterSeq, limit) as Array<{ seq: number; recipients: string }>;
    const items: ForwardItem[] = [];
    for (const { seq, recipients } of rows) {
      const row = this.s.messageBySeq.get(seq) as MessageRow | undefined;
      if (!row) continue;
      const meta = metaOfRow(row, hub);
      const body = row.body_bytes === null ? row.body : this.store.bodies.read(row.id);
      if (row.body_bytes !== null) meta.file = row.body_bytes;
      const response: SendResponse = { id: row.id, threadId: row.thread_id, createdAt: row.created_at, recipients: 0, duplicate: false };
      items.push({ seq, meta, body, recipients: JSON.parse(recipients) as string[], idempotencyKey: row.idempotency_key, response });
    }
    return items;
  }

  /** Unacknowledged deliveries of an agent that went through Redis, with their entries (FORWARDED: not known here). */
  tracked(agentId: string): Array<{ seq: number; entryId: string; messageId: string }> {
    return this.s.tracked.all(agentId) as Array<{ seq: number; entryId: string; messageId: string }>;
  }

  /** Deliveries acknowledged on another hub: marked here too, so they are not delivered again. */
  markAcked(agentId: string, seqs: number[], registry: AgentRegistry): number {
    const now = new Date().toISOString();
    let count = 0;
    this.db.transaction(() => {
      for (const seq of seqs) count += this.s.markAcked.run(now, agentId, seq).changes;
      const agent = registry.find(agentId);
      if (agent && count > 0) {
        agent.inboxDepth = Math.max(0, agent.inboxDepth - count);
        registry.saveCounters([agent]);
      }
    })();
    return count;
  }

  /**
   * Applies entries read from inbox streams, in order, in one transaction: an unknown message is stored, a new
   * delivery is made (naming its entry) and announced; an entry whose delivery was already acknowledged here, or a
   * repeat of a delivery whose entry is known, is returned, to delete.
   */
  apply(entries: ReplicatedEntry[], registry: AgentRegistry): { deliveries: Array<{ message: StoredMessage; recipients: string[]; acceptedAt: number }>; stale: ReplicatedEntry[]; taken: number } {
    const deliveries: Array<{ message: StoredMessage; recipients: string[]; acceptedAt: number }> = [];
    const stale: ReplicatedEntry[] = [];
    const touched = new Set<AgentRecord>();
    let taken = 0;
    // Messages stored by an earlier entry of this call, with the recipients delivered to since: another recipient's
    // entry needs no statement to find the message or its delivery.
    const storedHere = new Map<string, { seq: number; text: string | null; to: string[] }>();
    this.db.transaction(() => {
      for (const entry of entries) {
        const recipient = registry.find(entry.agentId);
        const { meta } = entry;
        if (!recipient || !registry.find(meta.from)) continue;
        const here = storedHere.get(meta.id);
        if (here && !here.to.includes(entry.agentId)) {
          here.to.push(entry.agentId);
          this.deliverHere(recipient, here.seq, meta, entry.entryId, touched);
          deliveries.push({ message: messageOf(meta, here.seq, here.text!, entry.bodyFile), recipients: [entry.agentId], acceptedAt: performance.now() });
          continue;
        }
        let seq = here?.seq;
        if (seq === undefined) {
          // A body in a file arrives unwritten (bodyFile null) only when its message was already stored: no insert.
          if (meta.file === undefined || entry.bodyFile) {
            const text = rowTextOf(meta, entry.body);
            seq = this.store.insertIfNew(rowOf(meta, text), entry.bodyFile ? entry.bodyFile.length : null);
            if (seq !== undefined) {
              // A message new here has no delivery yet: one insert, its entry in it, nothing to look up.
              storedHere.set(meta.id, { seq, text, to: [entry.agentId] });
              taken++;
              this.deliverHere(recipient, seq, meta, entry.entryId, touched);
              deliveries.push({ message: messageOf(meta, seq, text, entry.bodyFile), recipients: [entry.agentId], acceptedAt: performance.now() });
              continue;
            }
          }
          seq = this.store.seqOf(meta.id);
          if (seq === undefined) continue;
        }
        const state = this.s.deliveryState.get(entry.agentId, seq) as { acked: number; entryId: string | null } | undefined;
        if (state === undefined) {
          this.deliverHere(recipient, seq, meta, entry.entryId, touched);
          // A message stored before (by an earlier call, or another hub's send here) is read back, body and all.
          deliveries.push({ message: this.store.get(meta.id)!, recipients: [entry.agentId], acceptedAt: performance.now() });
          continue;
        }
        if (state.acked === 1) {
          stale.push(entry);
          continue;
        }
        // The same message twice in one stream (its hub died after Redis took it and before it noted so, and
        // forwarded it again): the entry already known keeps the delivery and the repeat goes, so an acknowledgement
        // leaves nothing behind for another hub to deliver again.
        if (state.entryId) {
          if (state.entryId !== entry.entryId) stale.push(entry);
          continue;
        }
        // Delivered here already (this hub forwarded it, FORWARDED): now its entry is known.
        this.s.remember.run(entry.entryId, entry.agentId, seq);
      }
      registry.saveCounters(touched);
    })();
    return { deliveries, stale, taken };
  }

  private deliverHere(recipient: AgentRecord, seq: number, meta: EntryMeta, entryId: string, touched: Set<AgentRecord>): void {
    this.store.deliver(recipient.id, seq, meta.to.type !== 'agent', entryId);
    recipient.messagesIn++;
    recipient.inboxDepth++;
    touched.add(recipient);
  }
}

/** The row of a message that arrived through a stream. */
function rowOf(meta: EntryMeta, bodyText: string): NewMessage {
  return {
    id: meta.id,
    sender: meta.from,
    to: meta.to,
    threadId: meta.threadId,
    replyTo: meta.replyTo,
    subject: meta.subject,
    contentType: meta.contentType,
    bodyText,
    importance: meta.importance,
    ackRequired: meta.ackRequired,
    createdAt: meta.createdAt,
    // Idempotency is kept cluster-wide in Redis; the copy here is the sender's hub's, not a second claim.
    idempotencyKey: null,
  };
}

/** The entry's text form of a body for the row: the text itself or the JSON text (a file's first characters). */
export function rowTextOf(meta: EntryMeta, body: Buffer): string {
  if (meta.file === undefined) return body.toString('utf8');
  return meta.contentType === 'text' ? previewOf(body, FTS_BODY_CHARS) : jsonPreviewOf(body, FTS_BODY_CHARS);
}

export function metaOf(message: StoredMessage, hub: string): EntryMeta {
  return {
    id: message.id,
    from: message.from,
    to: message.to,
    threadId: message.threadId,
    replyTo: message.replyTo,
    subject: message.subject,
    contentType: message.contentType,
    importance: message.importance,
    ackRequired: message.ackRequired,
    createdAt: message.createdAt,
    hub,
  };
}

function metaOfRow(row: MessageRow, hub: string): EntryMeta {
  const to: Recipient =
    row.to_type === 'agent' ? { type: 'agent', id: row.to_value! } : row.to_type === 'topic' ? { type: 'topic', name: row.to_value! } : { type: 'broadcast' };
  return {
    id: row.id,
    from: row.sender,
    to,
    threadId: row.thread_id,
    replyTo: row.reply_to,
    subject: row.subject,
    contentType: row.content_type,
    importance: row.importance,
    ackRequired: row.ack_required === 1,
    createdAt: row.created_at,
    hub,
  };
}

function messageOf(meta: EntryMeta, seq: number, bodyText: string, file: Buffer | null): StoredMessage {
  const message: StoredMessage = {
    seq,
    id: meta.id,
    from: meta.from,
    to: meta.to,
    threadId: meta.threadId,
    replyTo: meta.replyTo,
    subject: meta.subject,
    contentType: meta.contentType,
    body: meta.contentType === 'json' && !file ? JSON.parse(bodyText) : bodyText,
    importance: meta.importance,
    ackRequired: meta.ackRequired,
    createdAt: meta.createdAt,
  };
  return file ? withExternalBody(message, { bytes: file.length, json: () => file }) : message;
}
