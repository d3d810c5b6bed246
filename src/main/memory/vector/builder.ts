/**
 * Builds an IVF index in a child process, off the hub's event loop.
 *
 * Why a child process and not a worker_thread: faiss-node keeps each class's constructor in a C++ `static`
 * shared by every Node environment in the process. Loading it in a worker overwrites the main thread's
 * reference, and the main thread's next `Index.read`/`Index.fromFactory` then crashes the process (measured:
 * SIGSEGV as soon as a worker had loaded faiss-node). A child process has its own copy of everything.
 *
 * The child reads the snapshot (our vectors file, which is a FAISS flat index), trains the coarse quantizer on a
 * sample, adds every vector (labels = positions), then tunes nprobe: the smallest value whose recall@10 against
 * exact search (on vectors drawn from the snapshot, themselves excluded) reaches the target. It writes the index
 * and splits it into part files of about `partBytes`, each holding whole inverted lists (see splitByLists). The
 * parent loads the parts one by one, yielding between them: each merge fills empty lists, so no step is long.
 *
 * The child's program is plain CommonJS in a string run with `node -e`, so it works the same from sources (vitest,
 * tsx) and from the electron-vite bundle, where no separate file would be copied next to the bundle. In Electron,
 * `process.execPath` is the Electron binary; ELECTRON_RUN_AS_NODE=1 makes it a plain Node (this needs the
 * `runAsNode` fuse, on by default).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';

export interface IvfBuildJob {
  /** Absolute path of faiss-node's entry (the child requires it directly). */
  faissPath: string;
  /** A FAISS flat inner-product file holding exactly `count` vectors (our vectors file). */
  vectorsFile: string;
  count: number;
  dimension: number;
  nlist: number;
  /** FAISS factory description of the coarse quantizer part, e.g. `IVF1024,Flat` or `IVF4096_HNSW32,Flat`. */
  description: string;
  trainPoints: number;
  /** Target size of a part file: the unit the parent loads between yields to its event loop. */
  partBytes: number;
  /** Part files are written as `${outPrefix}.${part}.faiss`; temporary files start with `${outPrefix}.`. */
  outPrefix: string;
  targetRecall: number;
  maxNprobe: number;
  tuneQueries: number;
  seed: number;
}

export interface IvfPartFile {
  file: string;
  /** The inverted lists [firstList, endList) it holds, whole. */
  firstList: number;
  endList: number;
  /** Vectors held. */
  count: number;
  bytes: number;
  crc32: number;
}

export interface IvfBuildResult {
  parts: IvfPartFile[];
  nlist: number;
  nprobe: number;
  /** Estimated recall@10 at the chosen nprobe (vs exact, on sample vectors). */
  recall: number;
  /** Recall@10 for each nprobe tried, in order. */
  tuning: Array<{ nprobe: number; recall: number }>;
  trainPoints: number;
  trainMs: number;
  addMs: number;
  tuneMs: number;
}

export interface BuilderOptions {
  /** OpenMP/OpenBLAS threads in the child (default: cores - 1, at least 1). */
  threads?: number;
  /** Scheduling niceness added to the child (default 10: the hub's own thread wins the CPU). */
  niceness?: number;
  onProgress?: (step: string, fraction: number) => void;
}

export interface RunningBuild {
  result: Promise<IvfBuildResult>;
  /** Kills the child; `result` then rejects. */
  cancel(): void;
  readonly pid: number | undefined;
}

export function defaultBuildThreads(): number {
  return Math.max(1, os.availableParallelism() - 1);
}

export function runIvfBuild(job: IvfBuildJob, options: BuilderOptions = {}): RunningBuild {
  const threads = String(options.threads ?? defaultBuildThreads());
  const child: ChildProcess = spawn(process.execPath, ['--expose-gc', '-e', CHILD_SOURCE], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', OMP_NUM_THREADS: threads, OPENBLAS_NUM_THREADS: threads },
    windowsHide: true,
  });
  if (child.pid !== undefined) {
    try {
      os.setPriority(child.pid, Math.min(19, os.getPriority(child.pid) + (options.niceness ?? 10)));
    } catch {
      // Not permitted everywhere; the build still runs, just at normal priority.
    }
  }
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-8192);
  });
  let cancelled = false;
  const result = new Promise<IvfBuildResult>((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void) => {
      if (!settled) {
        settled = true;
        fn();
      }
    };
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'progress') options.onProgress?.(message.step, message.fraction);
      else if (message.type === 'done') settle(() => resolve(message.result));
      else if (message.type === 'error') settle(() => reject(new Error(`IVF build failed: ${message.message}`)));
    });
    child.on('error', (error) => settle(() => reject(error)));
    child.on('exit', (code, signal) =>
      settle(() =>
        reject(
          new Error(
            cancelled
              ? 'IVF build cancelled'
              : `IVF build process exited (${signal ?? `code ${code}`}) before finishing${stderr ? `: ${lastLines(stderr)}` : ''}`,
          ),
        ),
      ),
    );
  });
  child.send({ type: 'build', job });
  return {
    result,
    cancel() {
      cancelled = true;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
    get pid() {
      return child.pid;
    },
  };
}

type ChildMessage =
  | { type: 'progress'; step: string; fraction: number }
  | { type: 'done'; result: IvfBuildResult }
  | { type: 'error'; message: string };

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-5).join(' | ');
}

/** The child's program (CommonJS). Keep it free of backticks and template placeholders. */
const CHILD_SOURCE = String.raw`
'use strict';
const fs = require('node:fs');
const zlib = require('node:zlib');
const FLAT_HEADER = 45, NTOTAL_AT = 8, NPROBE_AT = 45, ADD_BATCH = 256, LISTS_TAIL = 32;

function send(message) { return new Promise((resolve) => process.send(message, () => resolve())); }
function progress(step, fraction) { process.send({ type: 'progress', step: step, fraction: fraction }); }
function tick() { return new Promise((resolve) => setImmediate(resolve)); }
async function release() { if (global.gc) { global.gc(); await new Promise((r) => setTimeout(r, 5)); } }

function rng(seed) {
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
function sample(n, m, seed) {
  const r = rng(seed);
  if (m >= n) { const all = new Int32Array(n); for (let i = 0; i < n; i++) all[i] = i; return all; }
  const swapped = new Map();
  const out = new Int32Array(m);
  for (let i = 0; i < m; i++) {
    const j = i + Math.floor(r() * (n - i));
    const vj = swapped.has(j) ? swapped.get(j) : j;
    const vi = swapped.has(i) ? swapped.get(i) : i;
    swapped.set(j, vi);
    out[i] = vj;
  }
  return out;
}

function gather(X, d, positions, from, to, out) {
  let o = 0;
  for (let i = from; i < to; i++) { const p = positions ? positions[i] : i; const base = p * d; for (let j = 0; j < d; j++) out[o++] = X[base + j]; }
  return out;
}

function readAt(fd, length, position) {
  const b = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) { const got = fs.readSync(fd, b, done, length - done, position + done); if (got <= 0) throw new Error('short read'); done += got; }
  return b;
}

function u64(value) { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(value)); return b; }

/**
 * Splits a written IVF-Flat index into part files that each hold whole inverted lists (a range of list numbers),
 * so that merging the parts in the parent only ever fills empty lists: one exact allocation per list, no regrowth.
 * Layout (faiss 1.7.x): <prefix: header, quantizer, direct map> 'ilar' nlist code_size ('full' sizes | 'sprs' pairs)
 * then, per non-empty list, its codes and then its ids (int64).
 */
function splitByLists(fullFile, prefixLength, partBytes, outPrefix) {
  const fd = fs.openSync(fullFile, 'r');
  const parts = [];
  try {
    const prefix = readAt(fd, prefixLength, 0);
    let at = prefixLength;
    const head = readAt(fd, 24, at);
    if (head.toString('latin1', 0, 4) !== 'ilar') throw new Error('unexpected inverted lists ' + head.toString('latin1', 0, 4));
    const nlist = Number(head.readBigUInt64LE(4)), codeSize = Number(head.readBigUInt64LE(12));
    const type = head.toString('latin1', 20, 24);
    at += 24;
    const sizes = new Array(nlist).fill(0);
    const count = Number(readAt(fd, 8, at).readBigUInt64LE(0));
    at += 8;
    const table = readAt(fd, count * 8, at);
    at += count * 8;
    if (type === 'full') { for (let i = 0; i < nlist; i++) sizes[i] = Number(table.readBigUInt64LE(i * 8)); }
    else if (type === 'sprs') { for (let j = 0; j < count; j += 2) sizes[Number(table.readBigUInt64LE(j * 8))] = Number(table.readBigUInt64LE(j * 8 + 8)); }
    else throw new Error('unexpected list type ' + type);
    const rowBytes = codeSize + 8;
    let first = 0, dataAt = at;
    while (first < nlist) {
      let end = first, bytes = 0, vectors = 0;
      while (end < nlist && (end === first || bytes + sizes[end] * rowBytes <= partBytes)) { bytes += sizes[end] * rowBytes; vectors += sizes[end]; end++; }
      const pairs = [];
      for (let i = first; i < end; i++) if (sizes[i] > 0) pairs.push(i, sizes[i]);
      const file = outPrefix + '.' + parts.length + '.faiss';
      const out = fs.openSync(file + '.tmp', 'w');
      let crc = 0, written = 0;
      const put = (b) => { fs.writeSync(out, b); crc = zlib.crc32(b, crc); written += b.length; };
      try {
        const myPrefix = Buffer.from(prefix);
        myPrefix.writeBigInt64LE(BigInt(vectors), NTOTAL_AT);
        put(myPrefix);
        const lists = Buffer.alloc(24);
        lists.write('ilar', 0, 'latin1'); lists.writeBigUInt64LE(BigInt(nlist), 4); lists.writeBigUInt64LE(BigInt(codeSize), 12); lists.write('sprs', 20, 'latin1');
        put(lists);
        put(u64(pairs.length));
        const pairBytes = Buffer.alloc(pairs.length * 8);
        pairs.forEach((v, i) => pairBytes.writeBigUInt64LE(BigInt(v), i * 8));
        put(pairBytes);
        for (let copied = 0; copied < bytes; ) {
          const n = Math.min(1 << 24, bytes - copied);
          put(readAt(fd, n, dataAt + copied));
          copied += n;
        }
        fs.fsyncSync(out);
      } finally { fs.closeSync(out); }
      fs.renameSync(file + '.tmp', file);
      parts.push({ file: file, firstList: first, endList: end, count: vectors, bytes: written, crc32: crc });
      dataAt += bytes;
      first = end;
    }
  } finally { fs.closeSync(fd); }
  return parts;
}

async function build(job) {
  const faiss = require(job.faissPath);
  const d = job.dimension, n = job.count;
  let X = new Float32Array(n * d);
  let bytes = new Uint8Array(X.buffer);
  const fd = fs.openSync(job.vectorsFile, 'r');
  try {
    for (let off = 0; off < bytes.length; ) {
      const got = fs.readSync(fd, bytes, off, Math.min(1 << 28, bytes.length - off), FLAT_HEADER + off);
      if (got <= 0) throw new Error('the vectors file is shorter than ' + n + ' vectors');
      off += got;
    }
  } finally { fs.closeSync(fd); }
  progress('read', 1);

  // Exact answers for the nprobe tuning first, so the flat copy is gone before the IVF index exists.
  const nq = Math.min(n, job.tuneQueries);
  const k = Math.min(10, n - 1);
  const width = Math.min(n, k + 1);
  const queryPositions = sample(n, nq, job.seed + 1);
  const queries = gather(X, d, queryPositions, 0, nq, new Array(nq * d));
  let exact = faiss.Index.read(job.vectorsFile);
  if (exact.ntotal() !== n) throw new Error('the vectors file holds ' + exact.ntotal() + ' vectors, expected ' + n);
  const truth = exact.search(queries, width).labels;
  exact = null;
  await release();

  const t0 = Date.now();
  const trainPoints = Math.min(n, job.trainPoints);
  const picked = sample(n, trainPoints, job.seed);
  let trainData = gather(X, d, picked, 0, trainPoints, new Array(trainPoints * d));
  const trained = faiss.Index.fromFactory(d, job.description, 0);
  trained.train(trainData);
  trainData = null;
  const scratch = job.outPrefix + '.scratch';
  trained.write(scratch);
  const template = fs.readFileSync(scratch);
  const tail = template.length - LISTS_TAIL;
  if (template.toString('latin1', 0, 4) !== 'IwFl' || template.toString('latin1', tail, tail + 4) !== 'ilar' || template.toString('latin1', tail + 20, tail + 24) !== 'sprs') {
    throw new Error('unexpected IVF file layout');
  }
  const fresh = function (nprobe) {
    const b = Buffer.from(template);
    b.writeBigUInt64LE(BigInt(nprobe), NPROBE_AT);
    fs.writeFileSync(scratch, b);
    return faiss.Index.read(scratch);
  };
  const trainMs = Date.now() - t0;
  progress('train', 1);
  await tick();

  const t1 = Date.now();
  let full = fresh(1);
  const batch = new Array(ADD_BATCH * d);
  for (let a = 0; a < n; a += ADD_BATCH) {
    const b = Math.min(n, a + ADD_BATCH);
    full.add(gather(X, d, null, a, b, b - a === ADD_BATCH ? batch : new Array((b - a) * d)));
    if ((a / ADD_BATCH) % 64 === 63) { progress('add', b / n); await tick(); }
  }
  progress('add', 1);
  const addMs = Date.now() - t1;
  X = null;
  bytes = null;
  await release();

  const t2 = Date.now();
  const topOf = function (labels, q) {
    const out = [];
    for (let j = 0; j < width && out.length < k; j++) { const l = labels[q * width + j]; if (l >= 0 && l !== queryPositions[q]) out.push(l); }
    return out;
  };
  const measure = function (index) {
    if (k <= 0) return 1;
    const got = index.search(queries, width).labels;
    let hits = 0;
    for (let q = 0; q < nq; q++) {
      const want = new Set(topOf(truth, q));
      for (const l of topOf(got, q)) if (want.has(l)) hits++;
    }
    return hits / (nq * k);
  };
  const candidates = [1, 2, 3, 4, 6, 8, 12, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 128, 160, 192, 256, 384, 512]
    .filter((p) => p <= Math.min(job.maxNprobe, job.nlist));
  const tuning = [];
  let nprobe = 1, recall = 0;
  for (const candidate of candidates) {
    if (candidate > 1) { const next = fresh(candidate); next.mergeFrom(full); full = next; await release(); }
    nprobe = candidate;
    recall = measure(full);
    tuning.push({ nprobe: nprobe, recall: recall });
    progress('tune', recall);
    if (recall >= job.targetRecall) break;
  }
  const tuneMs = Date.now() - t2;

  const fullFile = job.outPrefix + '.full';
  full.write(fullFile);
  full = null;
  await release();
  const parts = splitByLists(fullFile, tail, job.partBytes, job.outPrefix);
  fs.rmSync(fullFile, { force: true });
  fs.rmSync(scratch, { force: true });
  return { parts: parts, nlist: job.nlist, nprobe: nprobe, recall: recall, tuning: tuning, trainPoints: trainPoints,
    trainMs: trainMs, addMs: addMs, tuneMs: tuneMs };
}

process.once('message', (message) => {
  build(message.job).then(
    (result) => send({ type: 'done', result: result }).then(() => process.exit(0)),
    (error) => send({ type: 'error', message: String((error && error.stack) || error) }).then(() => process.exit(1)),
  );
});
process.on('disconnect', () => process.exit(3));
`;
