/** The little of git the reservation commands need: the repository's root, where its hooks live, the staged paths. */
import { execFile } from 'node:child_process';
import path from 'node:path';

/** git said no (not a repository, git missing...): the message is git's own, for the person to read. */
export class GitError extends Error {
  override name = 'GitError';
}

/** Runs git in `cwd` and resolves with its standard output (bytes kept as text: paths may be any UTF-8). */
export function git(args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('git', args, { cwd, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
      reject(new GitError(missing ? 'git is not installed (or not on the PATH)' : stderr.trim() || error.message));
    });
  });
}

/** The top folder of the work tree `cwd` is in, and `cwd`'s path below it (`src/app/`, or '' at the top). */
export async function workTree(cwd: string): Promise<{ root: string; prefix: string } | undefined> {
  let out: string;
  try {
    out = await git(['rev-parse', '--show-toplevel', '--show-prefix'], cwd);
  } catch {
    return undefined; // not in a repository (or a bare one): paths are taken as given
  }
  const [root, prefix = ''] = out.split('\n');
  return root ? { root, prefix } : undefined;
}

/** The folder git runs this repository's hooks from (core.hooksPath when set; each worktree shares its repo's). */
export async function hooksDir(cwd: string): Promise<string> {
  const out = (await git(['rev-parse', '--git-path', 'hooks'], cwd)).trim();
  return path.resolve(cwd, out);
}

/**
 * The repo-relative paths a commit would change: added, modified and deleted files, and both sides of a rename
 * (--no-renames), from the index. -z: names come unquoted, whatever characters they hold.
 */
export async function stagedPaths(cwd: string): Promise<string[]> {
  const out = await git(['diff', '--cached', '--name-only', '--no-renames', '-z'], cwd);
  return out.split('\0').filter((name) => name !== '');
}
