/**
 * The hash and store phases of a run. Files up to the smallest chunk size are one object each, named by their
 * sha256: hashed first (a local cache of path/size/mtime/ctime skips unchanged ones), copied when the repository
 * lacks that content. Larger files are split into content-defined chunks (FastCDC, chunker.ts) as they are read,
 * and only the chunks the repository lacks are written, so an edit inside a 500 MB file stores about the edit, not
 * the file; an unchanged large file whose chunks are all there is not read at all.
 */
import { createHash } from 'node:crypto';
import { promises as fsp, readFileSync } from 'node:fs';
import { errorCode } from '../../../shared/node/fs-errors';
import type { CachedHash } from '../state';
import { BACKUP_CHUNK_SIZES, chunkStream, FastCdc } from '../chunker';
import { BackupError } from '../errors';
import { SourceReadError, WHOLE_FILE_LIMIT, type Repository } from '../repository';
import { checkAborted, forEachLimit, sum, type EngineContext, type Entry } from './context';
import { phaseProgress, type ProgressReporter } from './progress';

/** A file modified this recently may change again within its file system's timestamp granularity: hash it next time too. */
const RACY_MS = 3000;
/** Small files are hashed with synchronous reads, in slices of SLICE_MS between yields to the event loop. */
const SLICE_MS = 10;
/** New chunks of one file being written at once (each is a copy of at most the largest chunk). */
const CHUNK_WRITES_IN_FLIGHT = 4;

const CHUNKER = new FastCdc(BACKUP_CHUNK_SIZES);

/** Whether a file of this size is stored in chunks (larger than the smallest chunk) rather than as one object. */
export function isChunked(size: number): boolean {
  return size > BACKUP_CHUNK_SIZES.min;
}

type Learned = CachedHash & { path: string };

/**
 * Fills in what the cache knows (sha256, and the chunk list of a large file); hashes the small files it does not
 * know. Large files it does not know are read once, in the store phase, which chunks and hashes them together.
 * Unreadable files are left out with a warning.
 */
export async function hashEntries(
  ctx: EngineContext,
  entries: Entry[],
  report: ProgressReporter,
  warnings: string[],
  signal: AbortSignal | undefined,
): Promise<{ hashed: number; vanished: Set<Entry> }> {
  const cache = await ctx.state.loadHashes();
  const toHash: Entry[] = [];
  for (const entry of entries) {
    const cached = entry.cacheable ? cache.get(entry.file.abs) : undefined;
    const known = cached && cached.size === entry.file.size && cached.mtime === entry.file.mtimeMs && cached.ctime === entry.file.ctimeMs;
    if (known && (!isChunked(entry.file.size) || cached.chunks)) {
      entry.sha256 = cached.sha256;
      if (cached.chunks) entry.chunks = cached.chunks;
    } else if (!isChunked(entry.file.size)) toHash.push(entry);
  }
  const hashing = phaseProgress(report, 'hashing', { files: toHash.length, bytes: sum(toHash.map((e) => e.file.size)) });
  const learned: Learned[] = [];
  const vanished = new Set<Entry>();
  // An async read per small file costs more than the read itself: synchronous reads, a few milliseconds at a time.
  let sliceStart = performance.now();
  for (const entry of toHash) {
    if (performance.now() - sliceStart > SLICE_MS) {
      await yieldToLoop();
      checkAborted(signal);
      sliceStart = performance.now();
    }
    const startedAt = Date.now();
    const statSize = entry.file.size;
    const outcome = hashLocalFileSync(entry.file.abs);
    if (outcome instanceof SourceReadError) {
      vanished.add(entry);
      warnings.push(`${entry.source}/${entry.file.path} could not be read and is not in this snapshot (${outcome.message}).`);
    } else {
      entry.sha256 = outcome.sha256;
      entry.file.size = outcome.size;
      if (entry.cacheable && outcome.size === statSize && startedAt - entry.file.mtimeMs > RACY_MS) {
        learned.push({ path: entry.file.abs, size: outcome.size, mtime: entry.file.mtimeMs, ctime: entry.file.ctimeMs, sha256: outcome.sha256 });
      }
    }
    hashing.step(statSize);
  }
  hashing.finish();
  await ctx.state.putHashes(learned);
  return { hashed: toHash.length, vanished };
}

/**
 * Objects being stored in this run: what the repository holds, plus writes in progress, so a content found in two
 * files at once is written once and counted once.
 */
class ObjectStore {
  private readonly pending = new Map<string, Promise<boolean>>();

  constructor(
    private readonly repo: Repository,
    readonly present: Set<string>,
    private readonly totals: { newObjects: number; newBytes: number },
  ) {}

  has(sha256: string): boolean {
    return this.present.has(sha256) || this.pending.has(sha256);
  }

  /** Writes the content under its hash unless it is there (or on its way); resolves whether this call wrote it. */
  async put(sha256: string, content: Buffer): Promise<boolean> {
    if (this.present.has(sha256)) return false;
    const inFlight = this.pending.get(sha256);
    if (inFlight) return inFlight.then(() => false);
    const write = this.repo.writeObjectBuffer(sha256, content).then(() => {
      this.present.add(sha256);
      this.totals.newObjects++;
      this.totals.newBytes += content.length;
      return true;
    });
    this.pending.set(sha256, write);
    try {
      return await write;
    } finally {
      this.pending.delete(sha256);
    }
  }
}

/**
 * Copies the contents the repository lacks: small files whole, large files chunk by chunk. Counts the objects it
 * writes into `totals`; returns how many large files were read (they count as hashed).
 */
export async function copyMissing(
  ctx: EngineContext,
  repo: Repository,
  entries: Entry[],
  vanished: Set<Entry>,
  report: ProgressReporter,
  warnings: string[],
  totals: { newObjects: number; newBytes: number },
  signal: AbortSignal | undefined,
): Promise<{ chunkedRead: number }> {
  const listing = await repo.listObjects();
  const store = new ObjectStore(repo, listing.objects, totals);
  const groups = new Map<string, Entry[]>();
  const toChunk: Entry[] = [];
  for (const entry of entries) {
    if (vanished.has(entry)) continue;
    if (entry.sha256 === undefined || entry.chunks) {
      // A large file: read it when the cache does not know it or the repository lacks one of its chunks (a
      // damaged one moved aside by repair, say).
      if (!entry.chunks || entry.chunks.some(([sha256]) => !store.present.has(sha256))) toChunk.push(entry);
      continue;
    }
    if (store.present.has(entry.sha256)) continue;
    const group = groups.get(entry.sha256);
    if (group) group.push(entry);
    else groups.set(entry.sha256, [entry]);
  }
  const copyList = [...groups.entries()];
  const wholeBytes = sum(copyList.map(([, group]) => group[0]!.file.size));
  const copyTotal = { files: copyList.length + toChunk.length, bytes: wholeBytes + sum(toChunk.map((e) => e.file.size)) };
  const copying = phaseProgress(report, 'copying', copyTotal);
  // Only whole files are known to be new; how much of a large file is new shows as its chunks are found.
  const free = await repo.freeBytes();
  if (free !== null && free < wholeBytes) {
    throw new BackupError(
      'target_full',
      `The backup folder ${repo.target} has ${formatMiB(free)} free but this backup needs about ${formatMiB(wholeBytes)}. ` +
        'Free some space there (or in its cloud storage) or choose another folder, then run the backup again. Earlier backups are untouched.',
    );
  }
  const readFailed = (entry: Entry, error: unknown) => {
    if (!(error instanceof SourceReadError)) throw error;
    vanished.add(entry);
    warnings.push(`${entry.source}/${entry.file.path} could not be read and is not in this snapshot (${error.message}).`);
  };
  await forEachLimit(copyList, ctx.options.copyConcurrency ?? 16, signal, async ([sha256, group]) => {
    // Store the content under sha256 from the first file of the group that still has it; a file that changed
    // since it was hashed is stored under its new hash instead.
    for (const entry of group) {
      if (vanished.has(entry)) continue;
      try {
        await storeFile(repo, entry, store, signal);
        if (entry.sha256 === sha256) break;
      } catch (error) {
        readFailed(entry, error);
      }
    }
    copying.step(group[0]!.file.size);
  });
  const learned: Learned[] = [];
  await forEachLimit(toChunk, ctx.options.hashConcurrency ?? 2, signal, async (entry) => {
    const statSize = entry.file.size;
    const startedAt = Date.now();
    try {
      await storeChunked(entry, store, signal);
      if (entry.cacheable && entry.file.size === statSize && startedAt - entry.file.mtimeMs > RACY_MS) {
        learned.push({ path: entry.file.abs, size: entry.file.size, mtime: entry.file.mtimeMs, ctime: entry.file.ctimeMs, sha256: entry.sha256!, chunks: entry.chunks! });
      }
    } catch (error) {
      readFailed(entry, error);
    }
    copying.step(statSize);
  });
  copying.finish();
  await ctx.state.putHashes(learned);
  return { chunkedRead: toChunk.length };
}

/** Stores one small file's content as one object (when the repository lacks it). */
async function storeFile(repo: Repository, entry: Entry, store: ObjectStore, signal?: AbortSignal): Promise<void> {
  checkAborted(signal);
  const content = await readSource(entry.file.abs);
  if (content.length > WHOLE_FILE_LIMIT) {
    // Grew a lot since the scan: streamed rather than held in memory.
    const { sha256, size } = await repo.writeObjectStream(entry.file.abs, signal);
    entry.sha256 = sha256;
    entry.file.size = size;
    store.present.add(sha256);
    return;
  }
  entry.sha256 = createHash('sha256').update(content).digest('hex');
  entry.file.size = content.length;
  await store.put(entry.sha256, content);
}

/**
 * Reads a large file once: splits it into chunks, hashes each chunk and the whole file, and writes the chunks the
 * repository lacks (a few at a time). Holds at most the chunker's buffer and the chunks being written.
 */
async function storeChunked(entry: Entry, store: ObjectStore, signal?: AbortSignal): Promise<void> {
  const source = entry.file.abs;
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(source, 'r');
  } catch (error) {
    throw new SourceReadError(`${source}: ${errorCode(error) ?? (error as Error).message}`, { cause: error });
  }
  const inFlight = new Set<Promise<unknown>>();
  let failure: { error: unknown } | undefined;
  try {
    const readAt = async (buffer: Buffer, offset: number, length: number, position: number) => {
      try {
        return (await handle.read(buffer, offset, length, position)).bytesRead;
      } catch (error) {
        throw new SourceReadError(`${source}: ${errorCode(error) ?? (error as Error).message}`, { cause: error });
      }
    };
    const whole = createHash('sha256');
    const chunks: Array<[string, number]> = [];
    let size = 0;
    for await (const chunk of chunkStream(readAt, CHUNKER)) {
      checkAborted(signal);
      if (failure) throw failure.error;
      whole.update(chunk);
      size += chunk.length;
      const sha256 = createHash('sha256').update(chunk).digest('hex');
      chunks.push([sha256, chunk.length]);
      if (store.has(sha256)) continue;
      // The chunk is a view into the chunker's buffer, reused for the next one: the write gets a copy.
      const write: Promise<unknown> = store
        .put(sha256, Buffer.from(chunk))
        .catch((error: unknown) => {
          failure ??= { error };
        })
        .finally(() => inFlight.delete(write));
      inFlight.add(write);
      if (inFlight.size >= CHUNK_WRITES_IN_FLIGHT) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    if (failure) throw failure.error;
    entry.sha256 = whole.digest('hex');
    entry.chunks = chunks;
    entry.file.size = size;
  } finally {
    await Promise.all(inFlight);
    await handle.close().catch(() => undefined);
  }
}

function formatMiB(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

async function readSource(file: string): Promise<Buffer> {
  try {
    return await fsp.readFile(file);
  } catch (error) {
    throw new SourceReadError(`${file}: ${errorCode(error) ?? (error as Error).message}`, { cause: error });
  }
}

function hashLocalFileSync(file: string): { sha256: string; size: number } | SourceReadError {
  let content: Buffer;
  try {
    content = readFileSync(file);
  } catch (error) {
    return new SourceReadError(`${file}: ${errorCode(error) ?? (error as Error).message}`, { cause: error });
  }
  return { sha256: createHash('sha256').update(content).digest('hex'), size: content.length };
}

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));
