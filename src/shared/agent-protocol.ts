/**
 * The agent hub's wire protocol (HTTP API v1 and the realtime WebSocket), declared once with zod: the hub validates
 * with these schemas, and the TypeScript client and the cockpit use the inferred types.
 */
import { z } from 'zod';
import { ExtractRequest, MemoryInput, MemorySearchQuery } from './memory-protocol';

export const API_PREFIX = '/api/v1';

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

export const InboxQuery = z.object({
  after: Ulid.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  /** `unacked` (default) lists what still needs handling; `all` includes acknowledged messages. */
  state: z.enum(['unacked', 'all']).default('unacked'),
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
]);
export type ClientFrame = z.input<typeof ClientFrame>;

export type ServerFrame =
  | { type: 'welcome'; agent: AgentInfo; pending: number }
  | { type: 'message'; message: Message }
  | { type: 'sent'; ref: string; result: SendResponse }
  /** The answer to a memory.* frame: StoredMemory[], a MemorySearchResult, or an extraction result. */
  | { type: 'result'; ref: string; result: unknown }
  | { type: 'error'; ref?: string; code: string; message: string };

/** WebSocket close codes the hub uses, beyond the standard ones (1009: message too big). */
export const CLOSE_CODES = {
  unauthorized: 4401,
  revoked: 4403,
  replaced: 4409,
} as const;
