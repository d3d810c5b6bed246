/**
 * Decomposition at run time: the holder of a task splits it into subtasks (with dependencies among them by local key)
 * and is given their aggregated results when they have all ended. The request is declared here, beside both the task
 * protocol (the subtasks are tasks) and the workflow protocol (the aggregators are the fan-in's).
 */
import { z } from 'zod';
import { CreateTaskRequest } from './task-protocol';
import { Aggregate } from './workflow-protocol';

export const MAX_SUBTASKS = 200;
export const SUBTASK_KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/**
 * One subtask: a task as POST /tasks takes it (in the parent's project, with the parent as parentTaskId), named by a
 * `key` of its own, and `dependsOn` naming other subtasks' keys (or ids of existing tasks of the project).
 */
export const SubtaskSpec = CreateTaskRequest.omit({ project: true, parentTaskId: true, dependsOn: true, workflowId: true, stepId: true })
  .extend({
    key: z.string().regex(SUBTASK_KEY_PATTERN, 'a key is a letter or digit, then up to 63 letters, digits, ".", "_" or "-"'),
    dependsOn: z.array(z.string().min(1).max(64)).max(100).default([]),
  })
  .strict();
export type SubtaskSpec = z.input<typeof SubtaskSpec>;

/**
 * POST taskSubtasksPath(id), by the task's holder: the subtasks, created in one transaction, and how their results
 * are combined (the fan-in's built-in aggregators; default collect: the results as a list, in the order given).
 * The task stays running and held while they run (its lease does not lapse meanwhile; its timeout still counts).
 */
export const SplitTaskRequest = z
  .object({
    subtasks: z.array(SubtaskSpec).min(1).max(MAX_SUBTASKS),
    aggregate: Aggregate.default({ use: 'collect', allowFailures: false }),
  })
  .strict();
export type SplitTaskRequest = z.input<typeof SplitTaskRequest>;
