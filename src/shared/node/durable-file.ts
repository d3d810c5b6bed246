/**
 * Durable file writes, the one home for them: write, flush the file, rename into place, flush the folder. A crash
 * then leaves the old content or the new one under the name, never an empty or partial file, and once the call
 * returns the new name survives a power cut. Node-only (node:fs); shared by the hub and the agents' client.
 */
import { chmodSync, closeSync, constants, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Folder flushes some file systems refuse: Windows cannot open folders (NTFS journals renames itself), and FUSE
 * mounts of cloud drives and SMB shares answer ENOTSUP or EINVAL. The rename itself is still atomic there.
 */
const FOLDER_SYNC_UNSUPPORTED = new Set(['EISDIR', 'EPERM', 'EACCES', 'EINVAL', 'ENOTSUP', 'EBADF']);

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

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

/** Writes a file and flushes it before returning (the file, not yet its folder entry). An iterable is written as it yields. */
export async function writeFileSynced(file: string, data: string | Uint8Array | AsyncIterable<string | Uint8Array>, mode = 0o644): Promise<void> {
  const handle = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, mode);
  try {
    await writeFile(handle, data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** writeFileSynced for code that must not yield. */
export function writeFileSyncedSync(file: string, content: string | Uint8Array, mode = 0o644): void {
  const fd = openSync(file, 'w', mode);
  try {
    const data = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    for (let offset = 0; offset < data.length; ) offset += writeSync(fd, data, offset, data.length - offset);
    // fsync on the descriptor, not writeFileSync's `flush` option: Node 20 ignores that option for string content.
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Replaces `file` durably: temporary name, flush, rename, flush the folder. The file flush comes before the rename:
 * without it a file system may commit the rename before the data, and a crash leaves the name on an empty file.
 */
export async function writeFileDurable(file: string, data: string | Uint8Array | AsyncIterable<string | Uint8Array>, mode = 0o644): Promise<void> {
  const temp = temporaryName(file);
  try {
    await writeFileSynced(temp, data, mode);
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await syncDir(path.dirname(file));
}

/** writeFileDurable for code that must not yield (settings and credentials written at start-up or by the CLI). */
export function writeFileDurableSync(file: string, content: string | Uint8Array, mode = 0o644): void {
  const temp = temporaryName(file);
  try {
    writeFileSyncedSync(temp, content, mode);
    renameSync(temp, file);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
  // Windows ignores the mode given at creation; chmod keeps the intent where it applies.
  chmodSync(file, mode);
  syncDirSync(path.dirname(file));
}
