/** A task as callers see it (the wire shape Task), from its row: its lease's end, and why it waits when it does. */
import type { Task, TaskAffinity, TaskBackoff, TaskError, TaskResult } from '../../shared/task-protocol';
import type { TaskCore } from './core';
import { waitingReason } from './dispatcher';
import { isHeldState } from './open-tasks';
import { iso, type TaskRow } from './store';

/** The task; `full` adds its input and result (read from their files when large). */
export function taskView(core: TaskCore, row: TaskRow, full: boolean): Task {
  const task: Task = {
    id: row.id,
    title: row.title,
    instructions: row.instructions,
    inputBytes: row.input_bytes,
    project: row.project,
    capabilities: JSON.parse(row.capabilities) as string[],
    tier: row.tier,
    priority: row.priority,
    timeoutSeconds: row.timeout_seconds,
    leaseSeconds: row.lease_seconds,
    maxAttempts: row.max_attempts,
    backoff: JSON.parse(row.backoff) as TaskBackoff,
    dependsOn: JSON.parse(row.depends_on) as string[],
    assignee: row.assignee,
    affinity: row.affinity === null ? null : (JSON.parse(row.affinity) as TaskAffinity),
    threadId: row.thread_id,
    parentTaskId: row.parent_task_id,
    workflowId: row.workflow_id,
    stepId: row.step_id,
    createdBy: row.created_by,
    state: row.state,
    attempt: row.attempt,
    holderId: row.holder_id,
    leaseExpiresAt: null,
    notBefore: row.not_before,
    progress: row.progress === null ? null : (JSON.parse(row.progress) as Task['progress']),
    error: row.error === null ? null : (JSON.parse(row.error) as TaskError),
    waiting: waiting(core, row),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
  if (isHeldState(row.state) && row.holder_id) {
    const now = Date.now();
    const silence = core.silenceOf(row.holder_id, now);
    task.leaseExpiresAt = Number.isFinite(silence) ? iso(now - silence + row.lease_seconds * 1000) : iso(now);
  }
  if (full) {
    if (row.input_bytes > 0) task.input = JSON.parse(row.input_external ? core.store.inputs.read(row.id).toString('utf8') : row.input!);
    task.result = row.result_bytes === 0 ? null : (JSON.parse(row.result_external ? core.store.results.read(row.id).toString('utf8') : row.result!) as TaskResult);
    task.subtasks = core.subtasksOf(row.id);
  }
  return task;
}

/** Why a pending or ready task waits, in words for the cockpit; null for the others. */
function waiting(core: TaskCore, row: TaskRow): string | null {
  if (row.state === 'pending') {
    if (row.not_before !== null) return `retrying after its backoff, at ${row.not_before}`;
    const unmet = (JSON.parse(row.depends_on) as string[]).map((dep) => core.store.row(dep)).filter((dep) => dep && dep.state !== 'succeeded');
    return `waiting for ${unmet.map((dep) => `${dep!.id} (${dep!.title}: ${dep!.state})`).join(', ')}`;
  }
  if (row.state !== 'ready') return null;
  const elsewhere = core.heldElsewhere(row.id);
  if (elsewhere !== null) return elsewhere;
  const task = core.open.get(row.id);
  if (!task) return null;
  // Tasks of the same needs wait for the same reason: worked out once per commit (a fan-out's creates share one).
  const cached = core.waitingReasons.get(task.needs);
  if (cached?.commit === core.commits) return cached.reason;
  const reason = waitingReason(
    task,
    core.registry.all(),
    core.registry,
    (agent) => core.slots.has(agent.id),
    (agent) => core.open.heldCount(agent.id) >= (core.slots.get(agent.id) ?? 0),
  );
  core.waitingReasons.set(task.needs, { commit: core.commits, reason });
  return reason;
}
