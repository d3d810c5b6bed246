/** MCP tools of the shared memory: search, store and extract, under the HTTP API's access rules (memory/access.ts). */
import { MemorySearchQuery } from '../../shared/memory-protocol';
import {
  MemoryExtractInput,
  MemoryExtractOutput,
  MemoryLinksInput,
  MemoryLinksOutput,
  MemoryTopicsInput,
  MemoryTopicsOutput,
  MemorySearchInput,
  MemorySearchOutput,
  MemoryStoreInput,
  MemoryStoreOutput,
} from '../../shared/mcp-protocol';
import { checkedStore, memoryCaller, readable, readableMemory, searchContext, topicsProject, writeContext } from '../memory/access';
import { run, type ToolGroup } from './tool-kit';

export const registerMemoryTools: ToolGroup = (server, { memory, me }) => {
  server.registerTool(
    'memory_search',
    {
      description:
        "Search the shared memory by meaning and keywords: your project's memories, and with scope=shared also other projects' shared ones. " +
        'Only current memories: one replaced by a newer value is history (includeHistory=true shows it, with supersededBy). Optional filters: kinds, tags, since (ISO time). ' +
        'An exact identifier (commit hash, ticket id, error code, file path) finds the memory holding it first. A hit with weak=true is a poor match: ' +
        'when the first hit is weak, nothing stored answers the question.',
      inputSchema: MemorySearchInput,
      outputSchema: MemorySearchOutput,
    },
    ({ query, k, scope, kinds, tags, since, includeHistory }) =>
      run(async () => {
        // Parsed by the HTTP API's own query schema, so both ways in mean the same search.
        const parsed = MemorySearchQuery.parse({ q: query, k, scope, since, kind: kinds?.join(','), tags: tags?.join(','), includeHistory });
        const caller = memoryCaller(me());
        return (await memory.store()).search(parsed, searchContext(caller, parsed));
      }),
  );

  server.registerTool(
    'memory_store',
    {
      description:
        'Store one memory (a fact, decision, task, error, code, note...) in your project, for you and the agents after you. The same fact said again reinforces the stored one; ' +
        'a newer value of it (another number, version, date, name or path, or its negation) supersedes it (outcome "supersedes": the old one stays as history). shared=true lets other projects read it.',
      inputSchema: MemoryStoreInput,
      outputSchema: MemoryStoreOutput,
    },
    (input) =>
      run(async () => {
        const engine = await memory.store();
        const inputs = [input];
        return { stored: await engine.store(inputs, checkedStore(engine, memoryCaller(me()), inputs)) };
      }),
  );

  server.registerTool(
    'memory_extract',
    {
      description:
        'Extract memories from text (a transcript, a log, notes, a document; up to 5,000,000 characters) and store them in your project: ' +
        'facts, decisions, tasks, errors and code are found, scored and deduplicated. Give a title and a source to say where it came from; ' +
        'shared=true lets other projects read them. Returns what was stored.',
      inputSchema: MemoryExtractInput,
      outputSchema: MemoryExtractOutput,
    },
    (input) => run(() => memory.extract(input, writeContext(memoryCaller(me()), input.project))),
  );

  server.registerTool(
    'memory_topics',
    {
      description:
        "The topics of your project's memories, largest first: groups of memories about one subject, each labelled by its distinctive words, " +
        'with its size and up to three example memories. A quick map of what the project has learnt; search within a topic with memory_search.',
      inputSchema: MemoryTopicsInput,
      outputSchema: MemoryTopicsOutput,
    },
    ({ limit }) =>
      run(async () => {
        const caller = memoryCaller(me());
        return { topics: (await memory.graph()).topicList(topicsProject(caller), limit) };
      }),
  );

  server.registerTool(
    'memory_links',
    {
      description:
        'The memories linked to one memory, and how: entity (both name the same file path, symbol, error code, URL, person, ticket or commit), ' +
        'derived (one was extracted from the other: document -> section -> chunk -> item), supersedes (a newer value replaced an older one), ' +
        'similar (near in meaning; weight is the cosine similarity). depth=2 or 3 follows links further. Only memories you may read.',
      inputSchema: MemoryLinksInput,
      outputSchema: MemoryLinksOutput,
    },
    ({ id, depth, limit, kinds }) =>
      run(async () => {
        const caller = memoryCaller(me());
        readableMemory(await memory.store(), caller, id);
        return (await memory.graph()).neighbourhood(id, { depth, limit, kinds }, (entry) => readable(caller, entry));
      }),
  );
};
