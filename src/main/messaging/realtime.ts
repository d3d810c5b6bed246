/**
 * WS /api/v1/agents/{id}/realtime: each agent's live link. On connect the hub sends everything the agent has not
 * acknowledged, then each new message the moment it is committed. A connection that falls behind (its socket
 * buffer is full) stops taking live pushes and catches up from the database instead, so a slow agent costs the
 * hub a cursor, not memory, and never holds up anyone else.
 */
import type { Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { z } from 'zod';
import { API_PREFIX, ClientFrame, CLOSE_CODES, ULID_SOURCE, type ServerFrame } from '../../shared/agent-protocol';
import type { AgentRecord, AgentRegistry } from '../agents/registry';
import { bearerToken } from '../api/auth';
import { agentOriginAllowed } from '../api/security';
import { rejectUpgrade, type UpgradeRouter } from '../api/upgrade-router';
import { HubError } from '../errors';
import { checkedStore, memoryCaller, searchContext, writeContext } from '../memory/access';
import type { MemoryEngine } from '../memory/engine';
import type { ReservationService } from '../reservations/service';
import type { TaskService } from '../tasks/service';
import { frameLength, messageFrame, sendFrame, sentFrame, textBodyLiteral, type OutgoingFrame } from './frames';
import { rawBodyFrom, type DecodedSend } from './decode-send';
import type { RawBody } from './json-body';
import type { Delivery, MessagingService } from './service';

type ParsedFrame = z.output<typeof ClientFrame>;

const REALTIME_PATH = new RegExp(`^${API_PREFIX}/agents/(${ULID_SOURCE})/realtime$`);
/** Above this many buffered bytes a connection is "behind" and catches up from the database. */
const HIGH_WATER_BYTES = 1024 * 1024;
const CATCH_UP_PAGE = 256;
const CATCH_UP_RETRY_MS = 10;
const KEEPALIVE_MS = 30_000;
/** Room for the envelope around a maximal body. */
const FRAME_OVERHEAD_BYTES = 64 * 1024;

export interface RealtimeOptions {
  /** The memory engine, for memory.* frames. */
  memory?: MemoryEngine;
  /** File reservations, for reservations.* frames. */
  reservations?: ReservationService;
  /** Tasks, for the tasks.ready frame (offers are sent through sendTo). */
  tasks?: TaskService;
  /** Told the notification latency of each live push: from the hub accepting the send to the frame on the socket. */
  observeDelivery?: (latencyMs: number, to: AgentRecord) => void;
  registry: AgentRegistry;
  messaging: MessagingService;
  router: UpgradeRouter;
  maxBodyBytes: number;
}

/**
 * Sends a frame; frames sent in the same tick leave in one TCP write. The socket is corked on the first and uncorked
 * once the tick's work is done (ws has no public cork, hence its `_socket`; without it, frames are sent as usual).
 */
export function sendCorked(ws: WebSocket, data: OutgoingFrame): void {
  const socket = (ws as unknown as { _socket?: Socket })._socket;
  if (socket) {
    const pending = corkedBytes.get(socket);
    if (pending === undefined) {
      socket.cork();
      process.nextTick(() => {
        corkedBytes.delete(socket);
        socket.uncork();
      });
    }
    corkedBytes.set(socket, (pending ?? 0) + frameLength(data));
  }
  sendFrame(ws, data);
}
/** Bytes (about: string length) written to each corked socket this tick, not yet offered to the kernel. */
const corkedBytes = new Map<Socket, number>();

/** What a socket holds beyond this tick's own corked frames: the bytes the agent has not taken yet. */
function unreadBytes(ws: WebSocket): number {
  const socket = (ws as unknown as { _socket?: Socket })._socket;
  return ws.bufferedAmount - (socket ? (corkedBytes.get(socket) ?? 0) : 0);
}

class AgentConnection {
  /** The highest delivery sequence sent on this socket. */
  private cursor = 0;
  private behind = true;
  /** Catch-up waits for start(): in a cluster, until the inbox holds what reached the agent through other hubs. */
  private started = false;
  private catchUpTimer: NodeJS.Timeout | undefined;
  alive = true;
  /** The token this socket was opened with. */
  readonly tokenHash: string;

  constructor(
    readonly agent: AgentRecord,
    readonly socket: WebSocket,
    private readonly messaging: MessagingService,
  ) {
    this.tokenHash = agent.tokenHash;
  }

  start(): void {
    this.started = true;
    this.catchUp();
  }

  /**
   * A live message: sent straight away unless the socket is behind, in which case catch-up will read it.
   * Returns whether it went out now.
   */
  push(seq: number, frame: OutgoingFrame): boolean {
    if (seq <= this.cursor) return false;
    // This tick's own frames do not count: one commit may push a megabyte to a perfectly fast agent.
    if (this.behind || unreadBytes(this.socket) > HIGH_WATER_BYTES) {
      this.fallBehind();
      return false;
    }
    sendCorked(this.socket, frame);
    this.cursor = seq;
    return true;
  }

  stop(): void {
    clearTimeout(this.catchUpTimer);
  }

  private fallBehind(): void {
    this.behind = true;
    if (!this.catchUpTimer) this.catchUpTimer = setTimeout(() => this.catchUp(), CATCH_UP_RETRY_MS);
  }

  private catchUp(): void {
    this.catchUpTimer = undefined;
    if (!this.started || this.socket.readyState !== this.socket.OPEN) return;
    while (this.socket.bufferedAmount <= HIGH_WATER_BYTES) {
      const page = this.messaging.store.inbox(this.agent.id, this.cursor, CATCH_UP_PAGE, 'unacked');
      let sent = 0;
      for (const message of page) {
        sendFrame(this.socket, messageFrame(message));
        this.cursor = message.seq;
        sent++;
        // A large body fills the socket on its own: the next one is read from its file once this has drained.
        if (message.external && this.socket.bufferedAmount > HIGH_WATER_BYTES) break;
      }
      if (sent === page.length && page.length < CATCH_UP_PAGE) {
        this.behind = false;
        return;
      }
    }
    this.fallBehind();
  }
}

export class RealtimeGateway {
  private readonly connections = new Map<string, AgentConnection>();
  private readonly wss: WebSocketServer;
  private readonly keepAlive: NodeJS.Timeout;
  private readonly offDelivered: () => void;

  constructor(private readonly options: RealtimeOptions) {
    // ws closes a connection whose frame exceeds maxPayload with 1009 ("message too big").
    this.wss = new WebSocketServer({ noServer: true, maxPayload: options.maxBodyBytes + FRAME_OVERHEAD_BYTES });
    options.router.add((pathname) => REALTIME_PATH.test(pathname), (request, socket, head, url) => {
      const agentId = REALTIME_PATH.exec(url.pathname)![1]!;
      if (!agentOriginAllowed(request.headers.origin)) {
        rejectUpgrade(socket, 403, `a browser page (origin ${request.headers.origin}) may not connect as an agent`);
        return;
      }
      let agent: AgentRecord;
      try {
        agent = options.registry.authenticate(bearerToken(request, url));
      } catch (error) {
        const hubError = error as HubError;
        rejectUpgrade(socket, hubError.status ?? 401, hubError.message);
        return;
      }
      if (agent.id !== agentId) {
        rejectUpgrade(socket, 403, 'an agent may open only its own realtime socket');
        return;
      }
      this.wss.handleUpgrade(request, socket, head, (ws) => this.open(agent, ws));
    });
    this.offDelivered = options.messaging.onDelivered((deliveries) => this.deliver(deliveries));
    this.keepAlive = setInterval(() => this.ping(), KEEPALIVE_MS);
    this.keepAlive.unref();
    options.registry.onChange((info) => {
      const connection = this.connections.get(info.id);
      if (!connection) return;
      if (info.revoked) connection.socket.close(CLOSE_CODES.revoked, 'revoked from the cockpit');
      // A reclaimed identity gets a new token; whoever holds the old one loses the socket too.
      else if (connection.tokenHash !== connection.agent.tokenHash) connection.socket.close(CLOSE_CODES.replaced, 'the agent\'s token was replaced');
    });
  }

  /** Sends a frame on the agent's socket, if it has one open; false when it has none. */
  sendTo(agentId: string, frame: ServerFrame): boolean {
    const connection = this.connections.get(agentId);
    if (!connection || connection.socket.readyState !== connection.socket.OPEN) return false;
    sendCorked(connection.socket, JSON.stringify(frame));
    return true;
  }

  connectedCount(): number {
    return this.connections.size;
  }

  close(): void {
    clearInterval(this.keepAlive);
    this.offDelivered();
    for (const connection of this.connections.values()) {
      connection.stop();
      connection.socket.close(1001, 'hub shutting down');
      setTimeout(() => connection.socket.terminate(), 500).unref();
    }
    this.wss.close();
  }

  private deliver(deliveries: Delivery[]): void {
    const observe = this.options.observeDelivery;
    for (const { message, recipients, acceptedAt, bodyJson } of deliveries) {
      let frame: OutgoingFrame | undefined;
      for (const agentId of recipients) {
        const connection = this.connections.get(agentId);
        if (!connection) continue;
        frame ??= messageFrame(message, bodyJson);
        if (connection.push(message.seq, frame) && observe) observe(performance.now() - acceptedAt, connection.agent);
      }
    }
  }

  private open(agent: AgentRecord, ws: WebSocket): void {
    // One live socket per agent: a reconnect replaces a connection that may be half-open.
    this.connections.get(agent.id)?.socket.close(CLOSE_CODES.replaced, 'replaced by a newer connection');
    const connection = new AgentConnection(agent, ws, this.options.messaging);
    this.connections.set(agent.id, connection);
    this.options.registry.connectionOpened(agent);

    const send = (frame: ServerFrame | string) => ws.readyState === ws.OPEN && sendCorked(ws, typeof frame === 'string' ? frame : JSON.stringify(frame));
    ws.on('pong', () => (connection.alive = true));
    ws.on('error', () => ws.terminate());
    ws.on('close', () => {
      connection.stop();
      if (this.connections.get(agent.id) === connection) this.connections.delete(agent.id);
      this.options.registry.connectionClosed(agent);
    });
    // Frames are handled in the order they arrive. While a large one is decoded off the event loop, the frames after
    // it wait, and the socket stops reading, so a sender of many large frames holds one of them in memory, not all.
    let queue: Promise<void> | undefined;
    const take = (data: Buffer, isBinary: boolean): void | Promise<void> => {
      if (isBinary) return this.receive(agent, data, { kind: 'invalid', message: 'binary frames are not part of the protocol; send JSON text' }, send);
      let decoded: DecodedSend | Promise<DecodedSend>;
      try {
        decoded = this.options.messaging.decoder.decode(data, true);
      } catch (error) {
        decoded = { kind: 'invalid', message: (error as Error).message };
      }
      if (!(decoded instanceof Promise)) return this.receive(agent, data, decoded, send);
      ws.pause();
      return decoded.then(
        (result) => this.receive(agent, data, result, send),
        (error: Error) => this.receive(agent, data, { kind: 'invalid', message: error.message }, send),
      );
    };
    ws.on('message', (data, isBinary) => {
      connection.alive = true;
      const next = queue ? queue.then(() => take(data as Buffer, isBinary)) : take(data as Buffer, isBinary);
      if (!(next instanceof Promise)) return;
      const settled: Promise<void> = next.then(() => {
        if (queue !== settled) return;
        queue = undefined;
        ws.resume();
      });
      queue = settled;
    });

    // In a cluster the inbox first takes what reached the agent through other hubs (and drops what it acknowledged
    // there), so the agent resumes after its last acknowledgement wherever it was given.
    void this.options.messaging.inboxReady(agent).then(() => {
      send({ type: 'welcome', agent: this.options.registry.info(agent), pending: agent.inboxDepth });
      connection.start();
    });
  }

  /** A decoded frame: parsed (the envelope, for a large send) and validated, then handled. */
  private receive(agent: AgentRecord, data: Buffer, decoded: DecodedSend, send: (frame: ServerFrame | string) => void): void {
    let frame: ParsedFrame;
    let ref: string | undefined;
    try {
      if (decoded.kind === 'invalid') throw new Error(decoded.message);
      const raw: unknown = JSON.parse(decoded.kind === 'split' ? decoded.envelope : data.toString());
      // Echo the ref of a send that fails validation, so the sender knows which send failed.
      if (typeof (raw as { ref?: unknown })?.ref === 'string') ref = (raw as { ref: string }).ref;
      const parsed = ClientFrame.safeParse(raw);
      if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `${i.path.join('.') || 'frame'}: ${i.message}`).join('; '));
      frame = parsed.data;
    } catch (error) {
      send({ type: 'error', ...(ref === undefined ? {} : { ref }), code: 'invalid_frame', message: `malformed frame: ${(error as Error).message}` });
      return;
    }
    if (frame.type === 'send') {
      // A large send keeps its body as JSON bytes; the frame's `body` is a placeholder. A small text body's literal is
      // passed on as it arrived, for the recipients' frames.
      if (decoded.kind === 'split') void this.handle(agent, frame, send, rawBodyFrom(decoded.body));
      else void this.handle(agent, frame, send, undefined, typeof frame.message.body === 'string' ? textBodyLiteral(data, frame.message.body) : undefined);
      return;
    }
    void this.handle(agent, frame, send);
  }

  private async handle(agent: AgentRecord, frame: ParsedFrame, send: (frame: ServerFrame | string) => void, rawBody?: RawBody, bodyJson?: Buffer): Promise<void> {
    const { registry, messaging } = this.options;
    const ref = 'ref' in frame ? frame.ref : undefined;
    try {
      switch (frame.type) {
        case 'send': {
          const result = await messaging.send(agent, frame.message, rawBody, bodyJson);
          send(sentFrame(frame.ref, result));
          break;
        }
        case 'ack':
          await messaging.ack(agent, frame.ids);
          break;
        case 'status':
          registry.setStatus(agent, frame.status, frame.activity);
          break;
        case 'subscribe':
          messaging.store.subscribe(agent.id, frame.topics);
          break;
        case 'unsubscribe':
          messaging.store.unsubscribe(agent.id, frame.topics);
          break;
        case 'memory.store':
        case 'memory.search':
        case 'memory.extract': {
          const memory = this.options.memory;
          if (!memory) throw new HubError('memory_unavailable', 'this hub has no memory engine');
          // The same project rule as over HTTP (memory/access.ts).
          const caller = memoryCaller(agent);
          const service = await memory.store();
          const result =
            frame.type === 'memory.store'
              ? await service.store(frame.memories, checkedStore(service, caller, frame.memories))
              : frame.type === 'memory.search'
                ? await service.search(frame.query, searchContext(caller, frame.query))
                : await memory.extract(frame.request, writeContext(caller, frame.request.project));
          send({ type: 'result', ref: frame.ref, result });
          break;
        }
        case 'reservations.reserve':
        case 'reservations.renew':
        case 'reservations.release':
        case 'reservations.list': {
          const reservations = this.options.reservations;
          if (!reservations) throw new HubError('failed', 'this hub keeps no file reservations');
          if (frame.type === 'reservations.list' && (frame.query.project ?? agent.project) !== agent.project) {
            throw new HubError('forbidden', 'an agent sees the reservations of its own project only');
          }
          // The same rules as over HTTP (reservations/http.ts): an agent acts on its own leases, in its own project.
          const result =
            frame.type === 'reservations.reserve'
              ? await reservations.reserve(agent, frame.request)
              : frame.type === 'reservations.renew'
                ? await reservations.renew(agent, frame.id, frame.ttlSeconds)
                : frame.type === 'reservations.release'
                  ? await reservations.release({ kind: 'agent', agent }, frame.request)
                  : { reservations: reservations.list({ ...frame.query, project: agent.project }) };
          send({ type: 'result', ref: frame.ref, result });
          break;
        }
        case 'tasks.ready':
        case 'task.progress':
        case 'task.complete':
        case 'task.fail': {
          const tasks = this.options.tasks;
          if (!tasks) throw new HubError('failed', 'this hub hands out no tasks');
          if (frame.type === 'tasks.ready') {
            tasks.setSlots(agent, frame.slots);
            break;
          }
          // The same calls as the HTTP routes (tasks/http.ts), answered once committed. A completion's answer is
          // written at its COMMIT, so it shares a write with the next offer to this agent.
          const { ref: taskRef } = frame;
          if (frame.type === 'task.complete') await tasks.complete(agent, frame.taskId, frame.result, (task) => send({ type: 'result', ref: taskRef, result: task }));
          else send({ type: 'result', ref: taskRef, result: frame.type === 'task.fail' ? tasks.fail(agent, frame.taskId, frame.failure) : tasks.progress(agent, frame.taskId, frame.progress) });
          break;
        }
      }
    } catch (error) {
      const hubError = error instanceof HubError ? error : new HubError('failed', (error as Error).message);
      // A reservation conflict carries the leases in the way (`conflicts`), as its HTTP answer does.
      send({ ...hubError.details, type: 'error', ...(ref === undefined ? {} : { ref }), code: hubError.code, message: hubError.message });
    }
  }

  private ping(): void {
    for (const connection of this.connections.values()) {
      if (!connection.alive) {
        connection.socket.terminate();
        continue;
      }
      connection.alive = false;
      connection.socket.ping();
    }
  }
}
