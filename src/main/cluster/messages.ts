/**
 * Messages between agents on different hubs. Each agent has an inbox stream in Redis holding what it has not
 * acknowledged yet, whichever hub it was sent to. A hub commits a send to its own SQLite with an outbox row in the
 * same transaction, then adds the message to every recipient's stream (one MULTI per batch of commits) and only
 * then acknowledges the sender. With Redis away the sender is acknowledged after the commit and the outbox row
 * waits; the outbox is forwarded in order once Redis is back. The streams are read by whichever hub holds the agent
 * (inbox-reader.ts); an acknowledgement on any hub deletes the entries.
 */
import type { SendResponse } from '../../shared/agent-protocol';
import type { HubTraffic } from '../../shared/cluster-protocol';
import type { AgentRecord, AgentRegistry } from '../agents/registry';
import { metaOf, type AckedEntries, type ForwardItem, type MessageReplication, type ReplicaTables } from '../messaging/replication';
import type { MessagingService } from '../messaging/service';
import type { StoredMessage } from '../messaging/store';
import { InboxReader } from './inbox-reader';
import type { ClusterKeys } from './keys';
import type { RedisLink } from './redis-link';

/** How long an idempotency key is remembered cluster-wide (docs/cluster.md). */
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;
/** Outbox rows forwarded per MULTI while catching up after Redis was away. */
const DRAIN_PAGE = 200;
/** How long a duplicate send waits for the first one (on another hub) to be committed, to answer with its details. */
const DUPLICATE_WAIT_MS = 2_000;
const RETRY_MS = 1_000;
/** How long what Redis took may wait to be recorded with the next group commit before it is written on its own. */
const RECORD_DELAY_MS = 5;
/** Entry ids per XDEL in FORWARD_SCRIPT (Lua's unpack has a bounded stack). */
const XDEL_CHUNK = 1_000;

/**
 * Forwards a batch in one command (see ClusterMessages.sendScripted).
 * KEYS: per message its recipients' inbox streams, then its idempotency key if it has one; then one inbox stream
 * per group of acknowledged entries.
 * ARGV: the number of messages, the idempotency window (ms); per message the number of recipients, the entry's
 * meta, its body and the send's answer ('' without an idempotency key); per group of acknowledged entries their
 * number, then their ids.
 */
const FORWARD_SCRIPT = `
local k, a = 1, 3
for _ = 1, tonumber(ARGV[1]) do
  local meta, body, answer = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  for _ = 1, tonumber(ARGV[a]) do
    redis.call('XADD', KEYS[k], '*', 'm', meta, 'b', body)
    k = k + 1
  end
  if answer ~= '' then
    if not redis.call('SET', KEYS[k], answer, 'NX', 'PX', ARGV[2]) then
      redis.call('SET', KEYS[k], answer, 'XX', 'KEEPTTL')
    end
    k = k + 1
  end
  a = a + 4
end
while k <= #KEYS do
  local n = tonumber(ARGV[a])
  redis.call('XDEL', KEYS[k], unpack(ARGV, a + 1, a + n))
  a = a + n + 1
  k = k + 1
end
return 0
`;

interface Batch {
  items: ForwardItem[];
  acks: AckedEntries[];
  done: () => void;
}

export class ClusterMessages implements MessageReplication {
  private tables: ReplicaTables | null = null;
  private reader: InboxReader | null = null;
  /** False while outbox rows wait for Redis: new sends then wait behind them, in the outbox too. */
  private live = true;
  private waiting: Batch[] = [];
  private sending: Promise<void> | null = null;
  private draining: Promise<void> | null = null;
  /** Acknowledgements whose Redis entries could not be deleted yet (Redis away). */
  private acksToRetry: AckedEntries[] = [];
  private queuedSends = 0;
  /**
   * The last seq of the batches Redis took whose outbox rows are not deleted yet (0: none). Lost in a crash, they
   * are forwarded again on restart, and the reading hub deletes the repeats (ReplicaTables.apply).
   */
  private unrecorded = 0;
  private recordTimer: NodeJS.Timeout | undefined;
  private readonly sent = new Map<string, { messages: number; bytes: number }>();
  private readonly received = new Map<string, { messages: number; bytes: number }>();
  private reportTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly link: RedisLink,
    private readonly keys: ClusterKeys,
    private readonly registry: AgentRegistry,
    readonly hubId: string,
    /** Whether an agent is known to the cluster (not this hub's cockpit identity, not a local name conflict). */
    private readonly shared: (agent: AgentRecord) => boolean,
    /** Told when the number of sends waiting for Redis changes (the `cluster` service line says it). */
    private readonly onQueuedChange: () => void,
  ) {}

  /** Takes over messaging's cluster hooks and starts forwarding and reading. */
  attach(messaging: MessagingService): void {
    const tables = messaging.attachReplication(this);
    this.tables = tables;
    this.queuedSends = tables.outboxCount();
    // Sends left in the outbox by an earlier run (Redis away, or a crash) go first.
    if (this.queuedSends > 0) this.live = false;
    this.reader = new InboxReader(this.link, this.keys, this.registry, messaging, tables, this.hubId, this.shared, (from, bytes) =>
      count(this.received, from, bytes),
    );
    this.link.onChange((state) => {
      if (!state.connected) return;
      this.catchUp();
    });
    if (this.link.current.connected) this.catchUp();
    this.reader.start();
  }

  /** Messages and bytes this hub handed to each other hub through Redis, and took from each, since it started. */
  traffic(): HubTraffic[] {
    const list: HubTraffic[] = [];
    for (const [to, { messages, bytes }] of this.sent) list.push({ from: this.hubId, to, messages, bytes });
    for (const [from, { messages, bytes }] of this.received) list.push({ from, to: this.hubId, messages, bytes });
    return list;
  }

  /** Sends committed here that wait for Redis. */
  queued(): number {
    return this.queuedSends;
  }

  // -- MessageReplication (called by the messaging service) ---------------------------------------------------------

  isShared(agent: AgentRecord): boolean {
    // The other hubs cannot store a message from (or to) this hub's own cockpit identity: it stays here.
    return this.shared(agent);
  }

  stage(message: StoredMessage, targets: string[], body: string | Buffer, idempotencyKey: string | null, response: SendResponse): ForwardItem {
    this.tables!.addOutbox(message.seq, targets);
    const meta = metaOf(message, this.hubId);
    if (typeof body !== 'string') meta.file = body.length;
    return { seq: message.seq, meta, body, recipients: targets, idempotencyKey, response };
  }

  forward(items: ForwardItem[], acks: AckedEntries[]): Promise<void> | null {
    if (this.stopped) return null;
    if (!this.live || !this.link.current.connected) {
      // Redis away (or sends still waiting): these wait in the outbox, durably; the senders are answered now.
      this.live = false;
      this.acksToRetry.push(...acks);
      if (items.length > 0) this.changeQueued(this.queuedSends + items.length);
      return null;
    }
    return new Promise((resolve) => {
      this.waiting.push({ items, acks, done: resolve });
      this.sending ??= this.sendWaiting().finally(() => (this.sending = null));
    });
  }

  recordForwarded(): (() => void) | null {
    const last = this.unrecorded;
    if (last === 0 || !this.tables) return null;
    this.tables.forwarded(last);
    return () => {
      if (this.unrecorded !== last) return;
      this.unrecorded = 0;
      clearTimeout(this.recordTimer);
      this.recordTimer = undefined;
    };
  }

  async claimIdempotency(sender: AgentRecord, key: string, id: string): Promise<SendResponse | null> {
    if (!this.link.current.connected) return null;
    const redisKey = this.keys.idempotency(sender.id, key);
    try {
      const claimed = await this.link.commands.set(redisKey, JSON.stringify({ id }), { NX: true, PX: IDEMPOTENCY_WINDOW_MS });
      if (claimed !== null) return null;
      const deadline = Date.now() + DUPLICATE_WAIT_MS;
      for (;;) {
        const text = await this.link.commands.get(redisKey);
        if (text === null) return null;
        const earlier = JSON.parse(text) as Partial<SendResponse> & { id: string };
        if (earlier.threadId !== undefined || Date.now() > deadline) {
          return { id: earlier.id, threadId: earlier.threadId ?? earlier.id, createdAt: earlier.createdAt ?? new Date().toISOString(), recipients: earlier.recipients ?? 0, duplicate: true };
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } catch {
      // Redis went away meanwhile: the key holds on this hub only, until Redis is back.
      return null;
    }
  }

  ready(agent: AgentRecord): Promise<void> {
    return this.reader?.ready(agent) ?? Promise.resolve();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reportTimer);
    clearTimeout(this.retryTimer);
    await this.sending;
    await this.draining;
    this.recordNow();
    await this.reader?.stop();
  }

  // -- forwarding ------------------------------------------------------------------------------------------------------

  /** Everything that waits goes in one MULTI; batches that arrive meanwhile go in the next. */
  private async sendWaiting(): Promise<void> {
    while (this.waiting.length > 0) {
      const batches = this.waiting;
      this.waiting = [];
      const items = batches.flatMap((batch) => batch.items);
      const acks = [...this.acksToRetry.splice(0), ...batches.flatMap((batch) => batch.acks)];
      if (!this.live) {
        // An earlier batch failed, or Redis went away: these wait in the outbox behind what is there, to go in seq
        // order when it is drained.
        this.acksToRetry.push(...acks);
        this.recordNow();
        this.changeQueued(this.tables!.outboxCount());
        batches.forEach((batch) => batch.done());
        continue;
      }
      try {
        await this.send(items, acks);
      } catch {
        // Redis went away: the messages are in the outbox and go once it is back; the senders are answered now.
        this.live = false;
        this.acksToRetry.push(...acks);
        this.recordNow();
        this.changeQueued(this.tables!.outboxCount());
        this.retrySoon();
      }
      batches.forEach((batch) => batch.done());
    }
  }

  /** One round trip: every entry, idempotency record and acknowledgement; then the outbox rows go. */
  private async send(items: ForwardItem[], acks: AckedEntries[]): Promise<void> {
    if (items.length === 0 && acks.length === 0) return;
    if (items.every((item) => typeof item.body === 'string')) await this.sendScripted(items, acks);
    else await this.sendMulti(items, acks);
    this.noteSent(items);
  }

  /**
   * Inline bodies go in one command: a Lua script adding every entry, idempotency record and deletion. As atomic as
   * a MULTI (a reading hub's blocked XREAD is served once, after it), without the client's work per command.
   */
  private async sendScripted(items: ForwardItem[], acks: AckedEntries[]): Promise<void> {
    const keys: string[] = [];
    const args: string[] = [String(items.length), String(IDEMPOTENCY_WINDOW_MS)];
    for (const item of items) {
      for (const agentId of item.recipients) keys.push(this.keys.inbox(agentId));
      args.push(String(item.recipients.length), JSON.stringify(item.meta), item.body as string);
      if (item.idempotencyKey) {
        keys.push(this.keys.idempotency(item.meta.from, item.idempotencyKey));
        args.push(JSON.stringify(item.response));
      } else args.push('');
    }
    for (const { agentId, entryIds } of acks) {
      for (let start = 0; start < entryIds.length; start += XDEL_CHUNK) {
        const ids = entryIds.slice(start, start + XDEL_CHUNK);
        keys.push(this.keys.inbox(agentId));
        args.push(String(ids.length), ...ids);
      }
    }
    await this.link.commands.eval(FORWARD_SCRIPT, { keys, arguments: args });
  }

  /** Bodies kept in files (large) go as commands of a MULTI: Lua would hold each one more time in Redis. */
  private async sendMulti(items: ForwardItem[], acks: AckedEntries[]): Promise<void> {
    const multi = this.link.commands.multi();
    for (const item of items) {
      const meta = JSON.stringify(item.meta);
      for (const agentId of item.recipients) multi.xAdd(this.keys.inbox(agentId), '*', { m: meta, b: item.body });
      if (item.idempotencyKey) {
        // The key was claimed with the id alone; now a retry on any hub gets the whole answer.
        const key = this.keys.idempotency(item.meta.from, item.idempotencyKey);
        multi.set(key, JSON.stringify(item.response), { NX: true, PX: IDEMPOTENCY_WINDOW_MS });
        multi.set(key, JSON.stringify(item.response), { XX: true, KEEPTTL: true });
      }
    }
    for (const { agentId, entryIds } of acks) multi.xDel(this.keys.inbox(agentId), entryIds);
    // MULTI, not a plain pipeline: Redis then serves a reading hub's blocked XREAD once with the whole batch; a
    // pipeline wakes it per XADD, and its hub and Redis spend more per message (docs/benchmarks.md, Cluster).
    await multi.exec();
  }

  /** After Redis took a batch: its traffic is counted and its outbox rows are to be deleted. */
  private noteSent(items: ForwardItem[]): void {
    let last = 0;
    for (const item of items) {
      last = Math.max(last, item.seq);
      const bytes = typeof item.body === 'string' ? Buffer.byteLength(item.body) : item.body.length;
      for (const agentId of item.recipients) {
        const hub = this.registry.find(agentId)?.remote?.hubId;
        if (hub && hub !== this.hubId) count(this.sent, hub, bytes);
      }
    }
    if (last > 0) {
      // Recorded with the next group commit (sends keep coming), or on its own a moment later.
      this.unrecorded = Math.max(this.unrecorded, last);
      this.recordTimer ??= setTimeout(() => this.recordNow(), RECORD_DELAY_MS);
    }
  }

  /** Writes what Redis took and is not recorded yet, in a transaction of its own. */
  private recordNow(): void {
    clearTimeout(this.recordTimer);
    this.recordTimer = undefined;
    if (this.unrecorded === 0) return;
    try {
      this.tables!.forwarded(this.unrecorded);
      this.unrecorded = 0;
    } catch (error) {
      // The database is closing (or failing): the outbox rows stay, so these are forwarded again after a restart,
      // and the reading hubs delete the repeats.
      console.error(`[cluster] could not record forwarded messages: ${(error as Error).message}`);
    }
  }

  /** Redis is back: what waits in the outbox goes, oldest first, then sends go straight again. */
  private catchUp(): void {
    if (this.acksToRetry.length > 0 && this.live) {
      this.forward([], [])?.catch(() => undefined);
    }
    if (this.live || this.draining || this.stopped) return;
    this.draining = this.drain().finally(() => (this.draining = null));
  }

  private async drain(): Promise<void> {
    // A batch still in flight from before Redis went away finishes (or fails) first; what Redis took is recorded,
    // so the outbox read below holds only what it has not.
    await this.sending;
    this.recordNow();
    let after = 0;
    while (!this.stopped && this.link.current.connected) {
      const page = this.tables!.outboxPage(after, DRAIN_PAGE, this.hubId);
      if (page.length === 0) {
        // Nothing waits (and nothing can be added before this line runs): sends go straight again.
        this.live = true;
        this.changeQueued(0);
        if (this.acksToRetry.length > 0) void this.forward([], []);
        return;
      }
      const acks = this.acksToRetry.splice(0);
      try {
        await this.send(page, acks);
      } catch {
        this.acksToRetry.push(...acks);
        this.retrySoon();
        return;
      }
      after = page.at(-1)!.seq;
      this.changeQueued(Math.max(0, this.queuedSends - page.length));
    }
  }

  /** A failure without a lost connection (Redis refused a command): tried again a moment later. */
  private retrySoon(): void {
    if (this.retryTimer || this.stopped) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.link.current.connected) this.catchUp();
    }, RETRY_MS);
    this.retryTimer.unref();
  }

  private changeQueued(next: number): void {
    if (next === this.queuedSends) return;
    this.queuedSends = next;
    this.reportTimer ??= setTimeout(() => {
      this.reportTimer = undefined;
      this.onQueuedChange();
    }, 100);
  }
}

function count(map: Map<string, { messages: number; bytes: number }>, hub: string, bytes: number): void {
  const entry = map.get(hub);
  if (entry) {
    entry.messages++;
    entry.bytes += bytes;
  } else map.set(hub, { messages: 1, bytes });
}
