/**
 * Background builds of a vector index: IVF training (in the child process, builder.ts) or a flat rebuild, each also
 * compacting (dropping tombstones), while the current index keeps answering. Policy (when, what): tuning.ts.
 */
import path from 'node:path';
import { runIvfBuild, type IvfBuildResult } from './builder';
import type { CoarseLists } from './coarse';
import { ADD_BATCH, Index } from './faiss';
import type { IvfMeta } from './files';
import { loadPart, mirrorLists, readPart, releasePart, type LoadedParts } from './ivf-parts';
import { enqueueSave, writeGeneration } from './persistence';
import { addRange, BuildCancelled, collectGarbage, liveSnapshot, tick, type BuildState, type IndexState } from './state';
import type { VectorStore } from './store';
import { buildReason, buildTarget, ivfShape } from './tuning';
import type { VectorIndexKind } from './types';

/** How long one step of a build's catch-up may hold the event loop at first (it doubles if stores outpace it). */
const CATCH_UP_STEP_MS = 8;

/** Starts a build if the tuning's policy asks for one and nothing stops it (loading, closing, a build, a recent failure). */
export function maybeBuild(s: IndexState): void {
  if (s.loading || s.closing || s.build || !s.tuning.autoBuild || Date.now() < s.buildRetryAt) return;
  const store = s.store;
  const reason = buildReason(s.tuning, {
    isIvf: s.ivf !== null,
    live: store.liveCount,
    builtLive: s.builtLive,
    dead: store.deadCount,
    positions: store.count,
  });
  if (reason) startBuild(s, reason);
}

/** Starts a build in the background; `s.build.done` settles when it has swapped in, failed or been cancelled. */
export function startBuild(s: IndexState, reason: string): void {
  const state: BuildState = { reason, step: 'snapshot', fraction: 0, killed: [], cancelled: false, child: null, done: Promise.resolve() };
  s.build = state;
  state.done = runBuild(s, state).then(
    () => {
      if (s.build === state) s.build = null;
      // The old index and store are unreachable once runBuild's frame is gone: release their memory now.
      if (s.tuning.releaseMemory) setImmediate(collectGarbage);
      maybeBuild(s);
    },
    (error: unknown) => {
      if (s.build === state) s.build = null;
      if (error instanceof BuildCancelled || state.cancelled) return;
      s.buildRetryAt = Date.now() + s.tuning.buildRetryMs;
      s.emit({ type: 'build-failed', error: error instanceof Error ? error : new Error(String(error)) });
    },
  );
}

/**
 * Snapshot → new generation (compacted) → IVF trained in the child, or flat → parts loaded with yields → catch-up
 * with what was stored meanwhile → synchronous swap.
 */
async function runBuild(s: IndexState, state: BuildState): Promise<void> {
  const started = performance.now();
  const t = s.tuning;
  const oldStore = s.store;
  const snapshotCount = oldStore.count;
  const live = liveSnapshot(oldStore, snapshotCount);
  const target: VectorIndexKind = buildTarget(t, s.ivf !== null, live.length);
  s.emit({ type: 'build-started', reason: state.reason, target, live: live.length });
  const generation = ++s.maxGeneration;
  const check = () => {
    if (state.cancelled || s.closing) throw new BuildCancelled('build cancelled');
  };
  const step = (name: string, fraction: number) => {
    state.step = name;
    state.fraction = fraction;
    s.progress(`build:${name}`, fraction);
  };
  let newIndex: Index | null = null;
  let newCoarse: CoarseLists | null = null;
  let swapped = false;
  let longest = 0;
  const blocking = <T>(fn: () => T): T => {
    const t0 = performance.now();
    try {
      return fn();
    } finally {
      longest = Math.max(longest, performance.now() - t0);
    }
  };
  try {
    const written = await writeGeneration(s, generation, oldStore, live, (f, ms) => {
      longest = Math.max(longest, ms);
      check();
      step('snapshot', f);
    });
    const newStore = written.store;
    check();
    let ivf: IvfMeta | null = null;
    if (target === 'ivf') {
      const n = live.length;
      const { nlist, description, trainPoints } = ivfShape(t, n);
      const child = runIvfBuild(
        {
          vectorsFile: s.files.vectors(generation),
          count: n,
          dimension: s.dimension,
          nlist,
          description,
          trainPoints,
          partBytes: t.partBytes,
          outPrefix: s.files.ivfPrefix(generation),
          targetRecall: t.targetRecall,
          maxNprobe: t.maxNprobe,
          tuneQueries: t.tuneQueries,
          seed: generation,
        },
        { threads: t.buildThreads, niceness: t.buildNiceness, onProgress: (name, fraction) => step(name, fraction) },
      );
      state.child = child;
      if (state.cancelled) child.cancel();
      const result: IvfBuildResult = await child.result;
      state.child = null;
      check();
      ivf = {
        description,
        nlist: result.nlist,
        nprobe: result.nprobe,
        recall: result.recall,
        covered: n,
        parts: result.parts.map((p) => ({ ...p, file: path.basename(p.file) })),
        trainedAt: new Date().toISOString(),
        trainPoints: result.trainPoints,
        trainMs: result.trainMs,
        addMs: result.addMs,
        tuneMs: result.tuneMs,
      };
      const loaded: LoadedParts = { index: null, coarse: null };
      for (const [i, part] of result.parts.entries()) {
        const bytes = await readPart(part.file, part, ivf, s.dimension);
        const lists = await loadPart(loaded, part.file, bytes, newStore, ivf!.nlist, blocking);
        await mirrorLists(loaded.coarse!, lists, bytes, (ms) => (longest = Math.max(longest, ms)));
        check();
        step('load', (i + 1) / result.parts.length);
        await releasePart(s.tuning.releaseMemory);
        check();
      }
      newIndex = loaded.index;
      newCoarse = loaded.coarse;
    } else {
      newIndex = blocking(() => Index.read(s.files.vectors(generation)));
    }
    if (!newIndex || newIndex.ntotal() !== live.length) throw new Error(`built index holds ${newIndex?.ntotal()} vectors, expected ${live.length}`);

    // Catch up with what was added meanwhile: in slices while there is much, then the rest and the swap at once.
    // (When nothing was compacted the store is the same object: positions, tombstones and ids already agree, and
    // only the index needs the positions added since the snapshot, dead or not, to keep labels = positions.)
    const reused = newStore === oldStore;
    const replayed: number[] = [];
    const catchUp = (from: number, to: number) => {
      const first = reused ? from : newStore.count;
      if (!reused) replay(oldStore, newStore, from, to, replayed);
      addRange(newIndex!, newCoarse, newStore, first, reused ? to : newStore.count);
    };
    // Each step runs for a time budget between yields; when stores add faster than a step catches up, the budget
    // doubles, so the catch-up always converges (a fixed slice per yield never did under sustained load). Once a
    // step leaves little behind, the rest and the swap follow without yielding, before more can arrive.
    let cursor = snapshotCount;
    let budgetMs = CATCH_UP_STEP_MS;
    let behind = Infinity;
    const littleLeft = () => oldStore.count - cursor <= ADD_BATCH * 4;
    while (!littleLeft()) {
      blocking(() => {
        const started = performance.now();
        do {
          catchUp(cursor, cursor + ADD_BATCH);
          cursor += ADD_BATCH;
        } while (!littleLeft() && performance.now() - started < budgetMs);
      });
      if (littleLeft()) break;
      if (oldStore.count - cursor >= behind) budgetMs *= 2;
      behind = oldStore.count - cursor;
      step('catch-up', 0);
      await tick();
      check();
    }
    const swapStarted = performance.now();
    catchUp(cursor, oldStore.count);
    if (!reused) {
      const oldToNew = new Int32Array(snapshotCount).fill(-1);
      live.forEach((oldPos, newPos) => (oldToNew[oldPos] = newPos));
      for (const oldPos of state.killed) {
        const newPos = oldPos < snapshotCount ? oldToNew[oldPos]! : replayed[oldPos - snapshotCount]!;
        if (newPos < 0 || !newStore.kill(newPos)) continue;
        const id = newStore.id(newPos);
        if (newStore.idToPos.get(id) === newPos) newStore.idToPos.delete(id);
      }
    }
    s.store = newStore;
    s.index = newIndex;
    s.ivf = ivf;
    s.coarse = newCoarse;
    s.builtLive = ivf ? live.length : 0;
    s.gen = { generation, count: live.length, vectorsCrc32: written.vectorsCrc32, idsCrc32: written.idsCrc32 };
    s.committed = false;
    swapped = true;
    longest = Math.max(longest, performance.now() - swapStarted);
    s.emit({
      type: 'build-finished',
      kind: s.kind,
      ms: performance.now() - started,
      live: newStore.liveCount,
      ...(ivf ? { nlist: ivf.nlist, nprobe: ivf.nprobe, recall: ivf.recall } : {}),
      longestBlockMs: longest,
    });
  } catch (error) {
    if (!swapped) await s.files.remove((file) => file.generation !== generation);
    throw error;
  }
  // Committing the new generation also deletes the old one's files (save-failed is reported by the save itself).
  s.changes++;
  await enqueueSave(s).catch(() => undefined);
}

/** Copies live positions [from, to) of `oldStore` into `newStore`; records old → new in `map`. */
function replay(oldStore: VectorStore, newStore: VectorStore, from: number, to: number, map: number[]): void {
  for (let pos = from; pos < to; pos++) {
    if (oldStore.isDead(pos)) {
      map.push(-1);
      continue;
    }
    const id = oldStore.id(pos);
    const newPos = newStore.append(id, oldStore.vector(pos));
    newStore.idToPos.set(id, newPos);
    map.push(newPos);
  }
}
