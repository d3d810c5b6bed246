/**
 * The TypeScript client agents written in Node use to talk to the hub: HTTP (global fetch) for calls, and the
 * realtime WebSocket for pushed messages and fast sends. Every type comes from src/shared/agent-protocol.ts.
 *
 *   const agent = await HubClient.register({ name: 'builder', project: 'shop' });
 *   agent.on('message', async (message) => { ... });   // acknowledged once the handler resolves
 *   await agent.connect();
 *   await agent.send(otherId, 'tests are green');
 *
 * Delivery guarantees, within one client's lifetime: a message handler never sees the same message twice (the hub
 * redelivers whatever is unacknowledged on every reconnect; the client remembers the ids it has seen), and a send
 * made while connected is retried with the same idempotency key after a drop, so it is stored exactly once.
 */
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import {
  API_PREFIX,
  CLOSE_CODES,
  ERROR_CODES,
  SendRequest,
  type AgentInfo,
  type Importance,
  type Message,
  type Recipient,
  type SendResponse,
  type ServerFrame,
  type StatusUpdate,
} from '../shared/agent-protocol';
import { DEFAULT_HUB_URL, HUB_RUNTIME_FILE } from '../shared/hub-location';
import type { Task, TaskState, TaskSubtasks } from '../shared/task-protocol';
import { backoffDelay, type Backoff } from '../shared/retry';
import { type HubLocation, type UrlResolver } from './discovery';
import { apiRoute, codeOfStatus, HubClientError, HubHttp, ReservationConflictError, STATUS_OF_CODE } from './http';
import { MessageCalls } from './message-calls';
import { SocketReports, type TaskReportFrame } from './socket-reports';

export { apiRoute, HubClientError, HubHttp, ReservationConflictError };

export { DEFAULT_HUB_URL, HUB_RUNTIME_FILE };

/** Bodies whose frame is larger than this go over HTTP: the socket of the smallest allowed hub takes 65 KiB. */
const SOCKET_SEND_MAX_BYTES = 64 * 1024;
/** Waits between reconnect attempts: 200 ms doubling up to 5 s, jittered so agents that lost a hub together spread out. */
const RECONNECT_BACKOFF: Backoff = { initialMs: 200, maxMs: 5_000, jitter: 'equal' };
/** The hub pings every 30 s; a socket that has heard nothing for this long is presumed dead. */
const IDLE_TIMEOUT_MS = 75_000;
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** How many message ids the client remembers to drop redeliveries. */
const SEEN_IDS = 10_000;
const ACK_BATCH = 1_000;

// ---------------------------------------------------------------------------------------------------------------
// Errors

/** The HTTP status a final close of the socket amounts to (4403 revoked: 410, as the hub answers a revoked token). */
const STATUS_OF_CLOSE_CODE: Record<number, number | undefined> = {
  [CLOSE_CODES.revoked]: ERROR_CODES.revoked.status,
  [CLOSE_CODES.replaced]: ERROR_CODES.conflict.status,
};

// ---------------------------------------------------------------------------------------------------------------
// The agent's client

export interface ClientOptions extends HubLocation {
  /** Acknowledge each message once every 'message' handler has resolved (default true). */
  autoAck?: boolean;
  /** Reconnect with backoff after the socket drops (default true). */
  reconnect?: boolean;
}

/** An agent id, or a recipient object (`{ type: 'topic', name }`, `{ type: 'broadcast' }`, `{ type: 'agent', id }`). */
export type SendTarget = string | Recipient;
export type MessageBody = string | Record<string, unknown> | unknown[];

export interface SendOptions {
  subject?: string;
  threadId?: string;
  replyTo?: string;
  importance?: Importance;
  ackRequired?: boolean;
  /** Set one to make retries across processes safe; the client always sends one (a random UUID by default). */
  idempotencyKey?: string;
  /**
   * Give up (reject with code `timeout`) after this long. By default a send made while connected waits through
   * reconnects until the hub confirms it, or until close() hands it to HTTP.
   */
  timeoutMs?: number;
}

export type MessageHandler = (message: Message, client: AgentClient) => void | Promise<void>;

export interface AgentClientEvents {
  /** Each message once. With autoAck it is acknowledged after every handler resolved; a handler that throws leaves it unacknowledged. */
  message: MessageHandler;
  connected: (info: { agent: AgentInfo; pending: number; reconnected: boolean }) => void;
  disconnected: (info: { code: number; reason: string; willReconnect: boolean }) => void;
  /**
   * The next attempt is scheduled: the socket dropped, or the last attempt failed (the hub is down, restarting, or
   * refused in a way that may pass). `error` says why; attempts go on, up to 5 s apart, until close().
   */
  reconnecting: (info: { attempt: number; delayMs: number; error: HubClientError }) => void;
  error: (error: Error) => void;
  /**
   * A task the hub offered (after takeTasks()): it is assigned to this agent, which starts it with reportProgress()
   * and ends it with completeTask() or failTask(). Not answering within the task's lease hands it to another agent.
   */
  taskOffered: (task: Task) => void;
  /** A task this agent held ended without it: cancelled, timed out, or its lease lapsed. Its result will not be taken. */
  taskCancelled: (info: { taskId: string; state: TaskState; reason: string }) => void;
  /** The subtasks of a task this agent holds (splitTask) have all ended: their aggregate, or why it failed. */
  taskSubtasks: (info: { taskId: string; subtasks: TaskSubtasks }) => void;
}
type EventName = keyof AgentClientEvents;

interface PendingSend {
  ref: string;
  message: SendRequest;
  frame: string;
  resolve: (result: SendResponse) => void;
  reject: (error: Error) => void;
  timer?: NodeJS.Timeout;
}

interface AgentClientInit extends ClientOptions {
  location: UrlResolver;
  agent: AgentInfo;
  token: string;
  existing: boolean;
}

type SeenState = 'handling' | 'handled' | 'failed';

export class AgentClient extends MessageCalls {
  /** The agent as the hub last described it (refreshed on every socket welcome). */
  agent: AgentInfo;
  /** The agent's secret: save it to keep the identity across restarts. */
  readonly token: string;
  /** true when the registration found this name already known and kept its identity. */
  readonly existing: boolean;

  private readonly location: UrlResolver;
  private readonly autoAck: boolean;
  private readonly reconnect: boolean;
  private readonly listeners: { [E in EventName]: Set<AgentClientEvents[E]> } = {
    message: new Set(),
    connected: new Set(),
    disconnected: new Set(),
    reconnecting: new Set(),
    error: new Set(),
    taskOffered: new Set(),
    taskCancelled: new Set(),
    taskSubtasks: new Set(),
  };
  /** Pushed tasks taken at once (takeTasks), said again on every connection. */
  private taskSlots = 0;

  private socket: WebSocket | undefined;
  /** The socket is open and the hub has said welcome. */
  private live = false;
  /** connect() was called and the client should stay connected. */
  private wanted = false;
  private closed = false;
  private everConnected = false;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private firstConnect: Promise<void> | undefined;

  private readonly pending = new Map<string, PendingSend>();
  /** Task reports sent on the socket, waiting for their answers. */
  private readonly reports = new SocketReports();
  private nextRef = 1;
  private readonly seen = new Map<string, SeenState>();
  private readonly queue: Message[] = [];
  private draining = false;
  private readonly acksDue = new Set<string>();
  private ackTimer: NodeJS.Immediate | undefined;

  /** @internal Use HubClient.register() or HubClient.attach(). */
  constructor(init: AgentClientInit) {
    super(new HubHttp(init.location.current, init.token));
    this.agent = init.agent;
    this.token = init.token;
    this.existing = init.existing;
    this.location = init.location;
    this.autoAck = init.autoAck ?? true;
    this.reconnect = init.reconnect ?? true;
  }

  get id(): string {
    return this.agent.id;
  }

  get url(): string {
    return this.location.current();
  }

  /** true while the realtime socket is open. */
  get connected(): boolean {
    return this.live;
  }

  // -- events ------------------------------------------------------------------------------------------------------

  /** Adds a listener; returns a function that removes it. Add 'message' handlers before connect() where you can. */
  on<E extends EventName>(event: E, listener: AgentClientEvents[E]): () => void {
    this.listeners[event].add(listener);
    if (event === 'message') void this.drain();
    return () => this.off(event, listener);
  }

  off<E extends EventName>(event: E, listener: AgentClientEvents[E]): void {
    this.listeners[event].delete(listener);
  }

  private emit<E extends Exclude<EventName, 'message'>>(event: E, ...args: Parameters<AgentClientEvents[E]>): void {
    for (const listener of this.listeners[event]) {
      try {
        (listener as (...a: Parameters<AgentClientEvents[E]>) => void)(...args);
      } catch (error) {
        if (event !== 'error') this.emit('error', error as Error);
      }
    }
  }

  private fail(error: Error): void {
    if (this.listeners.error.size === 0) {
      console.warn(`[devenviro client] ${error.message}`);
      return;
    }
    this.emit('error', error);
  }

  // -- messages ----------------------------------------------------------------------------------------------------

  /**
   * Sends to an agent (by id), a topic or everyone. Over the socket while connected (the hub answers once the
   * message is durable; after a drop it is sent again with the same idempotency key), otherwise over HTTP.
   */
  async send(to: SendTarget, body: MessageBody, options: SendOptions = {}): Promise<SendResponse> {
    const { timeoutMs, ...fields } = options;
    const recipient: Recipient = typeof to === 'string' ? { type: 'agent', id: to } : to;
    const parsed = SendRequest.safeParse({ ...fields, to: recipient, body, idempotencyKey: fields.idempotencyKey ?? randomUUID() });
    if (!parsed.success) {
      const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'message'}: ${issue.message}`);
      throw new HubClientError(400, 'invalid_request', `invalid message: ${problems.join('; ')}`);
    }
    const message = parsed.data;
    if (this.closed || !this.wanted) return this.sendHttp(message, timeoutMs);

    const ref = String(this.nextRef++);
    const frame = JSON.stringify({ type: 'send', ref, message });
    if (Buffer.byteLength(frame) > SOCKET_SEND_MAX_BYTES) return this.sendHttp(message, timeoutMs);
    return new Promise<SendResponse>((resolve, reject) => {
      const pending: PendingSend = { ref, message, frame, resolve, reject };
      if (timeoutMs !== undefined) {
        pending.timer = setTimeout(() => {
          if (this.pending.delete(ref)) {
            reject(new HubClientError(0, 'timeout', `the hub did not confirm the message within ${timeoutMs} ms (retry with idempotencyKey ${message.idempotencyKey} to be safe)`));
          }
        }, timeoutMs);
      }
      this.pending.set(ref, pending);
      if (this.live) this.socket!.send(frame);
    });
  }

  /** Replies to a message: to its sender, in its thread. */
  reply(message: Message, body: MessageBody, options: Omit<SendOptions, 'replyTo' | 'threadId'> = {}): Promise<SendResponse> {
    return this.send(message.from, body, { ...options, replyTo: message.id, threadId: message.threadId });
  }

  private async sendHttp(message: SendRequest, timeoutMs?: number): Promise<SendResponse> {
    return this.http.request<SendResponse>('POST', '/messages', { body: message, timeoutMs });
  }

  /** Marks messages handled, so they are not delivered again; returns how many were newly acknowledged. */
  async ack(ids: string | string[]): Promise<number> {
    const list = Array.isArray(ids) ? ids : [ids];
    if (list.length === 0) return 0;
    let acknowledged = 0;
    for (let i = 0; i < list.length; i += ACK_BATCH) {
      const batch = list.slice(i, i + ACK_BATCH);
      acknowledged += (await this.http.request<{ acknowledged: number }>('POST', `/agents/${this.id}/messages/ack`, { body: { ids: batch } })).acknowledged;
      for (const id of batch) this.remember(id, 'handled');
    }
    return acknowledged;
  }

  // -- the agent's own status --------------------------------------------------------------------------------------

  /** Sets the agent's presence and, optionally, what it is doing (null clears it). */
  async setStatus(status: StatusUpdate['status'], activity?: string | null): Promise<AgentInfo> {
    const update: StatusUpdate = activity === undefined ? { status } : { status, activity };
    this.agent = await this.http.request<AgentInfo>('PUT', `/agents/${this.id}/status`, { body: update });
    return this.agent;
  }

  /** An agent's current description (this agent's by default). */
  async info(agentId: string = this.id): Promise<AgentInfo> {
    const info = await this.http.request<AgentInfo>('GET', `/agents/${encodeURIComponent(agentId)}/status`);
    if (agentId === this.id) this.agent = info;
    return info;
  }

  // -- tasks (the socket's side; the calls are in task-calls.ts) ---------------------------------------------------

  /** A holder's report goes over the socket while it is open (answered once committed), else over HTTP. */
  protected override report(frame: TaskReportFrame, overHttp: () => Promise<Task>): Promise<Task> {
    if (!this.live) return overHttp();
    return this.reports.send(frame, (text) => (this.live && this.socket ? (this.socket.send(text), true) : false), overHttp);
  }

  /** Push: the hub offers up to `slots` tasks at once over the socket (`taskOffered`); 0 stops offers. */
  takeTasks(slots = 1): void {
    this.taskSlots = slots;
    if (this.live) this.socket?.send(JSON.stringify({ type: 'tasks.ready', slots }));
  }

  // -- the socket --------------------------------------------------------------------------------------------------

  /**
   * Opens the realtime socket; resolves once the hub has welcomed the agent. The hub then pushes every
   * unacknowledged message and each new one. After a drop the client reconnects (backoff with jitter, at most
   * ~5 s apart) until close(); a refused first connection rejects instead.
   */
  connect(): Promise<void> {
    if (this.closed) return Promise.reject(new HubClientError(0, 'closed', 'this client was closed; create another'));
    if (this.wanted && this.firstConnect) return this.firstConnect;
    this.wanted = true;
    this.firstConnect = new Promise<void>((resolve, reject) => this.openSocket({ resolve, reject }));
    this.firstConnect.catch(() => undefined);
    return this.firstConnect;
  }

  /**
   * Stops reconnecting, sends outstanding acknowledgements, closes the socket, and settles sends that were waiting
   * for the socket over HTTP (with their idempotency keys, so none is stored twice).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wanted = false;
    clearTimeout(this.reconnectTimer);
    const acks = this.flushAcks();
    const socket = this.socket;
    if (socket) {
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          socket.terminate();
          resolve();
        }, 2_000);
        socket.once('close', () => {
          clearTimeout(force);
          resolve();
        });
        if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
        else socket.close(1000, 'client closing');
      });
    }
    await Promise.all([acks, this.settlePendingOverHttp()]);
  }

  private openSocket(first?: { resolve: () => void; reject: (error: Error) => void }): void {
    this.reconnectTimer = undefined;
    if (!this.wanted) return;
    if (!first) this.location.refresh();
    const wsUrl = `${this.url.replace(/^http/, 'ws')}${API_PREFIX}/agents/${this.id}/realtime`;
    const socket = new WebSocket(wsUrl, {
      headers: { authorization: `Bearer ${this.token}` },
      perMessageDeflate: false,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    });
    this.socket = socket;
    let welcomed = false;
    let ended = false;
    let refusal: HubClientError | undefined;
    let lastError: Error | undefined;

    const end = (code: number, reason: string) => {
      if (ended) return;
      ended = true;
      clearTimeout(this.idleTimer);
      if (this.socket === socket) this.socket = undefined;
      this.live = false;
      this.reports.dropped();
      const permanent =
        refusal !== undefined
          ? refusalIsFinal(refusal)
          : code === CLOSE_CODES.revoked || code === CLOSE_CODES.replaced;
      const error =
        refusal ??
        (permanent
          ? new HubClientError(STATUS_OF_CLOSE_CODE[code]!, closeCodeName(code), `agent ${this.agent.name}: ${reason || `the hub closed the socket (${code})`}`)
          : new HubClientError(0, 'unreachable', `the realtime socket at ${wsUrl} closed (${code}${reason ? `: ${reason}` : ''})${lastError ? `: ${lastError.message}` : ''}`, { cause: lastError }));

      if (first && !welcomed) {
        // The first connection decides: a hub that refuses or is not there is the caller's to hear about.
        this.wanted = false;
        this.firstConnect = undefined;
        first.reject(error);
        void this.settlePendingOverHttp();
        return;
      }
      const willReconnect = this.wanted && this.reconnect && !permanent;
      if (welcomed) this.emit('disconnected', { code, reason, willReconnect });
      if (permanent && this.wanted) this.fail(error);
      if (code === 1009) void this.settlePendingOverHttp(); // a frame too big for the socket: let HTTP answer 413
      if (willReconnect) {
        this.scheduleReconnect(error);
      } else if (this.wanted) {
        this.wanted = false;
        void this.settlePendingOverHttp();
      }
    };

    socket.on('unexpected-response', (request, response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk.length + text.length < 10_000 ? chunk : ''));
      response.on('end', () => {
        let body: { error?: unknown; code?: unknown } = {};
        try {
          body = JSON.parse(text) as typeof body;
        } catch {
          // Not the hub's JSON: the status line will do.
        }
        const status = response.statusCode ?? 0;
        refusal = new HubClientError(
          status,
          typeof body.code === 'string' ? body.code : codeOfStatus(status),
          typeof body.error === 'string' ? body.error : `the hub refused the realtime socket: ${status} ${response.statusMessage ?? ''}`.trim(),
        );
        request.destroy();
        end(1006, refusal.message);
      });
      response.on('error', () => end(1006, 'the upgrade answer broke off'));
    });
    socket.on('error', (error) => {
      lastError = error;
      // 'close' follows, except when the handshake never got a socket.
      if (socket.readyState === WebSocket.CLOSED) end(1006, error.message);
    });
    socket.on('close', (code, reason) => end(code, reason.toString()));
    socket.on('ping', () => this.resetIdle(socket));
    socket.on('open', () => this.resetIdle(socket));
    socket.on('message', (data, isBinary) => {
      this.resetIdle(socket);
      if (isBinary) return;
      let frame: ServerFrame;
      try {
        frame = JSON.parse(data.toString()) as ServerFrame;
      } catch {
        this.fail(new HubClientError(0, 'invalid_frame', 'the hub sent a frame that is not JSON'));
        return;
      }
      switch (frame.type) {
        case 'welcome': {
          welcomed = true;
          this.live = true;
          this.attempt = 0;
          this.agent = frame.agent;
          const reconnected = this.everConnected;
          this.everConnected = true;
          // Sends that were waiting for the socket (or unanswered when it dropped) go again, in order.
          for (const pending of this.pending.values()) socket.send(pending.frame);
          if (this.taskSlots > 0) socket.send(JSON.stringify({ type: 'tasks.ready', slots: this.taskSlots }));
          void this.flushAcks();
          this.emit('connected', { agent: frame.agent, pending: frame.pending, reconnected });
          first?.resolve();
          break;
        }
        case 'message':
          this.receive(frame.message);
          break;
        case 'task.offered':
          this.emit('taskOffered', frame.task);
          break;
        case 'task.cancelled':
          this.emit('taskCancelled', { taskId: frame.taskId, state: frame.state, reason: frame.reason });
          break;
        case 'task.subtasks':
          this.emit('taskSubtasks', { taskId: frame.taskId, subtasks: frame.subtasks });
          break;
        case 'result':
          this.reports.answered(frame.ref, frame.result);
          break;
        case 'sent': {
          const pending = this.pending.get(frame.ref);
          if (!pending) break;
          this.pending.delete(frame.ref);
          clearTimeout(pending.timer);
          pending.resolve(frame.result);
          break;
        }
        case 'error': {
          const error = new HubClientError(STATUS_OF_CODE[frame.code] ?? 500, frame.code, frame.message);
          if (frame.ref !== undefined && this.reports.refused(frame.ref, error)) break;
          const pending = frame.ref === undefined ? undefined : this.pending.get(frame.ref);
          if (!pending) {
            this.fail(error);
            break;
          }
          // A hub shutting down refuses; the send goes again on the next connection.
          if (frame.code === 'closing') break;
          this.pending.delete(pending.ref);
          clearTimeout(pending.timer);
          pending.reject(error);
          break;
        }
      }
    });
  }

  private resetIdle(socket: WebSocket): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => socket.terminate(), IDLE_TIMEOUT_MS);
    this.idleTimer.unref();
  }

  private scheduleReconnect(cause: HubClientError): void {
    const delay = backoffDelay(RECONNECT_BACKOFF, this.attempt);
    this.attempt++;
    this.reconnectTimer = setTimeout(() => this.openSocket(), delay);
    this.emit('reconnecting', { attempt: this.attempt, delayMs: Math.round(delay), error: cause });
  }

  /** Sends that cannot wait for the socket any more: over HTTP, with the same idempotency keys. */
  private async settlePendingOverHttp(): Promise<void> {
    const waiting = [...this.pending.values()];
    this.pending.clear();
    await Promise.all(
      waiting.map(async (pending) => {
        clearTimeout(pending.timer);
        try {
          pending.resolve(await this.sendHttp(pending.message));
        } catch (error) {
          pending.reject(error as Error);
        }
      }),
    );
  }

  // -- receiving ---------------------------------------------------------------------------------------------------

  private receive(message: Message): void {
    const state = this.seen.get(message.id);
    if (state !== undefined) {
      // A redelivery: the handler already has it. If it was handled, the acknowledgement got lost; send it again.
      if (state === 'handled' && this.autoAck) this.ackSoon(message.id);
      return;
    }
    this.remember(message.id, 'handling');
    this.queue.push(message);
    void this.drain();
  }

  /** Runs handlers one message at a time, in delivery order; waits while there is no handler. */
  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.queue.length > 0 && this.listeners.message.size > 0) {
        const message = this.queue.shift()!;
        try {
          for (const handler of [...this.listeners.message]) await handler(message, this);
          this.remember(message.id, 'handled');
          if (this.autoAck) this.ackSoon(message.id);
        } catch (error) {
          this.remember(message.id, 'failed');
          const failure = new Error(`the message handler failed on ${message.id} (left unacknowledged): ${(error as Error)?.message ?? String(error)}`, { cause: error });
          this.fail(failure);
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private remember(id: string, state: SeenState): void {
    this.seen.delete(id);
    this.seen.set(id, state);
    while (this.seen.size > SEEN_IDS) {
      const oldest = this.seen.keys().next().value as string;
      if (this.seen.get(oldest) === 'handling') {
        // Still in a handler: keep it (move it to the young end) rather than forget it.
        this.seen.delete(oldest);
        this.seen.set(oldest, 'handling');
        if (this.seen.keys().next().value === oldest) break;
        continue;
      }
      this.seen.delete(oldest);
    }
  }

  private ackSoon(id: string): void {
    this.acksDue.add(id);
    this.ackTimer ??= setImmediate(() => void this.flushAcks());
  }

  /** Acknowledgements go as one frame while the socket is open, else over HTTP. A lost one is resent on redelivery. */
  private flushAcks(): Promise<void> {
    if (this.ackTimer) clearImmediate(this.ackTimer);
    this.ackTimer = undefined;
    const requests: Array<Promise<unknown>> = [];
    const ids = [...this.acksDue];
    this.acksDue.clear();
    for (let i = 0; i < ids.length; i += ACK_BATCH) {
      const batch = ids.slice(i, i + ACK_BATCH);
      if (this.live && this.socket?.readyState === WebSocket.OPEN) {
        this.socket.send(JSON.stringify({ type: 'ack', ids: batch }));
      } else if (!this.wanted || this.closed) {
        requests.push(this.http.request('POST', `/agents/${this.id}/messages/ack`, { body: { ids: batch } }).catch((error: Error) => this.fail(error)));
      } else {
        // Reconnecting: the next welcome flushes them.
        batch.forEach((id) => this.acksDue.add(id));
      }
    }
    return Promise.all(requests).then(() => undefined);
  }
}

/**
 * Whether a refused reconnect is the end: the hub says this agent may not connect any more (revoked: 410, or 403
 * as hubs before 410 answered), not merely that it does not know the token. A 401 on a reconnect is retried: the
 * token opened the socket at this address before, so whatever answers there now is another hub for a while (one
 * started on another data directory while this agent's hub was down). An identity reclaimed from the cockpit while
 * the agent is connected closes its socket with 4409 (replaced), which ends it; reclaimed while it is away, each refused
 * attempt is reported through 'reconnecting'. The first connection takes any refusal as final (connect() rejects).
 */
function refusalIsFinal(refusal: HubClientError): boolean {
  return refusal.status === 403 || refusal.status === 410 || refusal.code === 'revoked';
}

function closeCodeName(code: number): string {
  if (code === CLOSE_CODES.revoked) return 'revoked';
  if (code === CLOSE_CODES.replaced) return 'replaced';
  return `closed_${code}`;
}


