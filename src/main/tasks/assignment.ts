/**
 * Giving ready tasks to agents: the dispatch pass that pushes work to agents taking it on their socket (run inside
 * each group commit that made work or agents available, up to DISPATCH_BATCH assignments; the offers go out after the
 * COMMIT), and the pull of an agent asking for its next task. The choices are the dispatcher's (dispatcher.ts).
 *
 * Cost: the pass lists the agents with a free slot once, and for each group of ready tasks with the same needs keeps
 * its fitting agents in a heap; each task then costs O(log agents) to place and O(priorities in use) to find (the
 * ready queues are ordered by priority and age, ready-queue.ts), whatever the number of tasks waiting.
 */
import type { z } from 'zod';
import type { ClaimNextRequest, ClaimNextResponse } from '../../shared/task-protocol';
import type { AgentRecord } from '../agents/registry';
import type { TaskCore } from './core';
import { agentFits, AFFINITY_WAIT_MS, byUrgency, CandidateQueue, chooseAgent, isPresent, takesPushedWork, type Candidate } from './dispatcher';
import type { OpenTask } from './open-tasks';
import { iso, type TaskRow } from './store';
import { taskView } from './task-view';

/** Assignments made by one dispatch pass (one commit); the next pass follows on the next turn. */
const DISPATCH_BATCH = 256;

/** One group of ready tasks in a pass: its tasks in order of urgency, the next one, and who can take them. */
interface Lane {
  order: Iterator<OpenTask>;
  head: OpenTask;
  queue: CandidateQueue;
}

export class TaskAssignment {
  constructor(private readonly core: TaskCore) {}

  /** Pull: the best ready task this agent may take, now running for it; or null and why. */
  claimNext(agent: AgentRecord, request: z.output<typeof ClaimNextRequest>): ClaimNextResponse {
    const { core } = this;
    const taken = core.now((): TaskRow | string => {
      const now = Date.now();
      const within = request.capabilities;
      let best: OpenTask | null = null;
      const urgency = byUrgency(now);
      for (const group of core.open.readyGroups.values()) {
        const sample = group.sample();
        if (!sample || !agentFits(agent, sample)) continue;
        if (within && !sample.capabilities.every((c) => within.includes(c))) continue;
        for (const task of group.inOrder(now)) {
          if (!core.mayAssign(task)) continue; // another hub of the cluster gives it out
          // Kept a while for the agent its affinity names, while that one is present.
          if (task.preferredAgent !== null && task.preferredAgent !== agent.id && now - task.readySince < AFFINITY_WAIT_MS && isPresent(core.registry, task.preferredAgent)) continue;
          if (!best || urgency(task, best) < 0) best = task;
          break;
        }
      }
      if (!best) return this.nothingFor(agent);
      return this.assign([[best, agent]], 'running', now)[0] ?? 'another agent took it first; ask again';
    });
    if (typeof taken === 'string') return { task: null, reason: taken };
    return { task: taskView(core, taken, true), reason: null };
  }

  /**
   * Offers ready work to the best agents taking pushed tasks (inside a group commit; the offers go after it).
   * Returns whether it stopped at DISPATCH_BATCH with work possibly left.
   */
  dispatchPass(): boolean {
    const { core } = this;
    if (core.slots.size === 0 || core.open.readyGroups.size === 0) return false;
    const started = performance.now();
    const now = Date.now();
    const free: Candidate[] = [];
    for (const [agentId, slots] of core.slots) {
      const agent = core.registry.find(agentId);
      if (!agent || !takesPushedWork(core.registry, agent)) continue;
      const held = core.open.heldCount(agentId);
      if (held < slots) free.push({ agent, held, slots, stats: core.statsOf(agentId) });
    }
    if (free.length === 0) return false;
    const byId = new Map(free.map((candidate) => [candidate.agent.id, candidate]));
    const lanes: Lane[] = [];
    for (const group of core.open.readyGroups.values()) {
      const sample = group.sample();
      if (!sample) continue;
      const fitting = free.filter((candidate) => agentFits(candidate.agent, sample));
      if (fitting.length === 0) continue;
      const order = group.inOrder(now);
      const first = order.next();
      if (!first.done) lanes.push({ order, head: first.value, queue: new CandidateQueue(fitting) });
    }
    const present = (agentId: string) => isPresent(core.registry, agentId);
    const urgency = byUrgency(now);
    const chosen: Array<[OpenTask, AgentRecord]> = [];
    while (chosen.length < DISPATCH_BATCH && lanes.length > 0) {
      let at = 0;
      for (let i = 1; i < lanes.length; i++) if (urgency(lanes[i]!.head, lanes[at]!.head) < 0) at = i;
      const lane = lanes[at]!;
      const task = lane.head;
      // A task another hub of the cluster gives out is passed over, as one kept for someone else.
      const candidate = core.mayAssign(task) ? chooseAgent(task, lane.queue, byId, now, present) : 'wait';
      if (candidate === null) {
        // No one free fits this group any more.
        lanes.splice(at, 1);
        continue;
      }
      if (candidate !== 'wait') {
        candidate.held++;
        chosen.push([task, candidate.agent]);
      }
      const next = lane.order.next();
      if (next.done) lanes.splice(at, 1);
      else lane.head = next.value;
    }
    const assigned = this.assign(chosen, 'assigned', now);
    for (const row of assigned) core.afterCommit(() => core.send(row.holder_id!, { type: 'task.offered', task: taskView(core, row, true) }));
    core.options.observeDispatch?.(performance.now() - started, assigned.length);
    return chosen.length >= DISPATCH_BATCH;
  }

  /**
   * Gives each task to its agent (inside a commit). The UPDATE only takes a task still ready, so a task is never
   * given twice: what another path took meanwhile is skipped. Returns the rows of the tasks given.
   */
  private assign(pairs: Array<[OpenTask, AgentRecord]>, to: 'assigned' | 'running', now: number): TaskRow[] {
    const { core } = this;
    const given: TaskRow[] = [];
    for (const [task, agent] of pairs) {
      const changed = core.change(task, 'ready', to, {
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
      core.startAttempt(task, agent.id, now);
      given.push(task.row);
    }
    return given;
  }

  /** Why the agent's claim found nothing. */
  private nothingFor(agent: AgentRecord): string {
    const other = this.core.open.readyCount();
    if (other === 0) return `no task is ready in any project`;
    return `none of the ${other} ready tasks fits ${agent.name} (project ${agent.project}, tier ${agent.tier}, capabilities ${agent.capabilities.join(', ') || 'none'}), or they are kept for the agent their affinity names`;
  }
}
