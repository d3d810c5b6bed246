/**
 * Giving ready tasks to agents: the dispatch pass that pushes work to agents taking it on their socket (one batch,
 * one transaction per pass), and the pull of an agent asking for its next task. The choices are the dispatcher's
 * (dispatcher.ts); this makes them durable and sends the offers.
 */
import type { z } from 'zod';
import type { ClaimNextRequest, ClaimNextResponse } from '../../shared/task-protocol';
import type { AgentRecord } from '../agents/registry';
import type { TaskCore } from './core';
import { agentFits, AFFINITY_WAIT_MS, byUrgency, chooseAgent, isPresent, takesPushedWork, type Candidate } from './dispatcher';
import type { OpenTask } from './open-tasks';
import { iso, type TaskRow } from './store';
import { taskView } from './task-view';

/** Assignments committed in one transaction by one dispatch pass; the next pass follows on the next turn. */
const DISPATCH_BATCH = 256;

/**
 * The tasks in order of urgency, as slices: first the `count` most urgent (a bounded selection, O(n·log count)),
 * then, only if the caller asks for more, all the others sorted.
 */
function* mostUrgentFirst(tasks: OpenTask[], count: number, now: number): Generator<OpenTask[]> {
  const urgency = byUrgency(now);
  if (tasks.length <= count * 2) {
    yield tasks.sort(urgency);
    return;
  }
  const top: OpenTask[] = [];
  for (const task of tasks) {
    if (top.length === count && urgency(task, top[count - 1]!) >= 0) continue;
    let at = top.length;
    while (at > 0 && urgency(task, top[at - 1]!) < 0) at--;
    top.splice(at, 0, task);
    if (top.length > count) top.pop();
  }
  yield top;
  const taken = new Set(top);
  yield tasks.filter((task) => !taken.has(task)).sort(urgency);
}

export class TaskAssignment {
  /** Called after each dispatch pass: pulls waiting for work (MCP next_task) try their claim then. */
  private readonly passListeners = new Set<() => void>();
  private dispatchScheduled = false;

  constructor(private readonly core: TaskCore) {}

  /** Schedules a dispatch pass on the next turn of the event loop (one pass however many changes asked for it). */
  kick(): void {
    if (this.dispatchScheduled || this.core.closed) return;
    this.dispatchScheduled = true;
    setImmediate(() => {
      this.dispatchScheduled = false;
      if (!this.core.closed && this.core.db.open) this.dispatch();
      for (const listener of this.passListeners) listener();
    });
  }

  get hasPassListeners(): boolean {
    return this.passListeners.size > 0;
  }

  onDispatchPass(listener: () => void): () => void {
    this.passListeners.add(listener);
    return () => this.passListeners.delete(listener);
  }

  /** Pull: the best ready task this agent may take, now running for it; or null and why. */
  claimNext(agent: AgentRecord, request: z.output<typeof ClaimNextRequest>): ClaimNextResponse {
    const { core } = this;
    const now = Date.now();
    const within = request.capabilities;
    let best: OpenTask | null = null;
    const urgency = byUrgency(now);
    for (const group of core.open.readyGroups.values()) {
      const sample = group.values().next().value;
      if (!sample || !agentFits(agent, sample)) continue;
      if (within && !sample.capabilities.every((c) => within.includes(c))) continue;
      for (const task of group.values()) {
        // Kept a while for the agent its affinity names, while that one is present.
        if (task.preferredAgent !== null && task.preferredAgent !== agent.id && now - task.readySince < AFFINITY_WAIT_MS && isPresent(core.registry, task.preferredAgent)) continue;
        if (!best || urgency(task, best) < 0) best = task;
      }
    }
    if (!best) return { task: null, reason: this.nothingFor(agent) };
    const [taken] = this.assign([[best, agent]], 'running', now);
    if (!taken) return { task: null, reason: 'another agent took it first; ask again' };
    return { task: taskView(core, taken, true), reason: null };
  }

  /** Offers ready work to the best agents taking pushed tasks: one batch, one transaction; the rest on the next turn. */
  private dispatch(): void {
    const { core } = this;
    if (core.slots.size === 0 || core.open.readyGroups.size === 0) return;
    const started = performance.now();
    const now = Date.now();
    const candidates: Candidate[] = [];
    for (const [agentId, slots] of core.slots) {
      const agent = core.registry.find(agentId);
      if (!agent || !takesPushedWork(core.registry, agent)) continue;
      const held = core.open.heldCount(agentId);
      if (held < slots) candidates.push({ agent, held, slots, stats: core.statsOf(agentId) });
    }
    if (candidates.length === 0) return;
    const tasks: OpenTask[] = [];
    for (const group of core.open.readyGroups.values()) {
      const sample = group.values().next().value;
      if (sample && candidates.some((c) => agentFits(c.agent, sample))) tasks.push(...group.values());
    }
    const present = (agentId: string) => isPresent(core.registry, agentId);
    const chosen: Array<[OpenTask, AgentRecord]> = [];
    const free = candidates.reduce((n, c) => n + c.slots - c.held, 0);
    // Usually a few slots are free and many tasks wait: only the most urgent few are ordered, the rest if need be.
    for (const slice of mostUrgentFirst(tasks, Math.min(DISPATCH_BATCH, free) * 4, now)) {
      for (const task of slice) {
        if (chosen.length >= DISPATCH_BATCH) break;
        const candidate = chooseAgent(task, candidates, now, present);
        if (!candidate) continue;
        candidate.held++;
        chosen.push([task, candidate.agent]);
        if (candidates.every((c) => c.held >= c.slots)) break;
      }
      if (chosen.length >= DISPATCH_BATCH || candidates.every((c) => c.held >= c.slots)) break;
    }
    const assigned = this.assign(chosen, 'assigned', now);
    for (const row of assigned) core.send(row.holder_id!, { type: 'task.offered', task: taskView(core, row, true) });
    core.options.observeDispatch?.(performance.now() - started, assigned.length);
    if (chosen.length >= DISPATCH_BATCH) this.kick();
  }

  /**
   * Gives each task to its agent in one transaction. The UPDATE only takes a task still ready, so a task is never
   * given twice: what another path took meanwhile is skipped. Returns the rows of the tasks given.
   */
  private assign(pairs: Array<[OpenTask, AgentRecord]>, to: 'assigned' | 'running', now: number): TaskRow[] {
    const { core } = this;
    if (pairs.length === 0) return [];
    const given: string[] = [];
    core.db.transaction(() => {
      for (const [task, agent] of pairs) {
        const changed = core.store.update(task, 'ready', to, {
          attempt: task.attempt + 1,
          holder_id: agent.id,
          held_since: iso(now),
          lease_expires_at: iso(now + task.leaseSeconds * 1000),
          started_at: to === 'running' ? iso(now) : null,
          ready_since: null,
          not_before: null,
          progress: null,
        }, now, false);
        if (!changed) continue;
        core.store.insertAttempt(task.id, task.attempt + 1, agent.id, now);
        given.push(task.id);
      }
    })();
    for (const [task, agent] of pairs) if (given.includes(task.id)) core.statsOf(agent.id).lastAssignedAt = now;
    return [...core.reread(given, false).values()];
  }

  /** Why the agent's claim found nothing. */
  private nothingFor(agent: AgentRecord): string {
    const other = this.core.open.readyCount();
    if (other === 0) return `no task is ready in any project`;
    return `none of the ${other} ready tasks fits ${agent.name} (project ${agent.project}, tier ${agent.tier}, capabilities ${agent.capabilities.join(', ') || 'none'}), or they are kept for the agent their affinity names`;
  }
}
