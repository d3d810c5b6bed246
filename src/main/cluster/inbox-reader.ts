/**
 * Reads the Redis inbox streams of the agents this hub holds (those present here: a socket, or a recent request)
 * and stores what they hold in this hub's database, where the normal delivery path pushes it. When the hub takes an
 * agent on (it connects here, Redis comes back) its whole stream is read first, and what the agent acknowledged on
 * another hub meanwhile (its entries gone from the stream) is marked acknowledged here: it resumes after its last
 * acknowledgement, wherever that was given, with nothing skipped and nothing acknowledged delivered again.
 */
import { RESP_TYPES } from 'redis';
import type { AgentRecord, AgentRegistry, AgentReplica } from '../agents/registry';
import { FORWARDED, type EntryMeta, type ReplicaTables, type ReplicatedEntry } from '../messaging/replication';
import type { MessagingService } from '../messaging/service';
import type { ClusterKeys } from './keys';
import type { RedisLink } from './redis-link';

const READ_BLOCK_MS = 1_000;
/** Entries per stream per read: small enough that a burst of large bodies is not all held in memory at once. */
const READ_COUNT = 100;
const RANGE_PAGE = 500;
/** An agent's socket waits at most this long for its inbox to be read from Redis; then it is served what is here. */
const READY_WAIT_MS = 5_000;
const IDLE_MS = 500;

type RawEntry = { id: Buffer | string; message: Record<string, Buffer> };

export class InboxReader {
  /** Agents whose streams this hub follows, with the last entry read of each. */
  private readonly held = new Map<string, string>();
  private readonly syncing = new Map<string, Promise<void>>();
  private loop: Promise<void> | null = null;
  private stopped = false;
  private blocked = false;
  /** The reading connection's id in Redis, to unblock its XREAD when the set of streams changes. */
  private readerId: number | null = null;
  private dirty = true;
  private wakeIdle: (() => void) | null = null;
  private readonly offChange: () => void;
  private readonly buffers;
  private readonly rangeBuffers;

  constructor(
    private readonly link: RedisLink,
    private readonly keys: ClusterKeys,
    private readonly registry: AgentRegistry,
    private readonly messaging: MessagingService,
    private readonly tables: ReplicaTables,
    private readonly hubId: string,
    private readonly shared: (agent: AgentRecord) => boolean,
    private readonly onReceived: (fromHub: string, bytes: number) => void,
  ) {
    // Bodies arrive as bytes, never as strings to be encoded again.
    this.buffers = link.inboxReader.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
    this.rangeBuffers = link.commands.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
    this.offChange = registry.onChange((info) => {
      const agent = registry.find(info.id);
      if (agent && this.wanted(agent) !== (this.held.has(agent.id) || this.syncing.has(agent.id))) this.wake();
    });
  }

  start(): void {
    this.link.inboxReader.on('ready', () => (this.readerId = null));
    this.link.onChange((state) => {
      // Back from a lost connection: every stream is read again from its start (and acknowledgements reconciled).
      if (state.connected) this.held.clear();
      this.wake();
    });
    this.loop = this.run();
  }

  /** Resolves once the agent's stream has been read into this hub (at once when Redis is away). */
  ready(agent: AgentRecord): Promise<void> {
    if (this.stopped || !this.shared(agent) || !this.link.current.connected || this.held.has(agent.id)) return Promise.resolve();
    const synced = this.sync(agent.id).catch(() => undefined);
    return Promise.race([synced, new Promise<void>((resolve) => setTimeout(resolve, READY_WAIT_MS).unref())]);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.offChange();
    this.wake();
    await this.loop;
    await Promise.allSettled([...this.syncing.values()]);
  }

  private wanted(agent: AgentRecord): boolean {
    if (!this.shared(agent) || agent.revokedAt || agent.remote !== null) return false;
    return agent.connections > 0 || this.registry.presence(agent) !== 'offline';
  }

  private wake(): void {
    this.dirty = true;
    this.wakeIdle?.();
    if (this.blocked && this.readerId !== null) {
      void this.link.commands.sendCommand(['CLIENT', 'UNBLOCK', String(this.readerId)]).catch(() => undefined);
    }
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      if (!this.link.current.connected) {
        await this.idle(200);
        continue;
      }
      if (this.dirty) this.review();
      if (this.held.size === 0) {
        await this.idle(IDLE_MS);
        continue;
      }
      try {
        this.readerId ??= Number(await this.link.inboxReader.sendCommand(['CLIENT', 'ID']));
        const streams: Array<{ key: string; id: string }> = [];
        const agentOf = new Map<string, string>();
        for (const [agentId, last] of this.held) {
          const key = this.keys.inbox(agentId);
          streams.push({ key, id: last });
          agentOf.set(key, agentId);
        }
        this.blocked = true;
        let reply: Array<{ name: Buffer | string; messages: RawEntry[] }> | null;
        try {
          reply = (await this.buffers.xRead(streams, { BLOCK: READ_BLOCK_MS, COUNT: READ_COUNT })) as typeof reply;
        } finally {
          this.blocked = false;
        }
        // Every stream of the reply is stored in one transaction (in order within each stream).
        const read: Array<{ agentId: string; last: string }> = [];
        const entries: ReplicatedEntry[] = [];
        const written = new Set<string>();
        for (const stream of reply ?? []) {
          const agentId = agentOf.get(stream.name.toString());
          if (agentId === undefined || !this.held.has(agentId) || stream.messages.length === 0) continue;
          entries.push(...(await this.prepare(agentId, stream.messages, written)));
          read.push({ agentId, last: stream.messages.at(-1)!.id.toString() });
        }
        await this.store(entries);
        for (const { agentId, last } of read) {
          // Dropped or read again from the start meanwhile: that read has the say.
          if (this.held.has(agentId)) this.held.set(agentId, last);
        }
      } catch {
        if (!this.stopped) await this.idle(200);
      }
    }
  }

  /** Follows the agents present here now: new ones are read from the start of their streams first. */
  private review(): void {
    this.dirty = false;
    for (const agent of this.registry.all()) {
      if (this.wanted(agent)) {
        if (!this.held.has(agent.id)) void this.sync(agent.id).catch(() => undefined);
      } else this.held.delete(agent.id);
    }
  }

  private sync(agentId: string): Promise<void> {
    let running = this.syncing.get(agentId);
    if (!running) {
      running = this.readAll(agentId).finally(() => this.syncing.delete(agentId));
      this.syncing.set(agentId, running);
    }
    return running;
  }

  /** Reads an agent's whole stream, then marks acknowledged here what was acknowledged elsewhere. */
  private async readAll(agentId: string): Promise<void> {
    const key = this.keys.inbox(agentId);
    // Entries added after this moment may not be in the read below; only older ones can tell of an acknowledgement.
    // Likewise for what this hub forwarded: only messages Redis took before now (seq below this) can.
    const forwardedBefore = this.tables.forwardedBefore();
    const [seconds, micros] = await this.link.commands.time();
    const readFrom = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    const present = new Set<string>();
    const presentMessages = new Set<string>();
    let start = '-';
    let last = '0-0';
    for (;;) {
      const page = (await this.rangeBuffers.xRange(key, start, '+', { COUNT: RANGE_PAGE })) as RawEntry[];
      if (page.length === 0) break;
      const entries = await this.prepare(agentId, page);
      await this.store(entries);
      last = page.at(-1)!.id.toString();
      for (const entry of page) present.add(entry.id.toString());
      for (const entry of entries) presentMessages.add(entry.meta.id);
      if (page.length < RANGE_PAGE) break;
      start = `(${last}`;
    }
    const acknowledgedElsewhere = this.tables
      .tracked(agentId)
      .filter(({ seq, entryId, messageId }) =>
        entryId === FORWARDED
          ? seq < forwardedBefore && !presentMessages.has(messageId)
          : !present.has(entryId) && Number(entryId.split('-')[0]) < readFrom,
      )
      .map(({ seq }) => seq);
    if (acknowledgedElsewhere.length > 0) this.tables.markAcked(agentId, acknowledgedElsewhere, this.registry);
    const agent = this.registry.find(agentId);
    if (!this.stopped && agent && this.wanted(agent)) {
      this.held.set(agentId, last);
      this.wake();
    }
  }

  /**
   * Makes a page of an agent's entries ready to store: senders not known here yet are fetched, and bodies kept in
   * files are written (unless their message is here already, or in `written`: body files written for entries stored
   * in the same transaction). Whether a message is new is found when it is stored.
   */
  private async prepare(agentId: string, raw: RawEntry[], written = new Set<string>()): Promise<ReplicatedEntry[]> {
    const entries: ReplicatedEntry[] = [];
    for (const { id, message } of raw) {
      const body = message.b;
      if (!message.m || !body) continue;
      const meta = JSON.parse(message.m.toString('utf8')) as EntryMeta;
      if (meta.hub !== this.hubId) this.onReceived(meta.hub, body.length);
      if (!this.registry.find(meta.from)) await this.fetchIdentity(meta.from);
      let bodyFile: Buffer | null = null;
      if (meta.file !== undefined && (written.has(meta.id) || this.messaging.store.seqOf(meta.id) === undefined)) {
        if (!written.has(meta.id)) await this.messaging.store.bodies.write(meta.id, body);
        written.add(meta.id);
        bodyFile = body;
      }
      entries.push({ agentId, entryId: id.toString(), meta, body, bodyFile });
    }
    return entries;
  }

  /** Stores entries here (in order) and deletes from their streams those already acknowledged here. */
  private async store(entries: ReplicatedEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const { stale } = this.messaging.takeReplicated(this.tables, entries);
    const byAgent = new Map<string, string[]>();
    for (const { agentId, entryId } of stale) {
      const ids = byAgent.get(agentId);
      if (ids) ids.push(entryId);
      else byAgent.set(agentId, [entryId]);
    }
    for (const [agentId, entryIds] of byAgent) {
      await this.link.commands.xDel(this.keys.inbox(agentId), entryIds).catch(() => undefined);
    }
  }

  /** A sender this hub has not heard of yet (its registration is still on its way): read from the cluster's hash. */
  private async fetchIdentity(agentId: string): Promise<void> {
    const text = await this.link.commands.hGet(this.keys.agents, agentId);
    if (text) this.registry.applyReplica(JSON.parse(text) as AgentReplica);
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.wakeIdle === done) this.wakeIdle = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeIdle = done;
    });
  }
}
