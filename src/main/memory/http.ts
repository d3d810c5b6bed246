/** HTTP routes of the memory engine (API v1). Agents store and search in their own project by default. */
import { z } from 'zod';
import { ExtractRequest, MemorySearchQuery, StoreRequest } from '../../shared/memory-protocol';
import { API_PREFIX } from '../../shared/agent-protocol';
import type { AgentRegistry, Authority } from '../agents/registry';
import { authorityOf, requireAuthority } from '../api/auth';
import type { ApiContext } from '../api/server';
import { forbidden } from '../errors';
import { parseInput } from '../validation';
import type { MemoryEngine } from './engine';

const MemoryId = z.string().length(26);

export function registerMemoryRoutes({ http }: ApiContext, registry: AgentRegistry, engine: MemoryEngine, cockpitToken: string): void {
  const who = (request: Parameters<typeof authorityOf>[0]) => requireAuthority(authorityOf(request, registry, cockpitToken));
  const contextOf = (authority: Exclude<Authority, { kind: 'none' }>, project?: string) =>
    authority.kind === 'agent'
      ? { project: project ?? authority.agent.project, agent: authority.agent.id }
      : { project: project ?? 'default', agent: null };

  http.post(`${API_PREFIX}/memory/store`, async (request, reply) => {
    const authority = who(request);
    const input = parseInput(StoreRequest, request.body, 'memory');
    const memories = 'memories' in input ? input.memories : [input];
    const stored = await (await engine.service()).store(memories, contextOf(authority));
    return reply.code(201).send({ stored });
  });

  http.post(`${API_PREFIX}/memory/extract`, async (request, reply) => {
    const authority = who(request);
    const input = parseInput(ExtractRequest, request.body, 'extraction request');
    const result = await engine.extract(input, contextOf(authority, input.project));
    return reply.code(201).send(result);
  });

  http.get(`${API_PREFIX}/memory/search`, async (request) => {
    const authority = who(request);
    const query = parseInput(MemorySearchQuery, request.query, 'memory search');
    return (await engine.service()).search(query, contextOf(authority, query.project));
  });

  http.get(`${API_PREFIX}/memory/model`, async (request) => {
    who(request);
    await engine.service();
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
    return (await engine.service()).stats();
  });

  http.get(`${API_PREFIX}/memory/:id`, async (request) => {
    who(request);
    return (await engine.service()).get(parseInput(MemoryId, (request.params as { id: string }).id, 'memory id'));
  });

  http.patch(`${API_PREFIX}/memory/:id`, async (request) => {
    who(request);
    const { shared } = parseInput(z.object({ shared: z.boolean() }).strict(), request.body, 'memory update');
    return (await engine.service()).setShared(parseInput(MemoryId, (request.params as { id: string }).id, 'memory id'), shared);
  });

  http.delete(`${API_PREFIX}/memory/:id`, async (request, reply) => {
    who(request);
    (await engine.service()).delete(parseInput(MemoryId, (request.params as { id: string }).id, 'memory id'));
    return reply.code(204).send();
  });
}
