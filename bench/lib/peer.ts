/**
 * One agent's realtime socket as a benchmark client sees it: raw `ws`, frames built by hand (a client's cheapest
 * way), timestamps taken the moment a frame arrives. The same class talks to the hub (`hub` mode: welcome, message,
 * sent, error frames) and to the raw relay baseline (`relay` mode: the sender's own frame comes out the other end).
 */
import WebSocket from 'ws';
import type { Message, ServerFrame } from '../../src/shared/agent-protocol';

export type Mode = 'hub' | 'relay';

/** Microseconds on the system's monotonic clock: comparable between processes on one machine. */
export function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

type RelayFrame = { type: 'send'; ref: string; message: { body: string } } | { type: 'welcome' };
type Frame = ServerFrame | RelayFrame;

const noop = () => undefined;

export class Peer {
  /** A message arrived: its body, its id (hub mode) and when (µs, nowUs). */
  onDelivery: (body: string, id: string | null, atUs: number) => void = noop;
  /** The hub confirmed a send as durable (`sent` frame): its ref and when. */
  onSent: (ref: string, atUs: number) => void = noop;
  delivered = 0;
  errors = 0;
  lastError: string | null = null;
  closedWith: number | null = null;
  /** Acknowledge deliveries (hub mode), batched per I/O turn as a sensible client does. */
  autoAck = true;
  private acks: string[] = [];
  private ackScheduled = false;

  private constructor(
    readonly id: string,
    readonly mode: Mode,
    readonly ws: WebSocket,
  ) {}

  /** Opens the socket and resolves once the server's welcome frame arrived. */
  static connect(url: string, id: string, mode: Mode, token?: string, timeoutMs = 20_000): Promise<Peer> {
    const ws = new WebSocket(url, {
      perMessageDeflate: false,
      maxPayload: 256 * 2 ** 20,
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    const peer = new Peer(id, mode, ws);
    return new Promise<Peer>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`${url}: no welcome within ${timeoutMs} ms`)), timeoutMs);
      let welcomed = false;
      const fail = (error: Error) => {
        if (welcomed) return;
        clearTimeout(timer);
        ws.terminate();
        reject(error);
      };
      ws.on('unexpected-response', (_req, res) => fail(new Error(`${url}: upgrade refused with HTTP ${res.statusCode}`)));
      ws.on('error', (error) => fail(error));
      ws.on('close', (code) => {
        peer.closedWith = code;
        fail(new Error(`${url}: closed (${code}) before the welcome`));
      });
      ws.on('message', (data: Buffer) => {
        const at = nowUs();
        const frame = JSON.parse(data.toString()) as Frame;
        if (frame.type === 'welcome') {
          welcomed = true;
          clearTimeout(timer);
          resolve(peer);
          return;
        }
        peer.handle(frame, at);
      });
    });
  }

  /** Sends a message to another agent (hub: a `send` frame; the relay routes the very same frame). */
  sendTo(to: string, body: string, ref: string): void {
    this.ws.send(`{"type":"send","ref":"${ref}","message":{"to":{"type":"agent","id":"${to}"},"body":${JSON.stringify(body)}}}`);
  }

  close(): void {
    this.ws.close();
  }

  private handle(frame: Frame, at: number): void {
    switch (frame.type) {
      case 'message': {
        const message: Message = frame.message;
        this.delivered++;
        if (this.autoAck) this.queueAck(message.id);
        this.onDelivery(message.body as string, message.id, at);
        break;
      }
      case 'send':
        this.delivered++;
        this.onDelivery(frame.message.body, null, at);
        break;
      case 'sent':
        this.onSent(frame.ref, at);
        break;
      case 'error':
        this.errors++;
        this.lastError = `${frame.code}: ${frame.message}`;
        break;
    }
  }

  private queueAck(id: string): void {
    this.acks.push(id);
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    setImmediate(() => {
      this.ackScheduled = false;
      const ids = this.acks;
      this.acks = [];
      if (ids.length && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: 'ack', ids }));
    });
  }
}
