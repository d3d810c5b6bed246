/**
 * The SDK's request handler with the hub's rules around it: SendMessage is checked (the agent it names, its parts,
 * its size) before the SDK creates a task, so bad input is answered with InvalidParams and nothing is stored; a
 * canceled task is announced to its agent with a hub message.
 */
import type { AgentCard, CancelTaskRequest, Message, SendMessageRequest, Task } from '@a2a-js/sdk';
import { RequestMalformedError, TaskNotFoundError } from '@a2a-js/sdk/errors';
import { DefaultExecutionEventBusManager, DefaultRequestHandler, type ServerCallContext } from '@a2a-js/sdk/server';
import { A2A_CANCELED_SUBJECT, A2A_TASK_METADATA, A2aSendMetadata } from '../../shared/a2a-protocol';
import { SendRequest, ULID_PATTERN } from '../../shared/agent-protocol';
import type { AgentRecord, AgentRegistry } from '../agents/registry';
import { RawBody } from '../messaging/json-body';
import type { MessagingService } from '../messaging/service';
import { callerOf, ownerOf } from './caller';
import { HubAgentExecutor, PREPARED, type PreparedSend } from './executor';
import { hubBodyBytes, hubBodyJsonWithFiles, hubBodyOf } from './parts';
import { FILE_STUB_PREFIX } from './request-decoder';
import { isTerminal, type A2aTaskStore } from './task-store';

/**
 * context.state key: the file bytes the request decoder took out of the request (base64, by placeholder index; see
 * decode-request.ts), set by the gateway.
 */
export const TAKEN_FILES = 'devenviro.a2a.takenFiles';

export interface HubRequestHandlerOptions {
  registry: AgentRegistry;
  messaging: MessagingService;
  store: A2aTaskStore;
  maxBodyBytes: number;
  /** The card the SDK checks calls against (capabilities, interfaces, modes). */
  card(): AgentCard;
}

export class HubRequestHandler extends DefaultRequestHandler {
  constructor(private readonly options: HubRequestHandlerOptions) {
    super(options.card(), options.store, new HubAgentExecutor(options.registry, options.messaging, options.store), new DefaultExecutionEventBusManager());
  }

  override async getAgentCard(): Promise<AgentCard> {
    return this.options.card();
  }

  override async sendMessage(params: SendMessageRequest, context: ServerCallContext): Promise<Message | Task> {
    context.state.set(PREPARED, this.prepare(params, context));
    return super.sendMessage(params, context);
  }

  override async cancelTask(params: CancelTaskRequest, context: ServerCallContext): Promise<Task> {
    const before = params.id ? this.options.store.get(params.id, ownerOf(context)) : undefined;
    const task = await super.cancelTask(params, context);
    if (before && !isTerminal(before.status?.state)) await this.announceCancel(before, callerOf(context, this.options.registry));
    return task;
  }

  /** Everything SendMessage needs, checked: the agent it is for, the hub message's body, subject and importance. */
  private prepare(params: SendMessageRequest, context: ServerCallContext): PreparedSend {
    const { registry, store, maxBodyBytes } = this.options;
    const message = params.message;
    if (!message) throw new RequestMalformedError('params.message is required');
    const caller = callerOf(context, registry);
    const parsed = A2aSendMetadata.safeParse({ ...pick(params.metadata), ...pick(message.metadata) });
    if (!parsed.success) {
      throw new RequestMalformedError(`invalid message metadata: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    const meta = parsed.data;

    let target: AgentRecord | undefined;
    if (message.taskId) {
      const task = store.get(message.taskId, caller.id);
      if (!task) throw new TaskNotFoundError(`Task not found: ${message.taskId}`);
      target = registry.find(String(task.metadata?.[A2A_TASK_METADATA.agentId] ?? ''));
      if (!target) throw new RequestMalformedError(`task ${message.taskId} names no hub agent`);
    } else {
      if (!meta.to) {
        throw new RequestMalformedError(
          'name the hub agent the message is for in message.metadata.to (its name, name@project or id; the agent card lists them as skills)',
        );
      }
      target = resolveAgent(registry, meta.to, caller);
    }
    if (target.revokedAt) throw new RequestMalformedError(`agent ${target.name} was revoked and receives nothing`);
    if (target.id === caller.id) throw new RequestMalformedError('an agent cannot send an A2A task to itself');

    let body: PreparedSend['body'];
    let json: Buffer | undefined;
    try {
      body = hubBodyOf(message.parts) as PreparedSend['body'];
      // Large files were taken out of the request off the event loop: their base64 goes into the body's JSON bytes
      // as it is, and the messaging service stores those bytes without serialising them again.
      const taken = context.state.get(TAKEN_FILES) as Uint8Array[] | undefined;
      if (taken && typeof body !== 'string') json = hubBodyJsonWithFiles(body, taken, FILE_STUB_PREFIX);
    } catch (error) {
      throw new RequestMalformedError((error as Error).message);
    }
    const bytes = json ? json.length : hubBodyBytes(body);
    if (bytes > maxBodyBytes) {
      throw new RequestMalformedError(`the message is ${bytes} bytes as a hub message; the hub accepts up to ${maxBodyBytes} (messages.maxBytes)`);
    }
    const prepared: PreparedSend = { target, body, subject: meta.subject ?? `A2A task from ${caller.name}`, importance: meta.importance ?? 'normal' };
    return json ? { ...prepared, raw: new RawBody(json, json.length, 'json') } : prepared;
  }

  /** Tells the agent that the task it was given is canceled, in the task's thread. A failure does not undo the cancel. */
  private async announceCancel(task: Task, caller: AgentRecord): Promise<void> {
    const agent = this.options.registry.find(String(task.metadata?.[A2A_TASK_METADATA.agentId] ?? ''));
    if (!agent || agent.revokedAt) return;
    try {
      await this.options.messaging.send(
        caller,
        SendRequest.parse({
          to: { type: 'agent', id: agent.id },
          subject: A2A_CANCELED_SUBJECT,
          body: `${caller.name} canceled A2A task ${task.id}: stop working on it; no reply is expected.`,
          threadId: task.id,
        }),
      );
    } catch (error) {
      console.error(`[a2a] could not tell ${agent.name} that task ${task.id} was canceled:`, error);
    }
  }
}

/** Only the keys the hub reads: other metadata (the caller's own) passes through to the task untouched. */
function pick(metadata: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!metadata) return {};
  const keys = Object.keys(A2aSendMetadata.shape) as Array<keyof typeof A2aSendMetadata.shape>;
  return Object.fromEntries(keys.filter((key) => metadata[key] !== undefined).map((key) => [key, metadata[key]]));
}

/**
 * The agent `to` names: an agent id; `name@project` (as the command line writes it); or a name, in the caller's
 * project first, then in any project where it is the only agent of that name.
 */
export function resolveAgent(registry: AgentRegistry, to: string, caller: AgentRecord): AgentRecord {
  if (ULID_PATTERN.test(to)) {
    const byId = registry.find(to);
    if (byId) return byId;
  }
  // Agent names have no @, so the first one ends the name.
  const at = to.indexOf('@');
  if (at > 0) {
    const [name, project] = [to.slice(0, at), to.slice(at + 1)];
    const agent = registry.findByName(project, name);
    if (agent) return agent;
    throw new RequestMalformedError(`there is no agent ${name} in project ${project}`);
  }
  const own = registry.findByName(caller.project, to);
  if (own) return own;
  const named = registry.all().filter((agent) => agent.name === to && !agent.revokedAt);
  if (named.length === 1) return named[0]!;
  if (named.length === 0) throw new RequestMalformedError(`there is no agent named ${to}: the agent card lists the agents as skills`);
  throw new RequestMalformedError(`several projects have an agent named ${to}: name it as name@project (${named.map((a) => `${a.name}@${a.project}`).join(', ')})`);
}
