/** The hub's MCP server: its path, and each tool's input schema (zod) and structured output. */
import { z } from 'zod';
import { SendRequest, Ulid } from './agent-protocol';
import { MEMORY_KINDS, MEMORY_SCOPES, MemoryInput } from './memory-protocol';
import { ReleaseRequest, ReservationId, ReservationPath, ReserveRequest, MAX_TTL_SECONDS, MIN_TTL_SECONDS, RESERVATION_MODES } from './reservation-protocol';

/** Streamable HTTP endpoint of the MCP server, on the same port as the HTTP API. */
export const MCP_PATH = '/mcp';

/** The longest a wait_for_messages call may block, and its default. */
export const MAX_WAIT_MS = 300_000;
export const DEFAULT_WAIT_MS = 30_000;

export const MCP_TOOL_NAMES = [
  'whoami',
  'list_agents',
  'send_message',
  'read_inbox',
  'acknowledge',
  'wait_for_messages',
  'memory_search',
  'memory_store',
  'reserve_files',
  'renew_reservation',
  'release_files',
  'list_reservations',
] as const;
export type McpToolName = (typeof MCP_TOOL_NAMES)[number];

// --- inputs -----------------------------------------------------------------------------------------------------

export const WhoamiInput = z.object({}).strict();

export const ListAgentsInput = z
  .object({ activeOnly: z.boolean().default(false).describe('only agents that are not offline') })
  .strict();

/** The HTTP API's send request, as it is: to (agent, topic, broadcast), body, subject, thread, importance, ack. */
export const SendMessageInput = SendRequest;

export const ReadInboxInput = z
  .object({
    state: z.enum(['unacked', 'all']).default('unacked').describe('unacked (default): only messages not yet acknowledged; all: acknowledged ones too'),
    after: Ulid.optional().describe('read on after this message id (the `next` of the previous page)'),
    limit: z.number().int().min(1).max(500).default(50),
  })
  .strict();

export const AcknowledgeInput = z.object({ ids: z.array(Ulid).min(1).max(10_000).describe('ids of the messages handled') }).strict();

export const WaitForMessagesInput = z
  .object({
    timeoutMs: z.number().int().min(0).max(MAX_WAIT_MS).default(DEFAULT_WAIT_MS).describe('how long to block at most, in milliseconds'),
    after: Ulid.optional().describe('only messages after this message id; by default every unacknowledged one'),
  })
  .strict();

export const MemorySearchInput = z
  .object({
    query: z.string().trim().min(1).max(2000),
    k: z.number().int().min(1).max(200).default(10).describe('how many hits at most'),
    scope: z.enum(MEMORY_SCOPES).default('project').describe("project: your project's memories; shared: also other projects' shared ones"),
    kinds: z.array(z.enum(MEMORY_KINDS)).max(MEMORY_KINDS.length).optional(),
    tags: z.array(z.string().min(1).max(64)).max(32).optional(),
    since: z.iso.datetime({ offset: true }).optional(),
  })
  .strict();

/** One memory, as the HTTP API's store takes it (it goes to the caller's own project). */
export const MemoryStoreInput = MemoryInput;

// --- outputs (structured content; loose: the HTTP API's answer types say every field) -----------------------------

const AgentOut = z.looseObject({ id: z.string(), name: z.string(), project: z.string(), status: z.string() });
const MessageOut = z.looseObject({ id: z.string(), from: z.string(), threadId: z.string(), body: z.unknown() });

export const WhoamiOutput = z.object({ agent: AgentOut });
export const ListAgentsOutput = z.object({ agents: z.array(AgentOut) });
export const SendMessageOutput = z.looseObject({ id: z.string(), threadId: z.string(), recipients: z.number(), duplicate: z.boolean() });
export const ReadInboxOutput = z.object({ messages: z.array(MessageOut), next: z.string().nullable() });
export const AcknowledgeOutput = z.object({ acknowledged: z.number() });
export const WaitForMessagesOutput = z.object({ messages: z.array(MessageOut), timedOut: z.boolean() });
export const MemorySearchOutput = z.looseObject({ hits: z.array(z.looseObject({ memory: z.looseObject({ id: z.string(), text: z.string() }) })) });
export const MemoryStoreOutput = z.object({ stored: z.array(z.looseObject({ memory: z.looseObject({ id: z.string() }), outcome: z.string() })) });

// --- file reservations (reservation-protocol.ts: the HTTP API's requests, in the caller's own project) ------------

export const ReserveFilesInput = ReserveRequest;
export const RenewReservationInput = z
  .object({
    id: ReservationId.describe('the reservation id reserve_files answered with'),
    ttlSeconds: z.number().int().min(MIN_TTL_SECONDS).max(MAX_TTL_SECONDS).optional().describe('how long from now; the lease\'s own TTL when left out'),
  })
  .strict();
export const ReleaseFilesInput = ReleaseRequest;
export const ListReservationsInput = z
  .object({
    path: ReservationPath.optional().describe('only leases that could touch this path or glob'),
    holder: ReservationId.optional().describe('only this agent\'s leases (an agent id)'),
  })
  .strict();

const ReservationOut = z.looseObject({
  id: z.string(),
  holderId: z.string(),
  holderName: z.string(),
  paths: z.array(z.string()),
  mode: z.enum(RESERVATION_MODES),
  expiresAt: z.string(),
});
export const ReserveFilesOutput = z.object({ reservations: z.array(ReservationOut), created: z.boolean() });
export const RenewReservationOutput = z.object({ reservation: ReservationOut });
export const ReleaseFilesOutput = z.object({ released: z.array(ReservationOut), narrowed: z.array(ReservationOut) });
export const ListReservationsOutput = z.object({ reservations: z.array(ReservationOut) });
