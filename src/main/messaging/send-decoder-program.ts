/** The send-decoder worker (a worker thread started by send-decoder.ts): decodes large sends off the event loop. */
import { parentPort } from 'node:worker_threads';
import { decodeSend } from './decode-send';
import type { DecodeReply, DecodeRequest } from './send-decoder';

const port = parentPort!;
port.on('message', ({ id, bytes, nested }: DecodeRequest) => {
  let reply: DecodeReply;
  try {
    reply = { id, result: decodeSend(bytes, nested) };
  } catch (error) {
    port.postMessage({ id, error: (error as Error).message } satisfies DecodeReply);
    return;
  }
  // The body's bytes go back without a copy (a view of the request's bytes, or a buffer of their own).
  port.postMessage(reply, reply.result.kind === 'split' ? [reply.result.body.json.buffer as ArrayBuffer] : []);
});
