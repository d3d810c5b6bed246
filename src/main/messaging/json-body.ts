/**
 * Large text bodies without copies: a send that arrives as JSON bytes (an HTTP request body, a WebSocket frame)
 * is split into its small envelope, parsed as usual, and its body, kept as the bytes of its JSON string literal
 * exactly as they arrived (quotes and escapes included). Those bytes are valid JSON for the body wherever the hub
 * writes it out again (the body file, the frame to a recipient), so the body never becomes a JavaScript string
 * on its way through the hub. Anything this scanner is unsure of (escaped or repeated keys, a non-string body,
 * invalid JSON) is left to the ordinary path: JSON.parse of the whole thing.
 */
/**
 * A body held as its JSON encoding, exactly as the hub will write it out: a text body as its string literal
 * (quotes and escapes included, as it arrived), a JSON body as its serialisation.
 */
export class RawBody {
  constructor(
    /** The JSON: `"…"` for a text body, `{…}` or `[…]` for a JSON body; UTF-8. */
    readonly json: Buffer,
    /** The size of the body in UTF-8, what `messages.maxBytes` limits: the decoded text, or the JSON itself. */
    readonly utf8Bytes: number,
    readonly contentType: 'text' | 'json' = 'text',
  ) {}

  /** The body's value (a copy: only for bodies small enough to be stored in the database row). */
  value(): unknown {
    return JSON.parse(this.json.toString('utf8'));
  }

  /** What the database row keeps: the text itself, or the JSON document as text (see store.ts). */
  rowText(): string {
    return this.contentType === 'text' ? (this.value() as string) : this.json.toString('utf8');
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Scans the JSON string literal whose opening quote is at `start`; returns the index after its closing quote and
 * the UTF-8 size of the decoded string, or null if it is not a valid literal (raw control characters, bad escapes,
 * unterminated).
 */
export function scanJsonString(buf: Uint8Array, start: number): { end: number; utf8Bytes: number } | null {
  if (buf[start] !== QUOTE) return null;
  const n = buf.length;
  let bytes = 0;
  let i = start + 1;
  for (;;) {
    // The common case, a run of plain bytes, in a tight loop.
    let c = 0;
    const runStart = i;
    while (i < n && (c = buf[i]!) !== QUOTE && c !== BACKSLASH && c >= 0x20) i++;
    bytes += i - runStart;
    if (i >= n || c < 0x20) return null;
    if (c === QUOTE) return { end: i + 1, utf8Bytes: bytes };
    // An escape.
    const e = buf[i + 1];
    if (e === 0x75 /* u */) {
      const unit = hex4(buf, i + 2);
      if (unit < 0) return null;
      if (unit >= 0xd800 && unit <= 0xdbff && buf[i + 6] === BACKSLASH && buf[i + 7] === 0x75) {
        const low = hex4(buf, i + 8);
        if (low >= 0xdc00 && low <= 0xdfff) {
          bytes += 4;
          i += 12;
          continue;
        }
      }
      // Lone surrogates become U+FFFD (3 bytes) in UTF-8, as Buffer.byteLength counts them.
      bytes += unit < 0x80 ? 1 : unit < 0x800 ? 2 : 3;
      i += 6;
      continue;
    }
    if (e === QUOTE || e === BACKSLASH || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
      bytes += 1;
      i += 2;
      continue;
    }
    return null;
  }
}

function hex4(buf: Uint8Array, at: number): number {
  if (at + 4 > buf.length) return -1;
  let value = 0;
  for (let k = 0; k < 4; k++) {
    const c = buf[at + k]!;
    const digit = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

function skipSpace(buf: Uint8Array, i: number): number {
  for (;;) {
    const c = buf[i];
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
    else return i;
  }
}

/**
 * Skips one JSON value starting at `i` (no whitespace before it); returns the index after it, or -1. Strings are
 * scanned properly; other values only far enough to find their end (JSON.parse of the envelope validates them).
 */
function skipValue(buf: Uint8Array, i: number): number {
  const c = buf[i];
  if (c === QUOTE) return scanJsonString(buf, i)?.end ?? -1;
  if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
    let depth = 0;
    while (i < buf.length) {
      const d = buf[i]!;
      if (d === QUOTE) {
        const end = scanJsonString(buf, i)?.end;
        if (end === undefined) return -1;
        i = end;
        continue;
      }
      if (d === 0x7b || d === 0x5b) depth++;
      else if (d === 0x7d || d === 0x5d) {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    return -1;
  }
  // A number, true, false or null: up to the next delimiter.
  while (i < buf.length) {
    const d = buf[i]!;
    if (d === 0x2c || d === 0x7d || d === 0x5d || d === 0x20 || d === 0x0a || d === 0x0d || d === 0x09) return i;
    i++;
  }
  return -1;
}

type Found = { start: number; end: number; utf8Bytes: number };

/**
 * Finds the string at `path` (keys of nested objects) in the object that starts at `i`: its [start, end) range and
 * decoded size, and where that object ends. Null if an object on the way is malformed, if any key in one is
 * escaped (it might spell a wanted key), if a wanted key occurs twice (JSON.parse would keep the last), or if the
 * value is not a string. Each byte is scanned once.
 */
function findString(buf: Uint8Array, i: number, path: readonly Uint8Array[]): { found: Found; objectEnd: number } | null {
  const key = path[0]!;
  i = skipSpace(buf, i);
  if (buf[i] !== 0x7b) return null;
  i = skipSpace(buf, i + 1);
  let found: Found | null = null;
  if (buf[i] === 0x7d) return null;
  for (;;) {
    const keyScan = scanJsonString(buf, i);
    if (!keyScan) return null;
    const keyStart = i + 1;
    const keyEnd = keyScan.end - 1;
    for (let k = keyStart; k < keyEnd; k++) if (buf[k] === BACKSLASH) return null;
    i = skipSpace(buf, keyScan.end);
    if (buf[i] !== 0x3a /* : */) return null;
    i = skipSpace(buf, i + 1);
    let valueEnd: number;
    if (keyEnd - keyStart === key.length && key.every((b, k) => buf[keyStart + k] === b)) {
      if (found) return null;
      if (path.length > 1) {
        const inner = findString(buf, i, path.slice(1));
        if (!inner) return null;
        found = inner.found;
        valueEnd = inner.objectEnd;
      } else {
        const scan = scanJsonString(buf, i);
        if (!scan) return null;
        found = { start: i, end: scan.end, utf8Bytes: scan.utf8Bytes };
        valueEnd = scan.end;
      }
    } else {
      valueEnd = skipValue(buf, i);
      if (valueEnd < 0) return null;
    }
    i = skipSpace(buf, valueEnd);
    if (buf[i] === 0x2c /* , */) {
      i = skipSpace(buf, i + 1);
      continue;
    }
    if (buf[i] === 0x7d) return found && { found, objectEnd: i + 1 };
    return null;
  }
}

const BODY_PATH = [Buffer.from('body')];
const FRAME_BODY_PATH = [Buffer.from('message'), Buffer.from('body')];

/**
 * Sends (HTTP request bodies, realtime frames) from this many bytes on are split with `splitSend` before parsing;
 * smaller ones are parsed whole, where splitting would save nothing worth the scan.
 */
export const SPLIT_SENDS_FROM = 64 * 1024;

export interface SplitSend {
  /** The document with the body replaced by `""`: small, for JSON.parse and validation. */
  envelope: string;
  body: RawBody;
}

/**
 * Splits a send whose body is a JSON string: `{"body": "…", …}` (an HTTP send), or with `nested`, a realtime
 * frame `{"type": "send", "message": {"body": "…", …}, …}`. Null when the body is not a string or anything is
 * unusual; the caller then parses the whole document as usual. `json` must be valid UTF-8 (the caller checks).
 */
export function splitSend(json: Buffer, nested: boolean): SplitSend | null {
  const result = findString(json, 0, nested ? FRAME_BODY_PATH : BODY_PATH);
  // Only whitespace may follow the document.
  if (!result || skipSpace(json, result.objectEnd) !== json.length) return null;
  const { start, end, utf8Bytes } = result.found;
  const envelope = json.toString('utf8', 0, start) + '""' + json.toString('utf8', end);
  return { envelope, body: new RawBody(json.subarray(start, end), utf8Bytes) };
}

/**
 * The first characters of a body held as its JSON literal, decoded: at most `maxBytes` bytes of the literal are
 * read, so at most that many characters come out (what the keyword index and the database row keep).
 */
export function previewOf(literal: Buffer, maxBytes: number): string {
  if (literal.length - 2 <= maxBytes) return JSON.parse(literal.toString('utf8')) as string;
  let end = 1 + maxBytes;
  // Not in the middle of a UTF-8 sequence…
  while (end > 1 && (literal[end]! & 0xc0) === 0x80) end--;
  // …nor of an escape (at most 11 bytes of one: a surrogate pair's first 11).
  for (let back = 0; back <= 12 && end - back > 1; back++) {
    try {
      return JSON.parse(`"${literal.toString('utf8', 1, end - back)}"`) as string;
    } catch {
      // cut inside an escape: try a byte earlier
    }
  }
  return '';
}

/** The first characters of a JSON body's text (at most `maxBytes` bytes of it), never cutting a character in half. */
export function jsonPreviewOf(json: Buffer, maxBytes: number): string {
  if (json.length <= maxBytes) return json.toString('utf8');
  let end = maxBytes;
  while (end > 0 && (json[end]! & 0xc0) === 0x80) end--;
  return json.toString('utf8', 0, end);
}
