/**
 * The agent client's task calls (AgentClient inherits them): create, read and list tasks, claim the next one, report
 * progress, complete, fail, cancel, and split a held task into subtasks. Pushed work (takeTasks) and the task events
 * belong to the socket, in client.ts.
 */
import type { z } from 'zod';
import type { SplitTaskRequest } from '../shared/subtask-protocol';
import {
  agentNextTaskPath,
  agentTasksPath,
  TASKS_PATH,
  taskCancelPath,
  taskCompletePath,
  taskFailPath,
  taskPath,
  taskProgressPath,
  taskSubtasksPath,
  type ClaimNextRequest,
  type ClaimNextResponse,
  type CompleteTaskRequest,
  type CreateTaskRequest,
  type FailTaskRequest,
  type Task,
  type TaskList,
  type TaskProgressRequest,
  type TaskState,
} from '../shared/task-protocol';
import { apiRoute, HubClientError, type HubHttp } from './http';
import type { TaskReportFrame } from './socket-reports';

export abstract class TaskCalls {
  protected constructor(protected readonly http: HubHttp) {}

  /** The agent's id. */
  abstract get id(): string;

  /** Creates a task in the agent's project; it is given to an agent once its dependencies have succeeded. */
  createTask(request: CreateTaskRequest): Promise<Task> {
    return this.http.request<Task>('POST', apiRoute(TASKS_PATH), { body: request });
  }

  /** One task of the agent's project, with its input, result and subtasks. */
  task(id: string): Promise<Task> {
    return this.http.request<Task>('GET', apiRoute(taskPath(id)));
  }

  /** Tasks of the agent's project, newest first (without inputs and results). */
  tasks(query: { state?: TaskState; limit?: number } = {}): Promise<Task[]> {
    return this.http.request<TaskList>('GET', apiRoute(TASKS_PATH), { query }).then((r) => r.tasks);
  }

  /** The tasks this agent holds or last held (`state: 'running'`: what it is working on). */
  myTasks(query: { state?: TaskState; limit?: number } = {}): Promise<Task[]> {
    return this.http.request<TaskList>('GET', apiRoute(agentTasksPath(this.id)), { query }).then((r) => r.tasks);
  }

  /** Pull: takes the best ready task this agent may run (it is running at once), or null with the hub's reason. */
  claimNextTask(request: ClaimNextRequest = {}): Promise<ClaimNextResponse> {
    return this.http.request<ClaimNextResponse>('POST', apiRoute(agentNextTaskPath(this.id)), { body: request });
  }

  /**
   * Sends a holder's report: over the realtime socket while it is open (AgentClient), else `overHttp`. Either way
   * the answer comes once the hub has committed it.
   */
  protected report(_frame: TaskReportFrame, overHttp: () => Promise<Task>): Promise<Task> {
    return overHttp();
  }

  /** How far a held task is; the first report starts an offered task. Any call keeps the lease. */
  reportProgress(id: string, progress: TaskProgressRequest = {}): Promise<Task> {
    return this.report({ type: 'task.progress', taskId: id, progress }, () => this.http.request<Task>('POST', apiRoute(taskProgressPath(id)), { body: progress }));
  }

  /**
   * Completes a held task (over the socket while connected, else HTTP). A lapsed lease rejects with code
   * `lease_lost` (the reason in the message).
   */
  completeTask(id: string, result: CompleteTaskRequest): Promise<Task> {
    return this.report({ type: 'task.complete', taskId: id, result }, () => this.completeOverHttp(id, result));
  }

  /** Fails the attempt: retried after its backoff while attempts remain, unless `retry: false`. */
  failTask(id: string, failure: FailTaskRequest): Promise<Task> {
    return this.report({ type: 'task.fail', taskId: id, failure }, () => this.http.request<Task>('POST', apiRoute(taskFailPath(id)), { body: failure }));
  }

  /**
   * A completion over HTTP. When it is the second try of one sent on a socket that dropped before the answer, the
   * hub may have committed the first: task_finished with the task succeeded and held by this agent is that success.
   */
  private async completeOverHttp(id: string, result: CompleteTaskRequest): Promise<Task> {
    try {
      return await this.http.request<Task>('POST', apiRoute(taskCompletePath(id)), { body: result });
    } catch (error) {
      if (!(error instanceof HubClientError) || error.code !== 'task_finished') throw error;
      const task = await this.task(id);
      if (task.state === 'succeeded' && task.holderId === this.id) return task;
      throw error;
    }
  }

  /** Cancels a task this agent created; its holder is told. */
  cancelTask(id: string, reason?: string): Promise<Task> {
    return this.http.request<Task>('POST', apiRoute(taskCancelPath(id)), { body: reason === undefined ? {} : { reason } });
  }

  /**
   * Splits a task this agent holds into subtasks (dependencies among them by key) and resolves with the task, now
   * waiting for them. When they have all ended, the `taskSubtasks` event (on the socket) and `task(id).subtasks` give
   * their aggregate; waitForSubtasks() waits for it.
   */
  splitTask(id: string, request: z.input<typeof SplitTaskRequest>): Promise<Task> {
    return this.http.request<Task>('POST', apiRoute(taskSubtasksPath(id)), { body: request });
  }

  /**
   * Resolves with the task once its last split has ended (its `subtasks` no longer running), asking every
   * `intervalMs`; for an agent without a socket (with one, the `taskSubtasks` event comes without asking).
   */
  async waitForSubtasks(id: string, options: { intervalMs?: number; timeoutMs?: number } = {}): Promise<Task> {
    const deadline = Date.now() + (options.timeoutMs ?? Number.POSITIVE_INFINITY);
    for (;;) {
      const current = await this.task(id);
      if (!current.subtasks || current.subtasks.state !== 'running') return current;
      if (Date.now() >= deadline) throw new Error(`the subtasks of task ${id} have not all ended within ${options.timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 500));
    }
  }
}
