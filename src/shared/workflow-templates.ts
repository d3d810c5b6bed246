/**
 * Definitions for common shapes, as functions: plan -> implement in parallel -> review -> (approve) -> merge, and
 * map-reduce over files. They return plain JSON definitions that go through the same validation as any other.
 */
import type { WorkflowDefinitionInput } from './workflow-protocol';

/** Who runs a role: the capabilities and tier its agent needs (any agent when both are left out). */
export interface Role {
  capabilities?: string[];
  tier?: 'strategic' | 'development' | 'memory';
}

export interface PlanImplementOptions {
  name: string;
  project?: string;
  /** What to build, in words: the planner's input. */
  goal: string;
  planner?: Role;
  implementer?: Role;
  reviewer?: Role;
  merger?: Role;
  /** Parts implemented at once. */
  concurrency?: number;
  /** A gate after the review, for the cockpit or a strategic agent (default true). */
  approval?: boolean;
}

/**
 * plan (one task: splits the goal into `parts`) -> implement (a fan-out, one task per part) -> review (a fan-in
 * task given every part's result) -> approve (optional gate over the review) -> merge (one task, given the parts'
 * results and the review). The planner completes with JSON `{ "parts": [{ "title", "instructions", "files" }] }`.
 */
export function planImplementReviewMerge(options: PlanImplementOptions): WorkflowDefinitionInput {
  const { planner = { tier: 'strategic' }, implementer = { capabilities: ['code'] }, reviewer = { capabilities: ['review'] }, merger = implementer } = options;
  const approval = options.approval ?? true;
  const reviewed = approval ? 'approve' : 'review';
  return {
    name: options.name,
    ...(options.project === undefined ? {} : { project: options.project }),
    input: { goal: options.goal },
    steps: {
      plan: {
        kind: 'task',
        title: 'Plan the work',
        instructions: 'Split the goal into parts that can be built in parallel. Complete with JSON { "parts": [{ "title", "instructions", "files" }] }.',
        input: { goal: { $ref: 'input.goal' } },
        ...planner,
      },
      implement: {
        kind: 'fan-out',
        dependsOn: ['plan'],
        items: { $ref: 'steps.plan.result.parts' },
        concurrency: options.concurrency ?? 4,
        task: {
          title: 'Implement one part',
          instructions: 'Implement the part given as `part`, within the goal. Complete with JSON { "summary", "files", "commit" }.',
          input: { goal: { $ref: 'input.goal' }, part: { $ref: 'item' }, index: { $ref: 'index' } },
          ...implementer,
        },
      },
      review: {
        kind: 'fan-in',
        dependsOn: ['implement'],
        aggregate: {
          use: 'task',
          task: {
            title: 'Review the parts',
            instructions: 'Review every part together. Complete with JSON { "verdict": "ok" | "changes", "notes" }.',
            input: { goal: { $ref: 'input.goal' }, parts: { $ref: 'results' } },
            ...reviewer,
          },
        },
      },
      ...(approval
        ? {
            approve: {
              kind: 'approval' as const,
              dependsOn: ['review'],
              prompt: 'Merge these parts? Edit the review to change what the merge is told.',
              subject: { $ref: 'steps.review.result' },
            },
          }
        : {}),
      merge: {
        kind: 'task',
        dependsOn: [reviewed],
        title: 'Merge the parts',
        instructions: 'Merge the implemented parts into one change, following the review.',
        input: { parts: { $ref: 'steps.implement.result' }, review: { $ref: `steps.${reviewed}.result` } },
        ...merger,
      },
    },
  };
}

export interface MapReduceOptions {
  name: string;
  project?: string;
  files: string[];
  /** The task run once per file; its input is `{ file }`. */
  map: { title: string; instructions: string } & Role;
  /** A built-in aggregator (default collect), or a task given every file's result. */
  reduce?: 'collect' | 'merge' | 'concat' | 'majority' | 'first-success' | ({ title: string; instructions: string } & Role);
  concurrency?: number;
  /** Keep going when a file's task fails: the reduce sees only the files that succeeded. */
  tolerateFailures?: boolean;
}

/** map (a fan-out over `input.files`, one task per file) -> reduce (a fan-in). */
export function mapReduceOverFiles(options: MapReduceOptions): WorkflowDefinitionInput {
  const reduce = options.reduce ?? 'collect';
  const tolerate = options.tolerateFailures ?? false;
  const aggregate =
    typeof reduce === 'string'
      ? reduce === 'first-success'
        ? { use: reduce }
        : { use: reduce, allowFailures: tolerate }
      : { use: 'task' as const, allowFailures: tolerate, task: { ...reduce, input: { files: { $ref: 'input.files' }, results: { $ref: 'results' } } } };
  return {
    name: options.name,
    ...(options.project === undefined ? {} : { project: options.project }),
    input: { files: options.files },
    steps: {
      map: {
        kind: 'fan-out',
        items: { $ref: 'input.files' },
        concurrency: options.concurrency ?? 8,
        onItemFailure: tolerate ? 'continue' : 'fail',
        task: { ...options.map, input: { file: { $ref: 'item' } } },
      },
      reduce: { kind: 'fan-in', dependsOn: ['map'], aggregate },
    },
  };
}
