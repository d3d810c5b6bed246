/** The A2A decoder worker (a worker thread started by request-decoder.ts): decodes large A2A requests off the event loop. */
import { parentPort } from 'node:worker_threads';
import { decodeA2aRequest } from './decode-request';
import type { A2aDecodeReply, A2aDecodeRequest } from './request-decoder';

const port = parentPort!;
port.on('message', ({ id, bytes, stubPrefix }: A2aDecodeRequest) => {
  let reply: A2aDecodeReply;
  try {
    reply = { id, result: decodeA2aRequest(bytes, stubPrefix) };
  } catch (error) {
    port.postMessage({ id, error: (error as Error).message } satisfies A2aDecodeReply);
    return;
  }
  // The files' base64 goes back without a copy.
  port.postMessage(reply, reply.result.kind === 'parsed' ? reply.result.files.map((file) => file.buffer as ArrayBuffer) : []);
});
