/**
 * The raw baseline: the least a WebSocket relay can do for an agent-to-agent message on this machine. A child
 * process with one `ws` server; each client connects with `?id=`; a frame from A is JSON-parsed only to find its
 * recipient (`message.to.id`, the hub's own send frame) and its bytes are forwarded unchanged to B. No storage,
 * no validation, no acknowledgement.
 */
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

const peers = new Map<string, WebSocket>();
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 256 * 2 ** 20, perMessageDeflate: false });

wss.on('connection', (ws, request) => {
  const id = new URL(request.url ?? '/', 'http://relay').searchParams.get('id');
  if (!id) {
    ws.close(4400, 'connect with ?id=');
    return;
  }
  peers.set(id, ws);
  ws.on('message', (data: Buffer) => {
    let to: string | undefined;
    try {
      to = (JSON.parse(data.toString()) as { message?: { to?: { id?: string } } }).message?.to?.id;
    } catch {
      return;
    }
    if (to !== undefined) peers.get(to)?.send(data, { binary: false });
  });
  ws.on('error', () => ws.terminate());
  ws.on('close', () => {
    if (peers.get(id) === ws) peers.delete(id);
  });
  ws.send('{"type":"welcome"}');
});

wss.on('listening', () => process.send?.({ port: (wss.address() as AddressInfo).port }));
process.on('disconnect', () => process.exit(0));
