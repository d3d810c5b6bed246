/** HTTP routes of tasks (API v1): create, read, list, claim-next, progress, complete, fail, split into subtasks, cancel. */
import {
  agentNextTaskPath,
  agentTasksPath,
  AgentTaskQuery,
  CancelTaskRequest,
  ClaimNextRequest,
  CompleteTaskRequest,
  CreateTaskRequest,
  FailTaskRequest,
  TaskId,
  TaskProgressRequest,
  TaskQuery,
  TASKS_PATH,
  taskCancelPath,
  taskCompletePath,
  taskFailPath,
  taskPath,
  taskProgressPath,
  taskSubtasksPath,
  type ClaimNextResponse,
  type TaskList,
} from '../../shared/task-protocol';
import { SplitTaskRequest } from '../../shared/subtask-protocol';
import type { AgentRegistry } from '../agents/registry';
import { authorityOf, requireAuthority } from '../api/auth';
import type { ApiContext } from '../api/server';
import { forbidden, notFound } from '../errors';
import { parseInput } from '../validation';
import type { TaskCaller, TaskService } from './service';

export function registerTaskRoutes({ http }: ApiContext, registry: AgentRegistry, tasks: TaskService, cockpitToken: string): void {
  const caller = (request: Parameters<typeof authorityOf>[0]): TaskCaller => requireAuthority(authorityOf(request, registry, cockpitToken));
  /** Tasks are held by agents: only an agent's token reports on one. */
  const agentOf = (request: Parameters<typeof authorityOf>[0]) => {
    const who = caller(request);
    if (who.kind !== 'agent') throw forbidden("tasks are held by agents: report with the holder's token");
    return who.agent;
  };
  const taskParam = (params: unknown) => parseInput(TaskId, (params as { id?: string }).id, 'task id');

  http.post(TASKS_PATH, async (request, reply) => {
    const who = caller(request);
    const input = parseInput(CreateTaskRequest, request.body, 'task');
    return reply.code(201).send(await tasks.create(who, input));
  });

  /** An agent lists its own project's tasks; the cockpit any project's (all when none is named). */
  http.get(TASKS_PATH, async (request): Promise<TaskList> => {
    const who = caller(request);
    const query = parseInput(TaskQuery, request.query, 'task query');
    if (who.kind === 'agent') {
      if (query.project !== undefined && query.project !== who.agent.project) throw forbidden('an agent sees the tasks of its own project only');
      query.project = who.agent.project;
    }
    return { tasks: tasks.list(query) };
  });

  http.get(taskPath(':id'), async (request) => tasks.get(caller(request), taskParam(request.params)));

  /** The tasks an agent holds or last held: the agent itself, an agent of its project, or the cockpit. */
  http.get(agentTasksPath(':id'), async (request): Promise<TaskList> => {
    const who = caller(request);
    const agentId = taskParam(request.params);
    const agent = registry.find(agentId);
    if (!agent || (who.kind === 'agent' && who.agent.project !== agent.project)) throw notFound(`there is no agent with id ${agentId}`);
    const query = parseInput(AgentTaskQuery, request.query, 'task query');
    return { tasks: tasks.ofAgent(agentId, query.state, query.limit) };
  });

  http.post(agentNextTaskPath(':id'), async (request): Promise<ClaimNextResponse> => {
    const agent = agentOf(request);
    if (taskParam(request.params) !== agent.id) throw forbidden('an agent claims tasks for itself only');
    return tasks.claimNext(agent, parseInput(ClaimNextRequest, request.body ?? {}, 'claim'));
  });

  http.post(taskProgressPath(':id'), async (request) => {
    const agent = agentOf(request);
    return tasks.progress(agent, taskParam(request.params), parseInput(TaskProgressRequest, request.body ?? {}, 'progress'));
  });

  http.post(taskCompletePath(':id'), async (request) => {
    const agent = agentOf(request);
    return tasks.complete(agent, taskParam(request.params), parseInput(CompleteTaskRequest, request.body, 'result'));
  });

  http.post(taskFailPath(':id'), async (request) => {
    const agent = agentOf(request);
    return tasks.fail(agent, taskParam(request.params), parseInput(FailTaskRequest, request.body, 'failure'));
  });

  /** The holder splits its task into subtasks (decomposition at run time); 201 with the task, now waiting for them. */
  http.post(taskSubtasksPath(':id'), async (request, reply) => {
    const agent = agentOf(request);
    const split = parseInput(SplitTaskRequest, request.body, 'split');
    return reply.code(201).send(await tasks.split(agent, taskParam(request.params), split));
  });

  http.post(taskCancelPath(':id'), async (request) => {
    const { reason } = parseInput(CancelTaskRequest, request.body ?? {}, 'cancel');
    return tasks.cancel(caller(request), taskParam(request.params), reason);
  });
}
