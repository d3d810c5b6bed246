/**
 * The vector index on disk, one set of files per embedding model in the index directory:
 *
 *   <model>.json                   header, the commit point: written durably (shared/node/durable-file.ts)
 *   <model>.g<N>.vectors.faiss     vectors by position: a FAISS flat inner-product index file (see faiss-format.ts)
 *   <model>.g<N>.ids               memory id of each position, float64 little-endian
 *   <model>.g<N>.ivf.<P>.faiss     IVF parts (positions [start, start + count) each), when the index is IVF
 *
 * A generation N is written once by a rebuild or compaction and then only appended to: positions before the
 * header's `count` never change, so a save appends the new positions, fsyncs, and then replaces the header. A crash
 * at any point leaves the previous header describing a valid prefix of the files. Tombstones are a bitmap in the
 * header. Checksums (CRC-32) cover the committed prefix of the vectors and ids files, each IVF part, and the
 * header itself.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { syncDir, writeFileDurable } from '../../shared/node/durable-file';

export const HEADER_FORMAT = 1;

export interface IvfPartMeta {
  /** File name inside the index directory. */
  file: string;
  /** Inverted lists [firstList, endList), whole. */
  firstList: number;
  endList: number;
  /** Vectors held. */
  count: number;
  bytes: number;
  crc32: number;
}

export interface IvfMeta {
  description: string;
  nlist: number;
  nprobe: number;
  /** Estimated recall@10 at nprobe, measured when built. */
  recall: number;
  /** Positions [0, covered) are in the parts (labels = positions); later ones are replayed from the vectors file on open. */
  covered: number;
  parts: IvfPartMeta[];
  trainedAt: string;
  trainPoints: number;
  trainMs: number;
  addMs: number;
  tuneMs: number;
}

export interface IndexHeader {
  format: number;
  modelId: string;
  dimension: number;
  generation: number;
  /** Positions stored in this generation's vectors and ids files (dead ones included). */
  count: number;
  live: number;
  vectorsCrc32: number;
  idsCrc32: number;
  /** Tombstones: base64 bitmap, bit p set = position p dead. */
  dead: string;
  ivf: IvfMeta | null;
  savedAt: string;
  /** CRC-32 of the JSON of every other field. */
  checksum?: number;
}

export class IndexFiles {
  readonly base: string;
  private readonly pattern: RegExp;
  /** The header's temporary (durable-file's name for it; `<model>.json.tmp` is an older one, still cleaned up). */
  private readonly tempHeaderPattern: RegExp;

  constructor(
    readonly dir: string,
    modelId: string,
  ) {
    this.base = fileBase(modelId);
    const escaped = this.base.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
    this.pattern = new RegExp(`^${escaped}\\.(?:json\\.tmp|g(\\d+)\\.(?:vectors\\.faiss|ids|ivf(?:\\.\\d+\\.faiss(?:\\.tmp)?|\\.scratch|\\.full)))$`);
    this.tempHeaderPattern = new RegExp(`^\\.${escaped}\\.json\\.\\d+\\.tmp$`);
  }

  get header(): string {
    return path.join(this.dir, `${this.base}.json`);
  }

  vectors(generation: number): string {
    return path.join(this.dir, `${this.base}.g${generation}.vectors.faiss`);
  }

  ids(generation: number): string {
    return path.join(this.dir, `${this.base}.g${generation}.ids`);
  }

  /** Prefix the IVF builder writes its parts under (`<prefix>.<P>.faiss`). */
  ivfPrefix(generation: number): string {
    return path.join(this.dir, `${this.base}.g${generation}.ivf`);
  }

  /** This model's files in the directory (the header excluded), with their generation (null for a temp header). */
  async list(): Promise<Array<{ name: string; generation: number | null }>> {
    const names = await fsp.readdir(this.dir).catch(() => [] as string[]);
    const out: Array<{ name: string; generation: number | null }> = [];
    for (const name of names) {
      const match = this.pattern.exec(name);
      if (match) out.push({ name, generation: match[1] === undefined ? null : Number(match[1]) });
      else if (this.tempHeaderPattern.test(name)) out.push({ name, generation: null });
    }
    return out;
  }

  /** Deletes this model's files that `keep` rejects (best effort). */
  async remove(keep: (file: { name: string; generation: number | null }) => boolean): Promise<void> {
    for (const file of await this.list()) {
      if (!keep(file)) await fsp.rm(path.join(this.dir, file.name), { force: true }).catch(() => undefined);
    }
  }

  async readHeader(): Promise<{ header: IndexHeader } | { header: null; reason: string }> {
    let text: string;
    try {
      text = await fsp.readFile(this.header, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { header: null, reason: 'no saved index' };
      return { header: null, reason: `header unreadable: ${(error as Error).message}` };
    }
    let parsed: IndexHeader;
    try {
      parsed = JSON.parse(text) as IndexHeader;
    } catch {
      return { header: null, reason: 'header is not valid JSON (damaged)' };
    }
    const { checksum, ...rest } = parsed;
    if (checksum !== crc32(Buffer.from(JSON.stringify(rest)))) return { header: null, reason: 'header checksum mismatch (damaged)' };
    return { header: parsed };
  }

  async writeHeader(header: Omit<IndexHeader, 'checksum'>): Promise<void> {
    const body = JSON.stringify(header);
    const withChecksum: IndexHeader = { ...header, checksum: crc32(Buffer.from(body)) };
    // The files the header names (a new generation's, a build's IVF parts) have their names flushed first, so a
    // header that survives a power cut never names a file that did not.
    await syncDir(this.dir);
    await writeFileDurable(this.header, JSON.stringify(withChecksum));
  }
}

/** A file-system-safe, collision-free name for a model id. */
export function fileBase(modelId: string): string {
  const safe = modelId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 80);
  if (safe === modelId && safe.length > 0) return safe;
  const hash = createHash('sha256').update(modelId).digest('hex').slice(0, 8);
  return `${safe || 'model'}-${hash}`;
}

export function crc32(data: Uint8Array, previous = 0): number {
  return zlib.crc32(data, previous);
}

/** Writes `chunks` one after another at `position`; returns the CRC-32 of what was written, continuing `crc`. */
export async function writeAt(handle: fsp.FileHandle, position: number, chunks: Uint8Array[], crc: number): Promise<number> {
  let at = position;
  for (const chunk of chunks) {
    let done = 0;
    while (done < chunk.length) {
      const { bytesWritten } = await handle.write(chunk, done, chunk.length - done, at + done);
      done += bytesWritten;
    }
    at += chunk.length;
    crc = crc32(chunk, crc);
  }
  return crc;
}

/** Reads exactly `length` bytes at `position` into `target` (throws if the file is shorter). */
export async function readExactly(handle: fsp.FileHandle, target: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < target.length) {
    const { bytesRead } = await handle.read(target, done, target.length - done, position + done);
    if (bytesRead === 0) throw new Error('file is shorter than its header says (truncated)');
    done += bytesRead;
  }
}
