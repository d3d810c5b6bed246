/**
 * The backup repository in the chosen folder:
 *
 *     <target>/DevEnviro Backup/
 *       README.txt                          what this folder is, for someone browsing their drive
 *       objects/<sha256[0:2]>/<sha256>      every distinct file content, stored once
 *       snapshots/<timestamp>-<id>.json     one manifest per snapshot, written last
 *       quarantine/<time>-<snapshot>/       damaged objects moved aside by `backup repair`, with repair.json
 *
 * Every write goes to a temporary name (`.tmp-…`), is fsynced, then renamed (the steps of shared/node/durable-file.ts),
 * so a name that exists holds complete content; the folders objects were renamed into are flushed together, before
 * the manifest that names them is published. An interrupted run leaves at most stray temporary files and unreferenced
 * objects (collected later), never a damaged object or manifest. Every operation on the target has a time limit, and
 * its failures become BackupErrors that say what to do (drive missing, full, read-only, offline).
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { renameDurable, renameIntoPlace, syncDir, writeFileSynced, type RenameOptions } from '../../shared/node/durable-file';
import { errorCode } from '../../shared/node/fs-errors';
import { SNAPSHOT_ID_PATTERN } from './config';
import { BackupError, cancelled, classifyTargetError, READ_ONLY_CODES, targetMissing, targetReadOnly, targetTimeout } from './errors';
import { parseManifest, parseManifestHeader, serializeManifestPieces, type Manifest, type ManifestHeader } from './manifest';

export const REPO_DIR = 'DevEnviro Backup';
const TEMP_PREFIX = '.tmp-';
/** Where `backup repair` moves damaged objects. */
export const QUARANTINE_DIR = 'quarantine';
/** Files up to this size are read whole (one read, hashed in memory); larger ones are streamed in chunks. */
export const WHOLE_FILE_LIMIT = 8 * 1024 * 1024;
const CHUNK = 1024 * 1024;
const HEADER_PROBE = 64 * 1024;
/** Backups hold code and the hub's secrets (agent tokens in the mailbox, the cockpit token): owner-only files. */
const PRIVATE = 0o600;
/** A backup folder is often watched by a sync client or antivirus: a rename they hold up for a moment is retried. */
const RENAME: RenameOptions = { retryBusy: true };

const README = `This folder holds backups made by DevEnviro Cockpit.

objects/    file contents, each stored once under its SHA-256
snapshots/  one manifest per backup: the list of files (path, size, time, SHA-256, chunks) and the projects it covers
quarantine/ damaged files moved aside by a repair (kept as evidence; delete them once you no longer need them)

Restore from the cockpit (Backup > Snapshots > Restore). Do not edit or delete files here by hand: the cockpit
removes what its retention settings no longer need.
`;

export interface RepositoryHooks {
  /** Called inside every write to the target (with its time limit and error handling): tests inject faults here. */
  beforeTargetWrite?: (kind: 'object' | 'manifest' | 'other', file: string) => void | Promise<void>;
  /** After an object is in place (renamed to its final name). */
  afterObjectWrite?: (sha256: string, bytes: number) => void | Promise<void>;
  /** After the manifest's temporary file is written and fsynced, before the rename that publishes it. */
  beforeManifestCommit?: (tempFile: string) => void | Promise<void>;
}

/** A failure reading a file being backed up (gone, unreadable): the file is skipped, the run goes on. */
export class SourceReadError extends Error {
  override name = 'SourceReadError';
}

export interface ObjectListing {
  objects: Set<string>;
  /** Temporary files left by interrupted runs, with their age. */
  temps: Array<{ file: string; ageMs: number }>;
}

export interface WrittenObject {
  sha256: string;
  size: number;
}

export class Repository {
  readonly root: string;
  readonly objectsDir: string;
  readonly snapshotsDir: string;
  private readonly headers = new Map<string, ManifestHeader>();
  private readonly madeDirs = new Set<string>();
  /** Object folders written into since the last syncWrittenDirs(). */
  private readonly dirtyDirs = new Set<string>();

  constructor(
    readonly target: string,
    readonly timeoutMs: number,
    private readonly hooks: RepositoryHooks = {},
  ) {
    this.root = path.join(target, REPO_DIR);
    this.objectsDir = path.join(this.root, 'objects');
    this.snapshotsDir = path.join(this.root, 'snapshots');
  }

  /**
   * Checks the target is there and writable, creating the repository's folders (never the target itself: an unmounted
   * drive must not be replaced by an empty local folder). Writability is tested directly, with a probe file created,
   * flushed and deleted: on a read-only drive whose folders already exist, creating them succeeds and only the first
   * object would fail, and some read-only mounts answer mkdir with ENOENT rather than EROFS.
   */
  async prepare(create: boolean): Promise<void> {
    const stat = await this.op('opening the backup folder', () => fsp.stat(this.target)).catch((error: unknown) => {
      if (error instanceof BackupError && error.code !== 'target_failed') throw error;
      throw targetMissing(this.target, error);
    });
    if (!stat.isDirectory()) throw new BackupError('target_missing', `The backup location ${this.target} is a file, not a folder. Choose a folder.`);
    if (!create) {
      const exists = await this.op('opening the backup repository', () => fsp.stat(this.root).then(() => true, () => false));
      if (!exists) throw new BackupError('snapshot_not_found', `There are no backups in ${this.target} yet (no "${REPO_DIR}" folder).`);
      return;
    }
    const what = 'creating the backup folders';
    try {
      await this.write('other', this.objectsDir, what, async () => {
        await fsp.mkdir(this.objectsDir, { recursive: true });
        await fsp.mkdir(this.snapshotsDir, { recursive: true });
      });
    } catch (error) {
      // The target itself is there (just checked, and checked again by the classifier): a folder inside it that
      // cannot be made means it cannot be written, whatever the error code says.
      const code = errorCode(error instanceof BackupError ? error.cause : error);
      if (error instanceof BackupError && error.code === 'target_failed' && code && READ_ONLY_CODES.has(code)) {
        throw targetReadOnly(this.target, what, code, error.cause);
      }
      throw error;
    }
    await this.probeWritable();
    const readme = path.join(this.root, 'README.txt');
    const hasReadme = await this.op('opening the backup repository', () => fsp.stat(readme).then(() => true, () => false));
    if (!hasReadme) await this.writeSmallFile(readme, README, 'other');
  }

  /** Creates, flushes and deletes a small file in the repository folder; a BackupError when that cannot be done. */
  async probeWritable(): Promise<void> {
    const probe = path.join(this.root, `${TEMP_PREFIX}probe-${randomBytes(6).toString('hex')}`);
    const what = 'checking that the backup folder can be written';
    await this.write('other', probe, what, async () => {
      let handle: fsp.FileHandle | undefined;
      try {
        handle = await fsp.open(probe, 'wx', PRIVATE);
        await handle.writeFile('DevEnviro Backup write check\n');
        await handle.sync();
        await handle.close();
        handle = undefined;
        await fsp.rm(probe);
      } catch (error) {
        await handle?.close().catch(() => undefined);
        await fsp.rm(probe, { force: true }).catch(() => undefined);
        const code = errorCode(error);
        if (code && READ_ONLY_CODES.has(code)) throw targetReadOnly(this.target, what, code, error);
        throw error;
      }
    });
  }

  objectPath(sha256: string): string {
    return path.join(this.objectsDir, sha256.slice(0, 2), sha256);
  }

  /** Every object in the repository (a listing of at most 256 folders), and temporary files left behind. */
  async listObjects(now = Date.now()): Promise<ObjectListing> {
    const objects = new Set<string>();
    const temps: ObjectListing['temps'] = [];
    const top = await this.op('listing stored files', () => fsp.readdir(this.objectsDir, { withFileTypes: true })).catch(orEmpty);
    for (const entry of top) {
      if (entry.name.startsWith(TEMP_PREFIX)) {
        temps.push(await this.tempInfo(path.join(this.objectsDir, entry.name), now));
        continue;
      }
      if (!entry.isDirectory() || !/^[0-9a-f]{2}$/.test(entry.name)) continue;
      const dir = path.join(this.objectsDir, entry.name);
      const names = await this.op('listing stored files', () => fsp.readdir(dir));
      for (const name of names) {
        if (name.startsWith(TEMP_PREFIX)) temps.push(await this.tempInfo(path.join(dir, name), now));
        else if (/^[0-9a-f]{64}$/.test(name) && name.startsWith(entry.name)) objects.add(name);
      }
    }
    return { objects, temps };
  }

  private async tempInfo(file: string, now: number): Promise<{ file: string; ageMs: number }> {
    const stat = await this.op('listing stored files', () => fsp.stat(file)).catch(() => undefined);
    return { file, ageMs: stat ? now - stat.mtimeMs : Number.POSITIVE_INFINITY };
  }

  /** Free bytes on the target's drive, or null when the platform or drive does not say. */
  async freeBytes(): Promise<number | null> {
    try {
      const s = await this.op('checking free space', () => fsp.statfs(this.root));
      const free = Number(s.bavail) * Number(s.bsize);
      return Number.isFinite(free) && free > 0 ? free : null;
    } catch {
      return null;
    }
  }

  /** Stores an in-memory content under its hash. */
  async writeObjectBuffer(sha256: string, content: Buffer): Promise<void> {
    const final = this.objectPath(sha256);
    const dir = path.dirname(final);
    const temp = path.join(dir, `${TEMP_PREFIX}${randomBytes(6).toString('hex')}`);
    await this.write('object', final, 'storing a file', async () => {
      await this.ensureDir(dir);
      try {
        await writeFileSynced(temp, content, PRIVATE);
      } catch (error) {
        await fsp.rm(temp, { force: true }).catch(() => undefined);
        throw error;
      }
      // The folder is flushed with the others in syncWrittenDirs(), before a manifest names the object.
      await renameIntoPlace(temp, final, RENAME);
    });
    this.dirtyDirs.add(dir);
    await this.hooks.afterObjectWrite?.(sha256, content.length);
  }

  /**
   * Streams a (large) file into the repository, hashing as it copies; the object is named by what was actually read,
   * so a file that changes meanwhile is stored consistently under its new hash.
   */
  async writeObjectStream(source: string, signal?: AbortSignal): Promise<WrittenObject> {
    await this.ensureDir(this.objectsDir);
    const temp = path.join(this.objectsDir, `${TEMP_PREFIX}${randomBytes(6).toString('hex')}`);
    let input: fsp.FileHandle;
    try {
      input = await fsp.open(source, 'r');
    } catch (error) {
      throw new SourceReadError(`${source}: ${(error as Error).message}`, { cause: error });
    }
    let renamed = false;
    try {
      const hash = createHash('sha256');
      let size = 0;
      // One buffer for the whole copy: writeFileSynced writes each chunk before it asks for the next.
      const buffer = Buffer.allocUnsafe(CHUNK);
      async function* chunks(): AsyncGenerator<Buffer> {
        for (;;) {
          if (signal?.aborted) throw cancelled();
          let n: number;
          try {
            ({ bytesRead: n } = await input.read(buffer, 0, CHUNK, size));
          } catch (error) {
            throw new SourceReadError(`${source}: ${(error as Error).message}`, { cause: error });
          }
          if (n === 0) return;
          hash.update(buffer.subarray(0, n));
          yield buffer.subarray(0, n);
          size += n;
        }
      }
      // Each step on the target (open, every write, the flush) under the time limit and the fault-injection hook.
      await writeFileSynced(temp, chunks(), { mode: PRIVATE, step: (operation) => this.write('object', temp, 'storing a file', operation) });
      const sha256 = hash.digest('hex');
      const final = this.objectPath(sha256);
      await this.write('object', final, 'storing a file', async () => {
        await this.ensureDir(path.dirname(final));
        await renameIntoPlace(temp, final, RENAME);
      });
      renamed = true;
      this.dirtyDirs.add(path.dirname(final));
      await this.hooks.afterObjectWrite?.(sha256, size);
      return { sha256, size };
    } finally {
      await input.close().catch(() => undefined);
      if (!renamed) await fsp.rm(temp, { force: true }).catch(() => undefined);
    }
  }

  /** Re-reads an object and hashes it: its actual hash (null when missing) and size. */
  async hashObject(sha256: string): Promise<{ actual: string | null; size: number }> {
    const file = this.objectPath(sha256);
    let handle: fsp.FileHandle;
    try {
      handle = await this.op('reading a stored file', () => fsp.open(file, 'r'));
    } catch (error) {
      if (error instanceof BackupError && errorCode(error.cause) === 'ENOENT') return { actual: null, size: 0 };
      throw error;
    }
    try {
      const hash = createHash('sha256');
      const buffer = Buffer.allocUnsafe(CHUNK);
      let size = 0;
      for (;;) {
        const { bytesRead } = await this.op('reading a stored file', () => handle.read(buffer, 0, CHUNK, size));
        if (bytesRead === 0) break;
        hash.update(buffer.subarray(0, bytesRead));
        size += bytesRead;
      }
      return { actual: hash.digest('hex'), size };
    } finally {
      await handle.close().catch(() => undefined);
    }
  }

  /** Opens an object for reading (restore), with the time limit applied to each read by the caller via op(). */
  async openObject(sha256: string): Promise<fsp.FileHandle | null> {
    try {
      return await this.op('reading a stored file', () => fsp.open(this.objectPath(sha256), 'r'));
    } catch (error) {
      if (error instanceof BackupError && errorCode(error.cause) === 'ENOENT') return null;
      throw error;
    }
  }

  /**
   * Moves an object out of objects/ into `quarantine/<folderName>/` (never deleted: it is the evidence of the damage).
   * The next run no longer finds it, so it stores the content again. Returns the quarantine folder.
   */
  async quarantineObject(sha256: string, folderName: string): Promise<string> {
    const folder = path.join(this.root, QUARANTINE_DIR, folderName);
    await this.write('other', folder, 'moving a damaged file aside', async () => {
      await fsp.mkdir(folder, { recursive: true });
      // A plain rename (renameIntoPlace would remove the source if the rename failed: here that is the evidence).
      await fsp.rename(this.objectPath(sha256), path.join(folder, sha256));
      await syncDir(folder);
      await syncDir(path.dirname(this.objectPath(sha256)));
    });
    return folder;
  }

  /** The repair's report beside the objects it moved aside. */
  async writeQuarantineNote(folderName: string, text: string): Promise<void> {
    await this.writeSmallFile(path.join(this.root, QUARANTINE_DIR, folderName, 'repair.json'), text, 'other');
  }

  async deleteObject(sha256: string): Promise<void> {
    await this.write('other', this.objectPath(sha256), 'removing an old stored file', () => fsp.rm(this.objectPath(sha256), { force: true }));
  }

  async deleteFile(file: string): Promise<void> {
    await this.write('other', file, 'removing a temporary file', () => fsp.rm(file, { force: true }));
  }

  /** fsyncs the folders objects were renamed into, so their names are durable before a manifest names them. */
  async syncWrittenDirs(): Promise<void> {
    const dirs = [...this.dirtyDirs, this.objectsDir];
    this.dirtyDirs.clear();
    for (const dir of dirs) await this.op('saving stored files', () => syncDir(dir));
  }

  async listSnapshotIds(): Promise<string[]> {
    const names = await this.op('listing snapshots', () => fsp.readdir(this.snapshotsDir)).catch(orEmpty);
    return names
      .filter((name) => name.endsWith('.json'))
      .map((name) => name.slice(0, -'.json'.length))
      .filter((id) => SNAPSHOT_ID_PATTERN.test(id))
      .sort();
  }

  manifestPath(id: string): string {
    return path.join(this.snapshotsDir, `${id}.json`);
  }

  async readManifest(id: string): Promise<Manifest> {
    const file = this.manifestPath(id);
    let text: string;
    try {
      text = await this.op('reading a snapshot', () => fsp.readFile(file, 'utf8'));
    } catch (error) {
      if (error instanceof BackupError && errorCode(error.cause) === 'ENOENT') throw snapshotNotFound(id, this.target);
      throw error;
    }
    const manifest = parseManifest(text, `${id}.json`);
    if (manifest.id !== id) throw new BackupError('snapshot_damaged', `The snapshot manifest ${id}.json names another snapshot (${manifest.id}).`);
    return manifest;
  }

  /** The manifest's header, from its first kilobytes (cached: manifests never change once written). */
  async readManifestHeader(id: string): Promise<ManifestHeader> {
    const cached = this.headers.get(id);
    if (cached) return cached;
    const file = this.manifestPath(id);
    let prefix: string;
    try {
      prefix = await this.op('reading a snapshot', async () => {
        const handle = await fsp.open(file, 'r');
        try {
          const buffer = Buffer.alloc(HEADER_PROBE);
          const { bytesRead } = await handle.read(buffer, 0, HEADER_PROBE, 0);
          return buffer.subarray(0, bytesRead).toString('utf8');
        } finally {
          await handle.close();
        }
      });
    } catch (error) {
      if (error instanceof BackupError && errorCode(error.cause) === 'ENOENT') throw snapshotNotFound(id, this.target);
      throw error;
    }
    let header = parseManifestHeader(prefix, `${id}.json`);
    if (!header) {
      const { files: _files, ...rest } = await this.readManifest(id);
      header = rest;
    }
    this.headers.set(id, header);
    return header;
  }

  /** Publishes a manifest: temporary file, fsync, rename, fsync of the folder. Nothing is left if it fails. */
  async writeManifest(manifest: Manifest): Promise<void> {
    const final = this.manifestPath(manifest.id);
    const temp = path.join(this.snapshotsDir, `${TEMP_PREFIX}${manifest.id}.json`);
    try {
      await this.write('manifest', temp, 'writing the snapshot list', () => writeFileSynced(temp, serializeManifestPieces(manifest), PRIVATE));
      await this.hooks.beforeManifestCommit?.(temp);
      await this.write('manifest', final, 'writing the snapshot list', () => renameDurable(temp, final, RENAME));
    } catch (error) {
      await fsp.rm(temp, { force: true }).catch(() => undefined);
      throw error;
    }
    const { files: _files, ...header } = manifest;
    this.headers.set(manifest.id, header);
  }

  async deleteManifest(id: string): Promise<void> {
    await this.write('other', this.manifestPath(id), 'removing an old snapshot', () => fsp.rm(this.manifestPath(id), { force: true }));
    this.headers.delete(id);
  }

  async syncSnapshotsDir(): Promise<void> {
    await this.op('removing old snapshots', () => syncDir(this.snapshotsDir));
  }

  /** Temporary manifests left by interrupted runs. */
  async listManifestTemps(): Promise<string[]> {
    const names = await this.op('listing snapshots', () => fsp.readdir(this.snapshotsDir)).catch(orEmpty);
    return names.filter((name) => name.startsWith(TEMP_PREFIX)).map((name) => path.join(this.snapshotsDir, name));
  }

  private async writeSmallFile(file: string, content: string, kind: 'manifest' | 'other'): Promise<void> {
    const temp = `${path.dirname(file)}/${TEMP_PREFIX}${randomBytes(6).toString('hex')}`;
    await this.write(kind, file, 'writing into the backup folder', async () => {
      try {
        await writeFileSynced(temp, content);
      } catch (error) {
        await fsp.rm(temp, { force: true }).catch(() => undefined);
        throw error;
      }
      await renameIntoPlace(temp, file, RENAME);
    });
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.madeDirs.has(dir)) return;
    await this.write('other', dir, 'creating a folder', () => fsp.mkdir(dir, { recursive: true }));
    this.madeDirs.add(dir);
  }

  /** A write to the target: runs the fault-injection hook, then the operation, both under the time limit. */
  private write<T>(kind: 'object' | 'manifest' | 'other', file: string, what: string, fn: () => Promise<T>): Promise<T> {
    return this.op(what, async () => {
      await this.hooks.beforeTargetWrite?.(kind, file);
      return fn();
    });
  }

  /** Runs one operation on the target under the time limit; failures become BackupErrors a person can act on. */
  async op<T>(what: string, fn: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(targetTimeout(this.target, what, this.timeoutMs)), this.timeoutMs);
    });
    try {
      return await Promise.race([fn(), timeout]);
    } catch (error) {
      if (error instanceof BackupError || error instanceof SourceReadError) throw error;
      throw classifyTargetError(error, this.target, what, await this.targetExists());
    } finally {
      clearTimeout(timer);
    }
  }

  private async targetExists(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), Math.min(this.timeoutMs, 5000));
    });
    try {
      return await Promise.race([fsp.stat(this.target).then(() => true, () => false), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

export function snapshotNotFound(id: string, target: string): BackupError {
  return new BackupError('snapshot_not_found', `There is no snapshot ${id} in ${path.join(target, REPO_DIR)}.`);
}

function orEmpty(error: unknown): never[] {
  if (error instanceof BackupError && errorCode(error.cause) === 'ENOENT') return [];
  throw error;
}
