/**
 * Durable file writes, the one home for them: write, flush the file, rename into place, flush the folder. A crash
 * then leaves the old content or the new one under the name, never an empty or partial file, and once the call
 * returns the new name survives a power cut. Node-only (node:fs); shared by the hub and the agents' client.
 *
 * writeFileDurable(Sync) does all four steps. Code that names its temporaries itself, or renames many files and
 * flushes their folders once (the backup repository, the vector index's parts), builds the same sequence from the
 * steps: writeFileSynced(Sync), then renameIntoPlace(Sync) or renameDurable, then syncDir(Sync).
 */
import { chmodSync, closeSync, constants, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { retry, type Backoff } from '../retry';
import { errorCode } from './fs-errors';

/**
 * Folder flushes some file systems refuse: Windows cannot open folders (NTFS journals renames itself), and FUSE
 * mounts of cloud drives and SMB shares answer ENOTSUP or EINVAL. The rename itself is still atomic there.
 */
const FOLDER_SYNC_UNSUPPORTED = new Set(['EISDIR', 'EPERM', 'EACCES', 'EINVAL', 'ENOTSUP', 'EBADF']);

/** The temporary name a file is written under before it is renamed into place: hidden, beside it, per process. */
export function temporaryName(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
}

/** Flushes a folder's entries (creations, renames, removals) to disk; a no-op where folders cannot be flushed. */
export async function syncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  let handle;
  try {
    handle = await open(dir, constants.O_RDONLY);
    await handle.sync();
  } catch (error) {
    if (!FOLDER_SYNC_UNSUPPORTED.has(errorCode(error) ?? '')) throw error;
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** syncDir for code that must not yield (a commit path that runs inside one event-loop turn). */
export function syncDirSync(dir: string): void {
  if (process.platform === 'win32') return;
  let fd: number | undefined;
  try {
    fd = openSync(dir, constants.O_RDONLY);
    fsyncSync(fd);
  } catch (error) {
    if (!FOLDER_SYNC_UNSUPPORTED.has(errorCode(error) ?? '')) throw error;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export interface SyncedWriteOptions {
  /** Permissions of a file the write creates. Default 0o644. */
  mode?: number;
  /** Fail with EEXIST rather than replace a file (or follow a link) already at the name. */
  exclusive?: boolean;
  /**
   * Runs each step on the file (the open, every write, the flush) and returns its result: where a caller puts a
   * time limit per step, or injects faults in tests. Chunks of an iterable are pulled outside it.
   */
  step?: <T>(operation: () => Promise<T>) => Promise<T>;
}

/**
 * Writes a file and flushes it before returning (the file, not yet its folder entry). An iterable is written as it
 * yields, each chunk before the next is pulled, so a producer may reuse one buffer. If the iterable throws, the file
 * is closed unflushed and the error is the caller's (as is removing the file).
 */
export async function writeFileSynced(
  file: string,
  data: string | Uint8Array | AsyncIterable<string | Uint8Array> | Iterable<Uint8Array>,
  options: number | SyncedWriteOptions = {},
): Promise<void> {
  const { mode = 0o644, exclusive = false, step = runStep } = typeof options === 'number' ? { mode: options } : options;
  const flags = constants.O_WRONLY | constants.O_CREAT | (exclusive ? constants.O_EXCL : constants.O_TRUNC);
  const handle = await step(() => open(file, flags, mode));
  try {
    if (typeof data === 'string' || data instanceof Uint8Array) {
      await step(() => writeFile(handle, data));
    } else {
      let position = 0;
      for await (const chunk of data) {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
        await step(() => writeAllAt(handle, bytes, position));
        position += bytes.length;
      }
    }
    await step(() => handle.sync());
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw error;
  }
  await handle.close();
}

const runStep = <T>(operation: () => Promise<T>): Promise<T> => operation();

async function writeAllAt(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < bytes.length; ) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}

/** writeFileSynced for code that must not yield; an iterable is written as it yields (a producer may reuse a buffer). */
export function writeFileSyncedSync(file: string, content: string | Uint8Array | Iterable<Uint8Array>, mode = 0o644): void {
  const fd = openSync(file, 'w', mode);
  try {
    const chunks = typeof content === 'string' ? [Buffer.from(content, 'utf8')] : content instanceof Uint8Array ? [content] : content;
    for (const data of chunks) {
      for (let offset = 0; offset < data.length; ) offset += writeSync(fd, data, offset, data.length - offset);
    }
    // fsync on the descriptor, not writeFileSync's `flush` option: Node 20 ignores that option for string content.
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export interface RenameOptions {
  /**
   * Retry for about 2.75 s on Windows when the rename fails with EPERM, EACCES or EBUSY: a sync client or antivirus
   * holding the file open for a moment (folders other programs watch, such as a backup drive).
   */
  retryBusy?: boolean;
}

/** 50 ms, 100 ms, … 500 ms: about 2.75 s in all before the rename's failure is the caller's. */
const BUSY_RENAME_BACKOFF = { steps: Array.from({ length: 10 }, (_, i) => 50 * (i + 1)) } satisfies Backoff;
const BUSY_RENAME_CODES = new Set(['EPERM', 'EACCES', 'EBUSY']);

/**
 * Renames a written and flushed temporary onto its final name, and removes the temporary if the rename fails. The
 * folder is not flushed: for callers that rename many files and then syncDir each folder once.
 */
export async function renameIntoPlace(temp: string, final: string, options: RenameOptions = {}): Promise<void> {
  try {
    if (!options.retryBusy) await rename(temp, final);
    else {
      await retry(() => rename(temp, final), {
        backoff: BUSY_RENAME_BACKOFF,
        retries: BUSY_RENAME_BACKOFF.steps.length,
        shouldRetry: (error) => process.platform === 'win32' && BUSY_RENAME_CODES.has(errorCode(error) ?? ''),
      });
    }
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw error;
  }
}

/** renameIntoPlace for code that must not yield (no retry: it would block). */
export function renameIntoPlaceSync(temp: string, final: string): void {
  try {
    renameSync(temp, final);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}

/** Publishes a written and flushed temporary: renameIntoPlace, then flushes the folder so the new name survives. */
export async function renameDurable(temp: string, final: string, options: RenameOptions = {}): Promise<void> {
  await renameIntoPlace(temp, final, options);
  await syncDir(path.dirname(final));
}

/**
 * Replaces `file` durably: temporary name, flush, rename, flush the folder. The file flush comes before the rename:
 * without it a file system may commit the rename before the data, and a crash leaves the name on an empty file.
 */
export async function writeFileDurable(file: string, data: string | Uint8Array | AsyncIterable<string | Uint8Array>, mode = 0o644): Promise<void> {
  const temp = temporaryName(file);
  try {
    await writeFileSynced(temp, data, mode);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw error;
  }
  await renameDurable(temp, file);
}

/** writeFileDurable for code that must not yield (settings and credentials written at start-up or by the CLI). */
export function writeFileDurableSync(file: string, content: string | Uint8Array, mode = 0o644): void {
  const temp = temporaryName(file);
  try {
    writeFileSyncedSync(temp, content, mode);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
  renameIntoPlaceSync(temp, file);
  // Windows ignores the mode given at creation; chmod keeps the intent where it applies.
  chmodSync(file, mode);
  syncDirSync(path.dirname(file));
}
