/**
 * The git pre-commit hook `devenviro guard install` writes: it runs the repository's earlier pre-commit hook (kept
 * beside it, renamed), then `devenviro guard check`. Installing again rewrites ours; uninstalling puts the earlier
 * one back. A hook that is not ours is never overwritten or deleted.
 */
import { chmod, readFile, rename, rm } from 'node:fs/promises';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { writeFileDurable } from '../../shared/node/durable-file';
import { isMissing } from '../../shared/node/fs-errors';

export const HOOK_NAME = 'pre-commit';
/** Where an existing pre-commit hook goes when ours takes its place; ours runs it first. */
export const CHAINED_HOOK = 'pre-commit.devenviro-chained';
/** The line that tells our hook from any other. */
export const HOOK_MARKER = '# devenviro guard: refuses a commit that touches files another agent holds exclusively.';

export interface HookSettings {
  /** The command that runs `devenviro` (program first): the same one that installed the hook. */
  devenviro: string[];
  /** Passed to `guard check` as they were given to install. */
  dataDir?: string;
  url?: string;
  /** The agent who commits here when $DEVENVIRO_AGENT does not say. */
  as?: string;
  project?: string;
}

export function hookScript(settings: HookSettings): string {
  const fixed = [...settings.devenviro, 'guard', 'check'];
  if (settings.dataDir) fixed.push('--data-dir', settings.dataDir);
  if (settings.url) fixed.push('--url', settings.url);
  if (settings.project) fixed.push('--project', settings.project);
  return [
    '#!/bin/sh',
    HOOK_MARKER,
    '# Written by `devenviro guard install`; `devenviro guard uninstall` removes it and puts back the hook it chains to.',
    '# Who commits: $DEVENVIRO_AGENT (a saved agent name, or a name or id with $DEVENVIRO_TOKEN), else the agent',
    '# named at install. With the hub stopped the commit goes ahead (with a warning); `git commit --no-verify` skips it.',
    `chained="$(dirname "$0")/${CHAINED_HOOK}"`,
    'if [ -x "$chained" ]; then',
    '  "$chained" "$@" || exit $?',
    'fi',
    settings.as ? `if [ -z "\${DEVENVIRO_AGENT:-}" ]; then set -- --as ${quote(settings.as)}; else set --; fi` : 'set --',
    `exec ${fixed.map(quote).join(' ')} "$@"`,
    '',
  ].join('\n');
}

export type InstallOutcome = { hook: string; chained: string | undefined; replacedOurs: boolean };

/** Writes our hook into `hooks`; an earlier hook that is not ours is renamed to CHAINED_HOOK and run first. */
export async function installHook(hooks: string, settings: HookSettings): Promise<InstallOutcome> {
  mkdirSync(hooks, { recursive: true });
  const hook = path.join(hooks, HOOK_NAME);
  const chained = path.join(hooks, CHAINED_HOOK);
  const current = await readIfThere(hook);
  const ours = current !== undefined && isOurs(current);
  const earlier = await readIfThere(chained);
  if (current !== undefined && !ours) {
    if (earlier !== undefined) {
      throw new Error(
        `${hook} is not the devenviro guard, and ${chained} exists too (from an earlier install): ` +
          'merge them by hand (or remove one), then install again',
      );
    }
    // Kept, not overwritten: our hook runs it first and stops the commit when it does.
    await rename(hook, chained);
  }
  await writeFileDurable(hook, hookScript(settings), 0o755);
  await chmod(hook, 0o755); // exactly: the umask may have taken bits off
  return { hook, chained: current !== undefined && !ours ? chained : earlier !== undefined ? chained : undefined, replacedOurs: ours };
}

export type UninstallOutcome = { removed: boolean; restored: string | undefined; hook: string };

/** Removes our hook and puts the one it chained to back; a hook that is not ours is left alone (an error). */
export async function uninstallHook(hooks: string): Promise<UninstallOutcome> {
  const hook = path.join(hooks, HOOK_NAME);
  const chained = path.join(hooks, CHAINED_HOOK);
  const current = await readIfThere(hook);
  if (current !== undefined && !isOurs(current)) throw new Error(`${hook} is not the devenviro guard; left as it is`);
  if (current !== undefined) await rm(hook, { force: true });
  if ((await readIfThere(chained)) !== undefined) {
    await rename(chained, hook);
    return { removed: current !== undefined, restored: hook, hook };
  }
  return { removed: current !== undefined, restored: undefined, hook };
}

function isOurs(script: string): boolean {
  return script.split('\n').slice(0, 3).includes(HOOK_MARKER);
}

async function readIfThere(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

/** One word for a POSIX shell. */
function quote(word: string): string {
  return /^[A-Za-z0-9_./:@=+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
