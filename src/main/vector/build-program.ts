/**
 * The IVF build child process (started by builder.ts, which says why a process and not a thread): reads the
 * snapshot, trains the coarse quantizer on a sample, adds every vector (labels = positions), tunes nprobe against
 * exact search, and splits the result into part files of whole inverted lists. Talks to the parent over IPC.
 */
// Large buffers and FAISS indexes are set to null once used so the next collection (release()) can free them while
// the async function is still running: those assignments are the point, not dead code.
/* eslint-disable no-useless-assignment */
import fs from 'node:fs';
import zlib from 'node:zlib';
import { renameIntoPlaceSync, writeFileSyncedSync } from '../../shared/node/durable-file';
import { ADD_BATCH, Index, type Index as FaissIndex } from './faiss';
import type { ChildMessage, IvfBuildJob, IvfBuildResult, IvfPartFile, ParentMessage } from './builder';
import { FLAT_HEADER_BYTES, IVF_EMPTY_LISTS_BYTES, IVF_NPROBE_OFFSET, METRIC_INNER_PRODUCT, NTOTAL_OFFSET, parseIvfPart } from './faiss-format';
import { NPROBE_CANDIDATES, recallByNprobe } from './ivf-tuning';

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => process.send!(message, () => resolve()));
}
function progress(step: string, fraction: number): void {
  process.send!({ type: 'progress', step, fraction } satisfies ChildMessage);
}
function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
/** Runs with --expose-gc: frees FAISS indexes (native memory V8 does not see) as soon as they are dropped. */
async function release(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return function () {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** m distinct positions out of n (partial Fisher-Yates). */
function sample(n: number, m: number, seed: number): Int32Array {
  const r = rng(seed);
  if (m >= n) {
    const all = new Int32Array(n);
    for (let i = 0; i < n; i++) all[i] = i;
    return all;
  }
  const swapped = new Map<number, number>();
  const out = new Int32Array(m);
  for (let i = 0; i < m; i++) {
    const j = i + Math.floor(r() * (n - i));
    const vj = swapped.get(j) ?? j;
    const vi = swapped.get(i) ?? i;
    swapped.set(j, vi);
    out[i] = vj;
  }
  return out;
}

function gather(X: Float32Array, d: number, positions: Int32Array | null, from: number, to: number, out: number[]): number[] {
  let o = 0;
  for (let i = from; i < to; i++) {
    const p = positions ? positions[i]! : i;
    const base = p * d;
    for (let j = 0; j < d; j++) out[o++] = X[base + j]!;
  }
  return out;
}

function readAt(fd: number, length: number, position: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const got = fs.readSync(fd, b, done, length - done, position + done);
    if (got <= 0) throw new Error('short read');
    done += got;
  }
  return b;
}

function u64(value: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(value));
  return b;
}

/**
 * Splits a written IVF-Flat index into part files that each hold whole inverted lists (a range of list numbers),
 * so that merging the parts in the parent only ever fills empty lists: one exact allocation per list, no regrowth.
 * Layout (faiss 1.7.x): <prefix: header, quantizer, direct map> 'ilar' nlist code_size ('full' sizes | 'sprs' pairs)
 * then, per non-empty list, its codes and then its ids (int64).
 */
function splitByLists(fullFile: string, prefixLength: number, partBytes: number, outPrefix: string): IvfPartFile[] {
  const fd = fs.openSync(fullFile, 'r');
  const parts: IvfPartFile[] = [];
  try {
    const prefix = readAt(fd, prefixLength, 0);
    let at = prefixLength;
    const head = readAt(fd, 24, at);
    if (head.toString('latin1', 0, 4) !== 'ilar') throw new Error('unexpected inverted lists ' + head.toString('latin1', 0, 4));
    const nlist = Number(head.readBigUInt64LE(4));
    const codeSize = Number(head.readBigUInt64LE(12));
    const type = head.toString('latin1', 20, 24);
    at += 24;
    const sizes = new Array<number>(nlist).fill(0);
    const count = Number(readAt(fd, 8, at).readBigUInt64LE(0));
    at += 8;
    const table = readAt(fd, count * 8, at);
    at += count * 8;
    if (type === 'full') {
      for (let i = 0; i < nlist; i++) sizes[i] = Number(table.readBigUInt64LE(i * 8));
    } else if (type === 'sprs') {
      for (let j = 0; j < count; j += 2) sizes[Number(table.readBigUInt64LE(j * 8))] = Number(table.readBigUInt64LE(j * 8 + 8));
    } else throw new Error('unexpected list type ' + type);
    const rowBytes = codeSize + 8;
    let first = 0;
    let dataAt = at;
    while (first < nlist) {
      let end = first;
      let bytes = 0;
      let vectors = 0;
      while (end < nlist && (end === first || bytes + sizes[end]! * rowBytes <= partBytes)) {
        bytes += sizes[end]! * rowBytes;
        vectors += sizes[end]!;
        end++;
      }
      const pairs: number[] = [];
      for (let i = first; i < end; i++) if (sizes[i]! > 0) pairs.push(i, sizes[i]!);
      const file = outPrefix + '.' + parts.length + '.faiss';
      let crc = 0;
      let written = 0;
      // The part's bytes in order: header prefix, the lists' table, then the lists' data copied from the full file.
      const partChunks = function* (): Generator<Buffer> {
        const put = (b: Buffer) => {
          crc = zlib.crc32(b, crc);
          written += b.length;
          return b;
        };
        const myPrefix = Buffer.from(prefix);
        myPrefix.writeBigInt64LE(BigInt(vectors), NTOTAL_OFFSET);
        yield put(myPrefix);
        const lists = Buffer.alloc(24);
        lists.write('ilar', 0, 'latin1');
        lists.writeBigUInt64LE(BigInt(nlist), 4);
        lists.writeBigUInt64LE(BigInt(codeSize), 12);
        lists.write('sprs', 20, 'latin1');
        yield put(lists);
        yield put(u64(pairs.length));
        const pairBytes = Buffer.alloc(pairs.length * 8);
        pairs.forEach((v, i) => pairBytes.writeBigUInt64LE(BigInt(v), i * 8));
        yield put(pairBytes);
        for (let copied = 0; copied < bytes; ) {
          const n = Math.min(1 << 24, bytes - copied);
          yield put(readAt(fd, n, dataAt + copied));
          copied += n;
        }
      };
      // Flushed and renamed; the parent flushes the folder once, before it writes the header that names the parts.
      writeFileSyncedSync(file + '.tmp', partChunks());
      renameIntoPlaceSync(file + '.tmp', file);
      parts.push({ file, firstList: first, endList: end, count: vectors, bytes: written, crc32: crc });
      dataAt += bytes;
      first = end;
    }
  } finally {
    fs.closeSync(fd);
  }
  return parts;
}

async function build(job: IvfBuildJob): Promise<IvfBuildResult> {
  const d = job.dimension;
  const n = job.count;
  let X: Float32Array | null = new Float32Array(n * d);
  let bytes: Uint8Array | null = new Uint8Array(X.buffer);
  const fd = fs.openSync(job.vectorsFile, 'r');
  try {
    for (let off = 0; off < bytes.length; ) {
      const got = fs.readSync(fd, bytes, off, Math.min(1 << 28, bytes.length - off), FLAT_HEADER_BYTES + off);
      if (got <= 0) throw new Error('the vectors file is shorter than ' + n + ' vectors');
      off += got;
    }
  } finally {
    fs.closeSync(fd);
  }
  progress('read', 1);

  // Exact answers for the nprobe tuning first, so the flat copy is gone before the IVF index exists.
  const nq = Math.min(n, job.tuneQueries);
  const k = Math.min(10, n - 1);
  const width = Math.min(n, k + 1);
  const queryPositions = sample(n, nq, job.seed + 1);
  const queries = gather(X, d, queryPositions, 0, nq, new Array<number>(nq * d));
  let exact: FaissIndex | null = Index.read(job.vectorsFile);
  if (exact.ntotal() !== n) throw new Error('the vectors file holds ' + exact.ntotal() + ' vectors, expected ' + n);
  const truth = exact.search(queries, width).labels;
  exact = null;
  await release();

  const t0 = Date.now();
  const trainPoints = Math.min(n, job.trainPoints);
  const picked = sample(n, trainPoints, job.seed);
  let trainData: number[] | null = gather(X, d, picked, 0, trainPoints, new Array<number>(trainPoints * d));
  const trained = Index.fromFactory(d, job.description, METRIC_INNER_PRODUCT);
  trained.train(trainData);
  trainData = null;
  const scratch = job.outPrefix + '.scratch';
  trained.write(scratch);
  const template = fs.readFileSync(scratch);
  const tail = template.length - IVF_EMPTY_LISTS_BYTES;
  if (template.toString('latin1', 0, 4) !== 'IwFl' || template.toString('latin1', tail, tail + 4) !== 'ilar' || template.toString('latin1', tail + 20, tail + 24) !== 'sprs') {
    throw new Error('unexpected IVF file layout');
  }
  const fresh = (nprobe: number): FaissIndex => {
    const b = Buffer.from(template);
    b.writeBigUInt64LE(BigInt(nprobe), IVF_NPROBE_OFFSET);
    fs.writeFileSync(scratch, b);
    return Index.read(scratch);
  };
  const trainMs = Date.now() - t0;
  progress('train', 1);
  await tick();

  const t1 = Date.now();
  let full: FaissIndex | null = fresh(1);
  const batch = new Array<number>(ADD_BATCH * d);
  for (let a = 0; a < n; a += ADD_BATCH) {
    const b = Math.min(n, a + ADD_BATCH);
    full.add(gather(X, d, null, a, b, b - a === ADD_BATCH ? batch : new Array<number>((b - a) * d)));
    if ((a / ADD_BATCH) % 64 === 63) {
      progress('add', b / n);
      await tick();
    }
  }
  progress('add', 1);
  const addMs = Date.now() - t1;

  // nprobe from the lists alone (ivf-tuning.ts): the centroids ranked for each query, and the list each of its true
  // neighbours went to, both found by FAISS's exact search of the centroids, as its IVF search and add find them.
  const t2 = Date.now();
  const topOf = (labels: number[], q: number): number[] => {
    const out: number[] = [];
    for (let j = 0; j < width && out.length < k; j++) {
      const l = labels[q * width + j]!;
      if (l >= 0 && l !== queryPositions[q]) out.push(l);
    }
    return out;
  };
  const candidates = NPROBE_CANDIDATES.filter((p) => p <= Math.min(job.maxNprobe, job.nlist));
  // From the lists alone with an exact (flat) quantizer. An HNSW quantizer (nlist >= 2,048) ranks and assigns
  // approximately, so there each candidate is measured with FAISS's own search, on a copy of the index at that nprobe.
  const fromLists = (): IvfBuildResult['tuning'] => {
    const centroids = new Float32Array(new Uint8Array(parseIvfPart(template, job.nlist, d).centroids).buffer);
    const quantizer = Index.fromFactory(d, 'Flat', METRIC_INNER_PRODUCT);
    quantizer.add(Array.from(centroids));
    const rankedLists = quantizer.search(queries, job.nlist).labels;
    const neighbours = Array.from({ length: nq }, (_, q) => topOf(truth, q));
    const flat = Int32Array.from(neighbours.flat());
    const assigned = quantizer.search(gather(X!, d, flat, 0, flat.length, new Array<number>(flat.length * d)), 1).labels;
    let at = 0;
    const neighbourLists = neighbours.map((those) => assigned.slice(at, (at += those.length)));
    return recallByNprobe(rankedLists, job.nlist, neighbourLists, k, candidates, job.targetRecall);
  };
  const measured = async (): Promise<IvfBuildResult['tuning']> => {
    const out: IvfBuildResult['tuning'] = [];
    for (const candidate of candidates) {
      if (candidate > 1) {
        const next = fresh(candidate);
        next.mergeFrom(full!);
        full = next;
        await release();
      }
      const got = full!.search(queries, width).labels;
      let hits = 0;
      for (let q = 0; q < nq; q++) {
        const want = new Set(topOf(truth, q));
        for (const l of topOf(got, q)) if (want.has(l)) hits++;
      }
      out.push({ nprobe: candidate, recall: hits / (nq * k) });
      progress('tune', hits / (nq * k));
      if (hits / (nq * k) >= job.targetRecall) break;
    }
    return out;
  };
  const tunable = k > 0 && candidates.length > 0;
  const hnsw = job.description.includes('HNSW');
  let tuning = tunable && !hnsw ? fromLists() : [{ nprobe: 1, recall: 1 }];
  // The vectors are no longer needed: freed before the measured tuning's copies of the index.
  X = null;
  bytes = null;
  await release();
  if (tunable && hnsw) tuning = await measured();
  const { nprobe, recall } = tuning[tuning.length - 1]!;
  progress('tune', recall);
  const tuneMs = Date.now() - t2;

  const fullFile = job.outPrefix + '.full';
  full.write(fullFile);
  full = null;
  await release();
  // Written at nprobe 1 (the template's): the chosen nprobe goes into its header, which every part copies.
  const nprobeBytes = u64(nprobe);
  const fullFd = fs.openSync(fullFile, 'r+');
  try {
    fs.writeSync(fullFd, nprobeBytes, 0, 8, IVF_NPROBE_OFFSET);
  } finally {
    fs.closeSync(fullFd);
  }
  const parts = splitByLists(fullFile, tail, job.partBytes, job.outPrefix);
  fs.rmSync(fullFile, { force: true });
  fs.rmSync(scratch, { force: true });
  return { parts, nlist: job.nlist, nprobe, recall, tuning, trainPoints, trainMs, addMs, tuneMs };
}

process.once('message', (message: ParentMessage) => {
  build(message.job).then(
    (result) => send({ type: 'done', result }).then(() => process.exit(0)),
    (error: unknown) => send({ type: 'error', message: String((error as Error | undefined)?.stack || error) }).then(() => process.exit(1)),
  );
});
process.on('disconnect', () => process.exit(3));
