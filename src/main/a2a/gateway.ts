/**
 * The hub's A2A door on the API server (the official SDK's transport-agnostic JSON-RPC handler on a fastify route):
 * the public agent card at /.well-known/agent-card.json, and JSON-RPC at POST /a2a, where the agent token decides
 * who calls. `A2A-Version: 1.0` selects the v1.0 methods (SendMessage, GetTask, CancelTask…); a request without
 * the header is A2A 0.3 (message/send, tasks/get, tasks/cancel), as the spec has it.
 */
import { A2A_PROTOCOL_VERSION, A2A_VERSION_HEADER, AgentCard } from '@a2a-js/sdk';
import { LegacyJsonRpcTransportHandler } from '@a2a-js/sdk/compat/v0_3/server';
import { A2A_ERROR_CODE, ContentTypeNotSupportedError, VersionNotSupportedError } from '@a2a-js/sdk/errors';
import { JsonRpcTransportHandler } from '@a2a-js/sdk/server';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { version as appVersion } from '../../../package.json';
import { A2A_CARD_PATH, A2A_PATH } from '../../shared/a2a-protocol';
import { API_PREFIX } from '../../shared/agent-protocol';
import { tooDeepMessage } from '../../shared/json-depth';
import type { AgentRegistry } from '../agents/registry';
import { authorityOf } from '../api/auth';
import { agentOriginAllowed } from '../api/security';
import type { ApiContext } from '../api/server';
import type { SqliteDatabase } from '../db/database';
import { forbidden, unauthorized } from '../errors';
import type { MessagingService } from '../messaging/service';
import { buildAgentCard } from './card';
import { contextFor } from './caller';
import { ReplyWatcher } from './replies';
import { startWorker } from '../programs';
import { A2aRequestDecoder } from './request-decoder';
import { HubRequestHandler, TAKEN_FILES } from './request-handler';
import { TaskSweeper } from './task-sweeper';
import { A2aTaskStore } from './task-store';

const LEGACY_VERSION = '0.3';

export interface A2aGatewayOptions {
  db: SqliteDatabase;
  registry: AgentRegistry;
  messaging: MessagingService;
  cockpitToken: string;
  /** The address the API listens on (the card's URLs name it). */
  host: string;
  maxBodyBytes: number;
  /** Finished tasks are deleted this long after they ended (config a2a.keepFinishedTasksDays). */
  keepFinishedTasksMs: number;
  /** Decodes requests; by default large ones in the a2a-decoder worker. */
  decoder?: A2aRequestDecoder;
}

type JsonRpcAnswer = { jsonrpc: string; id: string | number | null; result?: unknown; error?: unknown };

export class A2aGateway {
  readonly store: A2aTaskStore;
  private readonly handler: HubRequestHandler;
  private readonly v1: JsonRpcTransportHandler;
  private readonly legacy: LegacyJsonRpcTransportHandler;
  private readonly replies: ReplyWatcher;
  private readonly decoder: A2aRequestDecoder;
  private readonly sweeper: TaskSweeper;
  /** The API's bound port, known once it listens. */
  private port: () => number = () => 0;

  constructor(private readonly options: A2aGatewayOptions) {
    this.store = new A2aTaskStore(options.db, (taskId) => `${this.baseUrl()}${API_PREFIX}/threads/${encodeURIComponent(taskId)}`);
    this.handler = new HubRequestHandler({
      registry: options.registry,
      messaging: options.messaging,
      store: this.store,
      maxBodyBytes: options.maxBodyBytes,
      // The SDK reads the capabilities and modes on every call; the skills (every agent) are for the published card.
      card: () => buildAgentCard({ baseUrl: this.baseUrl(), version: appVersion, agents: [] }),
    });
    this.v1 = new JsonRpcTransportHandler(this.handler);
    this.legacy = new LegacyJsonRpcTransportHandler(this.handler);
    this.replies = new ReplyWatcher(options.registry, options.messaging, this.store);
    this.decoder = options.decoder ?? new A2aRequestDecoder(() => startWorker('a2a-decoder'));
    this.sweeper = new TaskSweeper(this.store, options.keepFinishedTasksMs);
  }

  /** Deletes the finished tasks older than the configured age now (the hub also does it on its own, hourly). */
  sweepFinishedTasks(): Promise<number> {
    return this.sweeper.sweep();
  }

  /** The card as it is now: one skill per agent that can receive messages. */
  card(): AgentCard {
    return buildAgentCard({ baseUrl: this.baseUrl(), version: appVersion, agents: this.options.registry.reachable() });
  }

  private baseUrl(): string {
    const host = this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host;
    return `http://${host}:${this.port()}`;
  }

  /** Adds the card and the JSON-RPC route to the API server (one of the server's `register` steps). */
  async register({ http, port }: ApiContext): Promise<void> {
    this.port = port;
    http.get(A2A_CARD_PATH, async () => AgentCard.toJSON(this.card()));
    // Its own scope, so the JSON-RPC body reaches the SDK as bytes: bad JSON is a JSON-RPC parse error, not a 400.
    await http.register(async (scope: FastifyInstance) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
      scope.post(A2A_PATH, (request, reply) => this.handle(request, reply));
    });
  }

  /** Stops completing tasks from replies (the hub is stopping). */
  async close(): Promise<void> {
    this.sweeper.close();
    await this.replies.close();
    await this.decoder.close();
  }

  private async handle(request: FastifyRequest, reply: FastifyReply): Promise<JsonRpcAnswer> {
    // A browser page that learned an agent's token must not act as that agent (as for agent sockets and MCP).
    if (!agentOriginAllowed(request.headers.origin)) throw forbidden('the A2A endpoint is for programs: requests from browser pages (with an Origin) are refused');
    const authority = authorityOf(request, this.options.registry, this.options.cockpitToken);
    if (authority.kind !== 'agent') {
      if (authority.kind === 'none') {
        void reply.header('www-authenticate', 'Bearer');
        throw unauthorized('the A2A endpoint needs an agent token: Authorization: Bearer <token> (register with POST /api/v1/agents/register)');
      }
      throw forbidden("the A2A endpoint acts as an agent: use an agent token, not the cockpit's");
    }

    const contentType = request.headers['content-type']?.split(';', 1)[0]!.trim().toLowerCase();
    if (contentType !== undefined && contentType !== 'application/json') {
      return answerError(JsonRpcTransportHandler.mapToJSONRPCError(new ContentTypeNotSupportedError(`Content-Type ${contentType} is not supported: send application/json`)));
    }
    const raw = (request.body as Buffer | undefined) ?? Buffer.alloc(0);
    // A large request is checked, parsed and rid of its file bytes in a worker (request-decoder.ts).
    const decoded = await this.decoder.decode(raw);
    if (decoded.kind === 'tooDeep') return answerError({ code: A2A_ERROR_CODE.INVALID_REQUEST, message: `Invalid JSON-RPC request: ${tooDeepMessage()}` });
    if (decoded.kind === 'parseError') return answerError({ code: A2A_ERROR_CODE.PARSE_ERROR, message: 'Invalid JSON payload.' });
    const body = decoded.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      // A batch (an array) is not part of the A2A binding.
      return answerError({ code: A2A_ERROR_CODE.INVALID_REQUEST, message: 'Invalid JSON-RPC request: send one request object (batches are not supported).' });
    }

    const header = request.headers[A2A_VERSION_HEADER.toLowerCase()];
    const version = (Array.isArray(header) ? header[0] : header)?.trim() || undefined;
    const legacy = version === undefined || version === LEGACY_VERSION;
    const context = contextFor(authority.agent.id, version);
    if (decoded.files.length > 0) context.state.set(TAKEN_FILES, decoded.files);
    if (!legacy && version !== A2A_PROTOCOL_VERSION) {
      const error = new VersionNotSupportedError(`A2A-Version ${version} is not supported: this hub speaks ${A2A_PROTOCOL_VERSION} (and ${LEGACY_VERSION} without the header)`);
      return answerError(JsonRpcTransportHandler.mapToJSONRPCError(error), idOf(body));
    }
    const answer = legacy ? await this.legacy.handle(body as Record<string, unknown>, context) : await this.v1.handle(body as Record<string, unknown>, context);
    if (!isStream(answer)) return answer as JsonRpcAnswer;
    // Streaming methods: the card says streaming is not supported, so the SDK's stream fails at once with the
    // spec's UnsupportedOperation error, which is the answer.
    try {
      await answer.next();
      await answer.return(undefined);
      return answerError({ code: A2A_ERROR_CODE.UNSUPPORTED_OPERATION, message: 'Streaming is not supported.' }, idOf(body));
    } catch (error) {
      const mapped = legacy ? LegacyJsonRpcTransportHandler.mapToLegacyJSONRPCError(error) : JsonRpcTransportHandler.mapToJSONRPCError(error);
      return answerError(mapped, idOf(body));
    }
  }
}

function answerError(error: unknown, id: string | number | null = null): JsonRpcAnswer {
  return { jsonrpc: '2.0', id, error };
}

function idOf(body: unknown): string | number | null {
  const id = (body as { id?: unknown }).id;
  return typeof id === 'string' || typeof id === 'number' ? id : null;
}

function isStream(value: unknown): value is AsyncGenerator<unknown, void, undefined> {
  return typeof (value as AsyncGenerator | undefined)?.[Symbol.asyncIterator] === 'function';
}
