/**
 * One MCP session's Streamable HTTP transport on Node's own request and response objects, in place of the SDK's
 * (which turns each request into a web-standard Request and each answer into a Response and a ReadableStream).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import { SUPPORTED_PROTOCOL_VERSIONS, type JSONRPCMessage, type MessageExtraInfo, type RequestId } from '@modelcontextprotocol/sdk/types.js';

/**
 * A call answered within this long gets its answer as one JSON body (one write); one still running then (a wait, a
 * memory search) is answered as an event stream whose headers go out at once, so its client sees the call under way
 * and, should the hub die, a stream cut off rather than a request never answered.
 */
export const JSON_ANSWER_WINDOW_MS = 20;

/** The JSON-RPC batch cap the SDK's own transport applies. */
const MAX_BATCH = 100;

export interface NodeStreamableHttpOptions {
  sessionIdGenerator: () => string;
  onsessioninitialized?: (sessionId: string) => void;
  onsessionclosed?: (sessionId: string) => void;
}

/** One POST that carried requests: its HTTP response waits for their answers. */
interface Exchange {
  res: ServerResponse;
  /** Requests of this POST not answered yet. */
  open: Set<RequestId>;
  /** Answers held for a JSON body (until every request of the POST is answered). */
  answers: JSONRPCMessage[];
  /** The response has become an event stream (the call ran past the window, or the server sent something first). */
  stream: boolean;
  timer: NodeJS.Timeout | undefined;
  done: boolean;
}

const STREAM_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive' };

/**
 * Speaks Streamable HTTP (MCP 2025-03-26 and later) for one session: POST carries JSON-RPC messages (a JSON answer,
 * or an event stream when the call runs long or the server sends requests or notifications during it); GET opens
 * the session's notification stream; DELETE ends the session. The spec's 400/404/405/406/409/415 answers.
 */
export class NodeStreamableHttpTransport implements Transport {
  sessionId?: string;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;

  private started = false;
  private initialized = false;
  private closed = false;
  private readonly exchanges = new Map<RequestId, Exchange>();
  /** The GET notification stream, when the client holds one open. */
  private notifications: ServerResponse | undefined;

  constructor(private readonly options: NodeStreamableHttpOptions) {}

  async start(): Promise<void> {
    if (this.started) throw new Error('Transport already started');
    this.started = true;
  }

  /** Answers one HTTP request of the session; `body` is the request's parsed JSON (POST). */
  async handleRequest(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
    if (this.closed) return refuse(res, 404, -32001, 'Session not found');
    switch (req.method) {
      case 'POST':
        return this.post(req, res, body);
      case 'GET':
        return this.get(req, res);
      case 'DELETE':
        return this.delete(req, res);
      default:
        res.setHeader('allow', 'GET, POST, DELETE');
        return refuse(res, 405, -32000, 'Method not allowed.');
    }
  }

  private post(req: IncomingMessage, res: ServerResponse, body: unknown): void {
    const accept = req.headers.accept ?? '';
    if (!accept.includes('application/json') || !accept.includes('text/event-stream')) {
      return refuse(res, 406, -32000, 'Not Acceptable: Client must accept both application/json and text/event-stream');
    }
    if (!/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) {
      return refuse(res, 415, -32000, 'Unsupported Media Type: Content-Type must be application/json');
    }
    const messages = (Array.isArray(body) ? body : [body]) as unknown[];
    if (messages.length > MAX_BATCH) return refuse(res, 400, -32600, `Invalid Request: Batch must not exceed ${MAX_BATCH} messages`);
    if (messages.length === 0 || !messages.every(isMessage)) return refuse(res, 400, -32700, 'Parse error: Invalid JSON-RPC message');

    const initializing = messages.some((message) => isRequest(message) && message.method === 'initialize');
    if (initializing) {
      if (this.initialized) return refuse(res, 400, -32600, 'Invalid Request: Server already initialized');
      if (messages.length > 1) return refuse(res, 400, -32600, 'Invalid Request: Only one initialization request is allowed');
      this.sessionId = this.options.sessionIdGenerator();
      this.initialized = true;
      this.options.onsessioninitialized?.(this.sessionId);
    } else if (!this.sessionValid(req, res)) {
      return;
    }

    const extra: MessageExtraInfo = { requestInfo: { headers: req.headers } };
    const requests = messages.filter(isRequest);
    if (requests.length === 0) {
      // Only notifications or answers: accepted, nothing to answer.
      res.writeHead(202).end();
      for (const message of messages) this.onmessage?.(message, extra);
      return;
    }
    const exchange: Exchange = { res, open: new Set(requests.map((r) => r.id)), answers: [], stream: false, timer: undefined, done: false };
    for (const id of exchange.open) this.exchanges.set(id, exchange);
    exchange.timer = setTimeout(() => this.toStream(exchange), JSON_ANSWER_WINDOW_MS);
    // The client went away before its answers: they have nowhere to go.
    res.once('close', () => this.finish(exchange, false));
    for (const message of messages) this.onmessage?.(message, extra);
  }

  private get(req: IncomingMessage, res: ServerResponse): void {
    if (!(req.headers.accept ?? '').includes('text/event-stream')) {
      return refuse(res, 406, -32000, 'Not Acceptable: Client must accept text/event-stream');
    }
    if (!this.sessionValid(req, res)) return;
    if (this.notifications) return refuse(res, 409, -32000, 'Conflict: Only one SSE stream is allowed per session');
    res.writeHead(200, { ...STREAM_HEADERS, 'mcp-session-id': this.sessionId });
    res.flushHeaders();
    this.notifications = res;
    res.once('close', () => {
      if (this.notifications === res) this.notifications = undefined;
    });
  }

  private async delete(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.sessionValid(req, res)) return;
    try {
      this.options.onsessionclosed?.(this.sessionId!);
      res.writeHead(200).end();
    } finally {
      await this.close();
    }
  }

  /** The session header names this session and the protocol version header (if any) is one we speak; else answers the refusal. */
  private sessionValid(req: IncomingMessage, res: ServerResponse): boolean {
    if (!this.initialized) {
      refuse(res, 400, -32000, 'Bad Request: Server not initialized');
      return false;
    }
    const sessionId = req.headers['mcp-session-id'];
    if (!sessionId) {
      refuse(res, 400, -32000, 'Bad Request: Mcp-Session-Id header is required');
      return false;
    }
    if (sessionId !== this.sessionId) {
      refuse(res, 404, -32001, 'Session not found');
      return false;
    }
    const version = req.headers['mcp-protocol-version'];
    if (typeof version === 'string' && !SUPPORTED_PROTOCOL_VERSIONS.includes(version)) {
      refuse(res, 400, -32000, `Bad Request: Unsupported protocol version: ${version} (supported versions: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`);
      return false;
    }
    return true;
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    const answer = isAnswer(message);
    const requestId = answer ? (message as { id: RequestId }).id : options?.relatedRequestId;
    if (requestId === undefined) {
      if (answer) throw new Error('Cannot send a response on a standalone SSE stream unless resuming a previous client request');
      // A notification or request of the server's own: on the notification stream if the client holds one.
      if (this.notifications) writeEvent(this.notifications, message);
      return;
    }
    const exchange = this.exchanges.get(requestId);
    if (!exchange) {
      if (answer) throw new Error(`No connection established for request ID: ${String(requestId)}`);
      return;
    }
    if (!answer) {
      // Something other than the answer during a call (progress, a log line, a request to the client): only an
      // event stream can carry it.
      this.toStream(exchange);
      writeEvent(exchange.res, message);
      return;
    }
    this.exchanges.delete(requestId);
    exchange.open.delete(requestId);
    if (exchange.stream) writeEvent(exchange.res, message);
    else exchange.answers.push(message);
    if (exchange.open.size === 0) this.finish(exchange, true);
  }

  /** Turns a POST's response into an event stream (headers now), with any answers it holds. */
  private toStream(exchange: Exchange): void {
    if (exchange.stream || exchange.done) return;
    clearTimeout(exchange.timer);
    exchange.stream = true;
    exchange.res.writeHead(200, { ...STREAM_HEADERS, 'mcp-session-id': this.sessionId });
    exchange.res.flushHeaders();
    for (const held of exchange.answers.splice(0)) writeEvent(exchange.res, held);
  }

  /** Ends a POST's response: `answered`, with its answers; otherwise (the client left, the session closed) as it is. */
  private finish(exchange: Exchange, answered: boolean): void {
    if (exchange.done) return;
    exchange.done = true;
    clearTimeout(exchange.timer);
    for (const id of exchange.open) this.exchanges.delete(id);
    const { res } = exchange;
    if (res.writableEnded) return;
    if (exchange.stream || !answered) {
      res.end();
      return;
    }
    const body = JSON.stringify(exchange.answers.length === 1 ? exchange.answers[0] : exchange.answers);
    const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    if (this.sessionId !== undefined) headers['mcp-session-id'] = this.sessionId;
    res.writeHead(200, headers).end(body);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const exchange of new Set(this.exchanges.values())) this.finish(exchange, false);
    this.exchanges.clear();
    this.notifications?.end();
    this.notifications = undefined;
    this.onclose?.();
  }
}

function refuse(res: ServerResponse, status: number, code: number, message: string): void {
  const body = JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
}

function writeEvent(res: ServerResponse, message: JSONRPCMessage): void {
  if (!res.writableEnded) res.write(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
}

// Shape checks of the JSON-RPC envelope only (the server validates each request's params against its schema).
type Envelope = { jsonrpc: '2.0'; id?: RequestId; method?: unknown; result?: unknown; error?: unknown };

function isMessage(value: unknown): value is JSONRPCMessage {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const message = value as Envelope;
  if (message.jsonrpc !== '2.0') return false;
  if (message.id !== undefined && typeof message.id !== 'string' && typeof message.id !== 'number') return false;
  if (typeof message.method === 'string') return true;
  return message.id !== undefined && (message.result !== undefined || message.error !== undefined);
}

function isRequest(message: unknown): message is JSONRPCMessage & { id: RequestId; method: string } {
  const m = message as Envelope;
  return typeof m.method === 'string' && m.id !== undefined;
}

function isAnswer(message: JSONRPCMessage): boolean {
  const m = message as Envelope;
  return m.method === undefined && m.id !== undefined && (m.result !== undefined || m.error !== undefined);
}
