/**
 * A2A message parts to hub message bodies and back: text parts become the body's text, data parts JSON, file parts
 * base64 bytes or a URL (A2aMessageBody); a hub reply's text body becomes a text part, a JSON body a data part.
 */
import type { Part } from '@a2a-js/sdk';
import type { A2aFile, A2aMessageBody } from '../../shared/a2a-protocol';

/** The body of the hub message an A2A message's parts become; a string when every part is text. */
export function hubBodyOf(parts: readonly Part[]): string | A2aMessageBody {
  const texts: string[] = [];
  const data: unknown[] = [];
  const files: A2aFile[] = [];
  for (const part of parts) {
    const content = part.content;
    if (!content) throw new Error('a message part has no content (text, data, raw or url)');
    const file = { name: part.filename || null, mediaType: part.mediaType || null };
    switch (content.$case) {
      case 'text':
        texts.push(content.value);
        break;
      case 'data':
        data.push(content.value ?? null);
        break;
      case 'raw':
        files.push({ ...file, bytes: Buffer.from(content.value).toString('base64') });
        break;
      case 'url':
        files.push({ ...file, url: content.value });
        break;
    }
  }
  if (texts.length + data.length + files.length === 0) throw new Error('the message has no parts: send at least one text, data or file part');
  if (data.length === 0 && files.length === 0) return texts.join('\n');
  return {
    ...(texts.length > 0 ? { text: texts.join('\n') } : {}),
    ...(data.length > 0 ? { data } : {}),
    ...(files.length > 0 ? { files } : {}),
  };
}

/**
 * The size of the hub message body as the messaging service counts it against messages.maxBytes (a text body's
 * UTF-8 bytes, a JSON body's JSON), without serialising the file bytes: base64 has no characters JSON escapes, so
 * each file's bytes count as their length.
 */
export function hubBodyBytes(body: string | A2aMessageBody): number {
  if (typeof body === 'string') return Buffer.byteLength(body);
  const files = body.files?.map((file) => ({ ...file, bytes: file.bytes === undefined ? undefined : '' })) ?? [];
  const base64 = body.files?.reduce((sum, file) => sum + (file.bytes?.length ?? 0), 0) ?? 0;
  return Buffer.byteLength(JSON.stringify({ ...body, ...(body.files ? { files } : {}) })) + base64;
}

/**
 * The hub message body's JSON bytes, where file entries whose URL is a placeholder (`${stubPrefix}${index}`, see
 * decode-request.ts) get the bytes `taken[index]` (base64) instead: spliced in, not serialised again, since base64
 * has no character JSON escapes.
 */
export function hubBodyJsonWithFiles(body: A2aMessageBody, taken: readonly Uint8Array[], stubPrefix: string): Buffer {
  const spliced: Uint8Array[] = [];
  const files = body.files?.map((file): A2aFile => {
    if (!file.url?.startsWith(stubPrefix)) return file;
    const bytes = taken[Number(file.url.slice(stubPrefix.length))];
    if (!bytes) throw new Error('a file part names bytes the request does not carry');
    // The placeholder is private to the hub, so it cannot occur in the caller's own text or data.
    const mark = `${stubPrefix}${spliced.length}`;
    spliced.push(bytes);
    return { name: file.name, mediaType: file.mediaType, bytes: mark };
  });
  if (spliced.length === 0) return Buffer.from(JSON.stringify(body));
  const text = JSON.stringify({ ...body, files });
  const pieces: Uint8Array[] = [];
  let from = 0;
  spliced.forEach((bytes, index) => {
    const at = text.indexOf(`"${stubPrefix}${index}"`, from);
    pieces.push(Buffer.from(text.slice(from, at + 1)), bytes);
    from = at + 1 + `${stubPrefix}${index}`.length;
  });
  pieces.push(Buffer.from(text.slice(from)));
  return Buffer.concat(pieces);
}

/** The A2A parts of a hub message's body: text as a text part, JSON as a data part. */
export function partsOf(body: unknown): Part[] {
  if (typeof body === 'string') return [{ content: { $case: 'text', value: body }, mediaType: 'text/plain', filename: '', metadata: {} }];
  return [{ content: { $case: 'data', value: body }, mediaType: 'application/json', filename: '', metadata: {} }];
}
