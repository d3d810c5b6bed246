/** `devenviro memory`: store, extract and search memories in the shared memory. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { MEMORY_KINDS, type ExtractReport, type MemorySearchResult, type StoredMemory } from '../../shared/memory-protocol';
import { positiveInt, readAll, UsageError, type Command } from './command';
import { readerHttp } from './hub';
import { oneLine, table } from './output';

export const memory: Command = {
  summary: 'the shared memory: store, extract or search memories',
  usage: `devenviro memory store <text|-> [--kind K] [--tag T]... [--importance 0..1] [--shared] [--json]
       devenviro memory extract <file|-> [--title T] [--shared] [--json]
       devenviro memory search <query> [--k N] [--scope project|shared|all] [--kind K] [--json]`,
  details: `store: one memory (kinds: ${MEMORY_KINDS.join(', ')}). extract: reads a transcript, log or document
(a file, or - for standard input) and stores what it finds: sections, chunks, decisions, tasks, errors, commands,
paths. search: vector and keyword search fused, each hit with its scores. Memories go to, and are searched in, the
agent's project (or --project); without an agent identity the cockpit's token is used.`,
  options: {
    kind: { type: 'string' },
    tag: { type: 'string', multiple: true },
    importance: { type: 'string' },
    shared: { type: 'boolean' },
    title: { type: 'string' },
    k: { type: 'string' },
    scope: { type: 'string' },
  },
  async run(ctx) {
    const [action, ...rest] = ctx.args;
    const http = await readerHttp(ctx);
    const project = ctx.values.project as string | undefined;
    const kind = ctx.values.kind as string | undefined;
    if (kind !== undefined && !kind.split(',').every((k) => (MEMORY_KINDS as readonly string[]).includes(k))) {
      throw new UsageError(`--kind must be one of ${MEMORY_KINDS.join(', ')}`, ctx.command);
    }
    switch (action) {
      case 'store': {
        if (rest.length === 0) throw new UsageError('memory store needs the text (or - to read it from standard input)', ctx.command);
        const text = rest.join(' ') === '-' ? await readAll(ctx.io.stdin) : rest.join(' ');
        const importance = ctx.values.importance === undefined ? undefined : Number(ctx.values.importance);
        if (importance !== undefined && !(importance >= 0 && importance <= 1)) throw new UsageError('--importance must be between 0 and 1', ctx.command);
        const { stored } = await http.request<{ stored: StoredMemory[] }>('POST', '/memory/store', {
          body: { text, project, kind, tags: ctx.values.tag as string[] | undefined, importance, shared: ctx.values.shared === true },
        });
        if (ctx.json) return void ctx.out(JSON.stringify(stored[0], null, 2));
        ctx.out(stored[0]!.memory.id);
        ctx.note(stored[0]!.outcome === 'created' ? 'Stored.' : `A near-identical memory existed (similarity ${stored[0]!.similarity?.toFixed(3)}): reinforced it.`);
        return;
      }
      case 'extract': {
        if (rest.length !== 1) throw new UsageError('memory extract needs one file (or - for standard input)', ctx.command);
        const source = rest[0]!;
        const text = source === '-' ? await readAll(ctx.io.stdin) : await readFile(source, 'utf8');
        const result = await http.request<ExtractReport>('POST', '/memory/extract', {
          body: {
            text,
            project,
            title: (ctx.values.title as string | undefined) ?? (source === '-' ? undefined : path.basename(source)),
            source: source === '-' ? { type: 'conversation' } : { type: 'file', ref: path.resolve(source) },
            shared: ctx.values.shared === true,
          },
        });
        if (ctx.json) return void ctx.out(JSON.stringify(result, null, 2));
        const byKind = new Map<string, number>();
        for (const { memory } of result.stored) byKind.set(memory.kind, (byKind.get(memory.kind) ?? 0) + 1);
        ctx.out([...byKind].map(([k, n]) => `${k}: ${n}`).join(', '));
        ctx.note(`Stored ${result.stored.length} memories in ${Math.round(result.stats.totalMs)} ms.`);
        return;
      }
      case 'search': {
        if (rest.length === 0) throw new UsageError('memory search needs a query', ctx.command);
        const k = positiveInt(ctx, 'k', 10);
        const scope = ctx.values.scope as string | undefined;
        if (scope !== undefined && !['project', 'shared', 'all'].includes(scope)) throw new UsageError('--scope must be project, shared or all', ctx.command);
        const result = await http.request<MemorySearchResult>('GET', '/memory/search', { query: { q: rest.join(' '), k, scope, project, kind } });
        if (ctx.json) return void ctx.out(JSON.stringify(result, null, 2));
        if (result.hits.length === 0) return void ctx.note('No memories match.');
        ctx.out(
          table([
            ['SCORE', 'KIND', 'PROJECT', 'MEMORY'],
            ...result.hits.map((hit) => [hit.scores.final.toFixed(4), hit.memory.kind, hit.memory.project, oneLine(hit.memory.text).slice(0, 100)]),
          ]),
        );
        ctx.note(`${result.hits.length} hits in ${result.tookMs.toFixed(1)} ms (${result.model}).`);
        return;
      }
      default:
        throw new UsageError('memory needs an action: store, extract or search', ctx.command);
    }
  },
};
