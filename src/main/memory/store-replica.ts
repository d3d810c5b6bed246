/**
 * The memory store's side of replication across the hubs of a cluster (cluster/memory-replication.ts carries the
 * changes through Redis).
 *
 * Changes made here are recorded in memory_outbox, in the same transaction as the change, by triggers that exist
 * only on this hub's connection and only while it is in a cluster (TEMP triggers: a hub on its own records nothing).
 * A store, an edit (tags, importance, sharing, metadata), a reinforcement and a delete each add a row; the row names
 * the memory, and its state is read when the change is sent, so what goes out is the memory as it is then.
 *
 * Changes made elsewhere are applied as they were decided there: a stored memory keeps its uid and its vector (no
 * embedding when the vector is of this hub's active model), and is not compared with this hub's memories again (no
 * reinforcing, no superseding: the hub that stored it decided that, and says what it supersedes). memory_versions
 * holds the newest change of each memory: an older or repeated change is ignored, so applying twice is harmless and
 * every hub ends with the newest change (by time, then hub id: last writer wins).
 */
import type { Memory } from '../../shared/memory-protocol';
import { blobVector, loadMemories, textHash, vectorBlob } from './memory-rows';
import { embedTexts, type StoreState } from './store-types';

export type ReplicatedOp = 'stored' | 'updated' | 'deleted';

/** One change of one memory, as it travels between hubs. */
export interface ReplicatedChange {
  op: ReplicatedOp;
  /** `<ISO time to the ms>|<hub id>|<sequence>`: orders the changes of one memory across hubs (the greatest wins). */
  version: string;
  /** The hub the change was made on. */
  hub: string;
  uid: string;
  /** The memory after the change (stored, updated). */
  memory?: Memory;
  /** The vector of a stored memory and the model that made it. */
  vector?: Float32Array;
  model?: string;
}

export interface OutgoingChange extends ReplicatedChange {
  seq: number;
}

export interface ApplyReport {
  applied: number;
  /** Texts this hub embedded itself: their vector was missing or of another model than its own. */
  embedded: number;
}

/** The hooks of the store around it: what a commit of new memories tells, and its own delete. */
export interface ReplicaHooks {
  added(): void;
  deleteLocal(uid: string): void;
}

const POSITION_KEY = 'cluster_memory_position';
/** Local memories looked at per slice when sharing those the cluster does not have. */
const SHARE_SLICE = 2_000;

export class StoreReplica {
  private readonly s;
  private hubId: string | null = null;

  constructor(
    private readonly state: StoreState,
    private readonly hooks: ReplicaHooks,
  ) {
    const { db } = state;
    // While a row is in it, this connection is applying changes from elsewhere: they are not recorded to be sent.
    db.exec('CREATE TEMP TABLE IF NOT EXISTS memory_replica_applying (one INTEGER)');
    this.s = {
      outbox: db.prepare('SELECT seq, op, uid, at FROM memory_outbox ORDER BY seq LIMIT ?'),
      waiting: db.prepare('SELECT COUNT(*) FROM memory_outbox').pluck(),
      sent: db.prepare('DELETE FROM memory_outbox WHERE seq <= ?'),
      pendingVersion: db.prepare("SELECT MAX(at || '|' || @hub || '|' || printf('%012d', seq)) FROM memory_outbox WHERE uid = @uid").pluck(),
      pendingUid: db.prepare('SELECT 1 FROM memory_outbox WHERE uid = ? LIMIT 1').pluck(),
      enqueue: db.prepare("INSERT INTO memory_outbox (op, uid, at) VALUES ('stored', ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"),
      version: db.prepare('SELECT version FROM memory_versions WHERE uid = ?').pluck(),
      setVersion: db.prepare(
        'INSERT INTO memory_versions (uid, version, deleted) VALUES (?, ?, ?) ON CONFLICT (uid) DO UPDATE SET version = excluded.version, deleted = excluded.deleted',
      ),
      idOfUid: db.prepare('SELECT id FROM memories WHERE uid = ?').pluck(),
      uidsAfter: db.prepare('SELECT id, uid FROM memories WHERE id > ? ORDER BY id LIMIT ?'),
      vector: db.prepare('SELECT vector FROM embeddings WHERE model = ? AND memory_id = ?').pluck(),
      storeVector: db.prepare('INSERT OR REPLACE INTO embeddings (memory_id, model, vector) VALUES (?, ?, ?)'),
      insert: db.prepare(
        `INSERT INTO memories (uid, project, agent, kind, text, text_hash, tags, metadata, importance, created_at, updated_at,
           reinforcements, source_type, source_ref, parent_id, shared, supersedes)
         VALUES (@uid, @project, @agent, @kind, @text, @hash, @tags, @metadata, @importance, @createdAt, @updatedAt,
           @reinforcements, @sourceType, @sourceRef, @parentId, @shared, @supersedes)`,
      ),
      supersede: db.prepare('UPDATE memories SET superseded_by = ? WHERE id = ?'),
      update: db.prepare(
        `UPDATE memories SET tags = @tags, metadata = @metadata, importance = @importance, shared = @shared,
           reinforcements = @reinforcements, updated_at = @updatedAt WHERE id = @id`,
      ),
      applying: db.prepare('INSERT INTO temp.memory_replica_applying VALUES (1)'),
      applied: db.prepare('DELETE FROM temp.memory_replica_applying'),
      position: db.prepare('SELECT value FROM memory_meta WHERE key = ?').pluck(),
      setPosition: db.prepare('INSERT INTO memory_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    };
  }

  /**
   * Starts recording this hub's changes (TEMP triggers on this connection, gone when it closes). Changes applied
   * from elsewhere are not recorded: they run with a row in temp.memory_replica_applying.
   */
  enable(hubId: string): void {
    if (this.hubId !== null) return;
    this.hubId = hubId;
    const at = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";
    const mine = 'NOT EXISTS (SELECT 1 FROM temp.memory_replica_applying)';
    this.state.db.exec(`
      CREATE TEMP TRIGGER IF NOT EXISTS memory_outbox_stored AFTER INSERT ON main.memories WHEN ${mine} BEGIN
        INSERT INTO main.memory_outbox (op, uid, at) VALUES ('stored', new.uid, ${at});
      END;
      -- What a person or a reinforcement changes; access counts and supersession (derived) are not sent.
      CREATE TEMP TRIGGER IF NOT EXISTS memory_outbox_updated AFTER UPDATE OF tags, metadata, importance, shared, reinforcements
        ON main.memories WHEN ${mine} BEGIN
        INSERT INTO main.memory_outbox (op, uid, at) VALUES ('updated', new.uid, ${at});
      END;
      CREATE TEMP TRIGGER IF NOT EXISTS memory_outbox_deleted AFTER DELETE ON main.memories WHEN ${mine} BEGIN
        INSERT INTO main.memory_outbox (op, uid, at) VALUES ('deleted', old.uid, ${at});
      END;
    `);
  }

  /** Changes waiting to be sent. */
  waiting(): number {
    return this.s.waiting.get() as number;
  }

  /** The next changes to send, oldest first, each with the memory as it is now (and a stored one's vector). */
  pending(limit: number): OutgoingChange[] {
    const hub = this.hubId!;
    const rows = this.s.outbox.all(limit) as Array<{ seq: number; op: ReplicatedOp; uid: string; at: string }>;
    return rows.map(({ seq, op, uid, at }) => {
      const change: OutgoingChange = { seq, op, uid, hub, version: versionOf(at, hub, seq) };
      if (op === 'deleted') return change;
      const id = this.s.idOfUid.get(uid) as number | undefined;
      // Deleted since: its delete follows in the outbox; this one goes out empty and changes nothing elsewhere.
      if (id === undefined) return change;
      change.memory = loadMemories(this.state.db, [id]).get(id)!;
      if (op === 'stored') {
        const blob = this.s.vector.get(this.state.encoder.id, id) as Buffer | undefined;
        if (blob) {
          change.vector = blobVector(blob);
          change.model = this.state.encoder.id;
        }
      }
      return change;
    });
  }

  /** The changes reached the cluster: they leave the outbox and are this hub's newest version of their memories. */
  sent(changes: OutgoingChange[]): void {
    if (changes.length === 0) return;
    this.state.db.transaction(() => {
      this.s.sent.run(Math.max(...changes.map((change) => change.seq)));
      for (const change of changes) this.recordVersion(change);
    })();
  }

  /** Where this hub is in the cluster's stream of memory changes; null before its first full read. */
  position(): string | null {
    return (this.s.position.get(POSITION_KEY) as string | undefined) ?? null;
  }

  setPosition(position: string): void {
    this.s.setPosition.run(POSITION_KEY, position);
  }

  /**
   * Applies changes made on other hubs, in order, in one transaction with the new stream position (so a restart
   * resumes after the last change applied). Stored memories whose vector is not of this hub's model are embedded
   * here first.
   */
  async apply(changes: ReplicatedChange[], position: string | null): Promise<ApplyReport> {
    let embedded = 0;
    // Vectors of the active model: embedded here only where needed, again if the model changed meanwhile.
    let own = new Map<ReplicatedChange, Float32Array>();
    for (;;) {
      const model = this.state.encoder.id;
      const missing = changes.filter((change) => change.op === 'stored' && change.memory && change.model !== model && !own.has(change) && this.isNewer(change));
      if (missing.length === 0) break;
      const vectors = await embedTexts(this.state, missing.map((change) => change.memory!.text));
      embedded += missing.length;
      if (this.state.encoder.id !== model) {
        own = new Map();
        continue;
      }
      missing.forEach((change, i) => own.set(change, vectors[i]!));
    }
    const added: Array<{ id: number; vector: Float32Array; next?: Float32Array; memory: Memory }> = [];
    const supersededIds: number[] = [];
    const updated: Array<{ id: number; memory: Memory }> = [];
    let applied = 0;
    const { db } = this.state;
    db.transaction(() => {
      this.s.applying.run();
      try {
        for (const change of changes) {
          if (!this.isNewer(change)) continue;
          const id = this.s.idOfUid.get(change.uid) as number | undefined;
          if (change.op === 'deleted') {
            if (id !== undefined) this.hooks.deleteLocal(change.uid);
          } else if (!change.memory) {
            continue;
          } else if (id !== undefined) {
            this.s.update.run(updateRow(id, change.memory));
            updated.push({ id, memory: change.memory });
          } else if (change.op === 'stored') {
            const vector = change.model === this.state.encoder.id ? change.vector : own.get(change);
            if (!vector) continue;
            const inserted = this.insert(change, vector, supersededIds);
            added.push({ ...inserted, memory: change.memory, next: this.state.next && change.model === this.state.next.encoder.id ? change.vector : undefined });
          } else {
            // An edit of a memory this hub never had (its store was missed): a full resync brings it.
            continue;
          }
          this.recordVersion(change);
          applied++;
        }
        if (position !== null) this.setPosition(position);
      } finally {
        this.s.applied.run();
      }
    }).immediate();
    // Committed: the index and the catalog follow, then the keyword index and the graph take the new memories in.
    const { catalog, index } = this.state;
    if (added.length > 0) index.add(added.map(({ id, vector }) => ({ id, vector })));
    const forNext = added.filter((item) => item.next !== undefined);
    if (forNext.length > 0 && this.state.next) this.state.next.index.add(forNext.map(({ id, next }) => ({ id, vector: next! })));
    for (const { id, memory } of added) {
      catalog.set(id, {
        project: memory.project,
        kind: memory.kind,
        agent: memory.agent,
        shared: memory.shared,
        createdAt: Date.parse(memory.createdAt),
        tags: memory.tags,
        superseded: false,
      });
    }
    for (const id of supersededIds) {
      const entry = catalog.get(id);
      if (entry) entry.superseded = true;
    }
    for (const { id, memory } of updated) {
      const entry = catalog.get(id);
      if (entry) Object.assign(entry, { shared: memory.shared, tags: memory.tags });
    }
    if (added.length > 0) this.hooks.added();
    return { applied, embedded };
  }

  /**
   * Queues for sending every memory of this hub that the cluster does not know (`known`: the uids it has, and those
   * it deleted): memories stored before the hub joined, or all of them if Redis lost its data. A slice at a time.
   */
  async shareLocalOnly(known: Set<string>): Promise<number> {
    let after = 0;
    let queued = 0;
    for (;;) {
      if (!this.state.db.open) return queued;
      const rows = this.s.uidsAfter.all(after, SHARE_SLICE) as Array<{ id: number; uid: string }>;
      if (rows.length === 0) return queued;
      this.state.db.transaction(() => {
        for (const { uid } of rows) {
          if (known.has(uid) || this.s.pendingUid.get(uid)) continue;
          this.s.enqueue.run(uid);
          queued++;
        }
      }).immediate(); // reads before it writes: the lock first (see store-writer.ts)
      after = rows.at(-1)!.id;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Whether a change is newer than what this hub has of its memory (applied, sent, or waiting to be sent). */
  private isNewer(change: ReplicatedChange): boolean {
    const applied = this.s.version.get(change.uid) as string | undefined;
    if (applied !== undefined && applied >= change.version) return false;
    const waiting = this.s.pendingVersion.get({ hub: this.hubId ?? '', uid: change.uid }) as string | null;
    return waiting === null || waiting < change.version;
  }

  private recordVersion(change: ReplicatedChange): void {
    this.s.setVersion.run(change.uid, change.version, change.op === 'deleted' ? 1 : 0);
  }

  /** Inserts a memory stored elsewhere, with its uid, times and vector; what it superseded here becomes history. */
  private insert(change: ReplicatedChange, vector: Float32Array, superseded: number[]): { id: number; vector: Float32Array } {
    const memory = change.memory!;
    const idOf = (uid: string | null) => (uid === null ? null : ((this.s.idOfUid.get(uid) as number | undefined) ?? null));
    const supersedes = idOf(memory.supersedes);
    const result = this.s.insert.run({
      uid: memory.id,
      project: memory.project,
      agent: memory.agent,
      kind: memory.kind,
      text: memory.text,
      hash: textHash(memory.text),
      tags: JSON.stringify(memory.tags),
      metadata: JSON.stringify(memory.metadata),
      importance: memory.importance,
      createdAt: memory.createdAt,
      updatedAt: memory.updatedAt,
      reinforcements: memory.reinforcements,
      sourceType: memory.source?.type ?? null,
      sourceRef: memory.source?.ref ?? null,
      parentId: idOf(memory.parentId),
      shared: memory.shared ? 1 : 0,
      supersedes,
    });
    const id = Number(result.lastInsertRowid);
    this.s.storeVector.run(id, this.state.encoder.id, vectorBlob(vector));
    // The vector as it came is kept too when it is of another model (a later switch to that model needs it).
    if (change.vector && change.model && change.model !== this.state.encoder.id) this.s.storeVector.run(id, change.model, vectorBlob(change.vector));
    if (supersedes !== null) {
      this.s.supersede.run(id, supersedes);
      superseded.push(supersedes);
    }
    return { id, vector };
  }
}

/** A change's version from its outbox row: the same row always gives the same version, so a resend is recognised. */
export function versionOf(at: string, hub: string, seq: number): string {
  return `${at}|${hub}|${String(seq).padStart(12, '0')}`;
}

function updateRow(id: number, memory: Memory) {
  return {
    id,
    tags: JSON.stringify(memory.tags),
    metadata: JSON.stringify(memory.metadata),
    importance: memory.importance,
    shared: memory.shared ? 1 : 0,
    reinforcements: memory.reinforcements,
    updatedAt: memory.updatedAt,
  };
}
