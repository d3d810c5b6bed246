/**
 * Opening a vector index: from its files (checksummed; trailing uncommitted bytes cut off; IVF parts loaded part by
 * part), reconciled against loadAll (SQLite) when the counts differ, or rebuilt from loadAll when the files are
 * missing or damaged.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { CoarseLists } from './coarse';
import { ADD_BATCH, Index } from './faiss';
import { FLAT_HEADER_BYTES, flatHeader, parseFlatHeader } from './faiss-format';
import { crc32, HEADER_FORMAT, readExactly, type IndexHeader, type IvfMeta } from './files';
import { loadPart, mirrorLists, readPart, releasePart, type LoadedParts } from './ivf-parts';
import { enqueueSave, writeGeneration } from './persistence';
import { addRange, isValidId, liveSnapshot, tick, type IndexState } from './state';
import { CHUNK_POSITIONS, VectorStore } from './store';
import type { VectorItem } from './types';

/** Opens the index: from its files if they are sound (reconciled if need be), else rebuilt from loadAll. */
export async function load(s: IndexState): Promise<void> {
  const started = performance.now();
  const existing = await s.files.list();
  for (const file of existing) if (file.generation !== null) s.maxGeneration = Math.max(s.maxGeneration, file.generation);
  const read = await s.files.readHeader();
  let reason: string | null = read.header ? null : read.reason;
  if (read.header) {
    s.maxGeneration = Math.max(s.maxGeneration, read.header.generation);
    try {
      await loadFromDisk(s, read.header);
    } catch (error) {
      reason = `saved index unusable: ${(error as Error).message}`;
    }
  }
  let reconciled: { added: number; removed: number } | undefined;
  if (reason === null) {
    s.openedFrom = 'disk';
    if (s.tuning.reconcile === 'always' || s.store.liveCount !== s.options.expectedCount) {
      reconciled = await reconcile(s);
    }
  } else {
    s.openedFrom = 'loader';
    await rebuildFromLoader(s);
  }
  // A failed save is reported (save-failed) but does not stop the index from serving.
  if (!s.committed || s.changes > 0) await enqueueSave(s).catch(() => undefined);
  // Leftovers: older generations, and newer ones from builds a crash or close interrupted.
  await s.files.remove((file) => file.generation === s.gen.generation);
  s.emit({
    type: 'opened',
    source: s.openedFrom,
    ...(reason !== null ? { reason } : {}),
    ms: performance.now() - started,
    ...(reconciled ? { reconciled } : {}),
  });
}

async function loadFromDisk(s: IndexState, header: IndexHeader): Promise<void> {
  if (header.format !== HEADER_FORMAT) throw new Error(`unknown format ${header.format}`);
  if (header.modelId !== s.modelId) throw new Error(`header is for model ${header.modelId}`);
  if (header.dimension !== s.dimension) throw new Error(`header dimension ${header.dimension} ≠ ${s.dimension}`);
  const d = s.dimension;
  const count = header.count;
  const generation = header.generation;

  const idBytes = new Uint8Array(count * 8);
  const idHandle = await fsp.open(s.files.ids(generation), 'r');
  try {
    await readExactly(idHandle, idBytes, 0);
  } finally {
    await idHandle.close();
  }
  const idsCrc = crc32(idBytes);
  if (idsCrc !== header.idsCrc32) throw new Error('ids checksum mismatch (damaged)');
  const ids = new Float64Array(idBytes.buffer);
  const dead = Buffer.from(header.dead, 'base64');
  if (dead.length !== Math.ceil(count / 8)) throw new Error('tombstone bitmap has the wrong size');

  // Vectors: the committed prefix, checksummed; trailing bytes (a save that never committed) are cut off.
  const store = new VectorStore(d, count);
  const vectorsFile = s.files.vectors(generation);
  const handle = await fsp.open(vectorsFile, 'r+');
  let vectorsCrc = 0;
  try {
    const head = new Uint8Array(FLAT_HEADER_BYTES);
    await readExactly(handle, head, 0);
    const flat = parseFlatHeader(head);
    if (!flat || flat.dimension !== d) throw new Error('vectors file header damaged');
    const block = new Float32Array(CHUNK_POSITIONS * d);
    for (let pos = 0; pos < count; pos += CHUNK_POSITIONS) {
      const rows = Math.min(CHUNK_POSITIONS, count - pos);
      const bytes = new Uint8Array(block.buffer, 0, rows * d * 4);
      await readExactly(handle, bytes, FLAT_HEADER_BYTES + pos * d * 4);
      vectorsCrc = crc32(bytes, vectorsCrc);
      for (let r = 0; r < rows; r++) store.append(ids[pos + r]!, block, r * d);
      s.progress('read', (pos + rows) / Math.max(1, count));
    }
    if (vectorsCrc !== header.vectorsCrc32) throw new Error('vectors checksum mismatch (damaged)');
    const exact = FLAT_HEADER_BYTES + count * d * 4;
    if (flat.count !== count || (await handle.stat()).size !== exact) {
      await handle.write(flatHeader(d, count), 0, FLAT_HEADER_BYTES, 0);
      await handle.truncate(exact);
      await handle.sync();
    }
  } finally {
    await handle.close();
  }
  store.loadDeadBitmap(dead);
  for (let pos = 0; pos < count; pos++) {
    if (store.isDead(pos)) continue;
    const id = ids[pos]!;
    if (!isValidId(id) || store.idToPos.has(id)) throw new Error(`ids file damaged at position ${pos}`);
    store.idToPos.set(id, pos);
  }
  if (store.liveCount !== header.live) throw new Error('live count does not match the header');

  let index: Index;
  let coarse: CoarseLists | null = null;
  let ivf: IvfMeta | null = header.ivf;
  let replayFrom: number;
  if (ivf) {
    try {
      ({ index, coarse } = await loadIvfParts(s, ivf, store));
      replayFrom = ivf.covered;
    } catch (error) {
      // The vectors are fine: serve exactly now, and the build policy retrains in the background.
      s.emit({ type: 'build-failed', error: new Error(`saved IVF index unusable (${(error as Error).message}); using flat`) });
      ivf = null;
      coarse = null;
      index = Index.read(vectorsFile);
      replayFrom = count;
    }
  } else {
    index = Index.read(vectorsFile);
    replayFrom = count;
  }
  for (let pos = replayFrom; pos < count; pos += ADD_BATCH) {
    addRange(index, coarse, store, pos, Math.min(count, pos + ADD_BATCH));
    s.progress('index', (pos - replayFrom) / Math.max(1, count - replayFrom));
    await tick();
  }
  // An IVF index's FAISS copy holds what its parts held; the positions replayed after them reach it when it is read.
  const inFaiss = coarse ? replayFrom : count;
  if (index.ntotal() !== inFaiss) throw new Error(`index holds ${index.ntotal()} vectors, expected ${inFaiss}`);

  s.store = store;
  s.index = index;
  s.ivf = ivf;
  s.coarse = coarse;
  s.builtLive = ivf ? ivf.covered : 0;
  s.gen = { generation, count, vectorsCrc32: vectorsCrc, idsCrc32: idsCrc };
  s.committed = ivf === header.ivf;
}

async function loadIvfParts(s: IndexState, ivf: IvfMeta, store: VectorStore): Promise<{ index: Index; coarse: CoarseLists }> {
  const loaded: LoadedParts = { index: null, coarse: null };
  let covered = 0;
  let nextList = 0;
  for (const [i, part] of ivf.parts.entries()) {
    if (part.firstList !== nextList || part.endList <= part.firstList) throw new Error(`${part.file} holds lists out of order`);
    nextList = part.endList;
    const file = path.join(s.options.dir, part.file);
    const bytes = await readPart(file, part, ivf, s.dimension);
    const lists = await loadPart(loaded, file, bytes, store, ivf.nlist);
    await mirrorLists(loaded.coarse!, lists, bytes);
    covered += part.count;
    s.progress('index', (i + 1) / ivf.parts.length);
    await releasePart(s.tuning.releaseMemory);
  }
  if (!loaded.index || !loaded.coarse || covered !== ivf.covered || nextList !== ivf.nlist) throw new Error('IVF parts do not cover the header');
  return { index: loaded.index, coarse: loaded.coarse };
}

/** Fills the index from loadAll (SQLite), into a new generation. */
async function rebuildFromLoader(s: IndexState): Promise<void> {
  const d = s.dimension;
  const expected = Math.max(1, s.options.expectedCount);
  const store = new VectorStore(d, s.options.expectedCount);
  let seen = 0;
  for (const item of s.options.loadAll()) {
    if (!s.validItem(item)) continue;
    const old = store.idToPos.get(item.id);
    if (old !== undefined) store.kill(old);
    store.idToPos.set(item.id, store.append(item.id, item.vector));
    if (++seen % 8192 === 0) s.progress('load', Math.min(1, seen / expected));
  }
  s.progress('load', 1);
  const generation = ++s.maxGeneration;
  const live = liveSnapshot(store, store.count);
  const { store: compacted, vectorsCrc32, idsCrc32 } = await writeGeneration(s, generation, store, live, null);
  s.store = compacted;
  s.index = Index.read(s.files.vectors(generation));
  s.ivf = null;
  s.coarse = null;
  s.builtLive = 0;
  s.gen = { generation, count: compacted.count, vectorsCrc32, idsCrc32 };
  s.committed = false;
}

/** Applies to the loaded index whatever differs from loadAll. */
async function reconcile(s: IndexState): Promise<{ added: number; removed: number }> {
  const seen = new Set<number>();
  const toAdd: VectorItem[] = [];
  let n = 0;
  const expected = Math.max(1, s.options.expectedCount);
  for (const item of s.options.loadAll()) {
    if (!s.validItem(item)) continue;
    seen.add(item.id);
    const pos = s.store.idToPos.get(item.id);
    if (pos === undefined || !sameVector(s.store.vector(pos), item.vector)) toAdd.push({ id: item.id, vector: Float32Array.from(item.vector) });
    if (++n % 8192 === 0) s.progress('reconcile', Math.min(1, n / expected));
  }
  const toRemove: number[] = [];
  for (const id of s.store.idToPos.keys()) if (!seen.has(id)) toRemove.push(id);
  // Counted as changes for the save at the end of opening (nothing else runs while the index is loading).
  s.changes += s.removeIds(toRemove);
  for (let i = 0; i < toAdd.length; i += ADD_BATCH) {
    s.changes += s.addItems(toAdd.slice(i, i + ADD_BATCH));
    if (i % (ADD_BATCH * 16) === 0) await tick();
  }
  s.progress('reconcile', 1);
  return { added: toAdd.length, removed: toRemove.length };
}

function sameVector(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
