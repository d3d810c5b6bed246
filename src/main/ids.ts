/** ULIDs for messages and agents, monotonic within the process, from pooled randomness. */
import { randomFillSync } from 'node:crypto';
import { monotonicFactory } from 'ulid';

const POOL_BYTES = 8192;

/**
 * A generator of ULIDs (sortable, unique ids), monotonic within this process. Its randomness comes from a pooled
 * buffer refilled 8 KiB at a time: the library's default asks the OS for bytes on every id, which showed up at
 * 1-5% of the hub's time under message load.
 */
export function ulidGenerator(): () => string {
  const pool = new Uint8Array(POOL_BYTES);
  let offset = POOL_BYTES;
  return monotonicFactory(() => {
    if (offset >= POOL_BYTES) {
      randomFillSync(pool);
      offset = 0;
    }
    return pool[offset++]! / 256;
  });
}
