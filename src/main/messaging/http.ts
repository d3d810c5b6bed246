/** HTTP routes of messages, inboxes, threads, topics and search (API v1). */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import {
  AckRequest,
  API_PREFIX,
  messageBodyPath,
  DirectSendRequest,
  InboxQuery,
  SearchQuery,
  SendRequest,
  TopicList,
  TopicName,
  Ulid,
  type InboxPage,
  type SearchHit,
} from '../../shared/agent-protocol';
import type { AgentRegistry } from '../agents/registry';
import { authorityOf, requireAuthority, requireSelfOrCockpit, senderOf } from '../api/auth';
import type { ApiContext } from '../api/server';
import { badRequest, notFound } from '../errors';
import { parseInput } from '../validation';
import { messageListJson, publicMessage, searchHitsJson } from './frames';
import { acceptLargeSends, rawBodyOf } from './http-body';
import type { MessagingService } from './service';
import type { StoredMessage } from './store';

export function registerMessageRoutes({ http }: ApiContext, registry: AgentRegistry, messaging: MessagingService, cockpitToken: string): void {
  const who = (request: Parameters<typeof authorityOf>[0]) => authorityOf(request, registry, cockpitToken);
  const agentParam = (params: unknown) => parseInput(Ulid, (params as { id?: string }).id, 'agent id');
  const { store } = messaging;

  // The send routes, in a scope of their own: their JSON parser keeps a large body as the bytes it arrived in.
  void http.register(async (sends) => {
    acceptLargeSends(sends, messaging.decoder);

    /** Sends to agent {id}; the sender is whoever the token names. */
    sends.post(`${API_PREFIX}/agents/:id/messages`, async (request, reply) => {
      const recipient = agentParam(request.params);
      const sender = senderOf(who(request), registry);
      const input = parseInput(DirectSendRequest, request.body, 'message');
      const result = await messaging.send(sender, { ...input, to: { type: 'agent', id: recipient } }, rawBodyOf(request.body));
      return reply.code(result.duplicate ? 200 : 201).send(result);
    });

    /** Sends to an agent, a topic or everyone, as the body's `to` says. */
    sends.post(`${API_PREFIX}/messages`, async (request, reply) => {
      const sender = senderOf(who(request), registry);
      const input = parseInput(SendRequest, request.body, 'message');
      const result = await messaging.send(sender, input, rawBodyOf(request.body));
      return reply.code(result.duplicate ? 200 : 201).send(result);
    });
  });

  http.get(`${API_PREFIX}/agents/:id/messages`, async (request, reply): Promise<InboxPage | FastifyReply> => {
    const id = agentParam(request.params);
    requireSelfOrCockpit(who(request), id);
    const agent = registry.get(id);
    const query = parseInput(InboxQuery, request.query, 'inbox query');
    // In a cluster: what reached the agent through another hub is here first.
    await messaging.inboxReady(agent);
    let afterSeq = 0;
    if (query.after) {
      const seq = store.seqOf(query.after);
      if (seq === undefined) throw badRequest(`after names no message (${query.after})`);
      afterSeq = seq;
    }
    const page = store.inbox(id, afterSeq, query.limit, query.state);
    const next = page.length === query.limit ? page.at(-1)!.id : null;
    if (page.some((message) => message.external)) return sendMessageList(reply, '{"messages":[', page, `],"next":${JSON.stringify(next)}}`);
    return { messages: page.map(publicMessage), next };
  });

  http.post(`${API_PREFIX}/agents/:id/messages/ack`, async (request) => {
    const id = agentParam(request.params);
    requireSelfOrCockpit(who(request), id);
    const { ids } = parseInput(AckRequest, request.body, 'acknowledgement');
    return { acknowledged: await messaging.ack(registry.get(id), ids) };
  });

  http.get(`${API_PREFIX}/agents/:id/threads`, async (request) => {
    const id = agentParam(request.params);
    requireSelfOrCockpit(who(request), id);
    const { limit } = parseInput(z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }), request.query, 'thread query');
    return { threads: store.threads(id, limit) };
  });

  http.get(`${API_PREFIX}/threads/:threadId`, async (request, reply) => {
    const authority = requireAuthority(who(request));
    const threadId = (request.params as { threadId: string }).threadId;
    // An agent sees the messages of a thread that it sent or received; the cockpit sees all of them.
    const visible = store.threadFor(threadId, authority.kind === 'agent' ? authority.agent.id : undefined);
    if (visible.length === 0) throw notFound(`no thread ${threadId} that you can see`);
    if (visible.some((message) => message.external)) return sendMessageList(reply, `{"threadId":${JSON.stringify(threadId)},"messages":[`, visible, ']}');
    return { threadId, messages: visible.map(publicMessage) };
  });

  http.get(`${API_PREFIX}/agents/:id/topics`, async (request) => {
    const id = agentParam(request.params);
    requireSelfOrCockpit(who(request), id);
    return { topics: store.topicsOf(id) };
  });

  http.post(`${API_PREFIX}/agents/:id/topics`, async (request) => {
    const id = agentParam(request.params);
    requireSelfOrCockpit(who(request), id);
    store.subscribe(registry.get(id).id, parseInput(TopicList, request.body, 'topics').topics);
    return { topics: store.topicsOf(id) };
  });

  http.delete(`${API_PREFIX}/agents/:id/topics/:topic`, async (request) => {
    const id = agentParam(request.params);
    requireSelfOrCockpit(who(request), id);
    store.unsubscribe(id, [parseInput(TopicName, (request.params as { topic: string }).topic, 'topic')]);
    return { topics: store.topicsOf(id) };
  });

  /**
   * One message's whole body, as the JSON it is kept as: a body kept in a file is streamed from it as its bytes
   * (never parsed or turned into a string), so the cockpit, which lists large bodies as previews, links here.
   */
  http.get(messageBodyPath(':id'), async (request, reply) => {
    const authority = requireAuthority(who(request));
    const id = parseInput(Ulid, (request.params as { id?: string }).id, 'message id');
    const message = store.get(id);
    const visible = message && (authority.kind === 'cockpit' || store.visibleTo(authority.agent.id, message));
    if (!message || !visible) throw notFound(`no message ${id} that you can see`);
    reply.type('application/json; charset=utf-8').header('content-disposition', `attachment; filename="message-${id}.json"`);
    if (!message.external) return reply.send(JSON.stringify(message.body));
    reply.header('content-length', message.external.bytes);
    return reply.send(message.external.file === undefined ? message.external.json() : createReadStream(message.external.file));
  });

  http.get(`${API_PREFIX}/messages/search`, async (request, reply) => {
    const authority = requireAuthority(who(request));
    const { q, limit } = parseInput(SearchQuery, request.query, 'search query');
    await messaging.catchUpSearch();
    const hits = store.search(q, limit, authority.kind === 'agent' ? authority.agent.id : undefined) as Array<SearchHit & { message: StoredMessage }>;
    // A hit whose body is kept in a file is streamed from it, never parsed and re-serialised here.
    if (hits.some((hit) => hit.message.external)) return reply.type('application/json; charset=utf-8').send(Readable.from(searchHitsJson(hits)));
    return { hits: hits.map((hit) => ({ ...hit, message: publicMessage(hit.message) })) };
  });
}

/** Answers with a JSON list of messages whose large bodies are streamed from their files (see messageListJson). */
function sendMessageList(reply: FastifyReply, before: string, messages: StoredMessage[], after: string): FastifyReply {
  return reply.type('application/json; charset=utf-8').send(Readable.from(messageListJson(before, messages, after)));
}
