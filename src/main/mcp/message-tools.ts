/** MCP tools about messages: send, read and acknowledge the inbox, and wait for the next message (the push). */
import {
  AcknowledgeInput,
  AcknowledgeOutput,
  ReadInboxInput,
  ReadInboxOutput,
  SendMessageInput,
  SendMessageOutput,
  WaitForMessagesInput,
  WaitForMessagesOutput,
} from '../../shared/mcp-protocol';
import { badRequest } from '../errors';
import { publicMessage } from '../messaging/frames';
import type { MessagingService } from '../messaging/service';
import { run, type ToolGroup } from './tool-kit';

export const registerMessageTools: ToolGroup = (server, { messaging, me, session }) => {
  const { store } = messaging;

  const afterSeq = (after: string | undefined): number => {
    if (!after) return 0;
    const seq = store.seqOf(after);
    if (seq === undefined) throw badRequest(`after names no message (${after}): leave it out to read from the start`);
    return seq;
  };

  server.registerTool(
    'send_message',
    {
      description:
        'Send a message to one agent ({"type":"agent","id":...}), a topic\'s subscribers ({"type":"topic","name":...}) or everyone ({"type":"broadcast"}). ' +
        'body is text or JSON. Optional: subject, threadId (to continue a thread), replyTo (a message id), importance, ackRequired, idempotencyKey (a retry with the same key is stored once).',
      inputSchema: SendMessageInput,
      outputSchema: SendMessageOutput,
    },
    (input) => run(() => messaging.send(me(), input)),
  );

  server.registerTool(
    'read_inbox',
    {
      description:
        'Read your inbox, oldest first. By default only new messages (not yet acknowledged); acknowledge the ones you handled, or they are listed again. ' +
        'Pass the answer\'s `next` as `after` to read on.',
      inputSchema: ReadInboxInput,
      outputSchema: ReadInboxOutput,
    },
    ({ state, after, limit }) =>
      run(() => {
        const page = store.inbox(me().id, afterSeq(after), limit, state);
        return { messages: page.map(publicMessage), next: page.length === limit ? page.at(-1)!.id : null };
      }),
  );

  server.registerTool(
    'acknowledge',
    { description: 'Mark messages of your inbox as handled, so read_inbox and wait_for_messages no longer return them.', inputSchema: AcknowledgeInput, outputSchema: AcknowledgeOutput },
    ({ ids }) => run(async () => ({ acknowledged: await messaging.ack(me(), ids) })),
  );

  server.registerTool(
    'wait_for_messages',
    {
      description:
        'Block until a message reaches your inbox, then return at once with your unacknowledged messages (immediately if some are already waiting). ' +
        'Returns timedOut=true and no messages when timeoutMs passes first. Acknowledge what you handled, or it is returned again.',
      inputSchema: WaitForMessagesInput,
      outputSchema: WaitForMessagesOutput,
    },
    ({ timeoutMs, after }, extra) =>
      run(async () => {
        const agent = me();
        const from = afterSeq(after);
        const pending = () => store.inbox(agent.id, from, 100, 'unacked');
        const arrived = await waitForDelivery(messaging, agent.id, timeoutMs, [extra.signal, session.closed], () => pending().length > 0);
        const messages = arrived ? pending().map(publicMessage) : [];
        return { messages, timedOut: messages.length === 0 };
      }),
  );
};

/**
 * Resolves true once `ready()` holds: checked at once, then on each delivery to `agentId` (the hook the realtime
 * socket pushes from, so nothing polls); false when the timeout passes or a signal aborts first.
 */
function waitForDelivery(messaging: MessagingService, agentId: string, timeoutMs: number, signals: AbortSignal[], ready: () => boolean): Promise<boolean> {
  return new Promise((resolve) => {
    // Listening before the first check: a delivery committed in between is not missed.
    const off = messaging.onDelivered((deliveries) => {
      if (deliveries.some((delivery) => delivery.recipients.includes(agentId)) && ready()) finish(true);
    });
    const timer = setTimeout(() => finish(false), timeoutMs);
    const abort = () => finish(false);
    for (const signal of signals) signal.addEventListener('abort', abort, { once: true });
    function finish(value: boolean) {
      off();
      clearTimeout(timer);
      for (const signal of signals) signal.removeEventListener('abort', abort);
      resolve(value);
    }
    if (signals.some((signal) => signal.aborted) || ready()) finish(signals.every((signal) => !signal.aborted));
  });
}
