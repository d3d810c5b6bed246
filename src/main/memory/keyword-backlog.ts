/**
 * The keyword index's backlog: memories committed but not yet in the FTS5 index (ids above the `fts_indexed` mark,
 * migration 3), added many at a time when stores pause or the backlog grows, and before any keyword search, so a
 * search still sees every memory whose store was acknowledged. (The hub's message keyword index works the same way.)
 */
import type { SqliteDatabase } from '../db/database';

/** Memories indexed per transaction (~15 µs each in bulk, against ~45 µs one by one inside the store's commit). */
const SLICE = 1_000;
/** Stores pausing this long let the backlog be indexed. */
const QUIET_MS = 250;
/** While stores go on, the backlog is indexed once it reaches this many memories. */
const MAX_LAG = 2_000;

export class KeywordBacklog {
  private readonly s;
  private indexed: number;
  private timer: NodeJS.Timeout | undefined;
  private catchingUp: Promise<void> | undefined;
  private lastStoreAt = 0;
  private closed = false;

  constructor(private readonly db: SqliteDatabase) {
    this.s = {
      mark: db.prepare("SELECT CAST(value AS INTEGER) FROM memory_meta WHERE key = 'fts_indexed'").pluck(),
      setMark: db.prepare("UPDATE memory_meta SET value = CAST(? AS TEXT) WHERE key = 'fts_indexed'"),
      newest: db.prepare('SELECT MAX(id) FROM memories').pluck(),
      slice: db.prepare('SELECT COUNT(*) AS count, MAX(id) AS upTo FROM (SELECT id FROM memories WHERE id > ? ORDER BY id LIMIT ?)'),
      add: db.prepare('INSERT INTO memories_fts (rowid, text, tags) SELECT id, text, tags FROM memories WHERE id > ? AND id <= ?'),
    };
    this.indexed = this.s.mark.get() as number;
  }

  /** Memories not yet in the keyword index (counted by id: deleted ones may make it an overestimate). */
  get size(): number {
    return Math.max(0, ((this.s.newest.get() as number | null) ?? 0) - this.indexed);
  }

  /** Told after each store commit that added memories: indexes now if the backlog is long, else once stores pause. */
  stored(): void {
    this.lastStoreAt = performance.now();
    if (this.size >= MAX_LAG) this.indexSlice();
    this.schedule(QUIET_MS);
  }

  /**
   * Indexes the whole backlog, a slice per turn of the event loop; searches await it. Resolves at once when there
   * is nothing to index, and without a turn when one slice holds it all.
   */
  catchUp(): Promise<void> | undefined {
    if (this.size === 0) return undefined;
    if (this.indexSlice() < SLICE) return undefined;
    this.catchingUp ??= (async () => {
      try {
        while (!this.closed && this.db.open) {
          await new Promise((resolve) => setImmediate(resolve));
          if (this.indexSlice() < SLICE) break;
        }
      } finally {
        this.catchingUp = undefined;
      }
    })();
    return this.catchingUp;
  }

  /** Indexes everything before the database closes, so a restart starts without a backlog. */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.db.open) while (this.indexSlice() === SLICE);
    this.closed = true;
  }

  /** Adds the next slice of the backlog to the index in one transaction; returns how many memories it covered. */
  private indexSlice(): number {
    if (this.closed || !this.db.open) return 0;
    const from = this.indexed;
    const { count, upTo } = this.s.slice.get(from, SLICE) as { count: number; upTo: number | null };
    if (upTo === null) return 0;
    this.db.transaction(() => {
      this.s.add.run(from, upTo);
      this.s.setMark.run(upTo);
    })();
    this.indexed = upTo;
    return count;
  }

  private schedule(delayMs: number): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.closed || !this.db.open) return;
      const quietFor = performance.now() - this.lastStoreAt;
      if (quietFor < QUIET_MS && this.size < MAX_LAG) {
        this.schedule(QUIET_MS - quietFor);
        return;
      }
      if (this.indexSlice() > 0 && this.size > 0) this.schedule(0);
    }, delayMs);
    this.timer.unref();
  }
}
