/**
 * The cockpit's view of tasks: the parameters of its task calls (contract.ts registers them), the counts the
 * Overview and the sidebar show, and the live 'tasks.changed' event. The task itself is task-protocol.ts.
 */
import { z } from 'zod';
import { TASK_STATES, TaskId, type TaskState } from './task-protocol';

const Project = z.string().trim().min(1).max(128);

/** Tasks that have not ended, by state. */
export const OPEN_TASK_STATES = ['pending', 'ready', 'assigned', 'running'] as const satisfies readonly TaskState[];
export type OpenTaskState = (typeof OPEN_TASK_STATES)[number];

/** How much work is in the hub now, for the Overview and the sidebar. */
export interface TaskCounts {
  /** Open tasks by state (a ready task is waiting for an agent to take it). */
  open: Record<OpenTaskState, number>;
  /**
   * Ready tasks no agent can take now (no agent of the project with the tier and capabilities, all such agents
   * offline, busy or full): work that is stuck until an agent comes, as opposed to work about to be offered.
   */
  stuck: number;
  at: string;
}

/** Parameters of the cockpit's task calls. */
export const CockpitTaskCalls = {
  /** 'tasks.list' -> Task[] (newest first, no inputs or results): by state, project and the agent that holds or held it. */
  list: z
    .object({
      state: z.enum(TASK_STATES).optional(),
      project: Project.optional(),
      /** The agent holding each task, or the last one that did. */
      agent: TaskId.optional(),
      limit: z.number().int().min(1).max(1000).default(200),
    })
    .strict()
    .optional(),
  /** 'tasks.waiting' -> WaitingTask[]: ready tasks with why no agent has them, oldest first (of the newest 1,000 ready). */
  waiting: z
    .object({
      project: Project.optional(),
      limit: z.number().int().min(1).max(1000).default(200),
    })
    .strict()
    .optional(),
  /** 'tasks.counts' -> TaskCounts */
  counts: z.object({}).strict().optional(),
  /** 'tasks.cancel' -> Task: ends a task that has not ended; its holder is told (`task.cancelled`). */
  cancel: z.object({ id: TaskId, reason: z.string().max(1000).optional() }).strict(),
} as const;

/** The cockpit event 'tasks.changed': the counts after tasks changed, at most a few times a second. */
export type TasksChanged = TaskCounts;
