/**
 * Load balancing: which agent gets a ready task, which ready task an agent gets, and why work waits. Pure choices
 * over the service's in-memory view; the service makes the assignments durable.
 *
 * Rules, in order: the agent must be in the task's project, of its tier (when it names one), hold every capability it
 * needs, be its assignee (when it names one) and be present (online or idle for pushed work). Among those: the one
 * holding fewest tasks, then the shallowest inbox, then the better success rate (in tenths, after 5 attempts), then
 * whoever was given work longest ago, with a slower agent's mean time per task (after 3) counted against it: equal
 * agents take turns, and a faster one comes round sooner without taking all the work when tasks come one at a time.
 * An affinity (same agent as a task or thread) wins when that agent can take it, and holds the task for it for
 * AFFINITY_WAIT_MS while it is present but full. Tasks go in order of priority plus one point per TASK_AGEING_SECONDS
 * waited, so no work starves.
 */
import { TASK_AGEING_SECONDS } from '../../shared/task-protocol';
import type { AgentRecord, AgentRegistry } from '../agents/registry';

/** A task waiting for a present preferred agent that is full is kept for it this long, then goes to anyone able. */
export const AFFINITY_WAIT_MS = 30_000;

/** What the dispatcher knows of a ready task. */
export interface ReadyTask {
  id: string;
  project: string;
  capabilities: string[];
  tier: string | null;
  priority: number;
  assignee: string | null;
  /** The agent an affinity points to, resolved when the task became ready (null: none or unknown). */
  preferredAgent: string | null;
  readySince: number;
}

/** An agent's record over its finished attempts. */
export interface AgentRecordStats {
  ended: number;
  succeeded: number;
  /** Sum of the durations of succeeded attempts, ms. */
  succeededMs: number;
  /** When it was last given a task (ms since epoch; 0: never). */
  lastAssignedAt: number;
}

export const emptyStats = (): AgentRecordStats => ({ ended: 0, succeeded: 0, succeededMs: 0, lastAssignedAt: 0 });

/** Priority with ageing: the order ready work is handed out in. */
export function effectivePriority(task: ReadyTask, now: number): number {
  return task.priority + Math.floor(Math.max(0, now - task.readySince) / (TASK_AGEING_SECONDS * 1000));
}

/** Orders ready tasks: highest effective priority first, then the longest waiting. */
export function byUrgency(now: number): (a: ReadyTask, b: ReadyTask) => number {
  return (a, b) => effectivePriority(b, now) - effectivePriority(a, now) || a.readySince - b.readySince || (a.id < b.id ? -1 : 1);
}

/** Whether the agent may take the task at all (presence aside). */
export function agentFits(agent: AgentRecord, task: Pick<ReadyTask, 'project' | 'tier' | 'capabilities' | 'assignee'>): boolean {
  if (agent.revokedAt || agent.project !== task.project) return false;
  if (task.tier !== null && agent.tier !== task.tier) return false;
  if (task.assignee !== null && task.assignee !== agent.id) return false;
  return task.capabilities.every((capability) => agent.capabilities.includes(capability));
}

/** Present for pushed work: online or idle (not busy, waiting or offline). */
export function takesPushedWork(registry: AgentRegistry, agent: AgentRecord): boolean {
  const presence = registry.presence(agent);
  return presence === 'online' || presence === 'idle';
}

/** The key of an agent's standing among equals: lower is better. */
function standing(agent: AgentRecord, held: number, stats: AgentRecordStats): number[] {
  const rate = stats.ended >= 5 ? Math.floor((stats.succeeded / stats.ended) * 10) : 10;
  const meanMs = stats.succeeded >= 3 ? stats.succeededMs / stats.succeeded : 0;
  // Its turn: when it was last given work, plus its mean time per task. Ranking by speed alone would give every task
  // to whichever of several equal agents measured a little faster, whenever tasks arrive one at a time.
  return [held, agent.inboxDepth, -rate, stats.lastAssignedAt + meanMs];
}

function compareStanding(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

export interface Candidate {
  agent: AgentRecord;
  /** Tasks it holds now. */
  held: number;
  /** Tasks it takes at once. */
  slots: number;
  stats: AgentRecordStats;
}

/**
 * The candidates able to take one group of tasks (same needs), best standing first: a binary heap. A candidate given
 * a task in this pass ranks lower (it holds one more); its entry is re-ranked when it comes up, so candidates shared
 * by several groups stay right. Taking the best costs O(log candidates).
 */
export class CandidateQueue {
  private readonly heap: Array<{ candidate: Candidate; key: number[] }> = [];

  constructor(candidates: Candidate[]) {
    for (const candidate of candidates) this.push(candidate);
  }

  /** The best candidate with a free slot, or null when none is left. */
  best(): Candidate | null {
    while (this.heap.length > 0) {
      const top = this.heap[0]!;
      const { candidate } = top;
      if (candidate.held >= candidate.slots) {
        this.pop();
        continue;
      }
      const key = standing(candidate.agent, candidate.held, candidate.stats);
      if (compareStanding(key, top.key) !== 0) {
        // Given work since it was ranked: ranked again.
        this.pop();
        this.push(candidate);
        continue;
      }
      return candidate;
    }
    return null;
  }

  private push(candidate: Candidate): void {
    const heap = this.heap;
    heap.push({ candidate, key: standing(candidate.agent, candidate.held, candidate.stats) });
    let at = heap.length - 1;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (compareStanding(heap[at]!.key, heap[parent]!.key) >= 0) break;
      [heap[at], heap[parent]] = [heap[parent]!, heap[at]!];
      at = parent;
    }
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    let at = 0;
    for (;;) {
      const left = at * 2 + 1;
      const right = left + 1;
      let smallest = at;
      if (left < heap.length && compareStanding(heap[left]!.key, heap[smallest]!.key) < 0) smallest = left;
      if (right < heap.length && compareStanding(heap[right]!.key, heap[smallest]!.key) < 0) smallest = right;
      if (smallest === at) return;
      [heap[at], heap[smallest]] = [heap[smallest]!, heap[at]!];
      at = smallest;
    }
  }
}

/**
 * The agent for a task: its affinity's agent when that one has a free slot; nothing yet ('wait') while that agent is
 * present but full, for AFFINITY_WAIT_MS; otherwise the best of `queue` (null: no one is free).
 */
export function chooseAgent(
  task: ReadyTask,
  queue: CandidateQueue,
  byId: Map<string, Candidate>,
  now: number,
  present: (agentId: string) => boolean,
): Candidate | 'wait' | null {
  if (task.preferredAgent !== null) {
    const preferred = byId.get(task.preferredAgent);
    if (preferred && preferred.held < preferred.slots && agentFits(preferred.agent, task)) return preferred;
    if (present(task.preferredAgent) && now - task.readySince < AFFINITY_WAIT_MS) return 'wait';
  }
  return queue.best();
}

/**
 * Why a ready task has not been given to anyone, in words for the cockpit: the first rule no agent passes.
 * `pushable` tells whether an agent takes pushed tasks now, `full` whether it has no free slot.
 */
export function waitingReason(
  task: Pick<ReadyTask, 'project' | 'tier' | 'capabilities' | 'assignee'>,
  agents: AgentRecord[],
  registry: AgentRegistry,
  pushable: (agent: AgentRecord) => boolean,
  full: (agent: AgentRecord) => boolean,
): string {
  let pool = agents.filter((agent) => !agent.revokedAt && agent.project === task.project);
  if (pool.length === 0) return `no agent in project ${task.project}`;
  if (task.assignee !== null) {
    pool = pool.filter((agent) => agent.id === task.assignee);
    if (pool.length === 0) return `its assignee ${task.assignee} is not an agent of project ${task.project}`;
  }
  if (task.tier !== null) {
    pool = pool.filter((agent) => agent.tier === task.tier);
    if (pool.length === 0) return `no agent of tier ${task.tier} in project ${task.project}`;
  }
  for (const capability of task.capabilities) {
    pool = pool.filter((agent) => agent.capabilities.includes(capability));
    if (pool.length === 0) return `no agent with capability \`${capability}\` in project ${task.project}`;
  }
  const present = pool.filter((agent) => registry.presence(agent) !== 'offline');
  const what = task.capabilities.length > 0 ? `with capability ${task.capabilities.map((c) => `\`${c}\``).join(', ')}` : 'able to take it';
  if (present.length === 0) return `no online agent ${what} (${pool.length} known, all offline)`;
  const available = present.filter((agent) => takesPushedWork(registry, agent));
  if (available.length === 0) return `every agent ${what} is busy or waiting (${present.map((a) => `${a.name}: ${registry.presence(a)}`).join(', ')})`;
  const pushing = available.filter(pushable);
  if (pushing.length === 0) return `waiting for one of ${available.map((a) => a.name).join(', ')} to claim it (none takes pushed tasks)`;
  if (pushing.every(full)) return `every agent ${what} that takes pushed tasks is at capacity (${pushing.map((a) => a.name).join(', ')})`;
  return 'about to be offered';
}

/** Whether the agent is heard from (any presence but offline). */
export function isPresent(registry: AgentRegistry, agentId: string): boolean {
  const agent = registry.find(agentId);
  return agent !== undefined && registry.presence(agent) !== 'offline';
}
