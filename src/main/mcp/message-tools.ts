/**
 * MCP tools about messages: send and reply, read and acknowledge the inbox, wait for the next message (the push),
 * read a thread and search what you sent or received.
 */
import type { Recipient } from '../../shared/agent-protocol';
import {
  AcknowledgeInput,
  AcknowledgeOutput,
  MCP_BODY_PREVIEW_BYTES,
  ReadInboxInput,
  ReadInboxOutput,
  ReadThreadInput,
  ReadThreadOutput,
  ReplyInput,
  ReplyOutput,
  SearchMessagesInput,
  SearchMessagesOutput,
  SendMessageInput,
  SendMessageOutput,
  WaitForMessagesInput,
  WaitForMessagesOutput,
} from '../../shared/mcp-protocol';
import { badRequest, notFound } from '../errors';
import type { MessagingService } from '../messaging/service';
import type { StoredMessage } from '../messaging/store';
import { mcpMessage } from './message-view';
import { run, type ToolGroup } from './tool-kit';

/** What the reading tools say about bodies over MCP_BODY_PREVIEW_BYTES. */
const LARGE_BODIES =
  `A body over ${MCP_BODY_PREVIEW_BYTES / 1024} KiB comes as its first characters with truncated: {bytes, bodyPath}; ` +
  'GET bodyPath on the hub (same host and port as this server) with your token as Authorization: Bearer gives it whole.';

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
    'reply',
    {
      description:
        'Answer a message by its id, in its thread: a message sent to you goes back to its sender; a topic message goes to the topic ' +
        '(privately=true: to its sender only); a follow-up to a message you sent goes where that one went. Same options as send_message.',
      inputSchema: ReplyInput,
      outputSchema: ReplyOutput,
    },
    ({ messageId, privately, ...options }) =>
      run(async () => {
        const agent = me();
        const original = store.get(messageId);
        if (!original || !store.visibleTo(agent.id, original)) {
          throw notFound(`no message ${messageId} that you sent or received: take the id from read_inbox, wait_for_messages or read_thread`);
        }
        const to = replyRecipient(original, agent.id, privately);
        // The thread follows from replyTo in the send itself (as for the HTTP API and the client library's reply).
        const sent = await messaging.send(agent, { ...options, to, replyTo: original.id, threadId: original.threadId });
        return { ...sent, to };
      }),
  );

  server.registerTool(
    'read_inbox',
    {
      description:
        'Read your inbox, oldest first. By default only new messages (not yet acknowledged); acknowledge the ones you handled, or they are listed again. ' +
        'Pass the answer\'s `next` as `after` to read on. ' +
        LARGE_BODIES,
      inputSchema: ReadInboxInput,
      outputSchema: ReadInboxOutput,
    },
    ({ state, after, limit }) =>
      run(() => {
        const page = store.inbox(me().id, afterSeq(after), limit, state);
        return { messages: page.map((message) => mcpMessage(message)), next: page.length === limit ? page.at(-1)!.id : null };
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
        'Returns timedOut=true and no messages when timeoutMs passes first. Acknowledge what you handled, or it is returned again. ' +
        LARGE_BODIES,
      inputSchema: WaitForMessagesInput,
      outputSchema: WaitForMessagesOutput,
    },
    ({ timeoutMs, after }, extra) =>
      run(async () => {
        const agent = me();
        const from = afterSeq(after);
        const pending = () => store.inbox(agent.id, from, 100, 'unacked');
        const arrived = await waitForDelivery(messaging, agent.id, timeoutMs, [extra.signal, session.closed], () => pending().length > 0);
        const messages = arrived ? pending().map((message) => mcpMessage(message)) : [];
        return { messages, timedOut: messages.length === 0 };
      }),
  );

  server.registerTool(
    'read_thread',
    {
      description:
        'The messages of a thread (a message\'s threadId), oldest first: those you sent or received. A thread you took no part in is not found. ' +
        LARGE_BODIES,
      inputSchema: ReadThreadInput,
      outputSchema: ReadThreadOutput,
    },
    ({ threadId }) =>
      run(() => {
        // The rule of GET /threads/{threadId}: an agent sees the messages of a thread that it sent or received.
        const messages = store.threadFor(threadId, me().id);
        if (messages.length === 0) throw notFound(`no thread ${threadId} that you can see: take a threadId from one of your messages`);
        return { threadId, messages: messages.map((message) => mcpMessage(message)) };
      }),
  );

  server.registerTool(
    'search_messages',
    {
      description:
        'Keyword search over the messages you sent or received (subject and body), best match first, each with a snippet where the words are in [brackets]. ' +
        LARGE_BODIES,
      inputSchema: SearchMessagesInput,
      outputSchema: SearchMessagesOutput,
    },
    ({ query, limit }) =>
      run(async () => {
        const agent = me();
        // As GET /messages/search: whatever was sent before the search is indexed first, so the search sees it.
        await messaging.catchUpSearch();
        const hits = store.search(query, limit, agent.id);
        return { hits: hits.map((hit) => ({ ...hit, message: mcpMessage(hit.message as StoredMessage) })) };
      }),
  );
};

/** Where a reply goes: back to the sender, to the topic for a topic message, or where the caller's own message went. */
function replyRecipient(original: StoredMessage, callerId: string, privately: boolean): Recipient {
  if (original.to.type === 'topic' && !privately) return original.to;
  if (original.from !== callerId) return { type: 'agent', id: original.from };
  return original.to;
}

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
