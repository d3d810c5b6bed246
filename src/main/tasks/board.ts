/**
 * The cockpit's board of tasks, read beside the task service: open tasks counted by state, the ready ones no present
 * agent can take (stuck), the work waiting for an agent with the reason, and lists by state, project and agent.
 */
import type { Task } from '../../shared/task-protocol';
import { OPEN_TASK_STATES, type OpenTaskState, type TaskCounts } from '../../shared/task-cockpit';
import type { WaitingTask } from '../../shared/workflow-run-protocol';
import type { AgentRegistry } from '../agents/registry';
import type { SqliteDatabase } from '../db/database';
import { agentFits } from './dispatcher';
import type { TaskService } from './service';

type NeedsRow = { project: string; tier: string | null; capabilities: string; assignee: string | null; n: number };

export class TaskBoard {
  private readonly statements;

  constructor(
    db: SqliteDatabase,
    private readonly tasks: TaskService,
    private readonly registry: AgentRegistry,
  ) {
    // Both read through the partial index of open tasks (tasks_open), so they cost the open tasks, not the history.
    this.statements = {
      byState: db.prepare("SELECT state, count(*) AS n FROM tasks WHERE state IN ('pending', 'ready', 'assigned', 'running') GROUP BY state"),
      readyByNeeds: db.prepare("SELECT project, tier, capabilities, assignee, count(*) AS n FROM tasks WHERE state = 'ready' GROUP BY project, tier, capabilities, assignee"),
    };
  }

  /** Open tasks by state, and how many ready ones no agent that is present could take. */
  counts(): TaskCounts {
    const open = Object.fromEntries(OPEN_TASK_STATES.map((state) => [state, 0])) as Record<OpenTaskState, number>;
    for (const { state, n } of this.statements.byState.all() as { state: OpenTaskState; n: number }[]) open[state] = n;
    let stuck = 0;
    if (open.ready > 0) {
      const present = this.registry.all().filter((agent) => !agent.revokedAt && this.registry.presence(agent) !== 'offline');
      for (const needs of this.statements.readyByNeeds.all() as NeedsRow[]) {
        const task = { project: needs.project, tier: needs.tier, capabilities: JSON.parse(needs.capabilities) as string[], assignee: needs.assignee };
        if (!present.some((agent) => agentFits(agent, task))) stuck += needs.n;
      }
    }
    return { open, stuck, at: new Date().toISOString() };
  }

  /** Ready tasks with why no agent has taken them, oldest first (of the newest 1,000 ready). */
  waiting(query: { project?: string; limit: number }): WaitingTask[] {
    // The service lists newest first; the most a cockpit shows is read and turned round.
    const ready = this.tasks.list({ state: 'ready', project: query.project, limit: 1000 });
    return ready
      .reverse()
      .slice(0, query.limit)
      .map(({ id, title, project, capabilities, tier, priority, state, waiting, workflowId, stepId, createdAt }) => ({
        id,
        title,
        project,
        capabilities,
        tier,
        priority,
        state,
        waiting,
        workflowId,
        stepId,
        createdAt,
      }));
  }

  /** Tasks newest first, by state, project and the agent that holds or last held them. */
  list(query: { state?: Task['state']; project?: string; agent?: string; limit: number }): Task[] {
    if (query.agent === undefined) return this.tasks.list({ state: query.state, project: query.project, limit: query.limit });
    const held = this.tasks.ofAgent(query.agent, query.state, query.project === undefined ? query.limit : 1000);
    return (query.project === undefined ? held : held.filter((task) => task.project === query.project)).slice(0, query.limit);
  }
}

const boards = new WeakMap<TaskService, TaskBoard>();

/** The board of a running hub's task service, made on first use (its statements prepared once). */
export function taskBoardOf(hub: { db: SqliteDatabase; tasks: TaskService; registry: AgentRegistry }): TaskBoard {
  let board = boards.get(hub.tasks);
  if (!board) boards.set(hub.tasks, (board = new TaskBoard(hub.db, hub.tasks, hub.registry)));
  return board;
}
