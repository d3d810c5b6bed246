/**
 * The cockpit contract: every call the cockpit can make to the hub and every event the hub pushes to it, declared
 * once. Main registers handlers keyed by this map, the preload forwards it without knowing its entries, and the
 * renderer's transports (Electron IPC and the browser WebSocket) are typed by it, so no channel name is typed twice.
 *
 * Call parameters carry a zod schema because they cross a trust boundary and are validated in main; results and
 * event payloads are produced by main itself, so they are carried as types only.
 */
import { z } from 'zod';
import type { BackupEvent, BackupOverview, DamagedSnapshot, ExclusionPreview, RepairReport, RestoreReport, SnapshotSummary, VerifyReport } from './backup-protocol';
import { BackupPreviewRequest, BackupRestoreRequest, BackupSettingsSchema, SnapshotId, type BackupSettings, type LastRestore } from './backup-protocol';
import { SendRequest, TopicName, Ulid, type AgentInfo, type Message, type SendResponse } from './agent-protocol';
import {
  ExtractRequest,
  MemoryInput,
  MemorySearchQuery,
  type ExtractReport,
  type Memory,
  type MemoryModelState,
  type MemoryOverview,
  type MemorySearchResult,
  type StoredMemory,
} from './memory-protocol';
import { CockpitMemoryGraphCalls, type MemoryNeighbourhood, type MemoryTopic } from './memory-graph-protocol';
import { AttentionActRequest, AttentionQuery, type AttentionActResult, type AttentionList } from './attention-protocol';
import { AdviceId, PROFILE_ID_PATTERN, ProfileRequest, type AdviceReport, type FixResult, type ProfileInfo } from './advice-protocol';
import { OPERATIONS, type LatencyBucket, type MetricsSnapshot } from './monitor-protocol';
import { ReservationId, ReservationQuery, type Reservation, type ReservationChange } from './reservation-protocol';
import { CockpitTaskCalls, type TaskCounts, type TasksChanged } from './task-cockpit';
import type { Task } from './task-protocol';
import type { ClusterState } from './cluster-protocol';
import { CockpitWorkflowCalls, type WaitingTask, type WorkflowRun, type WorkflowsChanged, type WorkflowSummary } from './workflow-run-protocol';

function call<P extends z.ZodType>(params: P) {
  return { returns: <R>() => ({ params, result: undefined as unknown as R }) };
}
function event<Payload>() {
  return { payload: undefined as unknown as Payload };
}

const NoParams = z.object({}).strict().optional();

export type ServiceState = 'starting' | 'up' | 'degraded' | 'down';

export interface ServiceStatus {
  name: string;
  state: ServiceState;
  /** What the service is doing or why it is not up, in words a person can act on. */
  detail: string;
  /** 0..1 while long work (building the encoder, say) is under way. */
  progress?: number;
}

export interface HubStatus {
  product: string;
  version: string;
  runtime: 'electron' | 'headless';
  pid: number;
  nodeVersion: string;
  startedAt: string;
  uptimeMs: number;
  dataDir: string;
  /** Where agents and the browser cockpit reach the hub (loopback by default). */
  apiUrl: string | null;
  services: ServiceStatus[];
}

export interface AgentDetail {
  agent: AgentInfo;
  topics: string[];
  /** Its latest messages, sent or received, newest first; a large body as its preview (see MessagePreview). */
  messages: MessagePreview[];
  /** Its latest memories, newest first. */
  memories: Memory[];
  /** Since when it has been in its present status (offline: since it stopped being heard from); null if never seen. */
  statusSince: string | null;
  /** When the oldest message in its inbox it has not acknowledged was sent; null when it has read everything. */
  oldestUnreadAt: string | null;
}

/**
 * What the cockpit needs to build the connect commands (shared/connect-plan.ts builds them, for the CLI too): where
 * the hub listens and how the devenviro CLI is run on this machine. Never an agent's token: the hub keeps only hashes.
 */
export interface ConnectInfo {
  hubUrl: string;
  dataDir: string;
  /** How the devenviro CLI is run on this machine for this hub, as argv (`node <app>/bin/devenviro.mjs --data-dir DIR`). */
  devenviroArgv: string[];
  /** The hub's path separator, for paths under the data directory the commands name. */
  pathSeparator: string;
}

/** An open session of the hub's MCP server: which agent, which client (its initialize `clientInfo`), since when. */
export interface McpSessionInfo {
  agentId: string;
  client: { name: string; version: string };
  openedAt: string;
}

/** An A2A task's state as the cockpit shows it (the spec's TASK_STATE_… names, shortened). */
export type A2aTaskStateName = 'submitted' | 'working' | 'input-required' | 'auth-required' | 'completed' | 'failed' | 'canceled' | 'rejected' | 'unknown';

/** An A2A task in the cockpit's list: who asked (the calling agent), which hub agent it is for, its state. */
export interface A2aTaskInfo {
  id: string;
  /** The agent whose token created the task. */
  callerId: string;
  /** The hub agent it is addressed to (null if the task names none). */
  agentId: string | null;
  state: A2aTaskStateName;
  /** When its state last changed. */
  updatedAt: string;
}

const MessageFilter = z
  .object({
    limit: z.number().int().min(1).max(1000).default(200),
    agent: Ulid.optional(),
    topic: TopicName.optional(),
    thread: z.string().max(128).optional(),
    text: z.string().max(500).optional(),
    /** Only messages older than this one (its id): the next page of history below what is shown. */
    before: Ulid.optional(),
  })
  .strict();

export const calls = {
  'hub.status': call(NoParams).returns<HubStatus>(),
  'agents.list': call(NoParams).returns<AgentInfo[]>(),
  'agents.detail': call(z.object({ id: Ulid }).strict()).returns<AgentDetail>(),
  'agents.revoke': call(z.object({ id: Ulid }).strict()).returns<AgentInfo>(),
  'agents.connectInfo': call(NoParams).returns<ConnectInfo>(),
  /** The hubs joined through Redis (docs/cluster.md); `enabled: false` when cluster.redis is not set. */
  'cluster.state': call(NoParams).returns<ClusterState>(),
  /** The MCP server's open sessions, oldest first. */
  'mcp.sessions': call(NoParams).returns<McpSessionInfo[]>(),
  /** The A2A door's open tasks (up to 100), then the latest finished ones (up to 50), each newest first. */
  'a2a.tasks': call(NoParams).returns<A2aTaskInfo[]>(),
  /** Newest first; a large body as its preview (see MessagePreview). */
  'messages.list': call(MessageFilter).returns<MessagePreview[]>(),
  /** Oldest first; a large body as its preview (see MessagePreview). */
  'messages.thread': call(z.object({ threadId: z.string().min(1).max(128) }).strict()).returns<MessagePreview[]>(),
  /**
   * A message's whole body as the JSON the hub keeps (a text body as its JSON string literal), read without being
   * parsed. For the Electron cockpit, whose page cannot reach the hub over HTTP; the browser cockpit downloads
   * `GET messageBodyPath(id)` instead.
   */
  'messages.body': call(z.object({ id: Ulid }).strict()).returns<{ json: string }>(),
  /**
   * Sends as the person at the cockpit (the overseer identity): an agent's send request, less what only a program
   * needs (acknowledgement, retry keys), with a text body.
   */
  'messages.send': call(
    SendRequest.omit({ ackRequired: true, idempotencyKey: true }).extend({ body: z.string().min(1).max(1_000_000) }),
  ).returns<SendResponse>(),
  'memory.search': call(MemorySearchQuery).returns<MemorySearchResult>(),
  'memory.overview': call(NoParams).returns<MemoryOverview>(),
  /** Stores as the overseer, in the given project (default: default). */
  'memory.store': call(z.object({ memories: z.array(MemoryInput).min(1).max(1000) }).strict()).returns<StoredMemory[]>(),
  'memory.extract': call(ExtractRequest).returns<ExtractReport>(),
  /** Changes a memory's sharing, tags or importance (the person at the cockpit may change any memory). */
  'memory.update': call(CockpitMemoryGraphCalls.update).returns<Memory>(),
  'memory.delete': call(CockpitMemoryGraphCalls.delete).returns<{ deleted: string }>(),
  /** A project's topics, largest first; a topic's memories, nearest its centre first; the graph around a memory. */
  'memory.topics': call(CockpitMemoryGraphCalls.topics).returns<MemoryTopic[]>(),
  'memory.topicMemories': call(CockpitMemoryGraphCalls.topicMemories).returns<Memory[]>(),
  'memory.neighbourhood': call(CockpitMemoryGraphCalls.neighbourhood).returns<MemoryNeighbourhood>(),
  'memory.model': call(NoParams).returns<MemoryModelState>(),
  /** dir: a sentence-transformers ONNX export folder, or null for the built-in encoder. */
  'memory.switchModel': call(z.object({ dir: z.string().min(1).nullable() }).strict()).returns<MemoryModelState>(),
  'backup.overview': call(NoParams).returns<BackupOverview>(),
  'backup.saveSettings': call(BackupSettingsSchema).returns<{ settings: BackupSettings; warnings: string[] }>(),
  'backup.preview': call(BackupPreviewRequest).returns<{ previews: ExclusionPreview[] }>(),
  'backup.run': call(NoParams).returns<{ runId: string }>(),
  'backup.snapshots': call(NoParams).returns<{ snapshots: SnapshotSummary[]; damaged: DamagedSnapshot[] }>(),
  'backup.verify': call(z.object({ id: SnapshotId }).strict()).returns<VerifyReport>(),
  /** Moves a snapshot's damaged objects aside so the next run stores them again (offered after a failed verify). */
  'backup.repair': call(z.object({ id: SnapshotId }).strict()).returns<RepairReport>(),
  /** Restores one source of a snapshot into a folder. */
  'backup.restore': call(z.object({ id: SnapshotId, request: BackupRestoreRequest }).strict()).returns<RestoreReport>(),
  /** Restores the hub's own data in place: the hub stops, swaps its data and starts again (the cockpit reconnects). */
  'backup.restoreHub': call(z.object({ id: SnapshotId }).strict()).returns<{ accepted: true }>(),
  /** Active file reservations, oldest first: every project's, or one project's, holder's or path's. */
  'reservations.list': call(ReservationQuery.optional()).returns<Reservation[]>(),
  /** Releases anyone's lease (the person at the cockpit may); answers with the lease as it was. */
  'reservations.release': call(z.object({ id: ReservationId }).strict()).returns<Reservation>(),
  /** Tasks of every project, newest first, without inputs and results (task-cockpit.ts). */
  'tasks.list': call(CockpitTaskCalls.list).returns<Task[]>(),
  /** Ready tasks no agent has taken, with the reason, oldest first (of the newest 1,000 ready). */
  'tasks.waiting': call(CockpitTaskCalls.waiting).returns<WaitingTask[]>(),
  'tasks.counts': call(CockpitTaskCalls.counts).returns<TaskCounts>(),
  /** Cancels a task that has not ended (the person at the cockpit may cancel any); its holder is told. */
  'tasks.cancel': call(CockpitTaskCalls.cancel).returns<Task>(),
  'metrics.snapshot': call(NoParams).returns<MetricsSnapshot | null>(),
  /**
   * The last two minutes of ticks (up to 120), oldest first, kept by the hub so a cockpit opened or reloaded
   * mid-session draws whole charts at once; all but the newest carry an empty `slowest`.
   */
  'metrics.history': call(NoParams).returns<MetricsSnapshot[]>(),
  'metrics.histogram': call(z.object({ op: z.enum(OPERATIONS) }).strict()).returns<LatencyBucket[]>(),
  /** The advisor's advice now (advice-protocol.ts), worst first, with the latest fixes. */
  'advice.list': call(NoParams).returns<AdviceReport>(),
  /** Applies a piece of advice's fix and answers with its before/after figures (ok false and error when it failed). */
  'advice.fix': call(z.object({ id: AdviceId }).strict()).returns<FixResult>(),
  /** Starts a CPU profile or a heap snapshot (which stops the hub's world while taken); progress: profiles.changed. */
  'profiles.start': call(ProfileRequest).returns<ProfileInfo>(),
  'profiles.list': call(NoParams).returns<ProfileInfo[]>(),
  /**
   * A finished profile's file as text, for the Electron cockpit (its page cannot reach the hub over HTTP); the
   * browser cockpit downloads `GET profilePath(id)` with the cockpit token instead.
   */
  'profiles.read': call(z.object({ id: z.string().regex(PROFILE_ID_PATTERN) }).strict()).returns<{ text: string }>(),
  /** Workflow runs, newest first (every project's, or one project's / state's). */
  'workflows.list': call(CockpitWorkflowCalls.list).returns<WorkflowSummary[]>(),
  'workflows.get': call(CockpitWorkflowCalls.get).returns<WorkflowRun>(),
  /** Starts a run of a definition, in the project it names (default: default); invalid: fails naming each problem. */
  'workflows.start': call(CockpitWorkflowCalls.start).returns<WorkflowRun>(),
  'workflows.cancel': call(CockpitWorkflowCalls.cancel).returns<WorkflowRun>(),
  'workflows.approve': call(CockpitWorkflowCalls.approve).returns<WorkflowRun>(),
  'workflows.retry': call(CockpitWorkflowCalls.retry).returns<WorkflowRun>(),
  /** What needs attention (attention-protocol.ts): every project's and the hub's own, or one project's. */
  'attention.list': call(AttentionQuery.optional()).returns<AttentionList>(),
  /** Takes an item's action (a message's text in `text`); answers what happened and the list after. */
  'attention.act': call(AttentionActRequest).returns<AttentionActResult>(),
} as const;

/** The most of a body's text (UTF-8 bytes, about: characters) the cockpit gets in its lists, threads and live stream. */
export const MESSAGE_PREVIEW_BYTES = 4096;

/**
 * A message as the cockpit sees it in lists, threads, an agent's detail and the live stream. A body kept in a file
 * (over messages.bodyFileBytes), or in the live stream a text over MESSAGE_PREVIEW_BYTES, arrives as its first
 * characters as text (for a JSON body: the start of its JSON text), with `truncated.bytes` the full body's size.
 * The whole body is a download: `GET messageBodyPath(id)` (shared/agent-protocol.ts) with the cockpit token.
 * The hub never parses or serialises a large body to answer these calls, so they never hold up other agents.
 */
export type MessagePreview = Message & {
  truncated?: { bytes: number };
  /** How many inboxes it went to and how many acknowledged it (lists and threads as they were asked; live: at send). */
  delivery?: MessageDelivery;
  /** In a thread: each recipient and when it acknowledged (null: not yet), up to 100. */
  receipts?: Array<{ agentId: string; ackedAt: string | null }>;
};
export interface MessageDelivery {
  recipients: number;
  acked: number;
}
/** A message in the cockpit's live stream. */
export type LiveMessage = MessagePreview;

export const events = {
  /** Pushed whenever a service changes state and once a second otherwise, so uptime is live. */
  'hub.status': event<HubStatus>(),
  /** An agent registered, connected, disconnected, changed status or was revoked. */
  'agents.changed': event<AgentInfo>(),
  /** The MCP server's open sessions, whole, each time one opens or ends. */
  'mcp.sessions': event<McpSessionInfo[]>(),
  /** The A2A task list (as the call answers it), at most once per tenth of a second while tasks change. */
  'a2a.tasks': event<A2aTaskInfo[]>(),
  /**
   * New messages, batched per tenth of a second so a busy hub does not flood the cockpit. A large body arrives as
   * its first characters (`truncated` set); the body download gives it whole (see MessagePreview).
   */
  'messages.new': event<LiveMessage[]>(),
  'metrics.tick': event<MetricsSnapshot>(),
  /** A backup run started, progressed or finished. */
  'backup.event': event<BackupEvent>(),
  /** A file reservation was added, renewed, narrowed, released (by its holder, the cockpit, or revocation) or expired. */
  'reservations.changed': event<ReservationChange>(),
  /** Tasks changed (created, assigned, finished, ...): the counts after, at most four times a second. */
  'tasks.changed': event<TasksChanged>(),
  /** An in-place restore of the hub's data finished (or failed, with the reason). */
  'backup.restored': event<LastRestore>(),
  /** Workflow runs that changed (a step or task moved), as summaries, at most once per tenth of a second. */
  'workflows.changed': event<WorkflowsChanged>(),
  /** The whole attention list, when it changed (an item came, went or changed its words), at most once a second. */
  'attention.changed': event<AttentionList>(),
  /** Profiles and heap snapshots, whole, when one starts, progresses or finishes. */
  'profiles.changed': event<ProfileInfo[]>(),
} as const;

export type CallName = keyof typeof calls;
export type CallParams<K extends CallName> = z.input<(typeof calls)[K]['params']>;
/** The parameters as a handler receives them: validated, defaults filled in. */
export type ParsedCallParams<K extends CallName> = z.output<(typeof calls)[K]['params']>;
export type CallResult<K extends CallName> = (typeof calls)[K]['result'];
export type EventName = keyof typeof events;
export type EventPayload<K extends EventName> = (typeof events)[K]['payload'];

/**
 * Calls only the Electron bridge answers: their results are a whole message body, which the bridge hands over as
 * it is but the cockpit socket would have to serialise as JSON on the hub's event loop (~50-150 ms for 9 MB). The
 * browser cockpit downloads `GET messageBodyPath(id)` instead.
 */
export const BRIDGE_ONLY_CALLS: ReadonlySet<CallName> = new Set<CallName>(['messages.body', 'profiles.read']);

export function isCallName(name: unknown): name is CallName {
  return typeof name === 'string' && Object.hasOwn(calls, name);
}

/** What the renderer sees, whichever transport carries it. */
export interface CockpitApi {
  call<K extends CallName>(name: K, ...params: CallParams<K> extends undefined ? [] | [CallParams<K>] : [CallParams<K>]): Promise<CallResult<K>>;
  on<K extends EventName>(name: K, listener: (payload: EventPayload<K>) => void): () => void;
}

/** A failed call, as it travels back to the renderer: a stable code and a sentence. */
export interface CallFailure {
  code: 'unknown_call' | 'invalid_params' | 'failed' | 'unauthorized';
  message: string;
}
