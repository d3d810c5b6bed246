/** HTTP routes of topics and links (API v1): the same access rule as memories (access.ts). */
import { API_PREFIX } from '../../../shared/agent-protocol';
import { MemoryLinksQuery, MemoryTopicsQuery, NeighbourhoodQuery, TopicMemoriesQuery, type MemoryLinks } from '../../../shared/memory-graph-protocol';
import type { WithHeaders } from '../../api/auth';
import type { ApiContext } from '../../api/server';
import { notFound } from '../../errors';
import { parseInput } from '../../validation';
import { readable, readableMemory, topicsProject, type MemoryCaller } from '../access';
import type { MemoryEngine } from '../engine';

export function registerMemoryGraphRoutes(
  { http }: ApiContext,
  engine: MemoryEngine,
  caller: (request: WithHeaders) => MemoryCaller,
  memoryId: (request: { params: unknown }) => string,
): void {
  http.get(`${API_PREFIX}/memory/topics`, async (request) => {
    const by = caller(request);
    const query = parseInput(MemoryTopicsQuery, request.query, 'topics query');
    return (await engine.graph()).topicList(topicsProject(by, query.project), query.limit);
  });

  http.get(`${API_PREFIX}/memory/topics/:id/memories`, async (request) => {
    const by = caller(request);
    const query = parseInput(TopicMemoriesQuery, request.query, 'topic memories query');
    const id = (request.params as { id: string }).id;
    const found = (await engine.graph()).topicMemories(id, query.limit, query.offset);
    // Another project's topic is answered as an unknown one, as another project's private memory is.
    if (!found || (by.kind === 'agent' && found.project !== by.project)) throw notFound(`there is no topic with id ${id}`);
    return found.memories;
  });

  http.get(`${API_PREFIX}/memory/:id/links`, async (request): Promise<MemoryLinks> => {
    const by = caller(request);
    const id = memoryId(request);
    const query = parseInput(MemoryLinksQuery, request.query, 'links query');
    readableMemory(await engine.store(), by, id);
    return (await engine.graph()).linksOf(id, query.kinds, (entry) => readable(by, entry));
  });

  http.get(`${API_PREFIX}/memory/:id/neighbourhood`, async (request) => {
    const by = caller(request);
    const id = memoryId(request);
    const query = parseInput(NeighbourhoodQuery, request.query, 'neighbourhood query');
    readableMemory(await engine.store(), by, id);
    return (await engine.graph()).neighbourhood(id, query, (entry) => readable(by, entry));
  });
}
