/**
 * Workflows as they run: a started workflow (a run of a validated definition), its steps' states, the timeline of
 * which agent ran what, the requests that start, cancel, approve and retry, the HTTP paths and the cockpit's view of
 * them. The engine (src/main/workflows/engine*) produces these values; the CLI, client, MCP tools and the cockpit's
 * Workflows view read them. The declared format (steps, references, aggregators) is workflow-protocol.ts.
 */
import { z } from 'zod';
import type { Task, TaskState } from './task-protocol';
import { ApprovalDecision, StepId, type ApprovalStep, type StepKind, type WorkflowDefinition, type WorkflowPlan } from './workflow-protocol';

const PREFIX = '/api/v1';

/** Run ids are ULIDs, as task ids are. */
export const WorkflowRunId = z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, 'not a workflow id');

// --- States ---------------------------------------------------------------------------------------------------------

/**
 * running: some step is not final. succeeded: every step succeeded. failed: a step failed (after its attempts) or an
 * approval was rejected or timed out, so the steps after it will not run. cancelled: by a person or an agent allowed
 * to. The last three are final; a failed workflow runs again from its failed steps on a retry.
 */
export const WORKFLOW_STATES = ['running', 'succeeded', 'failed', 'cancelled'] as const;
export type WorkflowState = (typeof WORKFLOW_STATES)[number];
export const isFinalWorkflowState = (state: WorkflowState): boolean => state !== 'running';

/**
 * waiting: a dependency has not succeeded yet. running: its task(s) exist and are not all final (a fan-out: items
 * running or queued behind the concurrency limit). awaiting_approval: an approval gate waits for its decision.
 * succeeded / failed / cancelled / timed_out: final. skipped: will not run because a step it depends on failed or was
 * cancelled.
 */
export const STEP_RUN_STATES = ['waiting', 'running', 'awaiting_approval', 'succeeded', 'failed', 'cancelled', 'timed_out', 'skipped'] as const;
export type StepRunState = (typeof STEP_RUN_STATES)[number];
export const FINAL_STEP_RUN_STATES = ['succeeded', 'failed', 'cancelled', 'timed_out', 'skipped'] as const satisfies readonly StepRunState[];
export const isFinalStepRunState = (state: StepRunState): boolean => (FINAL_STEP_RUN_STATES as readonly StepRunState[]).includes(state);

// --- What a run shows -----------------------------------------------------------------------------------------------

/** A fan-out's items by state (a task step or fan-in task counts as one item). */
export interface StepItemCounts {
  total: number;
  /** Not created yet: queued behind the concurrency limit. */
  queued: number;
  /** Tasks pending, ready, assigned or running. */
  active: number;
  succeeded: number;
  failed: number;
  cancelled: number;
}

/** An approval gate's question and, once given, its decision. */
export interface StepApproval {
  prompt: string;
  approvers: ApprovalStep['approvers'];
  /** The subject as resolved when the gate opened (what the approver sees and may edit); undefined until then. */
  subject?: unknown;
  /** When the gate ends timed out if undecided (null: no limit, or not open yet). */
  expiresAt: string | null;
  decision: {
    decision: ApprovalDecision['decision'];
    /** An agent id, or `cockpit`. */
    by: string;
    note: string | null;
    at: string;
  } | null;
}

export interface WorkflowStepRun {
  id: string;
  kind: StepKind;
  state: StepRunState;
  dependsOn: string[];
  description: string | null;
  /** A task step's, fan-out template's or fan-in task's title; null for built-in fan-ins and approvals. */
  title: string | null;
  /** Tasks created for it (a fan-out: one per started item, in item order; retries reuse the task). */
  taskIds: string[];
  items: StepItemCounts;
  /** Agents that held its tasks, each once, in the order they first did. */
  agents: string[];
  /** Why it does not progress, for a running step whose tasks wait: "no online agent with capability `review`". */
  waiting: string | null;
  /** Its result once succeeded (a fan-out's: the items' results in order). Left out of lists. */
  result?: unknown;
  error: string | null;
  approval: StepApproval | null;
  startedAt: string | null;
  finishedAt: string | null;
}

/** One task of the run, as the timeline draws it: who ran which step (and item), from when to when. */
export interface WorkflowTimelineEntry {
  taskId: string;
  stepId: string;
  /** A fan-out item's position; null for other steps. */
  itemIndex: number | null;
  state: TaskState;
  attempt: number;
  /** The agent holding it or that last held it. */
  agentId: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

/** Per-state step counts, for lists and the Overview. */
export type StepStateCounts = Record<StepRunState, number>;

/** A run in lists: no definition, results or timeline. */
export interface WorkflowSummary {
  id: string;
  name: string;
  project: string;
  state: WorkflowState;
  /** The agent whose token started it, or `cockpit`. */
  createdBy: string;
  steps: StepStateCounts;
  /** Steps whose approval gate is open. */
  awaitingApproval: string[];
  /** Running steps whose tasks wait for an agent, with the reason ("no online agent with capability `review`"). */
  waiting: { stepId: string; reason: string }[];
  error: string | null;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

/** A run in full: its definition (input included), plan, every step and the timeline. */
export interface WorkflowRun extends WorkflowSummary {
  definition: WorkflowDefinition;
  plan: WorkflowPlan;
  /** In plan order (level by level). */
  stepRuns: WorkflowStepRun[];
  timeline: WorkflowTimelineEntry[];
  /**
   * The result of the steps nothing depends on, once succeeded: the one step's result, or an object keyed by step id
   * when there are several.
   */
  result?: unknown;
}

export interface WorkflowList {
  workflows: WorkflowSummary[];
}

// --- Requests -------------------------------------------------------------------------------------------------------

/**
 * POST /workflows takes a WorkflowDefinition as its body (validated as `POST /workflows/validate` does, the same 400
 * with `problems`), answers 201 with the WorkflowRun. An agent's workflows run in its own project. A retried start
 * with the same `Idempotency-Key` header answers the first run.
 */
export const WorkflowQuery = z
  .object({
    state: z.enum(WORKFLOW_STATES).optional(),
    project: z.string().trim().min(1).max(128).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();
export type WorkflowQuery = z.input<typeof WorkflowQuery>;

export const CancelWorkflowRequest = z.object({ reason: z.string().max(1000).optional() }).strict();
export type CancelWorkflowRequest = z.input<typeof CancelWorkflowRequest>;

/** The decision on an approval gate (approve, reject, or edit with the new `value`). */
export const ApproveStepRequest = ApprovalDecision;
export type ApproveStepRequest = z.input<typeof ApproveStepRequest>;

/** Re-runs a failed, timed-out or cancelled step (and the steps skipped after it); the run is running again. */
export const RetryStepRequest = z.object({}).strict();

/** Workflow error codes beyond the hub's common ones: code -> HTTP status and meaning. */
export const WORKFLOW_ERROR_CODES = {
  workflow_finished: { status: 409, meaning: 'the workflow has already ended (succeeded, failed or cancelled)' },
  step_not_awaiting_approval: { status: 409, meaning: 'the step is not an approval gate that is open: it is waiting, or already decided' },
  not_an_approver: { status: 403, meaning: "the step's approvers do not include you (an approval for the cockpit, or for agents of tier strategic)" },
  step_not_retryable: { status: 409, meaning: 'only a failed, timed-out or cancelled step can be retried' },
} as const satisfies Record<string, { status: number; meaning: string }>;
export type WorkflowErrorCode = keyof typeof WORKFLOW_ERROR_CODES;

// --- HTTP paths -----------------------------------------------------------------------------------------------------

/** POST: start (a WorkflowDefinition); GET: list (WorkflowQuery), newest first. */
export const WORKFLOWS_PATH = `${PREFIX}/workflows`;
/** GET: the WorkflowRun. */
export const workflowPath = (id: string): string => `${WORKFLOWS_PATH}/${id}`;
/** POST: CancelWorkflowRequest; cancels its active tasks and tells their agents (`task.cancelled`). */
export const workflowCancelPath = (id: string): string => `${WORKFLOWS_PATH}/${id}/cancel`;
/** POST: ApproveStepRequest. */
export const workflowApprovePath = (id: string, stepId: string): string => `${WORKFLOWS_PATH}/${id}/steps/${stepId}/approve`;
/** POST: RetryStepRequest. */
export const workflowRetryPath = (id: string, stepId: string): string => `${WORKFLOWS_PATH}/${id}/steps/${stepId}/retry`;

// --- Cockpit --------------------------------------------------------------------------------------------------------

/** Parameters of the cockpit's workflow calls (contract.ts registers them under these names). */
export const CockpitWorkflowCalls = {
  /** 'workflows.list' -> WorkflowSummary[] */
  list: WorkflowQuery.partial().strict().optional(),
  /** 'workflows.get' -> WorkflowRun */
  get: z.object({ id: WorkflowRunId }).strict(),
  /** 'workflows.start' -> WorkflowRun; started by the cockpit in the definition's project (default: default). */
  start: z.object({ definition: z.unknown() }).strict(),
  /** 'workflows.cancel' -> WorkflowRun */
  cancel: z.object({ id: WorkflowRunId, reason: z.string().max(1000).optional() }).strict(),
  /** 'workflows.approve' -> WorkflowRun */
  approve: z.object({ id: WorkflowRunId, stepId: StepId, decision: ApproveStepRequest }).strict(),
  /** 'workflows.retry' -> WorkflowRun */
  retry: z.object({ id: WorkflowRunId, stepId: StepId }).strict(),
} as const;

/** The cockpit event 'workflows.changed': runs that changed, at most once per tenth of a second, as summaries. */
export type WorkflowsChanged = WorkflowSummary[];

/** Tasks the cockpit lists as waiting for an agent: ready or pending tasks with the reason they wait. */
export type WaitingTask = Pick<Task, 'id' | 'title' | 'project' | 'capabilities' | 'tier' | 'priority' | 'state' | 'waiting' | 'workflowId' | 'stepId' | 'createdAt'>;
