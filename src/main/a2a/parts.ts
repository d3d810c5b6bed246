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

/** How many bytes the file parts of a message carry (large messages are prepared in steps, see request-handler.ts). */
export function fileBytesOf(parts: readonly Part[]): number {
  return parts.reduce((sum, part) => sum + (part.content?.$case === 'raw' ? part.content.value.length : 0), 0);
}

/** The A2A parts of a hub message's body: text as a text part, JSON as a data part. */
export function partsOf(body: unknown): Part[] {
  if (typeof body === 'string') return [{ content: { $case: 'text', value: body }, mediaType: 'text/plain', filename: '', metadata: {} }];
  return [{ content: { $case: 'data', value: body }, mediaType: 'application/json', filename: '', metadata: {} }];
}
