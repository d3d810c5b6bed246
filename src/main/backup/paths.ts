/** Small path questions the backup asks in several places, answered one way. */
import { statSync } from 'node:fs';
import path from 'node:path';

/** Whether a folder is there now (false for a file, a missing path, or one that cannot be looked at). */
export function isDirectory(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

/** Whether `child` is `parent` or lies under it (both absolute, compared as written: no links are followed). */
export function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}
