/**
 * Sending, delivering and acknowledging messages. Every write goes through one queue that commits in groups: all
 * the sends and acks that arrive while a commit is running share the next transaction, so throughput grows with
 * load while each send is still acknowledged only after its commit. Deliveries are announced after the commit,
 * never before: a pushed message is always a durable one.
 */
import { ulidGenerator } from '../ids';
import type { z } from 'zod';
import type { SendRequest, SendResponse } from '../../shared/agent-protocol';
import type { AgentRecord, AgentRegistry } from '../agents/registry';
import type { SqliteDatabase } from '../db/database';
import { badRequest, HubError, notFound, revoked, tooLarge } from '../errors';
import { BodyStore, withExternalBody } from './body-store';
import { jsonPreviewOf, previewOf, type RawBody } from './json-body';
import { FORWARDED, ReplicaTables, type AckedEntries, type ForwardItem, type MessageReplication, type ReplicatedEntry } from './replication';
import { startWorker } from '../programs';
import { SendDecoder } from './send-decoder';
import { FTS_BODY_CHARS, MessageStore, type StoredMessage } from './store';

export type ParsedSend = z.output<typeof SendRequest>;

/** A message that just landed in some inboxes, with its frame serialised once for all of them. */
export interface Delivery {
  message: StoredMessage;
  recipients: string[];
  /** performance.now() when the hub accepted the send: notification latency is measured from here. */
  acceptedAt: number;
  /** The body's JSON encoding when the send came with one (see MessagingService.send): frames take it as it is. */
  bodyJson?: string | Buffer;
}

type PendingWrite =
  | {
      kind: 'send';
      sender: AgentRecord;
      request: ParsedSend;
      /** Said by the raw body when there is one (request.body is then a placeholder). */
      contentType: 'text' | 'json';
      bodyText: string;
      bodyJson: string | Buffer | undefined;
      /**
       * A body stored in a file (already durable): the message's id, chosen when the file was written, the file's
       * bytes, and whether request.body is the body itself (false when it is the placeholder of a raw one).
       */
      external?: { id: string; json: Buffer; parsed: boolean };
      /** The id an idempotency key was claimed for in the cluster. */
      claimedId?: string;
      acceptedAt: number;
      resolve(r: SendResponse): void;
      reject(e: Error): void;
    }
  | { kind: 'ack'; agent: AgentRecord; ids: string[]; resolve(n: number): void; reject(e: Error): void };

/**
 * Keyword indexing costs about a third of a message's CPU, so it waits while sends are flowing: the CPU goes to
 * delivering a burst, and the index catches up once the hub has been quiet for SEARCH_INDEX_QUIET_MS and took fewer
 * than SEARCH_INDEX_BURST messages in about the last SEARCH_INDEX_WINDOW_MS (a burst on a loaded machine, or one
 * arriving through Redis, stalls longer than the quiet time, and indexing then ran in the middle of it). Under load
 * that never pauses it runs anyway once SEARCH_INDEX_MAX_LAG messages wait, so the index never falls far behind; a
 * search always catches up first (in slices, so other traffic keeps moving meanwhile).
 */
const SEARCH_INDEX_DELAY_MS = 20;
const SEARCH_INDEX_QUIET_MS = 50;
const SEARCH_INDEX_BURST = 500;
const SEARCH_INDEX_WINDOW_MS = 1_000;
const SEARCH_INDEX_MAX_LAG = 50_000;
const SEARCH_INDEX_SLICE = 500;
/** How long an acknowledgement may wait for a send to share a commit with. */
const ACK_DELAY_MS = 5;

export interface MessagingOptions {
  maxBodyBytes: number;
  /** Where bodies too large for a database row are kept (see BodyStore). */
  bodyDir: string;
  /** Bodies larger than this many bytes (UTF-8) go to files (messages.bodyFileBytes). */
  bodyFileBytes: number;
  /**
   * Told how long each send took to become durable, how many inbox deliveries it made, who sent it and how many
   * writes its group commit carried (which explains most slow sends).
   */
  observeSend?: (durationMs: number, recipients: number, from: AgentRecord, commitSize: number) => void;
  /** Decodes sends (HTTP and socket); by default large ones in the send-decoder worker. */
  decoder?: SendDecoder;
}

export class MessagingService {
  readonly store: MessageStore;
  /** Where the send routes and the realtime socket decode what agents send (see send-decoder.ts). */
  readonly decoder: SendDecoder;
  private queue: PendingWrite[] = [];
  private flushScheduled = false;
  private ackTimer: NodeJS.Timeout | undefined;
  private indexTimer: NodeJS.Timeout | undefined;
  private lastSendCommittedAt = 0;
  /** Messages committed in the current half of the burst window, and in the half before it (see SEARCH_INDEX_BURST). */
  private traffic = { since: 0, count: 0, before: 0 };
  private searchCatchUp: Promise<void> | undefined;
  private readonly newId = ulidGenerator();
  private readonly deliveryListeners = new Set<(deliveries: Delivery[]) => void>();
  private closed = false;
  /** Set when the hub is in a cluster (cluster/messages.ts): sends and acks also go through Redis. */
  private replication: MessageReplication | null = null;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly registry: AgentRegistry,
    private readonly options: MessagingOptions,
  ) {
    this.decoder = options.decoder ?? new SendDecoder(() => startWorker('send-decoder'));
    const bodies = new BodyStore(options.bodyDir);
    this.store = new MessageStore(db, bodies);
    // Body files a crash left without their message (written, never committed) go; the rest make the running total.
    bodies.sweep((id) => this.store.bodyBytesOf(id));
    // Whatever a crash left unindexed is indexed now.
    this.scheduleSearchIndexing();
  }

  /**
   * Resolves once the message is committed; rejects with a HubError the caller can show. `raw`, when given, is the
   * body as it arrived (request.body is then a placeholder): a large one is stored without becoming a string.
   * `bodyJson`, when given, is request.body's JSON encoding as it arrived (a text body's string literal, see
   * frames.ts textBodyLiteral): recipients' frames take it instead of serialising the body again.
   */
  send(sender: AgentRecord, request: ParsedSend, raw?: RawBody, bodyJson?: Buffer): Promise<SendResponse> {
    const key = request.idempotencyKey;
    if (!this.replication || !key || this.closed) return this.sendNow(sender, request, raw, bodyJson);
    // In a cluster an idempotency key is claimed in Redis first: a retry through another hub finds the first message.
    const id = this.newId();
    return this.replication.claimIdempotency(sender, key, id).then((earlier) => earlier ?? this.sendNow(sender, request, raw, bodyJson, id));
  }

  /** The cluster's hooks (cluster/messages.ts), and the tables it keeps in this hub's database. */
  attachReplication(replication: MessageReplication): ReplicaTables {
    this.replication = replication;
    return new ReplicaTables(this.db, this.store);
  }

  /** Resolves once the agent's inbox here holds what reached it through the cluster (at once without one). */
  inboxReady(agent: AgentRecord): Promise<void> {
    return this.replication ? this.replication.ready(agent) : Promise.resolve();
  }

  /** Messages read from the cluster's inbox streams: stored and delivered here (see ReplicaTables.apply). */
  takeReplicated(tables: ReplicaTables, entries: ReplicatedEntry[]): { stale: ReplicatedEntry[]; taken: number } {
    const { deliveries, stale, taken } = tables.apply(entries, this.registry);
    if (deliveries.length > 0) {
      // Messages arriving from other hubs keep the hub busy like sends: the keyword index waits for a pause.
      this.noteTraffic(deliveries.length);
      this.announce(deliveries);
    }
    return { stale, taken };
  }

  private sendNow(sender: AgentRecord, request: ParsedSend, raw?: RawBody, bodyJson?: Buffer, claimedId?: string): Promise<SendResponse> {
    if (this.closed) return Promise.reject(new HubError('closing', 'the hub is shutting down'));
    if (sender.revokedAt) return Promise.reject(revoked(`agent ${sender.name} was revoked and may not send`));
    let bodyText: string | undefined;
    let bytes: number;
    if (raw) bytes = raw.utf8Bytes;
    else {
      bodyText = typeof request.body === 'string' ? request.body : JSON.stringify(request.body);
      // A UTF-16 unit takes at most 3 bytes of UTF-8: only a text that may reach a limit is measured (counting costs
      // a pass over every message otherwise). Below both limits, 3 × length stands in for the size.
      bytes = bodyText.length * 3;
      if (bytes > Math.min(this.options.maxBodyBytes, this.options.bodyFileBytes)) bytes = Buffer.byteLength(bodyText);
    }
    if (bytes > this.options.maxBodyBytes) {
      return Promise.reject(
        tooLarge(`the message body is ${bytes} bytes; the hub accepts up to ${this.options.maxBodyBytes} (messages.maxBytes in config.json)`),
      );
    }
    if (request.to.type === 'agent') {
      const recipient = this.registry.find(request.to.id);
      if (!recipient) return Promise.reject(notFound(`there is no agent with id ${request.to.id}`));
      if (recipient.revokedAt) return Promise.reject(revoked(`agent ${recipient.name} was revoked and receives nothing`));
    }
    const acceptedAt = performance.now();
    const contentType = raw ? raw.contentType : typeof request.body === 'string' ? 'text' : 'json';
    if (bytes > this.options.bodyFileBytes) {
      return this.sendWithBodyFile(this.store.bodies, sender, request, contentType, raw, bodyText, acceptedAt, claimedId);
    }
    let json: string | Buffer | undefined = bodyJson;
    if (raw) {
      // Small enough for its row: the body becomes a value like any other.
      bodyText = raw.rowText();
      request = { ...request, body: raw.contentType === 'text' ? bodyText : (raw.value() as ParsedSend['body']) };
      json = raw.json;
    } else if (contentType === 'json') {
      // A JSON body's serialisation is its JSON encoding: made once, for its row and for every frame.
      json = bodyText;
    }
    const text = bodyText!;
    return new Promise((resolve, reject) =>
      this.enqueue({ kind: 'send', sender, request, contentType, bodyText: text, bodyJson: json, claimedId, acceptedAt, resolve, reject }),
    );
  }

  /**
   * A large body is written to its file (named by the message id, chosen now) and made durable first, off the
   * event loop; then the message joins the commit queue like any other, with the body's first characters in its
   * row. A body whose message is not stored after all (a duplicate, a failed write) is removed again.
   */
  private async sendWithBodyFile(
    bodies: BodyStore,
    sender: AgentRecord,
    request: ParsedSend,
    contentType: 'text' | 'json',
    raw: RawBody | undefined,
    bodyText: string | undefined,
    acceptedAt: number,
    claimedId?: string,
  ): Promise<SendResponse> {
    const id = claimedId ?? this.newId();
    const isText = contentType === 'text';
    // The file holds the body's JSON encoding: a text body as its string literal.
    const json = raw ? raw.json : Buffer.from(isText ? JSON.stringify(bodyText) : bodyText!);
    // The row keeps the first characters (of the JSON text, for a JSON body), for the keyword index and previews.
    const preview = raw ? (isText ? previewOf(raw.json, FTS_BODY_CHARS) : jsonPreviewOf(raw.json, FTS_BODY_CHARS)) : bodyText!.slice(0, FTS_BODY_CHARS);
    try {
      await bodies.write(id, json);
    } catch (error) {
      throw new HubError('storage_failed', `the hub could not store the message body: ${(error as Error).message}`);
    }
    if (this.closed) {
      bodies.discard(id, json.length);
      throw new HubError('closing', 'the hub is shutting down');
    }
    return new Promise((resolve, reject) =>
      this.enqueue({
        kind: 'send',
        sender,
        request,
        contentType,
        bodyText: preview,
        bodyJson: undefined,
        external: { id, json, parsed: raw === undefined },
        acceptedAt,
        resolve: (result) => {
          if (result.duplicate) bodies.discard(id, json.length);
          resolve(result);
        },
        reject: (error) => {
          bodies.discard(id, json.length);
          reject(error);
        },
      }),
    );
  }

  ack(agent: AgentRecord, ids: string[]): Promise<number> {
    if (this.closed) return Promise.reject(new HubError('closing', 'the hub is shutting down'));
    return new Promise((resolve, reject) => this.enqueue({ kind: 'ack', agent, ids, resolve, reject }));
  }

  onDelivered(listener: (deliveries: Delivery[]) => void): () => void {
    this.deliveryListeners.add(listener);
    return () => this.deliveryListeners.delete(listener);
  }

  /** Commits what is queued, then stops taking writes. */
  close(): void {
    this.flush();
    this.closed = true;
    void this.decoder.close();
    clearTimeout(this.indexTimer);
    clearTimeout(this.ackTimer);
  }

  private enqueue(write: PendingWrite): void {
    this.queue.push(write);
    if (write.kind === 'ack') {
      // Nobody waits on an acknowledgement: it rides with the next send, or goes on its own a moment later.
      this.ackTimer ??= setTimeout(() => this.flush(), ACK_DELAY_MS);
      return;
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    const now = new Date().toISOString();

    // The whole group in one transaction; only if some write in it fails is it replayed with a savepoint per write,
    // so that write fails alone (savepoints for every write cost a quarter of the hub's time per message).
    let result = this.commit(batch, now, false);
    if (result.kind === 'write-failed') result = this.commit(batch, now, true);
    if (result.kind !== 'committed') {
      // Only the commit itself can fail here (disk full, say): nothing in the group was stored, and every sender hears so.
      const reason = result.kind === 'commit-failed' ? result.error.message : 'a write failed';
      const failure = new HubError('storage_failed', `the hub could not store the message: ${reason}`);
      batch.forEach((write) => write.reject(failure));
      return;
    }
    const { outcomes, deliveries, forward, acks } = result;
    // In a cluster, senders hear once Redis has their messages too (or, Redis away, once they wait in the outbox).
    const forwarded = this.replication && (forward.length > 0 || acks.length > 0) ? this.replication.forward(forward, acks) : null;
    if (forwarded) {
      const settle = () => outcomes.forEach((outcome) => outcome());
      forwarded.then(settle, settle);
    } else outcomes.forEach((settle) => settle());
    if (deliveries.length > 0) {
      this.noteTraffic(deliveries.length);
      this.announce(deliveries);
    }
  }

  private announce(deliveries: Delivery[]): void {
    for (const listener of this.deliveryListeners) {
      try {
        listener(deliveries);
      } catch (error) {
        // The messages are stored; a failing listener (a push, the mailbox) must not stop the others.
        console.error('[messaging] a delivery listener failed:', error);
      }
    }
    this.scheduleSearchIndexing();
  }

  /**
   * Applies a group of writes in one transaction. Without savepoints, any failing write rolls the group back and
   * reports `write-failed`; with them, a failing write is rejected alone. In-memory counters are restored from the
   * database whenever the transaction does not commit.
   */
  private commit(
    batch: PendingWrite[],
    now: string,
    savepoints: boolean,
  ):
    | { kind: 'committed'; outcomes: Array<() => void>; deliveries: Delivery[]; forward: ForwardItem[]; acks: AckedEntries[] }
    | { kind: 'write-failed' }
    | { kind: 'commit-failed'; error: Error } {
    const deliveries: Delivery[] = [];
    const outcomes: Array<() => void> = [];
    const forward: ForwardItem[] = [];
    const acks: AckedEntries[] = [];
    const touched = new Set<AgentRecord>();
    const apply = (write: PendingWrite) => {
      if (write.kind === 'send') {
        const result = this.applySend(write, now, deliveries, touched, forward);
        outcomes.push(() => {
          write.resolve(result);
          if (!result.duplicate) this.options.observeSend?.(performance.now() - write.acceptedAt, result.recipients, write.sender, batch.length);
        });
      } else {
        const acked = this.replication ? this.ackTaking(write.agent.id, write.ids, now, acks) : this.store.ack(write.agent.id, write.ids, now);
        write.agent.inboxDepth = Math.max(0, write.agent.inboxDepth - acked);
        touched.add(write.agent);
        outcomes.push(() => write.resolve(acked));
      }
    };
    let failedWrite = false;
    let recorded: (() => void) | null = null;
    try {
      this.db.transaction(() => {
        // First, so acknowledgements in this group find the entries of batches Redis took meanwhile.
        recorded = this.replication?.recordForwarded() ?? null;
        for (const write of batch) {
          if (!savepoints) {
            try {
              apply(write);
            } catch (error) {
              failedWrite = true;
              throw error;
            }
            continue;
          }
          try {
            this.db.transaction(() => apply(write))();
          } catch (error) {
            outcomes.push(() => write.reject(asHubError(error)));
          }
        }
        this.registry.saveCounters(touched);
      })();
    } catch (error) {
      this.reloadCounters(touched);
      return failedWrite ? { kind: 'write-failed' } : { kind: 'commit-failed', error: error as Error };
    }
    (recorded as (() => void) | null)?.();
    return { kind: 'committed', outcomes, deliveries, forward, acks };
  }

  /** An acknowledgement in a cluster: the Redis entries of what it acknowledged are added to `acks`, to delete. */
  private ackTaking(agentId: string, ids: string[], now: string, acks: AckedEntries[]): number {
    const taken = this.store.ackTaking(agentId, ids, now);
    const entryIds = taken.filter((entryId): entryId is string => !!entryId);
    if (entryIds.length > 0) acks.push({ agentId, entryIds });
    return taken.length;
  }

  private applySend(
    write: Extract<PendingWrite, { kind: 'send' }>,
    now: string,
    deliveries: Delivery[],
    touched: Set<AgentRecord>,
    forward: ForwardItem[],
  ): SendResponse {
    const { sender, request } = write;
    if (request.idempotencyKey) {
      const earlier = this.store.findByIdempotencyKey(sender.id, request.idempotencyKey);
      if (earlier) {
        return { id: earlier.id, threadId: earlier.thread_id, createdAt: earlier.created_at, recipients: earlier.recipients, duplicate: true };
      }
    }
    const id = write.external?.id ?? write.claimedId ?? this.newId();
    let threadId = request.threadId;
    if (request.replyTo) {
      const parentThread = this.store.threadOf(request.replyTo);
      if (parentThread === undefined) throw badRequest(`replyTo names no message (${request.replyTo})`);
      threadId ??= parentThread;
    }
    threadId ??= id;
    const message: StoredMessage = {
      seq: 0,
      id,
      from: sender.id,
      to: request.to,
      threadId,
      replyTo: request.replyTo ?? null,
      subject: request.subject ?? null,
      contentType: write.contentType,
      body: request.body,
      importance: request.importance,
      ackRequired: request.ackRequired,
      createdAt: now,
    };
    // The row's fields named one by one: spreading the message costs a copy of it on every send.
    message.seq = this.store.insert(
      {
        id,
        sender: sender.id,
        to: message.to,
        threadId,
        replyTo: message.replyTo,
        subject: message.subject,
        contentType: message.contentType,
        bodyText: write.bodyText,
        importance: message.importance,
        ackRequired: message.ackRequired,
        createdAt: now,
        idempotencyKey: request.idempotencyKey ?? null,
      },
      write.external?.json.length ?? null,
    );
    const fanout = request.to.type !== 'agent';
    // In a cluster, deliveries to the cluster's agents are forwarded to their inbox streams (see FORWARDED).
    const replication = this.replication !== null && this.replication.isShared(sender) ? this.replication : null;
    const targets: string[] = [];
    const recipients = this.resolveRecipients(sender, request).filter((agentId) => {
      const agent = this.registry.get(agentId);
      const forwarded = replication !== null && replication.isShared(agent);
      if (!this.store.deliver(agentId, message.seq, fanout, forwarded ? FORWARDED : null)) return false;
      if (forwarded) targets.push(agentId);
      agent.messagesIn++;
      agent.inboxDepth++;
      touched.add(agent);
      return true;
    });
    sender.messagesOut++;
    touched.add(sender);
    const response: SendResponse = { id, threadId, createdAt: now, recipients: recipients.length, duplicate: false };
    if (replication && targets.length > 0) {
      forward.push(replication.stage(message, targets, write.external?.json ?? write.bodyText, request.idempotencyKey ?? null, response));
    }
    deliveries.push({
      // Deliveries of a body in a file send the bytes just written; a raw body is parsed only if someone reads it.
      message: write.external ? withBodyBytes(message, write.external.json, write.external.parsed) : message,
      recipients,
      acceptedAt: write.acceptedAt,
      bodyJson: write.bodyJson,
    });
    return response;
  }

  private resolveRecipients(sender: AgentRecord, request: ParsedSend): string[] {
    switch (request.to.type) {
      case 'agent': {
        const recipient = this.registry.get(request.to.id);
        if (recipient.revokedAt) throw revoked(`agent ${recipient.name} was revoked and receives nothing`);
        return [recipient.id];
      }
      case 'topic':
        return this.store.subscribers(request.to.name).filter((id) => id !== sender.id && !this.registry.find(id)?.revokedAt);
      case 'broadcast':
        return this.registry
          .reachable()
          .map((agent) => agent.id)
          .filter((id) => id !== sender.id);
    }
  }

  private reloadCounters(agents: Set<AgentRecord>): void {
    const read = this.db.prepare('SELECT messages_in, messages_out, inbox_depth FROM agents WHERE id = ?');
    for (const agent of agents) {
      const row = read.get(agent.id) as { messages_in: number; messages_out: number; inbox_depth: number } | undefined;
      if (!row) continue;
      agent.messagesIn = row.messages_in;
      agent.messagesOut = row.messages_out;
      agent.inboxDepth = row.inbox_depth;
    }
  }

  private noteTraffic(messages: number): void {
    const now = performance.now();
    this.lastSendCommittedAt = now;
    const traffic = this.traffic;
    if (now - traffic.since >= SEARCH_INDEX_WINDOW_MS / 2) {
      traffic.before = now - traffic.since < SEARCH_INDEX_WINDOW_MS ? traffic.count : 0;
      traffic.count = 0;
      traffic.since = now;
    }
    traffic.count += messages;
  }

  /** Whether messages are flowing: one committed within the quiet time, or a burst's worth within the window. */
  private busy(): boolean {
    const now = performance.now();
    if (now - this.lastSendCommittedAt < SEARCH_INDEX_QUIET_MS) return true;
    const { since, count, before } = this.traffic;
    const age = now - since;
    const recent = age >= SEARCH_INDEX_WINDOW_MS ? 0 : age >= SEARCH_INDEX_WINDOW_MS / 2 ? count : count + before;
    return recent >= SEARCH_INDEX_BURST;
  }

  private scheduleSearchIndexing(delayMs = SEARCH_INDEX_DELAY_MS): void {
    if (this.indexTimer || this.closed) return;
    this.indexTimer = setTimeout(() => {
      this.indexTimer = undefined;
      if (this.closed || !this.db.open) return;
      const busy = this.busy();
      if (busy && this.store.searchBacklog() < SEARCH_INDEX_MAX_LAG) {
        this.scheduleSearchIndexing(SEARCH_INDEX_QUIET_MS);
        return;
      }
      if (this.store.indexForSearch(SEARCH_INDEX_SLICE) === SEARCH_INDEX_SLICE) this.scheduleSearchIndexing();
    }, delayMs);
    this.indexTimer.unref();
  }

  /**
   * Indexes everything committed so far, a slice at a time with a turn of the event loop between slices; searches
   * await it so they see every message acknowledged before they were asked.
   */
  catchUpSearch(): Promise<void> {
    this.searchCatchUp ??= (async () => {
      try {
        while (!this.closed && this.db.open && this.store.indexForSearch(SEARCH_INDEX_SLICE) === SEARCH_INDEX_SLICE) {
          await new Promise((resolve) => setImmediate(resolve));
        }
      } finally {
        this.searchCatchUp = undefined;
      }
    })();
    return this.searchCatchUp;
  }
}

/** The message with its body's JSON bytes; `parsed`: its `body` is already the real one, not to be parsed again. */
function withBodyBytes(message: StoredMessage, json: Buffer, parsed: boolean): StoredMessage {
  return withExternalBody(message, { bytes: json.length, json: () => json }, parsed ? { value: message.body } : undefined);
}

function asHubError(error: unknown): HubError {
  if (error instanceof HubError) return error;
  return new HubError('failed', (error as Error).message);
}
