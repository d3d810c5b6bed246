/**
 * Writing a vector index to disk (layout and crash safety: files.ts): a whole generation at once (after opening from
 * the loader, or a build), then appends and header commits as it changes, debounced, one save at a time.
 */
import { promises as fsp } from 'node:fs';
import { FLAT_HEADER_BYTES, flatHeader } from './faiss-format';
import { HEADER_FORMAT, writeAt } from './files';
import type { IndexState } from './state';
import { CHUNK_POSITIONS, VectorStore } from './store';

/**
 * Writes positions `live` of `from` as generation `generation`'s vectors and ids files, and returns a store
 * holding exactly them (positions 0..live.length-1, in order). When `live` is every position from 0 (nothing to
 * compact), `from` itself is written and returned: no copy (2 GiB saved at 1M vectors).
 */
export async function writeGeneration(
  s: IndexState,
  generation: number,
  from: VectorStore,
  live: Int32Array,
  onSlice: ((fraction: number, syncMs: number) => void) | null,
): Promise<{ store: VectorStore; vectorsCrc32: number; idsCrc32: number }> {
  const d = s.dimension;
  const reuse = live.length === 0 || live[live.length - 1] === live.length - 1;
  const store = reuse ? from : new VectorStore(d, live.length);
  const vectors = await fsp.open(s.files.vectors(generation), 'w');
  const ids = await fsp.open(s.files.ids(generation), 'w');
  let vectorsCrc32 = 0;
  let idsCrc32 = 0;
  try {
    await writeAt(vectors, 0, [flatHeader(d, live.length)], 0);
    for (let start = 0; start < live.length; start += CHUNK_POSITIONS) {
      const end = Math.min(live.length, start + CHUNK_POSITIONS);
      const copyStarted = performance.now();
      if (!reuse) {
        for (let i = start; i < end; i++) {
          const oldPos = live[i]!;
          const id = from.id(oldPos);
          store.idToPos.set(id, store.append(id, from.vector(oldPos)));
        }
      }
      const copyMs = performance.now() - copyStarted;
      vectorsCrc32 = await writeAt(vectors, FLAT_HEADER_BYTES + start * d * 4, store.vectorBytes(start, end), vectorsCrc32);
      idsCrc32 = await writeAt(ids, start * 8, [store.idBytes(start, end)], idsCrc32);
      onSlice?.(end / Math.max(1, live.length), copyMs);
    }
    await vectors.sync();
    await ids.sync();
  } finally {
    await vectors.close();
    await ids.close();
  }
  return { store, vectorsCrc32, idsCrc32 };
}

/** After changes: saves at once past saveAfterChanges, else within saveDelayMs (the caller has counted them). */
export function scheduleSave(s: IndexState): void {
  if (s.changes >= s.tuning.saveAfterChanges) {
    if (!s.saveQueued) void enqueueSave(s).catch(() => undefined);
  } else if (!s.saveTimer) {
    s.saveTimer = setTimeout(() => {
      s.saveTimer = null;
      void enqueueSave(s).catch(() => undefined);
    }, s.tuning.saveDelayMs);
    s.saveTimer.unref();
  }
}

/** Queues a save behind any running one (at most one waits); save-failed is emitted for a failure. */
export function enqueueSave(s: IndexState): Promise<void> {
  if (s.saveQueued) return s.saveChain;
  s.saveQueued = true;
  const run = s.saveChain.then(async () => {
    s.saveQueued = false;
    await saveNow(s);
  });
  s.saveChain = run.catch((error: unknown) => {
    s.emit({ type: 'save-failed', error: error instanceof Error ? error : new Error(String(error)) });
  });
  return run;
}

/** Writes what changed since the last save (appends, then the header). */
async function saveNow(s: IndexState): Promise<void> {
  if (s.committed && s.changes === 0) return;
  if (s.saveTimer) {
    clearTimeout(s.saveTimer);
    s.saveTimer = null;
  }
  const started = performance.now();
  // Everything captured now; positions below `count` never change, so the slow writes below can run while
  // requests keep changing the index (even swapping it: `gen` is this generation's record).
  const store = s.store;
  const gen = s.gen;
  const ivf = s.ivf;
  const count = store.count;
  const dead = Buffer.from(store.deadBitmap(count)).toString('base64');
  const live = store.liveCount;
  const changes = s.changes;
  const d = s.dimension;
  if (count > gen.count) {
    const vectors = await fsp.open(s.files.vectors(gen.generation), 'r+');
    const ids = await fsp.open(s.files.ids(gen.generation), 'r+');
    try {
      const vectorsCrc32 = await writeAt(vectors, FLAT_HEADER_BYTES + gen.count * d * 4, store.vectorBytes(gen.count, count), gen.vectorsCrc32);
      const idsCrc32 = await writeAt(ids, gen.count * 8, [store.idBytes(gen.count, count)], gen.idsCrc32);
      await writeAt(vectors, 0, [flatHeader(d, count)], 0);
      await vectors.sync();
      await ids.sync();
      gen.count = count;
      gen.vectorsCrc32 = vectorsCrc32;
      gen.idsCrc32 = idsCrc32;
    } finally {
      await vectors.close();
      await ids.close();
    }
  }
  await s.files.writeHeader({
    format: HEADER_FORMAT,
    modelId: s.modelId,
    dimension: d,
    generation: gen.generation,
    count,
    live,
    vectorsCrc32: gen.vectorsCrc32,
    idsCrc32: gen.idsCrc32,
    dead,
    ivf,
    savedAt: new Date().toISOString(),
  });
  if (s.gen === gen) {
    s.changes -= changes;
    s.committed = true;
  }
  // Older generations are unreferenced now; a build in progress writes a newer one, which stays.
  await s.files.remove((file) => file.generation === null || file.generation >= gen.generation);
  s.emit({ type: 'saved', ms: performance.now() - started, positions: count });
}
