/** Small file-system steps the mailbox is built from, each durable where it needs to be. */
import { lstat, mkdir, readdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { writeFileDurable } from '../../shared/node/durable-file';
import { errorCode, isMissing } from '../../shared/node/fs-errors';

export async function ensureDirs(dirs: readonly string[], mode = 0o700): Promise<void> {
  for (const dir of dirs) await mkdir(dir, { recursive: true, mode });
}

/** The names in a directory, or none when it does not exist (or is not a directory). */
export async function listNames(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if (isMissing(error) || errorCode(error) === 'ENOTDIR') return [];
    throw error;
  }
}

/** The sub-directories of a directory, or none when it does not exist. */
export async function listDirs(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((entry) => entry.isDirectory()).map((entry) => entry.name);
  } catch (error) {
    if (isMissing(error) || errorCode(error) === 'ENOTDIR') return [];
    throw error;
  }
}

/**
 * Moves a file that could not be used into a rejected folder, beside `<stem>.error.txt` saying why. The error is
 * written first, durably (an agent polling the folder never reads it half-written), so a crash in between leaves the
 * file where it was (it is looked at again) rather than a rejected file with no explanation. A name already taken in
 * the rejected folder gets a number: `x.2.json`.
 */
export async function reject(file: string, rejectedDir: string, originalName: string, explanation: string): Promise<string> {
  await mkdir(rejectedDir, { recursive: true, mode: 0o700 });
  const stem = originalName.endsWith('.json') ? originalName.slice(0, -'.json'.length) : originalName;
  let target = originalName;
  let targetStem = stem;
  for (let n = 2; await exists(path.join(rejectedDir, target)); n++) {
    targetStem = `${stem}.${n}`;
    target = `${targetStem}.json`;
  }
  await writeFileDurable(path.join(rejectedDir, `${targetStem}.error.txt`), explanation.endsWith('\n') ? explanation : `${explanation}\n`);
  await rename(file, path.join(rejectedDir, target));
  return path.join(rejectedDir, target);
}

export async function exists(file: string): Promise<boolean> {
  try {
    await lstat(file);
    return true;
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}
