/**
 * Task lifecycle: creation, the holder's reports (progress, complete, fail), cancellation, the end of a held attempt
 * (retried after its backoff or final), and what a task's end does to the pending tasks that depend on it. Each is
 * one transaction of conditional UPDATEs; the mirror follows after the commit.
 */
import type { z } from 'zod';
import {
  isFinalTaskState,
  taskBackoffSeconds,
  type CompleteTaskRequest,
  type CreateTaskRequest,
  type FailTaskRequest,
  type Task,
  type TaskError,
  type TaskProgressRequest,
  type TaskState,
} from '../../shared/task-protocol';
import type { AgentRecord } from '../agents/registry';
import { badRequest, forbidden, notFound } from '../errors';
import { ulidGenerator } from '../ids';
import type { TaskCaller, TaskCore } from './core';
import { isHeldState, type OpenTask } from './open-tasks';
import { iso, newTaskRow, taskError, type TaskRow } from './store';
import { taskView } from './task-view';

export class TaskLifecycle {
  private readonly newId = ulidGenerator();

  constructor(private readonly core: TaskCore) {}

  async create(caller: TaskCaller, request: z.output<typeof CreateTaskRequest>): Promise<Task> {
    const { core } = this;
    let project: string;
    if (caller.kind === 'agent') {
      if (request.project !== undefined && request.project !== caller.agent.project) throw forbidden('an agent creates tasks in its own project only');
      project = caller.agent.project;
    } else {
      project = request.project ?? 'default';
    }
    this.checkReferences(project, request);
    const id = this.newId();
    const inputJson = request.input === undefined ? null : JSON.stringify(request.input);
    const inputBytes = inputJson === null ? 0 : Buffer.byteLength(inputJson);
    const inputExternal = inputBytes > core.options.bodyFileBytes;
    if (inputExternal) await core.store.inputs.write(id, Buffer.from(inputJson!));
    let row: TaskRow;
    try {
      row = await core.later(() => {
        // Checked again when it commits: a dependency may have ended meanwhile.
        this.checkReferences(project, request);
        const now = Date.now();
        const unmet = request.dependsOn.filter((dep) => core.open.get(dep) !== undefined || core.store.row(dep)?.state !== 'succeeded');
        const state: TaskState = unmet.length === 0 ? 'ready' : 'pending';
        return core.insert(
          newTaskRow({ id, project, request, createdBy: caller.kind === 'agent' ? caller.agent.id : 'cockpit', state, inputJson, inputExternal, now }),
          [...new Set(request.dependsOn)],
        );
      });
    } catch (error) {
      if (inputExternal) core.store.inputs.discard(id, inputBytes);
      throw error;
    }
    return taskView(core, row, true);
  }

  /**
   * Creates ready tasks inside the caller's open transaction (the workflow engine starting a step): the rows commit
   * or roll back with it, and settle() mirrors them once committed. Inputs stay in the row whatever their size (no
   * file is written before the commit). The requests are the hub's own, built from a validated definition: no
   * dependencies, and their project, assignee and affinity already checked.
   */
  createInTransaction(caller: TaskCaller, requests: z.output<typeof CreateTaskRequest>[]): string[] {
    const now = Date.now();
    const createdBy = caller.kind === 'agent' ? caller.agent.id : 'cockpit';
    return requests.map((request) => {
      const id = this.newId();
      const inputJson = request.input === undefined ? null : JSON.stringify(request.input);
      this.core.store.insert(
        newTaskRow({ id, project: request.project ?? 'default', request, createdBy, state: 'ready', inputJson, inputExternal: false, now }),
        [],
      );
      return id;
    });
  }

  /** How far the holder is; the first report starts an offered task. Keeps the lease. */
  progress(agent: AgentRecord, id: string, request: z.output<typeof TaskProgressRequest>): Task {
    const { core } = this;
    const row = core.now(() => {
      const task = this.holding(agent, id);
      const now = Date.now();
      core.change(
        task,
        task.state,
        'running',
        {
          progress: JSON.stringify({ percent: request.percent ?? null, note: request.note ?? null, at: iso(now) }),
          lease_expires_at: iso(now + task.leaseSeconds * 1000),
          started_at: task.state === 'assigned' ? iso(now) : undefined,
        },
        now,
        true,
        true,
      );
      return task.row;
    });
    return taskView(core, row, false);
  }

  /**
   * The holder's result: the task succeeded, and its dependents may become ready. Answered once committed;
   * `committed` hears the task right after the COMMIT, before the commit's offers go out (core.later).
   */
  async complete(agent: AgentRecord, id: string, result: z.output<typeof CompleteTaskRequest>, committed?: (task: Task) => void): Promise<Task> {
    const { core } = this;
    if (result.json === undefined && result.text === undefined && result.refs === undefined) throw badRequest('invalid result: give json, text or refs');
    this.holding(agent, id);
    const json = JSON.stringify(result);
    const bytes = Buffer.byteLength(json);
    const external = bytes > core.options.bodyFileBytes;
    if (external) await core.store.results.write(id, Buffer.from(json));
    let row: TaskRow;
    try {
      row = await core.later(() => {
        // Checked again when it commits: the lease may have lapsed meanwhile.
        const task = this.holding(agent, id);
        const now = Date.now();
        core.change(task, task.state, 'succeeded', {
          result: external ? null : json,
          result_bytes: bytes,
          result_external: external ? 1 : 0,
          finished_at: iso(now),
          started_at: task.state === 'assigned' ? iso(now) : undefined,
          lease_expires_at: null,
        }, now);
        core.endAttempt(task, 'succeeded', 'completed', now);
        if (core.open.hasWaiters(id)) this.readyDependents(id, now);
        return task.row;
      }, committed && ((done) => committed(taskView(core, done, false))));
    } catch (error) {
      if (external) core.store.results.discard(id, bytes);
      throw error;
    }
    return taskView(core, row, false);
  }

  /** The holder's attempt failed: retried after the backoff while attempts remain (and retry is not false). */
  fail(agent: AgentRecord, id: string, request: z.output<typeof FailTaskRequest>): Task {
    const error: TaskError = { code: request.code ?? 'failed', message: request.message };
    const row = this.core.now(() => this.endHeld(this.holding(agent, id), 'failed', error, request.retry, Date.now()));
    return taskView(this.core, row, false);
  }

  /**
   * The creator or the cockpit ends a task that has not ended; its holder, if any, is told. `by` names who cancels
   * when the hub does it for a reason of its own (a split abandoned with its parent).
   */
  cancel(caller: TaskCaller, id: string, reason?: string, by?: string): Task {
    const { core } = this;
    const found = this.visibleRow(caller, id);
    if (caller.kind === 'agent' && found.created_by !== caller.agent.id) throw forbidden(`only the agent that created task ${id}, or the cockpit, may cancel it`);
    const message = `cancelled by ${by ?? (caller.kind === 'agent' ? caller.agent.name : 'the cockpit')}${reason ? `: ${reason}` : ''}`;
    const row = core.now(() => {
      const task = core.open.get(id);
      if (!task) throw taskError('task_finished', `task ${id} already ended ${this.visibleRow(caller, id).state}`);
      const now = Date.now();
      core.change(task, task.state, 'cancelled', { finished_at: iso(now), error: JSON.stringify({ code: 'cancelled', message }), lease_expires_at: null }, now);
      const holder = task.holderId !== null && isHeldState(task.state) ? task.holderId : null;
      if (holder) {
        core.endAttempt(task, 'cancelled', message, now);
        core.afterCommit(() => core.send(holder, { type: 'task.cancelled', taskId: id, state: 'cancelled', reason: message }));
      }
      this.failDependents(id, 'cancelled', now);
      return task.row;
    });
    return taskView(core, row, false);
  }

  /**
   * Ends a held attempt that did not succeed (inside a commit). While attempts remain (and `retry`), the task waits
   * its backoff (pending) or is ready at once; otherwise it ends: timed_out for a timeout, failed for anything else.
   * Returns its row. `backToReady` (a hub of a cluster that lost the task's claim) makes it ready at once, whatever
   * its attempts.
   */
  endHeld(task: OpenTask, outcome: 'failed' | 'lease_lost' | 'timed_out', error: TaskError, retry: boolean, now: number, backToReady = false): TaskRow {
    const { core } = this;
    const again = backToReady || (retry && task.attempt < task.maxAttempts);
    const wait = again && !backToReady ? taskBackoffSeconds(task.backoff, task.attempt) * 1000 : 0;
    const to: TaskState = again ? (wait > 0 ? 'pending' : 'ready') : outcome === 'timed_out' ? 'timed_out' : 'failed';
    core.change(task, task.state, to, {
      error: JSON.stringify(error),
      lease_expires_at: null,
      not_before: to === 'pending' ? iso(now + wait) : null,
      ready_since: to === 'ready' ? iso(now) : null,
      finished_at: isFinalTaskState(to) ? iso(now) : null,
    }, now);
    core.endAttempt(task, outcome, error.message, now);
    if (isFinalTaskState(to)) this.failDependents(task.id, to, now);
    return task.row;
  }

  // --- Dependencies (inside a commit) --------------------------------------------------------------------------

  /**
   * A task ended other than through this hub's holder (in a cluster, as another hub ended it): the tasks waiting on it
   * here become ready, or fail, as they would after a local end.
   */
  dependencyEnded(id: string, state: TaskState, now: number): void {
    if (!this.core.open.hasWaiters(id)) return;
    if (state === 'succeeded') this.readyDependents(id, now);
    else this.failDependents(id, state, now);
  }

  /** Pending dependents of a task that just succeeded whose every dependency has now succeeded: made ready. */
  private readyDependents(id: string, now: number): string[] {
    const { core } = this;
    const readied: string[] = [];
    for (const dependent of core.store.dependents(id)) {
      const task = core.open.get(dependent);
      if (!task || task.state !== 'pending' || task.notBefore !== null) continue;
      if (core.store.unmetDependencies(dependent) !== 0) continue;
      core.change(task, 'pending', 'ready', { ready_since: iso(now) }, now);
      readied.push(dependent);
    }
    return readied;
  }

  /** Pending tasks that (transitively) depend on one that ended without success: they end failed. */
  private failDependents(id: string, endedAs: TaskState, now: number): string[] {
    const { core } = this;
    if (!core.open.hasWaiters(id)) return [];
    const failed: string[] = [];
    const queue: Array<[string, TaskState]> = [[id, endedAs]];
    while (queue.length > 0) {
      const [ended, state] = queue.shift()!;
      for (const dependent of core.store.dependents(ended)) {
        const task = core.open.get(dependent);
        if (!task || task.state !== 'pending' || failed.includes(dependent)) continue;
        const error: TaskError = { code: 'dependency_failed', message: `its dependency ${ended} ended ${state}` };
        core.change(task, 'pending', 'failed', { error: JSON.stringify(error), finished_at: iso(now) }, now);
        failed.push(dependent);
        queue.push([dependent, 'failed']);
      }
    }
    return failed;
  }

  // --- Checks -------------------------------------------------------------------------------------------------------

  /** The open task the agent holds, or the refusal that says why not: lease_lost, task_finished, not_holder. */
  holding(agent: AgentRecord, id: string): OpenTask {
    const { core } = this;
    const task = core.open.get(id);
    if (task && task.holderId === agent.id && isHeldState(task.state)) {
      // In a cluster, a hub that lost its claim on the task no longer takes reports on it (the sweep ends the lease).
      if (core.claimLost(id, Date.now())) {
        throw taskError('lease_lost', `this hub lost its claim on task ${id} in the cluster (Redis out of reach), so another hub may give it out; your report was not taken`);
      }
      return task;
    }
    const row = this.visibleRow({ kind: 'agent', agent }, id);
    const now = row.holder_id && row.holder_id !== agent.id ? ` and is held by ${core.registry.find(row.holder_id)?.name ?? row.holder_id} (attempt ${row.attempt})` : '';
    const last = core.store.lastAttemptOf(id, agent.id);
    if (last?.outcome === 'succeeded') throw taskError('task_finished', `task ${id} already succeeded: you completed it`);
    if (last) {
      throw taskError(
        'lease_lost',
        `your lease on task ${id} (attempt ${last.attempt}) ended at ${last.ended_at}: ${last.outcome}: ${last.reason}. The task is now ${row.state}${now}; your report was not taken`,
      );
    }
    if (isFinalTaskState(row.state)) throw taskError('task_finished', `task ${id} already ended ${row.state}`);
    throw taskError('not_holder', `task ${id} is ${row.state}${now}: you never held it, and only its holder reports on it`);
  }

  visibleRow(caller: TaskCaller, id: string): TaskRow {
    const row = this.core.store.row(id);
    // Another project's task is answered as if it did not exist.
    if (!row || (caller.kind === 'agent' && row.project !== caller.agent.project)) throw notFound(`there is no task ${id}`);
    return row;
  }

  /** Dependencies, assignee, affinity and parent must be tasks and agents of the same project (400 naming the field). */
  checkReferences(project: string, request: z.output<typeof CreateTaskRequest>): void {
    const { store, registry } = this.core;
    const problems: string[] = [];
    request.dependsOn.forEach((dep, i) => {
      const row = store.row(dep);
      if (!row || row.project !== project) problems.push(`dependsOn.${i}: there is no task ${dep} in project ${project}`);
      else if (isFinalTaskState(row.state) && row.state !== 'succeeded') problems.push(`dependsOn.${i}: task ${dep} already ended ${row.state}, so this one could never run`);
    });
    if (request.assignee !== undefined) {
      const agent = registry.find(request.assignee);
      if (!agent || agent.project !== project) problems.push(`assignee: there is no agent ${request.assignee} in project ${project}`);
    }
    if (request.affinity && 'taskId' in request.affinity && store.row(request.affinity.taskId)?.project !== project) {
      problems.push(`affinity.taskId: there is no task ${request.affinity.taskId} in project ${project}`);
    }
    if (request.parentTaskId !== undefined && store.row(request.parentTaskId)?.project !== project) {
      problems.push(`parentTaskId: there is no task ${request.parentTaskId} in project ${project}`);
    }
    if (problems.length > 0) throw badRequest(`invalid task: ${problems.join('; ')}`);
  }
}
