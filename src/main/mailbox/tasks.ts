/**
 * Tasks through the file mailbox: the task requests agents drop into requests/ (take, next, progress, complete, fail,
 * split, create, cancel, get), carried out by the task service as the agent whose folder it is; and pushed work: an agent
 * that asked for it (`task.take`) is given ready tasks as `inbox/task-<id>.json`, and told of a held task that ended
 * without it by `inbox/task-<id>-cancelled.json`.
 *
 * A file agent has no socket, so the dispatcher does not offer it work: after each dispatch pass the hub claims ready
 * work on its behalf (claim-next, so the task is running and held by it at once) while it is present and has free
 * slots, and writes the task file. The claim is committed before the file is written; after a crash, the task files
 * of the pushed tasks it still holds are written again at the next start if they are missing.
 */
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import {
  MailboxTakeRequest,
  taskCancelledFileName,
  taskFileName,
  taskSubtasksFileName,
  type MailboxAnswer,
  type MailboxRequestOp,
} from '../../shared/mailbox-protocol';
import { writeFileDurable } from '../../shared/node/durable-file';
import { SplitTaskRequest } from '../../shared/subtask-protocol';
import { errorCode, isMissing } from '../../shared/node/fs-errors';
import {
  CancelTaskRequest,
  ClaimNextRequest,
  CompleteTaskRequest,
  CreateTaskRequest,
  FailTaskRequest,
  HELD_TASK_STATES,
  TaskId,
  TaskProgressRequest,
  type TaskServerFrame,
  type TaskState,
} from '../../shared/task-protocol';
import { takesPushedWork } from '../tasks/dispatcher';
import type { TaskService } from '../tasks/service';
import { badRequest } from '../errors';
import { parseInput } from '../validation';
import { label, mkdirOnce, type AgentBox, type MailboxContext } from './context';
import { exists } from './files';
import { SerialWorker } from './worker';

/** In the agent's folder: how many pushed tasks it takes (written by the hub on `task.take`, so a restart keeps it). */
export const TAKE_FILE = '.tasks-take.json';

type Outcome = DistributiveOmit<MailboxAnswer, 'request' | 'answeredAt'>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type TaskOp = Extract<MailboxRequestOp, `task.${string}`>;

export const isTaskOp = (op: MailboxRequestOp): op is TaskOp => op.startsWith('task.');

/** Carries out a task request as the agent whose folder it is; a refusal is thrown as the HTTP API throws it. */
export async function carryOutTaskRequest(
  ctx: MailboxContext,
  box: AgentBox,
  op: TaskOp,
  fields: Record<string, unknown>,
): Promise<Outcome> {
  const tasks = ctx.tasks;
  const agent = box.agent;
  const { id, ...rest } = fields;
  const taskId = () => parseInput(TaskId, id, 'id');
  switch (op) {
    case 'task.take': {
      const { slots } = parseInput(MailboxTakeRequest, fields, 'take');
      await ctx.taskPush.take(box, slots);
      return { op, ok: true, slots };
    }
    case 'task.next':
      return { op, ok: true, ...tasks.claimNext(agent, parseInput(ClaimNextRequest, fields, 'claim')) };
    case 'task.progress':
      return { op, ok: true, task: tasks.progress(agent, taskId(), parseInput(TaskProgressRequest, rest, 'progress')) };
    case 'task.complete':
      return { op, ok: true, task: await tasks.complete(agent, taskId(), parseInput(CompleteTaskRequest, rest, 'result')) };
    case 'task.fail':
      return { op, ok: true, task: tasks.fail(agent, taskId(), parseInput(FailTaskRequest, rest, 'failure')) };
    case 'task.split':
      return { op, ok: true, task: await tasks.split(agent, taskId(), parseInput(SplitTaskRequest, rest, 'split')) };
    case 'task.create':
      return { op, ok: true, task: await tasks.create({ kind: 'agent', agent }, parseInput(CreateTaskRequest, fields, 'task')) };
    case 'task.cancel':
      return { op, ok: true, task: tasks.cancel({ kind: 'agent', agent }, taskId(), parseInput(CancelTaskRequest, rest, 'cancel').reason) };
    case 'task.get':
      if (Object.keys(rest).length > 0) throw badRequest(`invalid get: only "op" and "id" (not ${Object.keys(rest).join(', ')})`);
      return { op, ok: true, task: tasks.get({ kind: 'agent', agent }, taskId()) };
  }
}

interface Taker {
  box: AgentBox;
  slots: number;
  /** Pushed tasks it holds (pruned as they end). */
  held: Set<string>;
}

/** Pushed work for file agents, and the task frames (offers, cancellations) written as files into their inboxes. */
export class MailboxTaskPush {
  private readonly takers = new Map<string, Taker>();
  private readonly writes = new Map<string, { box: AgentBox; queue: TaskServerFrame[]; worker: SerialWorker }>();
  private offPass: (() => void) | undefined;
  private offering = false;

  constructor(
    private readonly ctx: MailboxContext,
    private readonly tasks: TaskService,
    private readonly workers: Set<SerialWorker>,
    private readonly boxOf: (agentId: string) => AgentBox | undefined,
  ) {}

  /** `task.take`: from now on up to `slots` pushed tasks at once (0: none). Kept in the agent's folder. */
  async take(box: AgentBox, slots: number): Promise<void> {
    const file = path.join(box.dir, TAKE_FILE);
    if (slots === 0) await rm(file, { force: true });
    else await writeFileDurable(file, JSON.stringify({ slots }) + '\n', 0o600);
    this.setSlots(box, slots);
    this.offer();
  }

  /** A mailbox opened (at start, or for a new agent): what it asked for before, and the task files a crash cut off. */
  async restore(box: AgentBox): Promise<void> {
    let slots = 0;
    try {
      const saved = MailboxTakeRequest.safeParse(JSON.parse(await readFile(path.join(box.dir, TAKE_FILE), 'utf8')));
      if (saved.success) slots = saved.data.slots;
    } catch (error) {
      if (!isMissing(error) && !(error instanceof SyntaxError) && errorCode(error) !== 'ENOTDIR') throw error;
    }
    if (slots === 0 || box.gone || !this.ctx.running) return;
    this.setSlots(box, slots);
    const taker = this.takers.get(box.agent.id)!;
    for (const task of this.tasks.ofAgent(box.agent.id, 'running', 1000)) {
      taker.held.add(task.id);
      // A task file missing for a task it holds: written again, in case the crash came between claim and file.
      const file = path.join(box.inboxDir, taskFileName(task.id));
      if (!(await exists(file))) this.write(box, { type: 'task.offered', task: this.tasks.get({ kind: 'cockpit' }, task.id) });
    }
    this.offer();
  }

  /**
   * A task frame for an agent without a socket: written into its inbox if it has a mailbox. False when it has none
   * (the frame is then lost, as it is for an agent that is not connected).
   */
  frame(agentId: string, frame: TaskServerFrame): boolean {
    const box = this.boxOf(agentId);
    if (!box || box.gone || !this.ctx.running) return false;
    if (frame.type === 'task.cancelled') this.takers.get(agentId)?.held.delete(frame.taskId);
    this.write(box, frame);
    return true;
  }

  close(): void {
    this.offPass?.();
    this.offPass = undefined;
    this.takers.clear();
  }

  private setSlots(box: AgentBox, slots: number): void {
    if (slots === 0) this.takers.delete(box.agent.id);
    else {
      const taker = this.takers.get(box.agent.id);
      if (taker) Object.assign(taker, { box, slots });
      else this.takers.set(box.agent.id, { box, slots, held: new Set() });
    }
    // Listening only while someone takes pushed work: the task service runs passes for listeners.
    if (this.takers.size > 0 && !this.offPass) this.offPass = this.tasks.onDispatchPass(() => this.offer());
    if (this.takers.size === 0 && this.offPass) {
      this.offPass();
      this.offPass = undefined;
    }
  }

  /** After a dispatch pass: each present taker with free slots claims ready work, which is written to its inbox. */
  private offer(): void {
    if (this.offering || !this.ctx.running) return;
    this.offering = true;
    try {
      for (const [agentId, taker] of this.takers) {
        if (taker.box.gone) {
          const current = this.boxOf(agentId);
          if (!current) continue;
          taker.box = current;
        }
        const agent = taker.box.agent;
        if (agent.revokedAt || !takesPushedWork(this.ctx.registry, agent)) continue;
        for (const id of taker.held) if (!this.stillHeld(agentId, id)) taker.held.delete(id);
        while (taker.held.size < taker.slots) {
          const { task } = this.tasks.claimNext(agent, {});
          if (!task) break;
          taker.held.add(task.id);
          this.write(taker.box, { type: 'task.offered', task });
        }
      }
    } finally {
      this.offering = false;
    }
  }

  private stillHeld(agentId: string, taskId: string): boolean {
    try {
      const task = this.tasks.get({ kind: 'cockpit' }, taskId);
      return task.holderId === agentId && (HELD_TASK_STATES as readonly TaskState[]).includes(task.state);
    } catch {
      return false;
    }
  }

  /** Queues a frame for the agent's inbox; one writer per agent, in order. */
  private write(box: AgentBox, frame: TaskServerFrame): void {
    let writer = this.writes.get(box.agent.id);
    if (!writer || writer.box !== box) {
      const queue: TaskServerFrame[] = writer?.queue ?? [];
      const entry = { box, queue, worker: undefined as unknown as SerialWorker };
      entry.worker = new SerialWorker(
        () => this.drain(entry),
        (error) => {
          this.ctx.log(`${label(box)} task files: ${(error as Error).message}; trying again shortly`);
          this.ctx.later(1000, () => entry.worker.kick());
        },
      );
      this.workers.add(entry.worker);
      this.writes.set(box.agent.id, entry);
      writer = entry;
    }
    writer.queue.push(frame);
    writer.worker.kick();
  }

  private async drain(entry: { box: AgentBox; queue: TaskServerFrame[] }): Promise<void> {
    while (entry.queue.length > 0 && !entry.box.gone) {
      const frame = entry.queue[0]!;
      try {
        await mkdirOnce(entry.box.inboxDir);
      } catch (error) {
        if (isMissing(error) || errorCode(error) === 'ENOTDIR') return; // the agent's folder is gone: so is its mailbox
        throw error;
      }
      const name =
        frame.type === 'task.offered' ? taskFileName(frame.task.id) : frame.type === 'task.cancelled' ? taskCancelledFileName(frame.taskId) : taskSubtasksFileName(frame.taskId);
      await writeFileDurable(path.join(entry.box.inboxDir, name), JSON.stringify(frame, null, 2) + '\n');
      entry.queue.shift();
    }
  }
}
