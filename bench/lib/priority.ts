/** Our own processes ahead of other jobs on a shared machine (never anyone else's). */
import os from 'node:os';

/** nice -10: about nine times the CPU weight of an ordinary process. */
export const AHEAD_NICE = -10;

/**
 * Runs `pid` at nice -10 (on Linux its main thread: nice is per thread; the processes it spawns afterwards inherit
 * it); warns, and the run measures anyway, where that is not allowed.
 */
export function aheadOfOtherWork(pid: number, what: string): boolean {
  try {
    os.setPriority(pid, AHEAD_NICE);
    return true;
  } catch (error) {
    console.warn(`could not run ${what} (pid ${pid}) at nice ${AHEAD_NICE}: ${(error as Error).message}`);
    return false;
  }
}
