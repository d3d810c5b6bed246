/**
 * The agent hub's wire protocol (HTTP API v1 and the realtime WebSocket), declared once with zod: the hub validates
 * with these schemas, and the TypeScript client and the cockpit use the inferred types.
 */
import { z } from 'zod';
import { ExtractRequest, MemoryInput, MemorySearchQuery } from './memory-protocol';
import { ReservationFrames, type ReservationConflict } from './reservation-protocol';
import { TaskFrames, type TaskServerFrame } from './task-protocol';

export const API_PREFIX = '/api/v1';

/**
 * GET: one message's whole body, as the JSON the hub keeps (a text body as its JSON string literal), streamed
 * as stored: `application/json`, with its Content-Length. For its sender, its recipients and the cockpit.
 */
export function messageBodyPath(messageId: string): string {
  return `${API_PREFIX}/messages/${messageId}/body`;
}

/** GET /api/v1/health: a hub answers here without credentials, saying which product and version it is. */
export interface HealthResponse {
  ok: true;
  product: string;
  version: string;
}

export const AGENT_TIERS = ['strategic', 'development', 'memory'] as const;
export type AgentTier = (typeof AGENT_TIERS)[number];

/** Presence: `offline` is derived (no socket, no heartbeat lately); the others an agent may set itself. */
export const AGENT_STATUSES = ['online', 'idle', 'busy', 'waiting', 'offline'] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];
export const SETTABLE_STATUSES = ['online', 'idle', 'busy', 'waiting'] as const;

export const IMPORTANCE = ['low', 'normal', 'high', 'urgent'] as const;
export type Importance = (typeof IMPORTANCE)[number];

const Name = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'use letters, digits, dot, underscore and dash, starting with a letter or digit');
const Project = z.string().trim().min(1).max(128);
export const TopicName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._/:-]*$/, 'use letters, digits and . _ / : -, starting with a letter or digit');
/** The body of POST /agents/{id}/topics: topics to subscribe to. */
export const TopicList = z.object({ topics: z.array(TopicName).min(1).max(100) }).strict();
/** Message and agent ids are ULIDs: 26 characters of Crockford's base32, sortable by creation time. */
export const ULID_SOURCE = '[0-9A-HJKMNP-TV-Z]{26}';
export const ULID_PATTERN = new RegExp(`^${ULID_SOURCE}$`);
export const Ulid = z.string().regex(ULID_PATTERN, 'not a message or agent id');

export const RegisterRequest = z
  .object({
    name: Name,
    project: Project.default('default'),
    /** development for a new agent; an existing agent keeps its own unless given. */
    tier: z.enum(AGENT_TIERS).optional(),
    capabilities: z.array(z.string().min(1).max(64)).max(64).optional(),
    description: z.string().max(1000).optional(),
  })
  .strict();
export type RegisterRequest = z.input<typeof RegisterRequest>;

export interface AgentInfo {
  id: string;
  name: string;
  project: string;
  tier: AgentTier;
  capabilities: string[];
  description: string | null;
  status: AgentStatus;
  /** What the agent says it is doing ("running tests"), if anything. */
  activity: string | null;
  connected: boolean;
  revoked: boolean;
  createdAt: string;
  lastSeen: string | null;
  inboxDepth: number;
  messagesIn: number;
  messagesOut: number;
}

export interface RegisterResponse {
  agent: AgentInfo;
  /**
   * The agent's secret, shown once: sent as `Authorization: Bearer <token>` on every call. A re-registration
   * that presents the token gets the same one back; one made with the cockpit's authority gets a fresh one.
   */
  token: string;
  /** true when this name in this project was already known, and its identity was kept. */
  existing: boolean;
}

export const StatusUpdate = z
  .object({
    status: z.enum(SETTABLE_STATUSES),
    activity: z.string().max(500).nullable().optional(),
  })
  .strict();
export type StatusUpdate = z.input<typeof StatusUpdate>;

export const Recipient = z.discriminatedUnion('type', [
  z.object({ type: z.literal('agent'), id: Ulid }).strict(),
  z.object({ type: z.literal('topic'), name: TopicName }).strict(),
  z.object({ type: z.literal('broadcast') }).strict(),
]);
export type Recipient = z.infer<typeof Recipient>;

/**
 * How deep JSON sent to the hub may nest (objects and arrays within each other, the document itself counting as
 * one): deeper documents are refused with 400 over HTTP and an `invalid_frame` error over the socket, before
 * anything walks them recursively.
 */
export const MAX_JSON_DEPTH = 512;

/** What a sender supplies; the hub adds id, sender and creation time. */
export const SendRequest = z
  .object({
    to: Recipient,
    body: z.union([z.string(), z.record(z.string(), z.unknown()), z.array(z.unknown())]),
    subject: z.string().max(500).optional(),
    threadId: z.string().min(1).max(128).optional(),
    replyTo: Ulid.optional(),
    importance: z.enum(IMPORTANCE).default('normal'),
    ackRequired: z.boolean().default(false),
    /** A retried send with the same key (per sender) is stored once, and answers with the first id. */
    idempotencyKey: z.string().min(1).max(200).optional(),
  })
  .strict();
export type SendRequest = z.input<typeof SendRequest>;
/** The body of POST /agents/{id}/messages, where the path names the recipient. */
export const DirectSendRequest = SendRequest.omit({ to: true });
export type DirectSendRequest = z.input<typeof DirectSendRequest>;

export interface Message {
  id: string;
  from: string;
  to: Recipient;
  threadId: string;
  replyTo: string | null;
  subject: string | null;
  /** `text` bodies are strings; `json` bodies are objects or arrays. */
  contentType: 'text' | 'json';
  body: unknown;
  importance: Importance;
  ackRequired: boolean;
  createdAt: string;
}

export interface SendResponse {
  id: string;
  threadId: string;
  createdAt: string;
  /** How many inboxes it was delivered to (1 for a direct message, the subscribers of a topic, everyone else). */
  recipients: number;
  /** true when an earlier send with the same idempotency key already stored it. */
  duplicate: boolean;
}

/** The `state` values of an inbox listing (GET /agents/{id}/messages?state=). */
export const INBOX_STATES = {
  unacked: 'delivered and not yet acknowledged, oldest first (the default)',
  all: 'every message delivered to the agent, acknowledged or not',
} as const satisfies Record<string, string>;
export type InboxState = keyof typeof INBOX_STATES;

export const InboxQuery = z.object({
  after: Ulid.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  /** `unacked` (default) lists what still needs handling; `all` includes acknowledged messages. */
  state: z.enum(Object.keys(INBOX_STATES) as [InboxState, ...InboxState[]]).default('unacked'),
});

export interface InboxPage {
  messages: Message[];
  /** Pass as `after` to read on; null when the page reached the end. */
  next: string | null;
}

export const AckRequest = z.object({ ids: z.array(Ulid).min(1).max(10_000) }).strict();

export const SearchQuery = z.object({
  q: z.string().min(1).max(500),
  limit: z.coerce.number().int().min(1).max(200).default(20),
});

export interface SearchHit {
  message: Message;
  /** A fragment of the body around the match, with the matched words in [brackets]. */
  snippet: string;
  rank: number;
}

export interface ThreadSummary {
  threadId: string;
  subject: string | null;
  messages: number;
  participants: string[];
  lastMessageAt: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Realtime WebSocket: WS /api/v1/agents/{id}/realtime, authenticated with the agent's token (Authorization header,
// or `?token=` for clients that cannot set headers).

export const ClientFrame = z.discriminatedUnion('type', [
  /** Acknowledges delivered messages; unacknowledged ones are delivered again after a reconnect. */
  z.object({ type: z.literal('ack'), ids: z.array(Ulid).min(1).max(10_000) }).strict(),
  /** Sends a message; the hub answers `sent` with the same ref once it is durable. */
  z.object({ type: z.literal('send'), ref: z.string().max(100), message: SendRequest }).strict(),
  z.object({ type: z.literal('status'), status: z.enum(SETTABLE_STATUSES), activity: z.string().max(500).nullable().optional() }).strict(),
  z.object({ type: z.literal('subscribe'), topics: z.array(TopicName).min(1).max(100) }).strict(),
  z.object({ type: z.literal('unsubscribe'), topics: z.array(TopicName).min(1).max(100) }).strict(),
  /** The memory engine over the socket; answered by `result` (or `error`) with the same ref. */
  z.object({ type: z.literal('memory.store'), ref: z.string().max(100), memories: z.array(MemoryInput).min(1).max(10_000) }).strict(),
  z.object({ type: z.literal('memory.search'), ref: z.string().max(100), query: MemorySearchQuery }).strict(),
  z.object({ type: z.literal('memory.extract'), ref: z.string().max(100), request: ExtractRequest }).strict(),
  /** File reservations (reservation-protocol.ts): reserve, renew, release, list; answered by `result` or `error`. */
  ...ReservationFrames,
  /** Tasks (task-protocol.ts): `tasks.ready` says how many pushed tasks the agent takes at once. */
  ...TaskFrames,
]);
export type ClientFrame = z.input<typeof ClientFrame>;

export type ServerFrame =
  | { type: 'welcome'; agent: AgentInfo; pending: number }
  | { type: 'message'; message: Message }
  | { type: 'sent'; ref: string; result: SendResponse }
  /** The answer to a memory.* frame: StoredMemory[], a MemorySearchResult, or an extraction result. */
  | { type: 'result'; ref: string; result: unknown }
  /** A refused reservation (code reservation_conflict) carries the leases in the way. */
  | { type: 'error'; ref?: string; code: string; message: string; conflicts?: ReservationConflict[] }
  /** A task offered to the agent, or one it holds that ended without it (task-protocol.ts). */
  | TaskServerFrame;

// ---------------------------------------------------------------------------------------------------------------
// The codes the hub answers with: the one definition. The hub builds its errors from ERROR_CODES (src/main/errors.ts),
// the client reads statuses and close codes from here, and docs/agents.md lists the same tables (a test compares).

/** Every error code (`{error, code}` over HTTP, `{type:"error", code}` on the socket), its HTTP status and meaning. */
export const ERROR_CODES = {
  invalid_request: { status: 400, meaning: `the request is malformed, nests deeper than ${MAX_JSON_DEPTH} levels, or fails validation; \`error\` names each field at fault` },
  invalid_frame: { status: 400, meaning: 'a socket frame is malformed, too deep or fails validation (socket only; the socket stays open)' },
  invalid_model: { status: 400, meaning: 'the memory engine cannot use the model folder given' },
  unauthorized: { status: 401, meaning: 'no token, or one the hub does not know (register to get one)' },
  forbidden: { status: 403, meaning: 'the token is valid but may not do this: another agent\'s inbox or socket, another project\'s memories, a cockpit-only call' },
  not_found: { status: 404, meaning: 'no such agent, message, thread, memory or route' },
  conflict: { status: 409, meaning: 'the name is registered to another agent: present its token, or reclaim the name from the cockpit' },
  reservation_conflict: { status: 409, meaning: 'paths you asked to reserve are held by another agent: `conflicts` names each holder, its patterns and when its lease ends; nothing was reserved' },
  revoked: { status: 410, meaning: 'the calling agent, or the agent a message is addressed to, was revoked from the cockpit; final for that agent' },
  too_large: { status: 413, meaning: 'the body is over `messages.maxBytes`' },
  failed: { status: 500, meaning: 'the hub could not carry out the request' },
  internal: { status: 500, meaning: 'an unexpected failure in the hub' },
  closing: { status: 503, meaning: 'the hub is shutting down' },
  storage_failed: { status: 503, meaning: 'the hub could not store the message (disk full, say); nothing was stored' },
  memory_unavailable: { status: 503, meaning: 'the memory engine is not running' },
  embedding_failed: { status: 503, meaning: 'the sentence encoder failed' },
  not_ready: { status: 503, meaning: 'the first metrics are gathered a second after start' },
} as const satisfies Record<string, { status: number; meaning: string }>;
export type ErrorCode = keyof typeof ERROR_CODES;

/** WebSocket close codes of agent sockets, beyond the standard ones (1001 going away, 1009 message too big). */
export const CLOSE_CODES = {
  revoked: 4403,
  replaced: 4409,
} as const;

/** Why an agent's socket closes, by code: the standard codes the hub uses and its own. */
export const CLOSE_CODE_MEANINGS = {
  1001: 'the hub is shutting down; reconnect once it is back',
  1009: 'a frame was over the size limit (`messages.maxBytes` plus 64 KiB)',
  [CLOSE_CODES.revoked]: 'the agent was revoked from the cockpit; final',
  [CLOSE_CODES.replaced]: 'a newer connection of the same agent took over, or the agent\'s token was replaced (its identity reclaimed from the cockpit); final for this connection',
} as const satisfies Record<number, string>;
