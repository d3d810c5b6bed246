/**
 * Workflows as declared: a named graph of steps (task, fan-out, fan-in, approval) in JSON, the reference syntax that
 * feeds the workflow's input and earlier steps' results into later steps, the aggregators, the validation problems
 * and their codes, the limits, and the HTTP path that checks a definition. The engine that runs workflows on tasks
 * builds on these shapes; docs/workflows.md ("Declaring a workflow") explains them with an example.
 */
import { z } from 'zod';
import { API_PREFIX } from './agent-protocol';
import { CreateTaskRequest, TASK_TIERS, type TaskResult } from './task-protocol';

// --- Limits -------------------------------------------------------------------------------------------------------

/** Steps in one definition. */
export const MAX_WORKFLOW_STEPS = 2000;
/** Levels of the plan: the longest chain of dependencies, counted in steps. */
export const MAX_WORKFLOW_DEPTH = 256;
/** The definition's JSON, bytes. */
export const MAX_WORKFLOW_BYTES = 4 * 1024 * 1024;
/** Steps one step may depend on. */
export const MAX_STEP_DEPENDENCIES = 1000;
/** Items of one fan-out (checked on a literal list here, on a referenced one when the engine resolves it). */
export const MAX_FAN_OUT_ITEMS = 10_000;
export const MAX_FAN_OUT_CONCURRENCY = 1000;
export const DEFAULT_FAN_OUT_CONCURRENCY = 10;
/** Segments of one reference path. */
export const MAX_REF_SEGMENTS = 32;

// --- Step ids and references ----------------------------------------------------------------------------------------

/** A step's id: its key in `steps`. No dots, so a reference path splits unambiguously. */
export const STEP_ID_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
export const STEP_ID_RULE = 'a step id is a letter then up to 63 letters, digits, _ or -';
export const StepId = z.string().regex(STEP_ID_PATTERN, STEP_ID_RULE);

/**
 * A reference: an object whose only keys are `$ref` and, optionally, `default`. Anywhere in a step's `input` (and an
 * approval's `subject`, a fan-out's `items`) it stands for the value it points to, resolved when the step starts.
 *
 * `$ref` is a dot path ("steps.plan.result.files.0") or the same as an array of segments (["steps", "plan",
 * "result", "file name.ts"]) for keys holding dots or spaces. Roots:
 * - `input`: the workflow's input.
 * - `steps.<id>.result`: a finished step's result (every kind); `steps.<id>.text` and `steps.<id>.refs`: a task step's
 *   text and its references to files and memories. The step must be upstream (reachable through `dependsOn`).
 * - `item`, `index`: inside a fan-out's `task.input`, the current item and its 0-based position.
 * - `results`: inside a fan-in task's `input`, the collected results of its dependencies.
 * A segment that is a whole number indexes an array; any other segment is an object key. `default` is used when the
 * path leads nowhere inside a value that exists (a missing key, an index past the end, a step into a non-object);
 * a step that has not succeeded is an error whatever the default.
 *
 * `{ "$literal": value }` stands for `value` as written, unresolved: the way to pass an object that has a `$ref` key.
 */
export const REF_KEY = '$ref';
export const LITERAL_KEY = '$literal';
export const REF_ROOTS = ['input', 'steps', 'item', 'index', 'results'] as const;
export type RefRoot = (typeof REF_ROOTS)[number];
/** What a reference may read of a step: its result (any kind), a task's text and file/memory references. */
export const STEP_FIELDS = ['result', 'text', 'refs'] as const;
export type StepField = (typeof STEP_FIELDS)[number];

export const RefPath = z.union([
  z.string().min(1).max(2000),
  z
    .array(z.union([z.string().min(1).max(256), z.number().int().min(0)]))
    .min(1)
    .max(MAX_REF_SEGMENTS),
]);
export type RefPath = z.infer<typeof RefPath>;
export interface Ref {
  $ref: RefPath;
  default?: unknown;
}

// --- Task fields ----------------------------------------------------------------------------------------------------

export const WORKFLOW_TIERS = TASK_TIERS;

const Project = z.string().trim().min(1).max(128);

/** Prefer the agent that ran an earlier task step (which must be upstream), or the last one that worked on a thread. */
export const StepAffinity = z.union([z.object({ step: StepId }).strict(), z.object({ threadId: z.string().min(1).max(128) }).strict()]);
export type StepAffinity = z.infer<typeof StepAffinity>;

/**
 * What a task step, a fan-out's template and a fan-in task declare: the task the engine creates, with the task
 * protocol's own fields, limits and defaults (CreateTaskRequest: capabilities, tier, priority, timeoutSeconds,
 * leaseSeconds, maxAttempts, backoff, assignee). `input` may hold references; resolved, it must be a task body (text,
 * object or list). The affinity names a step instead of a task id.
 */
export const TaskTemplate = CreateTaskRequest.pick({
  title: true,
  instructions: true,
  capabilities: true,
  tier: true,
  priority: true,
  timeoutSeconds: true,
  leaseSeconds: true,
  maxAttempts: true,
  backoff: true,
  assignee: true,
})
  .extend({
    input: z.unknown().optional(),
    affinity: StepAffinity.optional(),
  })
  .strict();
export type TaskTemplate = z.output<typeof TaskTemplate>;

// --- Aggregators ----------------------------------------------------------------------------------------------------

export const AGGREGATORS = ['collect', 'merge', 'concat', 'majority', 'first-success'] as const;
export type AggregatorName = (typeof AGGREGATORS)[number];

/**
 * How a fan-in combines its dependencies' results (docs/workflows.md, "Aggregators"):
 * - collect: the results as a list, in order;
 * - merge: objects merged deeply; `onConflict` decides when two results set one key to different values
 *   (`error`: the fan-in fails naming the key; `first` / `last`: the earlier / later result in order wins);
 * - concat: lists concatenated, or texts joined with `separator`;
 * - majority: the value most results agree on (compared as JSON with sorted keys); `tie`: `first` (of the tied
 *   values, the one whose first vote came earliest in order) or `fail`;
 * - first-success: the result of the dependency that succeeded first;
 * - task: a task whose input is the collected results (the root `results` in its `input`, or the whole input when
 *   it declares none).
 * `allowFailures` (all but first-success, which skips failures anyway): failed dependencies are left out instead of
 * failing the fan-in; at least one must succeed.
 */
export const Aggregate = z.preprocess(
  (value) => (typeof value === 'string' ? { use: value } : value),
  z.discriminatedUnion('use', [
    z.object({ use: z.literal('collect'), allowFailures: z.boolean().default(false) }).strict(),
    z.object({ use: z.literal('merge'), onConflict: z.enum(['error', 'first', 'last']).default('error'), allowFailures: z.boolean().default(false) }).strict(),
    z.object({ use: z.literal('concat'), separator: z.string().max(100).default('\n'), allowFailures: z.boolean().default(false) }).strict(),
    z.object({ use: z.literal('majority'), tie: z.enum(['first', 'fail']).default('first'), allowFailures: z.boolean().default(false) }).strict(),
    z.object({ use: z.literal('first-success') }).strict(),
    z.object({ use: z.literal('task'), task: TaskTemplate, allowFailures: z.boolean().default(false) }).strict(),
  ]),
);
export type Aggregate = z.output<typeof Aggregate>;

// --- Steps ----------------------------------------------------------------------------------------------------------

const dependsOn = z.array(StepId).max(MAX_STEP_DEPENDENCIES).default([]);
const description = z.string().max(2000).optional();

/** One task. Its result is the JSON its agent completed it with, else its text, else null. */
export const TaskStep = TaskTemplate.extend({ kind: z.literal('task'), dependsOn, description }).strict();

/**
 * The task template run once per item of `items` (a literal list, or a reference to a list: the workflow's input or
 * an earlier step's result), at most `concurrency` at once; `item` and `index` in `task.input` are the item and its
 * position. Its result is the list of the items' results, in item order. `onItemFailure`: `fail` (a failed item,
 * after its attempts, cancels the others and fails the step) or `continue` (the step ends when every item has, and
 * succeeds if one did; its result has null for a failed item, and a fan-in after it sees each item's outcome).
 */
export const FanOutStep = z
  .object({
    kind: z.literal('fan-out'),
    dependsOn,
    description,
    items: z.union([z.array(z.unknown()).max(MAX_FAN_OUT_ITEMS), z.object({ $ref: RefPath, default: z.array(z.unknown()).max(MAX_FAN_OUT_ITEMS).optional() }).strict()]),
    task: TaskTemplate,
    concurrency: z.number().int().min(1).max(MAX_FAN_OUT_CONCURRENCY).default(DEFAULT_FAN_OUT_CONCURRENCY),
    onItemFailure: z.enum(['fail', 'continue']).default('fail'),
  })
  .strict();

/** Combines the results of the steps it depends on (a fan-out counts once per item), in `dependsOn` order. */
export const FanInStep = z
  .object({
    kind: z.literal('fan-in'),
    dependsOn: dependsOn.refine((ids) => ids.length > 0, 'a fan-in depends on at least one step'),
    description,
    aggregate: Aggregate,
  })
  .strict();

/** Who may decide an approval: the person at the cockpit, an agent of tier strategic, or either. */
export const APPROVERS = ['cockpit', 'strategic', 'either'] as const;

/**
 * Waits for a decision. `subject` (references allowed) is what the approver sees and may edit; the step's result is
 * the subject as approved, edited or not. A rejection fails the step, so nothing after it runs.
 */
export const ApprovalStep = z
  .object({
    kind: z.literal('approval'),
    dependsOn,
    description,
    prompt: z.string().trim().min(1).max(4000),
    subject: z.unknown().optional(),
    approvers: z.enum(APPROVERS).default('either'),
    /** Undecided this long, the step ends timed out; no limit when left out. */
    timeoutSeconds: z.number().int().min(1).max(30 * 24 * 3600).optional(),
  })
  .strict();

export const WorkflowStep = z.discriminatedUnion('kind', [TaskStep, FanOutStep, FanInStep, ApprovalStep]);
export type WorkflowStep = z.output<typeof WorkflowStep>;
export type StepKind = WorkflowStep['kind'];
export type TaskStep = z.output<typeof TaskStep>;
export type FanOutStep = z.output<typeof FanOutStep>;
export type FanInStep = z.output<typeof FanInStep>;
export type ApprovalStep = z.output<typeof ApprovalStep>;

/** A workflow as declared. Steps are keyed by id; their order in the object does not matter (dependsOn does). */
export const WorkflowDefinition = z
  .object({
    name: z.string().trim().min(1).max(128),
    description,
    /** An agent's workflows run in its own project; the cockpit names one (`default` when left out). */
    project: Project.optional(),
    /** Any JSON the steps read through `{ "$ref": "input..." }`. */
    input: z.unknown().optional(),
    steps: z.record(StepId, WorkflowStep).refine((steps) => Object.keys(steps).length > 0, 'a workflow has at least one step'),
  })
  .strict();
export type WorkflowDefinitionInput = z.input<typeof WorkflowDefinition>;
export type WorkflowDefinition = z.output<typeof WorkflowDefinition>;

/** An approver's decision (the engine's approve call takes it): `edit` replaces the subject with `value`. */
export const ApprovalDecision = z
  .object({
    decision: z.enum(['approve', 'reject', 'edit']),
    value: z.unknown().optional(),
    note: z.string().max(4000).optional(),
  })
  .strict()
  .refine((d) => d.decision !== 'edit' || d.value !== undefined, { message: 'an edit gives the new `value`', path: ['value'] });
export type ApprovalDecision = z.output<typeof ApprovalDecision>;

// --- Results, outcomes ----------------------------------------------------------------------------------------------

/** What a finished, succeeded step leaves for references: `result` always; `text`, `refs` for task steps. */
export interface StepOutput {
  result: unknown;
  text?: string;
  refs?: TaskResult['refs'];
}

/** One dependency result as a fan-in sees it: a step's, or one fan-out item's (`source` "<step>[<index>]"). */
export interface Outcome {
  source: string;
  ok: boolean;
  value?: unknown;
  error?: string;
  /** When it finished (ms since epoch): first-success picks the earliest; ties and unknowns go by order. */
  finishedAt?: number;
}

export type AggregateResult = { ok: true; value: unknown } | { ok: false; error: string };

// --- Validation -----------------------------------------------------------------------------------------------------

/** Every problem validation reports, by code (docs/workflows.md, "Validation errors"). */
export const WORKFLOW_PROBLEM_CODES = {
  invalid_json: 'the text is not JSON, or nests deeper than the hub accepts',
  too_large: `the definition's JSON is over ${MAX_WORKFLOW_BYTES} bytes`,
  invalid_definition: 'a field is missing, of the wrong type or out of range (the path names it)',
  too_many_steps: `more than ${MAX_WORKFLOW_STEPS} steps`,
  too_deep: `a chain of dependencies longer than ${MAX_WORKFLOW_DEPTH} steps`,
  cycle: 'steps depend on each other in a circle (the message names it: a -> b -> a)',
  unknown_step: '`dependsOn` or an affinity names a step that does not exist',
  bad_ref: 'a reference is malformed, has an unknown root, or uses `item`, `index` or `results` outside their place',
  unknown_ref: 'a reference names a step that does not exist, or a path absent from the workflow input',
  ref_not_upstream: 'a reference or an affinity names a step that is not upstream (not reachable through dependsOn)',
  fan_out_not_list: "a fan-out's items cannot be a list",
  no_capable_agent: 'no registered agent of the project has the tier and capabilities a step asks for',
  unknown_assignee: 'the assignee is not an agent of the project, or lacks the tier or capabilities the step asks for',
  no_approver: 'an approval for strategic agents only, and the project has no agent of tier strategic',
} as const;
export type WorkflowProblemCode = keyof typeof WORKFLOW_PROBLEM_CODES;

export interface WorkflowProblem {
  code: WorkflowProblemCode;
  /** The step at fault (null: the workflow as a whole). */
  step: string | null;
  /** Where in the definition: "steps.review.input.diff". */
  path: string;
  message: string;
}

/** The engine's plan: steps by level (a step's level is one more than its deepest dependency's), each in id order. */
export interface WorkflowPlan {
  levels: string[][];
}

/** What an agent's registry entry tells validation (the hub passes its agents of any project). */
export interface AgentView {
  id: string;
  project: string;
  tier: string;
  capabilities: readonly string[];
  revoked: boolean;
}

// --- HTTP -----------------------------------------------------------------------------------------------------------

/**
 * POST a WorkflowDefinition: 200 with WorkflowCheck when it is valid for the caller's project and its agents, 400
 * (code invalid_request) with `problems` (WorkflowProblem[]) naming each step at fault otherwise. Nothing is stored.
 */
export const WORKFLOW_VALIDATE_PATH = `${API_PREFIX}/workflows/validate`;

export interface WorkflowCheck {
  ok: true;
  name: string;
  project: string;
  steps: number;
  plan: WorkflowPlan;
}
