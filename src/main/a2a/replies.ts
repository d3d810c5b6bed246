/**
 * Completes A2A tasks from their agents' replies: the first hub message the addressed agent sends in a task's
 * thread (by HTTP, socket, MCP or the file mailbox: any send) becomes the task's artifact and final status message.
 * Replies committed while the hub was not watching (a crash between the commit and the task's update) are found
 * again at start. A task whose agent is revoked fails: no reply can come any more.
 */
import { Role, TaskState, type Message as A2aMessage } from '@a2a-js/sdk';
import { AgentEvent, ResultManager } from '@a2a-js/sdk/server';
import { A2A_TASK_METADATA } from '../../shared/a2a-protocol';
import type { Message } from '../../shared/agent-protocol';
import type { AgentRegistry } from '../agents/registry';
import type { MessagingService } from '../messaging/service';
import { contextFor } from './caller';
import { partsOf } from './parts';
import { isTerminal, type A2aTaskStore, type OpenTask } from './task-store';

export class ReplyWatcher {
  private readonly stopWatching: () => void;
  private readonly stopWatchingAgents: () => void;
  private readonly pending = new Set<Promise<void>>();
  /** Tasks being completed: a second reply arriving meanwhile must not complete one twice. */
  private readonly completing = new Set<string>();

  constructor(
    private readonly registry: AgentRegistry,
    private readonly messaging: MessagingService,
    private readonly store: A2aTaskStore,
  ) {
    this.stopWatching = messaging.onDelivered((deliveries) => {
      for (const { message } of deliveries) {
        const task = store.openTask(message.threadId);
        if (task && message.from === task.agentId) this.track(this.complete(task, message));
      }
    });
    this.stopWatchingAgents = registry.onChange((agent) => {
      if (!agent.revoked) return;
      for (const task of store.openTasks()) if (task.agentId === agent.id) this.track(this.fail(task, `agent ${agent.name} was revoked from the cockpit`));
    });
    this.catchUp();
  }

  /** Stops watching; waits for completions under way. */
  async close(): Promise<void> {
    this.stopWatching();
    this.stopWatchingAgents();
    await Promise.all([...this.pending]);
  }

  /** Open tasks whose agent already replied (the hub stopped before it recorded the reply), or was revoked. */
  private catchUp(): void {
    for (const task of this.store.openTasks()) {
      const reply = this.messaging.store.thread(task.id).find((message) => message.from === task.agentId);
      if (reply) this.track(this.complete(task, reply));
      else if (this.registry.find(task.agentId)?.revokedAt) this.track(this.fail(task, 'its agent was revoked from the cockpit'));
    }
  }

  /** Fails an open task whose agent can no longer answer, saying why in its status message. */
  private fail(open: OpenTask, reason: string): Promise<void> | undefined {
    return this.settle(open, async () => {
      const task = this.store.get(open.id, open.owner);
      if (!task || isTerminal(task.status?.state)) return;
      const message: A2aMessage = {
        messageId: crypto.randomUUID(),
        contextId: task.contextId,
        taskId: task.id,
        role: Role.ROLE_AGENT,
        parts: partsOf(`The task cannot be answered: ${reason}.`),
        metadata: {},
        extensions: [],
        referenceTaskIds: [],
      };
      await new ResultManager(this.store, contextFor(open.owner)).processEvent(
        AgentEvent.statusUpdate({
          taskId: task.id,
          contextId: task.contextId,
          status: { state: TaskState.TASK_STATE_FAILED, message, timestamp: new Date().toISOString() },
          metadata: {},
        }),
      );
    });
  }

  private track(work: Promise<void> | undefined): void {
    if (!work) return;
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }

  private complete(open: OpenTask, reply: Message): Promise<void> | undefined {
    return this.settle(open, () => this.record(open, reply));
  }

  /** Runs the one settlement of a task (a reply, a failure): others for the same task meanwhile are dropped. */
  private settle(open: OpenTask, work: () => Promise<void>): Promise<void> | undefined {
    if (this.completing.has(open.id)) return undefined;
    this.completing.add(open.id);
    return work()
      .catch((error: unknown) => console.error(`[a2a] task ${open.id} could not be settled:`, error))
      .finally(() => this.completing.delete(open.id));
  }

  private async record(open: OpenTask, reply: Message): Promise<void> {
    try {
      const task = this.store.get(open.id, open.owner);
      if (!task || isTerminal(task.status?.state)) return;
      const parts = partsOf(reply.body);
      const agentName = this.registry.find(open.agentId)?.name ?? open.agentId;
      const message: A2aMessage = {
        messageId: reply.id,
        contextId: task.contextId,
        taskId: task.id,
        role: Role.ROLE_AGENT,
        parts,
        metadata: {},
        extensions: [],
        referenceTaskIds: [],
      };
      // Through the SDK's own result manager: its merge rules, and its lock per task against a cancel at the same time.
      const results = new ResultManager(this.store, contextFor(open.owner));
      await results.processEvent(
        AgentEvent.artifactUpdate({
          taskId: task.id,
          contextId: task.contextId,
          artifact: { artifactId: `reply-${reply.id}`, name: 'reply', description: `The reply of ${agentName}`, parts, metadata: {}, extensions: [] },
          append: false,
          lastChunk: true,
          metadata: {},
        }),
      );
      await results.processEvent(
        AgentEvent.statusUpdate({
          taskId: task.id,
          contextId: task.contextId,
          status: { state: TaskState.TASK_STATE_COMPLETED, message, timestamp: new Date().toISOString() },
          metadata: { [A2A_TASK_METADATA.replyMessageId]: reply.id },
        }),
      );
    } catch (error) {
      console.error(`[a2a] task ${open.id} could not be completed from reply ${reply.id}:`, error);
    }
  }
}
