/** HTTP routes of the memory engine (API v1). Who may reach which memories is access.ts's to say. */
import { z } from 'zod';
import { ExtractRequest, MemorySearchQuery, StoreRequest } from '../../shared/memory-protocol';
import { API_PREFIX } from '../../shared/agent-protocol';
import { MemoryUpdate } from '../../shared/memory-graph-protocol';
import type { AgentRegistry } from '../agents/registry';
import { authorityOf, requireAuthority } from '../api/auth';
import { foreground } from '../api/foreground';
import type { ApiContext } from '../api/server';
import { forbidden } from '../errors';
import { parseInput } from '../validation';
import { checkChangeable, checkedStore, memoryCaller, readableMemory, searchContext, writeContext } from './access';
import type { MemoryEngine } from './engine';
import { EXTRACT_IN_WORKER_FROM } from './extract-runner';
import { registerMemoryGraphRoutes } from './graph/http';

const MemoryId = z.string().length(26);

export function registerMemoryRoutes(context: ApiContext, registry: AgentRegistry, engine: MemoryEngine, cockpitToken: string): void {
  const { http } = context;
  const who = (request: Parameters<typeof authorityOf>[0]) => requireAuthority(authorityOf(request, registry, cockpitToken));
  const caller = (request: Parameters<typeof authorityOf>[0]) => memoryCaller(who(request));
  const memoryId = (request: { params: unknown }) => parseInput(MemoryId, (request.params as { id: string }).id, 'memory id');

  http.post(`${API_PREFIX}/memory/store`, async (request, reply) => {
    const by = caller(request);
    const input = parseInput(StoreRequest, request.body, 'memory');
    const memories = 'memories' in input ? input.memories : [input];
    const store = await engine.store();
    const stored = await store.store(memories, checkedStore(store, by, memories));
    return reply.code(201).send({ stored });
  });

  http.post(`${API_PREFIX}/memory/extract`, async (request, reply) => {
    const by = caller(request);
    const input = parseInput(ExtractRequest, request.body, 'extraction request');
    // A large extraction is bulk work itself: other agents' requests go before its slices, not the other way round.
    if (input.text.length >= EXTRACT_IN_WORKER_FROM) foreground.demote(request);
    const result = await engine.extract(input, writeContext(by, input.project));
    return reply.code(201).send(result);
  });

  http.get(`${API_PREFIX}/memory/search`, async (request) => {
    const by = caller(request);
    const query = parseInput(MemorySearchQuery, request.query, 'memory search');
    return (await engine.store()).search(query, searchContext(by, query));
  });

  http.get(`${API_PREFIX}/memory/model`, async (request) => {
    who(request);
    await engine.store();
    return engine.model();
  });

  /** Switches the embedding model (cockpit only): re-embeds in the background; search keeps working meanwhile. */
  http.put(`${API_PREFIX}/memory/model`, async (request, reply) => {
    if (who(request).kind !== 'cockpit') throw forbidden('only the cockpit may change the embedding model');
    const { dir } = parseInput(z.object({ dir: z.string().min(1).nullable() }).strict(), request.body, 'model choice');
    return reply.code(202).send(await engine.switchModel(dir));
  });

  http.get(`${API_PREFIX}/memory/stats`, async (request) => {
    who(request);
    return (await engine.store()).stats();
  });

  registerMemoryGraphRoutes(context, engine, caller, memoryId);

  http.get(`${API_PREFIX}/memory/:id`, async (request) => {
    const by = caller(request);
    return readableMemory(await engine.store(), by, memoryId(request));
  });

  http.patch(`${API_PREFIX}/memory/:id`, async (request) => {
    const by = caller(request);
    const id = memoryId(request);
    const update = parseInput(MemoryUpdate, request.body, 'memory update');
    const store = await engine.store();
    checkChangeable(store, by, id);
    return store.update(id, update);
  });

  http.delete(`${API_PREFIX}/memory/:id`, async (request, reply) => {
    const by = caller(request);
    const id = memoryId(request);
    const store = await engine.store();
    checkChangeable(store, by, id);
    store.delete(id);
    return reply.code(204).send();
  });
}
