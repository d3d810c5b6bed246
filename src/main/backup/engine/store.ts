/**
 * The hash and store phases of a run: hash what the local cache does not know, then copy the contents the
 * repository lacks (one object per sha256), and the file reading both need.
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp, readFileSync } from 'node:fs';
import { errorCode } from '../../../shared/node/fs-errors';
import { BackupError } from '../errors';
import { SourceReadError, WHOLE_FILE_LIMIT, type Repository } from '../repository';
import { checkAborted, forEachLimit, sum, type EngineContext, type Entry } from './context';
import { phaseProgress, type ProgressReporter } from './progress';

/** A file modified this recently may change again within its file system's timestamp granularity: hash it next time too. */
const RACY_MS = 3000;
/** Files up to this size are hashed with synchronous reads, in slices of SLICE_MS between yields to the event loop. */
const SYNC_HASH_LIMIT = 1024 * 1024;
const SLICE_MS = 10;

/** Hashes the entries the (path, size, mtime, ctime) cache does not know; unreadable files are left out with a warning. */
export async function hashEntries(
  ctx: EngineContext,
  entries: Entry[],
  report: ProgressReporter,
  warnings: string[],
  signal: AbortSignal | undefined,
): Promise<{ hashed: number; vanished: Set<Entry> }> {
  const cache = ctx.state.loadHashes();
  const toHash: Entry[] = [];
  for (const entry of entries) {
    const cached = entry.cacheable ? cache.get(entry.file.abs) : undefined;
    if (cached && cached.size === entry.file.size && cached.mtime === entry.file.mtimeMs && cached.ctime === entry.file.ctimeMs) {
      entry.sha256 = cached.sha256;
    } else toHash.push(entry);
  }
  const hashing = phaseProgress(report, 'hashing', { files: toHash.length, bytes: sum(toHash.map((e) => e.file.size)) });
  const learned: Array<{ path: string; size: number; mtime: number; ctime: number; sha256: string }> = [];
  const vanished = new Set<Entry>();
  const settle = (entry: Entry, hashStartedAt: number, outcome: { sha256: string; size: number } | SourceReadError) => {
    const statSize = entry.file.size;
    if (outcome instanceof SourceReadError) {
      vanished.add(entry);
      warnings.push(`${entry.source}/${entry.file.path} could not be read and is not in this snapshot (${outcome.message}).`);
    } else {
      entry.sha256 = outcome.sha256;
      entry.file.size = outcome.size;
      if (entry.cacheable && outcome.size === statSize && hashStartedAt - entry.file.mtimeMs > RACY_MS) {
        learned.push({ path: entry.file.abs, size: outcome.size, mtime: entry.file.mtimeMs, ctime: entry.file.ctimeMs, sha256: outcome.sha256 });
      }
    }
    hashing.step(statSize);
  };
  // Small files are read and hashed synchronously in slices of a few milliseconds (an async read per small file
  // costs more than the read itself); large ones are streamed.
  const small = toHash.filter((e) => e.file.size <= SYNC_HASH_LIMIT);
  const large = toHash.filter((e) => e.file.size > SYNC_HASH_LIMIT);
  let sliceStart = performance.now();
  for (const entry of small) {
    if (performance.now() - sliceStart > SLICE_MS) {
      await yieldToLoop();
      checkAborted(signal);
      sliceStart = performance.now();
    }
    const startedAt = Date.now();
    settle(entry, startedAt, hashLocalFileSync(entry.file.abs));
  }
  await forEachLimit(large, ctx.options.hashConcurrency ?? 2, signal, async (entry) => {
    const startedAt = Date.now();
    settle(entry, startedAt, await hashLocalFile(entry.file.abs, entry.file.size).catch((error: unknown) => {
      if (error instanceof SourceReadError) return error;
      throw error;
    }));
  });
  ctx.state.putHashes(learned);
  return { hashed: toHash.length, vanished };
}

/** Copies the contents the repository lacks; counts the objects it writes into `totals`. */
export async function copyMissing(
  ctx: EngineContext,
  repo: Repository,
  entries: Entry[],
  vanished: Set<Entry>,
  report: ProgressReporter,
  warnings: string[],
  totals: { newObjects: number; newBytes: number },
  signal: AbortSignal | undefined,
): Promise<void> {
  const listing = await repo.listObjects();
  const present = listing.objects;
  const groups = new Map<string, Entry[]>();
  for (const entry of entries) {
    if (vanished.has(entry) || present.has(entry.sha256!)) continue;
    const group = groups.get(entry.sha256!);
    if (group) group.push(entry);
    else groups.set(entry.sha256!, [entry]);
  }
  const copyList = [...groups.entries()];
  const copyTotal = { files: copyList.length, bytes: sum(copyList.map(([, group]) => group[0]!.file.size)) };
  const copying = phaseProgress(report, 'copying', copyTotal);
  const free = await repo.freeBytes();
  if (free !== null && free < copyTotal.bytes) {
    throw new BackupError(
      'target_full',
      `The backup folder ${repo.target} has ${formatMiB(free)} free but this backup needs about ${formatMiB(copyTotal.bytes)}. ` +
        'Free some space there (or in its cloud storage) or choose another folder, then run the backup again. Earlier backups are untouched.',
    );
  }
  await forEachLimit(copyList, ctx.options.copyConcurrency ?? 16, signal, async ([sha256, group]) => {
    // Store the content under sha256 from the first file of the group that still has it; a file that changed
    // since it was hashed is stored under its new hash instead.
    for (const entry of group) {
      if (vanished.has(entry)) continue;
      try {
        const stored = await storeFile(repo, entry, present, signal);
        if (stored.written) {
          totals.newObjects++;
          totals.newBytes += stored.size;
        }
        if (entry.sha256 === sha256) break;
      } catch (error) {
        if (!(error instanceof SourceReadError)) throw error;
        vanished.add(entry);
        warnings.push(`${entry.source}/${entry.file.path} could not be read and is not in this snapshot (${error.message}).`);
      }
    }
    copying.step(group[0]!.file.size);
  });
}

/** Stores one file's content; returns whether an object was written (false when it was already there). */
async function storeFile(repo: Repository, entry: Entry, present: Set<string>, signal?: AbortSignal): Promise<{ written: boolean; size: number }> {
  checkAborted(signal);
  if (entry.file.size <= WHOLE_FILE_LIMIT) {
    const content = await readSource(entry.file.abs);
    if (content.length > WHOLE_FILE_LIMIT) return storeStreamed(repo, entry, present, signal);
    const sha256 = createHash('sha256').update(content).digest('hex');
    entry.sha256 = sha256;
    entry.file.size = content.length;
    if (present.has(sha256)) return { written: false, size: content.length };
    present.add(sha256);
    try {
      await repo.writeObjectBuffer(sha256, content);
    } catch (error) {
      present.delete(sha256);
      throw error;
    }
    return { written: true, size: content.length };
  }
  return storeStreamed(repo, entry, present, signal);
}

async function storeStreamed(repo: Repository, entry: Entry, present: Set<string>, signal?: AbortSignal): Promise<{ written: boolean; size: number }> {
  const { sha256, size } = await repo.writeObjectStream(entry.file.abs, signal);
  entry.sha256 = sha256;
  entry.file.size = size;
  present.add(sha256);
  return { written: true, size };
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

/** sha256 of a local file: read whole when small, streamed when large. */
async function hashLocalFile(file: string, expectedSize: number): Promise<{ sha256: string; size: number }> {
  if (expectedSize <= WHOLE_FILE_LIMIT) {
    const content = await readSource(file);
    return { sha256: createHash('sha256').update(content).digest('hex'), size: content.length };
  }
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let size = 0;
    createReadStream(file, { highWaterMark: 1024 * 1024 })
      .on('data', (chunk) => {
        hash.update(chunk);
        size += chunk.length;
      })
      .on('error', (error) => reject(new SourceReadError(`${file}: ${errorCode(error) ?? error.message}`, { cause: error })))
      .on('end', () => resolve({ sha256: hash.digest('hex'), size }));
  });
}
