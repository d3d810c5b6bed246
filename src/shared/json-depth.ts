/** How deep a JSON document nests, found without parsing it or recursing: the check behind MAX_JSON_DEPTH. */
import { MAX_JSON_DEPTH } from './agent-protocol';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Whether a JSON document nests objects and arrays more than `max` deep. A byte scan that skips string contents,
 * so no recursion, whatever the input. A valid document of n bytes nests at most n/2 deep: short ones are not scanned.
 */
export function nestsDeeperThan(buf: Uint8Array, max: number = MAX_JSON_DEPTH): boolean {
  const n = buf.length;
  if (n <= 2 * max) return false;
  let depth = 0;
  for (let i = 0; i < n; i++) {
    const c = buf[i]!;
    if (c === QUOTE) {
      // Skip the string: to the next quote that no backslash escapes. indexOf finds each quote natively, so a long
      // string (a message body) costs little; a quote after an odd run of backslashes is escaped and skipped.
      const open = i;
      for (;;) {
        const quote = buf.indexOf(QUOTE, i + 1);
        if (quote < 0) return false;
        let slashes = 0;
        while (quote - 1 - slashes > open && buf[quote - 1 - slashes] === BACKSLASH) slashes++;
        i = quote;
        if (slashes % 2 === 0) break;
      }
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

export function tooDeepMessage(): string {
  return `the JSON nests deeper than ${MAX_JSON_DEPTH} levels of objects and arrays, the most the hub accepts`;
}
