/**
 * Message bodies too large for a database row, one file each: `<dataDir>/message-bodies/<message id>.json`,
 * holding the body's JSON encoding (a text body as its JSON string literal). The row keeps the first characters
 * of the body (for the keyword index and previews) and the file's size.
 *
 * Durability: a file is written, fsynced and its directory entry fsynced before the row that names it is
 * committed, so an acknowledged message always has its body. A crash between the two leaves a file that no row
 * names; `sweep` (run when the hub starts) removes those, and anything else that is not a body file.
 */
import { closeSync, createReadStream, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { ULID_SOURCE } from '../../shared/agent-protocol';
import { syncDir, syncDirSync, writeFileSynced } from '../../shared/node/durable-file';

export const BODY_DIR = 'message-bodies';
const FILE_NAME = new RegExp(`^(${ULID_SOURCE})\\.json$`);

export class BodyStore {
  private totalBytes = 0;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /** The bytes of all body files (counted by `sweep`, kept up to date by `write` and `discard`). */
  get bytes(): number {
    return this.totalBytes;
  }

  pathOf(id: string): string {
    return path.join(this.dir, `${id}.json`);
  }

  /** Writes a body and makes it durable (file and directory entry); on any failure no file is left behind. */
  async write(id: string, json: Buffer): Promise<void> {
    const file = this.pathOf(id);
    try {
      await writeFileSynced(file, json);
      await syncDir(this.dir);
    } catch (error) {
      await rm(file, { force: true }).catch(() => undefined);
      throw error;
    }
    this.totalBytes += json.length;
  }

  read(id: string): Buffer {
    return readFileSync(this.pathOf(id));
  }

  /** Removes a body (`bytes` long) whose message was not stored after all (a duplicate, a failed commit). */
  discard(id: string, bytes: number): void {
    rm(this.pathOf(id), { force: true }).then(
      () => {
        this.totalBytes -= bytes;
      },
      (error: Error) => console.error(`[messaging] could not remove the body file of ${id}: ${error.message}`),
    );
  }

  /**
   * Removes every file that is not the body of a stored message: bodies written for sends a crash interrupted
   * before their commit, bodies of deleted messages. `storedBytes` gives the size of a stored message's body file,
   * undefined for any other name; the sizes of the files kept make the running total. Returns how many went.
   */
  sweep(storedBytes: (id: string) => number | undefined): number {
    let removed = 0;
    let kept = 0;
    for (const name of readdirSync(this.dir)) {
      const id = FILE_NAME.exec(name)?.[1];
      const bytes = id === undefined ? undefined : storedBytes(id);
      if (bytes !== undefined) {
        kept += bytes;
        continue;
      }
      rmSync(path.join(this.dir, name), { force: true, recursive: true });
      removed++;
    }
    this.totalBytes = kept;
    if (removed > 0) syncDirSync(this.dir);
    return removed;
  }
}

/** Where a message's body is when it is not in its row: its JSON encoding, in memory (just received) or in its file. */
export interface ExternalBody {
  /** Size of the JSON encoding, bytes. */
  readonly bytes: number;
  /** The body file, once the message is read back from the database. */
  readonly file?: string;
  json(): Buffer;
}

/**
 * The first `bytes` bytes of a body's JSON (fewer when it is shorter): for previews, which must not read (let alone
 * parse) a multi-megabyte file to show its first characters.
 */
export function bodyHead(external: ExternalBody, bytes: number): Buffer {
  if (external.file === undefined) return external.json().subarray(0, bytes);
  const head = Buffer.allocUnsafe(Math.min(bytes, external.bytes));
  const fd = openSync(external.file, 'r');
  try {
    let filled = 0;
    while (filled < head.length) {
      const read = readSync(fd, head, filled, head.length - filled, filled);
      if (read === 0) break;
      filled += read;
    }
    return head.subarray(0, filled);
  } finally {
    closeSync(fd);
  }
}

/** The body's JSON bytes in pieces: read from its file a slice at a time, so writing it out holds little memory. */
export async function* bodyChunks(external: ExternalBody): AsyncGenerator<Buffer> {
  if (external.file === undefined) {
    yield external.json();
    return;
  }
  for await (const chunk of createReadStream(external.file, { highWaterMark: 1024 * 1024 })) yield chunk as Buffer;
}

/**
 * Gives a message a body read on demand from `external` (parsed once, on first access) and a non-enumerable
 * `external`, so code that serialises the message sees the full body, and code that can send bytes finds them.
 * `known` is the body when the caller already has it parsed: it is then never parsed from the bytes again.
 */
export function withExternalBody<T extends object>(
  message: T,
  external: ExternalBody,
  known?: { value: unknown },
): T & { body: unknown; external: ExternalBody } {
  let parsed = known;
  Object.defineProperty(message, 'external', { value: external, enumerable: false, configurable: true });
  Object.defineProperty(message, 'body', {
    enumerable: true,
    configurable: true,
    get() {
      parsed ??= { value: JSON.parse(external.json().toString('utf8')) };
      return parsed.value;
    },
  });
  return message as T & { body: unknown; external: ExternalBody };
}
