/**
 * The SDK's agent executor for the hub: an A2A message becomes a hub message to the agent it names, sent through
 * the messaging service like any other, in the thread named by the task id. The task then waits ("working") for
 * the agent's reply (see replies.ts), which the executor does not wait for: a reply may take hours.
 */
import { Role, TaskState, type Task } from '@a2a-js/sdk';
import { AgentEvent, type AgentExecutor, type ExecutionEventBus, type RequestContext } from '@a2a-js/sdk/server';
import { A2A_TASK_METADATA } from '../../shared/a2a-protocol';
import { SendRequest, type Importance } from '../../shared/agent-protocol';
import type { AgentRecord, AgentRegistry } from '../agents/registry';
import type { RawBody } from '../messaging/json-body';
import type { MessagingService } from '../messaging/service';
import { callerOf, ownerOf } from './caller';
import type { A2aTaskStore } from './task-store';

/** What the request handler checked and worked out before the SDK started the task (context.state[PREPARED]). */
export interface PreparedSend {
  target: AgentRecord;
  body: string | Record<string, unknown>;
  /** The body as JSON bytes, for a large one (the messaging service stores it as it is). */
  raw?: RawBody;
  subject: string;
  importance: Importance;
}

export const PREPARED = 'devenviro.a2a.prepared';

export class HubAgentExecutor implements AgentExecutor {
  constructor(
    private readonly registry: AgentRegistry,
    private readonly messaging: MessagingService,
    private readonly store: A2aTaskStore,
  ) {}

  async execute(request: RequestContext, bus: ExecutionEventBus): Promise<void> {
    const prepared = request.context.state.get(PREPARED) as PreparedSend | undefined;
    if (!prepared) throw new Error('the A2A message was not prepared by the hub\'s request handler');
    const caller = callerOf(request.context, this.registry);
    const { target } = prepared;
    const metadata = {
      [A2A_TASK_METADATA.agentId]: target.id,
      [A2A_TASK_METADATA.agentName]: target.name,
      [A2A_TASK_METADATA.agentProject]: target.project,
    };
    if (!request.task) {
      // The task is stored before the hub message goes out, so a reply that comes back at once finds it.
      const submitted: Task = {
        id: request.taskId,
        contextId: request.contextId,
        status: { state: TaskState.TASK_STATE_SUBMITTED, message: undefined, timestamp: new Date().toISOString() },
        artifacts: [],
        history: [request.userMessage],
        metadata,
      };
      this.store.put(submitted, ownerOf(request.context));
    }
    const sent = await this.messaging.send(
      caller,
      SendRequest.parse({
        to: { type: 'agent', id: target.id },
        // With raw bytes, the body here is only a placeholder (as for the HTTP API's large sends).
        body: prepared.raw ? {} : prepared.body,
        subject: prepared.subject,
        threadId: request.taskId,
        importance: prepared.importance,
      }),
      prepared.raw,
    );
    bus.publish(
      AgentEvent.task({
        id: request.taskId,
        contextId: request.contextId,
        status: { state: TaskState.TASK_STATE_WORKING, message: undefined, timestamp: new Date().toISOString() },
        artifacts: [],
        // Empty: the SDK keeps the stored history (with this message in it).
        history: [],
        metadata: { ...metadata, [A2A_TASK_METADATA.requestMessageId]: sent.id },
      }),
    );
  }

  /** Only reached while execute() still runs (a cancel in the moment of sending); otherwise the SDK cancels alone. */
  async cancelTask(taskId: string, bus: ExecutionEventBus): Promise<void> {
    const open = this.store.openTask(taskId);
    const task = open && this.store.get(taskId, open.owner);
    bus.publish(
      AgentEvent.statusUpdate({
        taskId,
        contextId: task?.contextId ?? '',
        status: {
          state: TaskState.TASK_STATE_CANCELED,
          message: {
            role: Role.ROLE_AGENT,
            messageId: crypto.randomUUID(),
            taskId,
            contextId: task?.contextId ?? '',
            parts: [{ content: { $case: 'text', value: 'Canceled by the caller.' }, mediaType: 'text/plain', filename: '', metadata: {} }],
            metadata: {},
            extensions: [],
            referenceTaskIds: [],
          },
          timestamp: new Date().toISOString(),
        },
        metadata: {},
      }),
    );
  }
}
