/**
 * Writing a small file so that a crash leaves the old content or the new one, never an empty or partial file. No
 * dependencies beyond node:fs, so the client can use it without pulling in the hub's config schema.
 */
import { chmodSync, closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';

/**
 * Writes under a temporary name, flushes it to disk, then renames it into place. The flush comes first: without it a
 * file system may commit the rename before the data, and a crash then leaves the name pointing at an empty file.
 * (fsyncSync on the descriptor rather than writeFileSync's `flush` option: Node 20 ignores that option for string
 * content.)
 */
export function writeFileAtomic(file: string, content: string | Buffer, mode = 0o644): void {
  const temp = `${file}.${process.pid}.tmp`;
  try {
    const fd = openSync(temp, 'w', mode);
    try {
      const data = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
      for (let offset = 0; offset < data.length; ) offset += writeSync(fd, data, offset, data.length - offset);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
  // Windows ignores the mode given at creation; chmod keeps the intent where it applies.
  chmodSync(file, mode);
}
