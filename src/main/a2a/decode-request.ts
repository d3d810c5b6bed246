/**
 * Decoding an A2A JSON-RPC request from its bytes: the nesting limit, the parse, and the inline file bytes of a
 * message's parts taken out (base64 decoded and re-encoded as the hub stores it). Pure code: the A2A decoder worker
 * runs it on large requests, the event loop on small ones (request-decoder.ts).
 */
import { nestsDeeperThan } from '../../shared/json-depth';
import { A2A_PART_METADATA } from '../../shared/a2a-protocol';

/**
 * File parts with more than this many bytes are taken out of the request; smaller ones stay where they are (and
 * stay inline in the stored task, see task-store.ts).
 */
export const TAKEN_FILE_BYTES = 64 * 1024;

export type DecodedA2aRequest =
  /** Refused by the nesting limit, unparsed (a JSON-RPC invalid request). */
  | { kind: 'tooDeep' }
  /** Not JSON (a JSON-RPC parse error). */
  | { kind: 'parseError' }
  /**
   * The request, with each taken file part now a `url` part (v0.3: a `file.uri`) naming `${stubPrefix}${index}`
   * and its size in the part's metadata; `files[index]` is that file's bytes as base64 (ASCII bytes).
   */
  | { kind: 'parsed'; body: unknown; files: Uint8Array[] };

/**
 * Decodes a request. `stubPrefix` names the taken files (the hub's private prefix: see request-decoder.ts).
 * A method other than a message send is only parsed.
 */
export function decodeA2aRequest(bytes: Uint8Array, stubPrefix: string): DecodedA2aRequest {
  if (nestsDeeperThan(bytes)) return { kind: 'tooDeep' };
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    return { kind: 'parseError' };
  }
  const files: Uint8Array[] = [];
  const parts = (isObject(body) && isObject(body.params) && isObject(body.params.message) && body.params.message.parts) || undefined;
  if (!Array.isArray(parts)) return { kind: 'parsed', body, files };
  for (const part of parts) {
    if (!isObject(part)) continue;
    // A2A 1.0 puts a file's bytes in `raw`; 0.3 in `file.bytes` of a `kind: "file"` part.
    const legacy = part.kind === 'file' && isObject(part.file) ? part.file : undefined;
    const base64 = legacy ? legacy.bytes : part.raw;
    if (typeof base64 !== 'string' || base64.length <= (TAKEN_FILE_BYTES * 4) / 3) continue;
    // Decoded as the SDK decodes it (Buffer's lenient base64), then written as the hub stores it.
    const decoded = Buffer.from(base64, 'base64');
    if (decoded.length <= TAKEN_FILE_BYTES) continue;
    const stub = `${stubPrefix}${files.length}`;
    // A buffer of its own, so it can be handed to the event loop without a copy.
    files.push(new TextEncoder().encode(decoded.toString('base64')));
    if (legacy) {
      delete legacy.bytes;
      legacy.uri = stub;
    } else {
      delete part.raw;
      part.url = stub;
    }
    part.metadata = { ...(isObject(part.metadata) ? part.metadata : {}), [A2A_PART_METADATA.fileBytes]: decoded.length };
  }
  return { kind: 'parsed', body, files };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
