/**
 * Memories replicated across the hubs of a cluster: every change of a memory (stored with its vector, updated,
 * deleted) goes on one Redis stream that every hub reads and applies to its own memory store (SQLite, vector index),
 * so a memory stored on one hub is found by search on every hub within a second or two, with the same uid and
 * without being embedded again. The memory store's side (what changed here, applying what changed elsewhere) is
 * memory/store-replica.ts.
 *
 * Changes made while Redis is away wait in memory.sqlite (memory_outbox) and go out when it is back. A hub reads the
 * stream from where it stopped (kept in memory.sqlite); a new hub, or one that fell further behind than the stream
 * keeps, reads every memory from the latest-state hashes instead (a full resync), and shares its own memories the
 * cluster does not have.
 */
import { RESP_TYPES } from 'redis';
import type { ClusterMemoryState } from '../../shared/cluster-protocol';
import type { MemoryEngine } from '../memory/engine';
import type { MemoryStore } from '../memory/store';
import type { OutgoingChange, ReplicatedChange, StoreReplica } from '../memory/store-replica';
import type { ClusterKeys } from './keys';
import type { RedisLink } from './redis-link';

/** The stream keeps about this many changes (each up to a few KB with its vector); a hub further behind resyncs fully. */
const CHANGES_KEPT = 20_000;
const READ_BLOCK_MS = 1_000;
const READ_COUNT = 200;
/** Changes sent per Redis round trip (one MULTI). */
const SEND_BATCH = 100;
/** Memories read per page of a full resync. */
const RESYNC_PAGE = 200;
/** How often the outbox is looked at when nothing said it changed (an edit or a reinforcement). */
const SEND_POLL_MS = 250;
const RETRY_MS = 200;

/** A change as it is written to the stream and to the latest-state hash (the vector travels beside it, in binary). */
type ChangeText = Omit<ReplicatedChange, 'vector'>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Stream ids compared in order ("<ms>-<seq>"). */
export function compareStreamIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint];
  return am === bm ? Number(as - bs) : am < bm ? -1 : 1;
}

function vectorBuffer(vector: Float32Array): Buffer {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
}

function bufferVector(buffer: Buffer): Float32Array {
  // Copied: a Buffer from the socket may not be 4-byte aligned.
  const copy = new Float32Array(buffer.byteLength / 4);
  new Uint8Array(copy.buffer).set(buffer);
  return copy;
}

export class MemoryReplication {
  /** Its own connection: a blocked XREAD holds it, and replies come as Buffers (vectors are binary). */
  private readonly reader;
  private replica: StoreReplica | null = null;
  private stopped = false;
  private needSync = true;
  private loops: Promise<unknown> | null = null;
  private wake: (() => void) | null = null;
  private readonly counters = { sent: 0, applied: 0, embeddedHere: 0, fullResyncs: 0 };
  private lastError: string | null = null;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly link: RedisLink,
    private readonly keys: ClusterKeys,
    private readonly hubId: string,
  ) {
    const client = link.commands.duplicate();
    // Its failures are the link's to report (the same Redis): without a listener an 'error' event would throw.
    client.on('error', () => undefined);
    this.reader = client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
  }

  /**
   * Follows the memory store once it is open. Called before the hub serves requests, so the store records its
   * changes from its first one on.
   */
  attach(engine: MemoryEngine): void {
    this.loops = engine.store().then(
      (store) => (this.stopped ? undefined : this.run(store)),
      () => undefined,
    );
  }

  state(): ClusterMemoryState | undefined {
    if (!this.replica) return undefined;
    return { waiting: this.replica.waiting(), ...this.counters, lastError: this.lastError };
  }

  /** Stops reading and sending (before the memory store closes); what was not sent stays in the outbox. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.wake?.();
    if (this.reader.isOpen) this.reader.destroy();
    await this.loops;
  }

  private run(store: MemoryStore): Promise<unknown> {
    const replica = store.replica();
    replica.enable(this.hubId);
    this.replica = replica;
    store.watch({ stored: () => this.wake?.(), deleting: () => setImmediate(() => this.wake?.()) });
    this.unsubscribe = this.link.onChange((state) => {
      if (state.connected) this.needSync = true;
    });
    this.reader.connect().catch(() => undefined);
    return Promise.all([this.readLoop(replica), this.sendLoop(replica)]);
  }

  // -- sending this hub's changes -----------------------------------------------------------------------------------

  private async sendLoop(replica: StoreReplica): Promise<void> {
    while (!this.stopped) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, SEND_POLL_MS);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
      while (!this.stopped && this.link.current.connected) {
        const changes = replica.pending(SEND_BATCH);
        if (changes.length === 0) break;
        try {
          await this.send(changes);
        } catch (error) {
          // Redis went away mid-send: the changes stay in the outbox and go again (receivers ignore a repeat).
          this.lastError = `sending memory changes: ${(error as Error).message}`;
          await sleep(RETRY_MS);
          break;
        }
        replica.sent(changes);
        this.counters.sent += changes.length;
      }
    }
  }

  /** One MULTI: each change on the stream, and the latest state of its memory in the hashes a full resync reads. */
  private async send(changes: OutgoingChange[]): Promise<void> {
    const { keys } = this;
    const multi = this.link.commands.multi();
    for (const { vector, seq: _seq, ...rest } of changes) {
      // A memory deleted before its store went out: its delete follows and there is nothing else to say.
      if (rest.op !== 'deleted' && !rest.memory) continue;
      const text = JSON.stringify(rest satisfies ChangeText);
      multi.xAdd(keys.memoryChanges, '*', vector ? { change: text, vector: vectorBuffer(vector) } : { change: text }, {
        TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: CHANGES_KEPT },
      });
      if (rest.op === 'deleted') {
        multi.hDel(keys.memories, rest.uid).hDel(keys.memoryVectors, rest.uid).hSet(keys.memoryDeletes, rest.uid, text);
      } else {
        multi.hSet(keys.memories, rest.uid, text);
        if (vector) multi.hSet(keys.memoryVectors, rest.uid, Buffer.concat([Buffer.from(`${rest.model}\0`), vectorBuffer(vector)]));
      }
    }
    await multi.exec();
  }

  // -- taking the others' changes ------------------------------------------------------------------------------------

  private async readLoop(replica: StoreReplica): Promise<void> {
    while (!this.stopped) {
      if (!this.link.current.connected || !this.reader.isReady) {
        await sleep(RETRY_MS);
        continue;
      }
      try {
        if (this.needSync) {
          this.needSync = false;
          await this.sync(replica);
        }
        const position = replica.position() ?? '0-0';
        const reply = await this.reader.xRead({ key: this.keys.memoryChanges, id: position }, { BLOCK: READ_BLOCK_MS, COUNT: READ_COUNT });
        const streams = (reply ?? []) as Array<{ messages: Array<{ id: Buffer; message: Record<string, Buffer> }> }>;
        const entries = streams.flatMap((stream) => stream.messages);
        if (entries.length === 0 || this.stopped) continue;
        const changes = entries
          .map(({ message }) => ({ ...(JSON.parse(message.change!.toString()) as ChangeText), vector: message.vector && bufferVector(message.vector) }))
          // This hub's own changes are already here.
          .filter((change) => change.hub !== this.hubId);
        const report = await replica.apply(changes, entries.at(-1)!.id.toString());
        this.counters.applied += report.applied;
        this.counters.embeddedHere += report.embedded;
        this.lastError = null;
      } catch (error) {
        if (this.stopped) return;
        this.lastError = `reading memory changes: ${(error as Error).message}`;
        this.needSync = true;
        await sleep(RETRY_MS);
      }
    }
  }

  /**
   * On joining and after Redis was away: reads on from the stream position if the stream still holds everything
   * after it; otherwise (a new hub, a hub further behind than the stream keeps, a Redis that lost its data) a full
   * resync.
   */
  private async sync(replica: StoreReplica): Promise<void> {
    const info = await this.link.commands.xInfoStream(this.keys.memoryChanges).catch((error: Error) => {
      if (/no such key/i.test(error.message)) return null;
      throw error;
    });
    const position = replica.position();
    const last = info?.['last-generated-id'] ?? '0-0';
    const first = (info?.['first-entry'] as { id: string } | null | undefined)?.id;
    const added = info?.['entries-added'] as number | undefined;
    const trimmed = info !== null && (added === undefined || added > info.length);
    const behind =
      position === null ||
      compareStreamIds(position, last) > 0 ||
      (info === null && position !== '0-0') ||
      (first !== undefined && trimmed && compareStreamIds(position, first) < 0);
    if (behind) await this.fullResync(replica, last);
  }

  /**
   * Applies the latest state of every memory the cluster has and every delete it remembers, a page at a time, then
   * queues this hub's memories the cluster does not know; reading the stream goes on from `mark` (what changed
   * during the resync is read again there, and ignored if already applied).
   */
  private async fullResync(replica: StoreReplica, mark: string): Promise<void> {
    const known = new Set<string>();
    const { keys } = this;
    let cursor = '0';
    do {
      const page = await this.reader.hScan(keys.memories, cursor, { COUNT: RESYNC_PAGE });
      cursor = page.cursor.toString();
      const uids = page.entries.map((entry) => entry.field.toString());
      if (uids.length === 0) continue;
      const vectors = (await this.reader.hmGet(keys.memoryVectors, uids)) as Array<Buffer | null>;
      const changes = page.entries.map((entry, i): ReplicatedChange => {
        const change = JSON.parse(entry.value.toString()) as ChangeText;
        const packed = vectors[i];
        const split = packed ? packed.indexOf(0) : -1;
        return {
          ...change,
          // The latest state of a memory: inserted if this hub lacks it, else its fields are brought up to date.
          op: 'stored',
          ...(packed && split > 0 ? { model: packed.subarray(0, split).toString(), vector: bufferVector(packed.subarray(split + 1)) } : { model: undefined }),
        };
      });
      uids.forEach((uid) => known.add(uid));
      const report = await replica.apply(changes, null);
      this.counters.applied += report.applied;
      this.counters.embeddedHere += report.embedded;
    } while (cursor !== '0' && !this.stopped);
    cursor = '0';
    do {
      const page = await this.reader.hScan(keys.memoryDeletes, cursor, { COUNT: RESYNC_PAGE });
      cursor = page.cursor.toString();
      const changes = page.entries.map((entry) => JSON.parse(entry.value.toString()) as ReplicatedChange);
      changes.forEach((change) => known.add(change.uid));
      const report = await replica.apply(changes, null);
      this.counters.applied += report.applied;
    } while (cursor !== '0' && !this.stopped);
    if (this.stopped) return;
    await replica.shareLocalOnly(known);
    replica.setPosition(mark);
    this.counters.fullResyncs++;
    this.wake?.();
  }
}
