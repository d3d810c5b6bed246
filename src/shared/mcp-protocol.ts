/** The hub's MCP server: its path, and each tool's input schema (zod) and structured output. */
import { z } from 'zod';
import { MAX_SUBTASKS, SubtaskSpec } from './subtask-protocol';
import { AGGREGATORS } from './workflow-protocol';
import { WORKFLOW_STATES } from './workflow-run-protocol';
import { RegisterRequest, SendRequest, StatusUpdate, TopicList, Ulid } from './agent-protocol';
import { ExtractRequest, MEMORY_KINDS, MEMORY_SCOPES, MemoryInput } from './memory-protocol';
import { MEMORY_LINK_KINDS } from './memory-graph-protocol';
import { ReleaseRequest, ReservationId, ReservationPath, ReserveRequest, MAX_TTL_SECONDS, MIN_TTL_SECONDS, RESERVATION_MODES } from './reservation-protocol';
import {
  CancelTaskRequest,
  ClaimNextRequest,
  CompleteTaskRequest,
  CreateTaskRequest,
  FailTaskRequest,
  TASK_STATES,
  TaskId,
  TaskProgressRequest,
} from './task-protocol';

/** Streamable HTTP endpoint of the MCP server, on the same port as the HTTP API. */
export const MCP_PATH = '/mcp';

/** The longest a wait_for_messages call may block, and its default. */
export const MAX_WAIT_MS = 300_000;
export const DEFAULT_WAIT_MS = 30_000;

/**
 * How long an MCP session may go without an open request (a call, or the notification stream a running client holds)
 * before the hub closes it and frees what it holds (mcp.sessionIdleMinutes in config.json): its client went away. A
 * request with its id then gets 404, and a client initializes a new session.
 */
export const DEFAULT_SESSION_IDLE_MINUTES = 30;

export const MCP_TOOL_NAMES = [
  'whoami',
  'register',
  'list_agents',
  'set_status',
  'send_message',
  'reply',
  'read_inbox',
  'acknowledge',
  'wait_for_messages',
  'read_thread',
  'search_messages',
  'subscribe',
  'unsubscribe',
  'list_topics',
  'memory_search',
  'memory_store',
  'memory_extract',
  'memory_topics',
  'memory_links',
  'reserve_files',
  'renew_reservation',
  'release_files',
  'list_reservations',
  'create_task',
  'next_task',
  'report_progress',
  'complete_task',
  'fail_task',
  'cancel_task',
  'list_tasks',
  'get_task',
  'split_task',
  'start_workflow',
  'get_workflow',
  'list_workflows',
  'approve_step',
] as const;
export type McpToolName = (typeof MCP_TOOL_NAMES)[number];

// --- inputs -----------------------------------------------------------------------------------------------------

export const WhoamiInput = z.object({}).strict();

/**
 * Over MCP the token already is an agent: `register` updates how the caller is listed. A name or project that is not
 * the caller's is another agent, refused with how to connect as it.
 */
export const RegisterInput = z
  .object({
    name: RegisterRequest.shape.name.optional().describe('your own name (see whoami); another name is another agent'),
    project: z.string().trim().min(1).max(128).optional().describe('your own project (see whoami)'),
    tier: RegisterRequest.shape.tier.describe('strategic, development or memory'),
    capabilities: RegisterRequest.shape.capabilities.describe('what you can do, e.g. ["review","typescript"]: replaces the list'),
    description: RegisterRequest.shape.description.describe('one line about you, shown in list_agents and the cockpit'),
  })
  .strict();

/** The HTTP API's status update (PUT /agents/{id}/status): a settable status and, optionally, what you are doing. */
export const SetStatusInput = StatusUpdate;

export const ListAgentsInput = z
  .object({ activeOnly: z.boolean().default(false).describe('only agents that are not offline') })
  .strict();

/** The HTTP API's send request, as it is: to (agent, topic, broadcast), body, subject, thread, importance, ack. */
export const SendMessageInput = SendRequest;

/** A reply: to the message's sender (or its topic), in its thread. The send options of send_message, minus `to`. */
export const ReplyInput = z
  .object({
    messageId: Ulid.describe('the id of the message you answer (from read_inbox or wait_for_messages)'),
    body: SendRequest.shape.body,
    subject: SendRequest.shape.subject,
    importance: SendRequest.shape.importance,
    ackRequired: SendRequest.shape.ackRequired,
    idempotencyKey: SendRequest.shape.idempotencyKey,
    privately: z.boolean().default(false).describe('for a topic message: answer only its sender, not the whole topic'),
  })
  .strict();

export const ReadThreadInput = z
  .object({ threadId: z.string().min(1).max(128).describe('a message\'s threadId') })
  .strict();

/** Keyword search over the messages you sent or received (GET /messages/search). */
export const SearchMessagesInput = z
  .object({
    query: z.string().trim().min(1).max(500).describe('words to find: every word must occur, the last one also as a prefix'),
    limit: z.number().int().min(1).max(200).default(20),
  })
  .strict();

/** Topics to subscribe to or leave (the body of POST /agents/{id}/topics). */
export const SubscribeInput = TopicList;
export const UnsubscribeInput = TopicList;
export const ListTopicsInput = z.object({}).strict();

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
    includeHistory: z.boolean().default(false).describe('also memories superseded by a newer one (their supersededBy says which)'),
  })
  .strict();

/** One memory, as the HTTP API's store takes it (it goes to the caller's own project). */
export const MemoryStoreInput = MemoryInput;

/** Text to extract memories from, as POST /memory/extract takes it, with its limits (up to 5,000,000 characters). */
export const MemoryExtractInput = ExtractRequest;

// --- outputs (structured content; loose: the HTTP API's answer types say every field) -----------------------------

const AgentOut = z.looseObject({ id: z.string(), name: z.string(), project: z.string(), status: z.string() });
/**
 * A body over this many bytes (its stored JSON, for a JSON body) reaches MCP tools and resources as its first
 * characters, with `truncated` giving its size and the HTTP route that serves it whole: a tool result stays a few
 * kilobytes per message however large the bodies (up to messages.maxBytes, 10 MiB by default).
 */
export const MCP_BODY_PREVIEW_BYTES = 8 * 1024;

/** How a message's body was cut: its whole size, and GET <hub><bodyPath> with the agent's token for all of it. */
export const TruncatedBody = z.object({ bytes: z.number().int(), bodyPath: z.string() });
export type TruncatedBody = z.infer<typeof TruncatedBody>;

const MessageOut = z.looseObject({ id: z.string(), from: z.string(), threadId: z.string(), body: z.unknown(), truncated: TruncatedBody.optional() });

const StoredMemoryOut = z.looseObject({ memory: z.looseObject({ id: z.string() }), outcome: z.string() });

export const WhoamiOutput = z.object({ agent: AgentOut });
export const RegisterOutput = z.object({ agent: AgentOut });
export const SetStatusOutput = z.object({ agent: AgentOut });
export const ListAgentsOutput = z.object({ agents: z.array(AgentOut) });
export const SendMessageOutput = z.looseObject({ id: z.string(), threadId: z.string(), recipients: z.number(), duplicate: z.boolean() });
export const ReplyOutput = SendMessageOutput.extend({ to: z.looseObject({ type: z.string() }) });
export const ReadThreadOutput = z.object({ threadId: z.string(), messages: z.array(MessageOut) });
export const SearchMessagesOutput = z.object({ hits: z.array(z.looseObject({ message: MessageOut, snippet: z.string() })) });
export const TopicsOutput = z.object({ topics: z.array(z.string()) });
export const ReadInboxOutput = z.object({ messages: z.array(MessageOut), next: z.string().nullable() });
export const AcknowledgeOutput = z.object({ acknowledged: z.number() });
export const WaitForMessagesOutput = z.object({ messages: z.array(MessageOut), timedOut: z.boolean() });
export const MemorySearchOutput = z.looseObject({
  hits: z.array(z.looseObject({ memory: z.looseObject({ id: z.string(), text: z.string() }), weak: z.boolean() })),
});
export const MemoryStoreOutput = z.object({ stored: z.array(StoredMemoryOut) });
export const MemoryTopicsInput = z
  .object({ limit: z.number().int().min(1).max(500).default(20).describe('how many topics at most, largest first') })
  .strict();
export const MemoryTopicsOutput = z.object({
  topics: z.array(z.looseObject({ id: z.string(), label: z.array(z.string()), size: z.number(), examples: z.array(z.looseObject({ id: z.string(), text: z.string() })) })),
});
export const MemoryLinksInput = z
  .object({
    id: z.string().length(26).describe('a memory id (from memory_search or memory_store)'),
    depth: z.number().int().min(1).max(3).default(1).describe('1: its own links; 2-3: the links of the memories it links to as well'),
    limit: z.number().int().min(2).max(200).default(30).describe('the most memories returned, the memory itself included'),
    kinds: z.array(z.enum(MEMORY_LINK_KINDS)).max(MEMORY_LINK_KINDS.length).optional().describe('only these kinds of link'),
  })
  .strict();
export const MemoryLinksOutput = z.looseObject({
  center: z.string(),
  memories: z.array(z.looseObject({ id: z.string(), text: z.string() })),
  links: z.array(z.looseObject({ from: z.string(), to: z.string(), kind: z.enum(MEMORY_LINK_KINDS), weight: z.number() })),
  truncated: z.boolean(),
});
export const MemoryExtractOutput = z.looseObject({ stored: z.array(StoredMemoryOut), stats: z.looseObject({ memories: z.number() }) });

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

// --- tasks (task-protocol.ts: the HTTP API's requests; the task named by taskId instead of the path) ---------------

const TaskRef = TaskId.describe('the task id (from next_task, create_task or list_tasks)');

/** POST /tasks as it is: the task goes to the caller's own project. */
export const CreateTaskInput = CreateTaskRequest;
/** POST /agents/{id}/tasks/next for the caller, optionally waiting for work to appear. */
export const NextTaskInput = z
  .object({
    ...ClaimNextRequest.shape,
    timeoutMs: z.number().int().min(0).max(MAX_WAIT_MS).default(0).describe('when nothing fits now, wait up to this many milliseconds for a task (0, the default: answer at once)'),
  })
  .strict();
export const ReportProgressInput = z.object({ taskId: TaskRef, ...TaskProgressRequest.shape }).strict();
export const CompleteTaskInput = z.object({ taskId: TaskRef, ...CompleteTaskRequest.shape }).strict();
export const FailTaskInput = z.object({ taskId: TaskRef, ...FailTaskRequest.shape }).strict();
export const CancelTaskInput = z.object({ taskId: TaskRef, ...CancelTaskRequest.shape }).strict();
export const GetTaskInput = z.object({ taskId: TaskRef }).strict();
/** POST /tasks/{id}/subtasks: the aggregate by name or with its options (checked as SplitTaskRequest). */
export const SplitTaskInput = z
  .object({
    taskId: TaskRef,
    subtasks: z
      .array(SubtaskSpec)
      .min(1)
      .max(MAX_SUBTASKS)
      .describe('the parts: each a task (title, instructions, input, capabilities, tier...) with a `key` of its own and `dependsOn` naming other parts\' keys'),
    aggregate: z
      .union([z.enum(AGGREGATORS), z.looseObject({ use: z.enum(AGGREGATORS) })])
      .optional()
      .describe('how their results are combined: collect (default: a list in the order given), merge, concat, majority, first-success; or {use, allowFailures, ...}'),
  })
  .strict();
export const ListTasksInput = z
  .object({
    scope: z.enum(['project', 'mine']).default('project').describe("project (default): your project's tasks; mine: the tasks you hold or last held"),
    state: z.enum(TASK_STATES).optional().describe('only tasks in this state'),
    limit: z.number().int().min(1).max(1000).default(100).describe('newest first, at most this many (default 100)'),
  })
  .strict();

const TaskOut = z.looseObject({ id: z.string(), title: z.string(), project: z.string(), state: z.enum(TASK_STATES), attempt: z.number(), holderId: z.string().nullable() });
export const TaskOutput = z.object({ task: TaskOut });
export const NextTaskOutput = z.object({ task: TaskOut.nullable(), reason: z.string().nullable() });
export const ListTasksOutput = z.object({ tasks: z.array(TaskOut) });

// --- workflows ----------------------------------------------------------------------------------------------------

const WorkflowRef = z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, 'not a workflow id').describe('the workflow id (from start_workflow or list_workflows)');
/** POST /workflows: the definition (docs/workflows.md), optionally with its input replaced. */
export const StartWorkflowInput = z
  .object({
    definition: z.record(z.string(), z.unknown()).describe('the workflow definition: {name, input?, steps: {id: {kind: task|fan-out|fan-in|approval, ...}}}'),
    input: z.unknown().optional().describe("replaces the definition's input"),
  })
  .strict();
export const GetWorkflowInput = z.object({ workflowId: WorkflowRef }).strict();
export const ListWorkflowsInput = z
  .object({
    state: z.enum(WORKFLOW_STATES).optional().describe('only workflows in this state'),
    limit: z.number().int().min(1).max(1000).default(50).describe('newest first, at most this many (default 50)'),
  })
  .strict();
/** POST /workflows/{id}/steps/{step}/approve. */
export const ApproveStepInput = z
  .object({
    workflowId: WorkflowRef,
    stepId: z.string().min(1).max(64).describe('the approval step'),
    decision: z.enum(['approve', 'reject', 'edit']).describe('approve as it is, reject (the step fails, nothing after it runs), or edit (give `value`)'),
    value: z.unknown().optional().describe('with edit: the subject as it should be'),
    note: z.string().max(4000).optional().describe('why, for the record'),
  })
  .strict();
const WorkflowOut = z.looseObject({ id: z.string(), name: z.string(), project: z.string(), state: z.enum(WORKFLOW_STATES) });
export const WorkflowOutput = z.object({ workflow: WorkflowOut });
export const ListWorkflowsOutput = z.object({ workflows: z.array(WorkflowOut) });

// --- resources ----------------------------------------------------------------------------------------------------

/** The resources a session offers: its agent's unacknowledged messages, and the directory of agents. */
export const MCP_RESOURCES = {
  inbox: 'devenviro://inbox',
  agents: 'devenviro://agents',
} as const;

/** How many unacknowledged messages the inbox resource shows at most (oldest first; read_inbox pages through more). */
export const INBOX_RESOURCE_LIMIT = 100;
