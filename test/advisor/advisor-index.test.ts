/**
 * The advisor and the memory search index, on a real hub with a real encoder and FAISS: a flat index grown past its
 * threshold (with automatic builds off, as config memory.index allows) is named and built as IVF from the advice,
 * and deleted memories past the tombstone share are compacted; both with before/after figures.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { AdviceReport } from '../../src/shared/advice-protocol';
import { MemoryInput, MemorySearchQuery } from '../../src/shared/memory-protocol';
import { startHub } from '../hub/harness';

const notes = (JSON.parse(readFileSync(new URL('../memory/fixtures/retrieval-quality.json', import.meta.url), 'utf8')) as { notes: Array<{ kind: string; text: string }> }).notes;
const more = (JSON.parse(readFileSync(new URL('../memory/fixtures/retrieval.json', import.meta.url), 'utf8')) as { memories: Array<{ kind: string; text: string }> }).memories;

describe('advisor: the memory search index', () => {
  it('names a flat index past its threshold, builds it as IVF from the advice, then compacts deleted memories', async () => {
    const hub = await startHub({
      configure: (config) => {
        config.memory.index = { ivfThreshold: 100, autoBuild: false };
        Object.assign(config.advisor, { flatIndexVectors: 100, tombstoneShare: 0.2, diskFreeBytes: 0, heapShare: 1, gcShare: 1, stallMs: 60_000 });
      },
    });
    const texts = [...notes, ...more].map(({ kind, text }) => MemoryInput.parse({ kind, text }));
    const stored = await hub.app.handlers['memory.store']({ memories: texts });
    const created = stored.filter((s) => s.outcome === 'created');
    expect(created.length).toBeGreaterThan(120);
    // A few searches, so the advice has a latency to show.
    for (const q of ['postgres ledger', 'deploy on friday', 'cache invalidation']) await hub.app.handlers['memory.search'](MemorySearchQuery.parse({ q, k: 5 }));

    const list = async (): Promise<AdviceReport> => hub.app.handlers['advice.list']({});
    const flat = (await list()).advice.find((a) => a.id === 'search-latency.flat')!;
    expect(flat.title).toMatch(new RegExp(`every search scans all ${created.length} vectors \\(flat index\\)$`));
    expect(flat.fix).toMatchObject({ kind: 'retrain-index', safe: false });
    expect(flat.suggestion).toMatch(/^build the IVF index \(est\. [\d.]+ m?s/);
    expect(flat.evidence.map((e) => e.label)).toEqual(expect.arrayContaining(['search p99 (last 5 min)', 'vectors in the index']));

    const built = await hub.app.handlers['advice.fix']({ id: 'search-latency.flat' });
    expect(built.ok, built.error ?? '').toBe(true);
    expect(built.figures.find((f) => f.label === 'IVF (1) or flat (0)')).toMatchObject({ before: 0, after: 1 });
    expect(built.figures[0]!.unit).toBe('ms');
    const store = await hub.app.hub().memory.store();
    expect(store.indexStats()).toMatchObject({ kind: 'ivf', size: created.length, trainedOn: created.length });
    expect((await list()).advice.find((a) => a.rule === 'search-latency')).toBeUndefined();

    // The same notes in a second project (dedupe is per project) grow the index to twice what it was trained on,
    // and search counts as slow from 1 µs (advisor.searchP99Ms), so retraining is advised.
    hub.app.config.advisor.searchP99Ms = 0.001;
    const again = await hub.app.handlers['memory.store']({ memories: texts.map((t) => ({ ...t, project: 'other' })) });
    const live = created.length + again.filter((s) => s.outcome === 'created').length;
    await hub.app.handlers['memory.search'](MemorySearchQuery.parse({ q: 'postgres ledger', k: 5 }));
    const grown = (await list()).advice.find((a) => a.id === 'search-latency.ivf')!;
    expect(grown.title).toMatch(new RegExp(`^search p99 [\\d.]+ m?s since the index reached ${live} vectors \\(trained on ${created.length}\\)$`));
    const retrained = await hub.app.handlers['advice.fix']({ id: 'search-latency.ivf' });
    expect(retrained.ok, retrained.error ?? '').toBe(true);
    expect(store.indexStats()).toMatchObject({ kind: 'ivf', size: live, trainedOn: live });
    expect((await list()).advice.find((a) => a.id === 'search-latency.ivf')).toBeUndefined();
    hub.app.config.advisor.searchP99Ms = 25;

    // Deleting memories leaves tombstones in the index until it is rebuilt.
    const doomed = created.slice(0, 130);
    for (const s of doomed) await hub.app.handlers['memory.delete']({ id: s.memory.id });
    const compaction = (await list()).advice.find((a) => a.id === 'index-compaction')!;
    expect(compaction.title).toMatch(new RegExp(`^\\d+% of the vector index is deleted or replaced memories \\(${doomed.length}\\)$`));
    const compacted = await hub.app.handlers['advice.fix']({ id: 'index-compaction' });
    expect(compacted.ok, compacted.error ?? '').toBe(true);
    expect(compacted.figures.find((f) => f.label === 'tombstones')).toMatchObject({ before: doomed.length, after: 0 });
    expect((await list()).advice.find((a) => a.id === 'index-compaction')).toBeUndefined();
  });
});
