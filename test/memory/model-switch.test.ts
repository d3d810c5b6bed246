/** Switching the embedding model, and memory over the agent socket. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureDefaultEncoder, OnnxSentenceEncoder, USE_LITE_VARIANTS, type SentenceEncoder } from '../../src/main/embedding';
import { MemoryStore } from '../../src/main/memory/store';
import { resourcesDir } from '../embedding/helpers';
import { writeTinySentenceTransformer } from '../embedding/st-fixture';
import { tempDir } from '../helpers';
import { openSocket, startHub, until } from '../hub/harness';

const TEXTS = [
  'the cat sat on the mat',
  'the dog ran in the park',
  'a big red dog',
  'small blue cats jump',
  'hello world',
  'the agent code test was fast',
];

describe('switching the embedding model', () => {
  it('re-embeds every memory in the background with progress, searching on the old model until the new one is complete', async () => {
    const hub = await startHub();
    const modelDir = writeTinySentenceTransformer(path.join(tempDir(), 'tiny-st'));
    const { token } = await hub.register('a', { project: 'zoo' });
    // Enough memories that the switch takes several batches.
    const memories = Array.from({ length: 1200 }, (_, i) => ({ text: `${TEXTS[i % TEXTS.length]} number ${i}`, kind: 'note' }));
    expect((await hub.api('/memory/store', { token, body: { memories } })).status).toBe(201);

    const before = await hub.api('/memory/model', { token });
    expect(before.body).toMatchObject({ active: { id: 'use-lite-512-int8', dir: null }, switching: null });
    expect((await hub.api('/memory/model', { method: 'PUT', token, body: { dir: modelDir } })).status).toBe(403);

    const started = await hub.api('/memory/model', { method: 'PUT', token: hub.app.cockpitToken, body: { dir: modelDir } });
    expect(started.status).toBe(202);
    expect(started.body.switching.to.id).toMatch(/^st:tiny-st:[0-9a-f]{12}$/);
    const newId = started.body.switching.to.id;

    // While it runs, search answers from the old model, and new memories are still accepted (and re-embedded too).
    expect(hub.app.hub().memory.model().switching).not.toBeNull();
    const during = await hub.api('/memory/search?q=dog%20in%20the%20park', { token });
    expect(during.body.model).toBe('use-lite-512-int8');
    expect(during.body.hits.length).toBeGreaterThan(0);
    expect((await hub.api('/memory/store', { token, body: { text: 'the cats ran to the dog', kind: 'note' } })).status).toBe(201);

    const progress: number[] = [];
    await until(() => {
      const service = hub.app.services.get('memory');
      if (service?.progress !== undefined) progress.push(service.progress);
      return hub.app.hub().memory.model().switching === null;
    }, 60_000, 'the model switch');
    const after = await hub.api('/memory/model', { token });
    expect(after.body).toMatchObject({ active: { id: newId, dir: modelDir }, switching: null, lastError: null });
    expect(progress.length).toBeGreaterThan(0);

    const stats = await hub.api('/memory/stats', { token });
    expect(stats.body.index).toMatchObject({ model: newId, size: 1201, dimension: 8 });
    const search = await hub.api('/memory/search?q=the%20cats%20ran%20to%20the%20dog', { token });
    expect(search.body.model).toBe(newId);
    expect(search.body.hits[0].memory.text).toBe('the cats ran to the dog');

    // The choice survives a restart: the hub loads the new model, not the built-in one.
    await hub.restart();
    expect((await hub.api('/memory/model', { token })).body.active.id).toBe(newId);
    expect((await hub.api('/memory/search?q=hello%20world', { token })).body.model).toBe(newId);
  }, 120_000);

  it('moves memories indexed with the fp32 encoder (the earlier default) to the int8 one, searching all along', async () => {
    // Data as an earlier version left it: memories embedded with the fp32 USE-lite, no memory-model.json.
    const dataDir = tempDir();
    const fp32 = await OnnxSentenceEncoder.load(await ensureDefaultEncoder(resourcesDir, undefined, 'fp32'));
    const old = await MemoryStore.open({ dataDir, encoder: fp32, halfLifeDays: 30, dedupeSimilarity: 0.95 });
    const memories = Array.from({ length: 300 }, (_, i) => ({ text: `${TEXTS[i % TEXTS.length]} number ${i}`, kind: 'note' as const, tags: [], metadata: {}, shared: false }));
    memories.push({ text: 'The nightly backup of the billing database runs at 02:00 UTC', kind: 'note', tags: [], metadata: {}, shared: false });
    await old.store(memories, { project: 'zoo', agent: null });
    await old.close();
    await fp32.close();
    expect(MemoryStore.indexedModel(dataDir)).toBe(USE_LITE_VARIANTS.fp32.id);
    expect(existsSync(path.join(dataDir, 'memory-model.json'))).toBe(false);

    const hub = await startHub({ dataDir });
    const { token } = await hub.register('a', { project: 'zoo' });
    // Opened with the model the memories are indexed with: search finds them at once, whatever the switch's progress.
    const first = await hub.api('/memory/search?q=when%20does%20the%20billing%20backup%20run', { token });
    expect([USE_LITE_VARIANTS.fp32.id, USE_LITE_VARIANTS.int8.id]).toContain(first.body.model);
    expect(first.body.hits[0].memory.text).toBe('The nightly backup of the billing database runs at 02:00 UTC');

    await until(() => hub.app.hub().memory.model().switching === null && hub.app.hub().memory.model().active.id === USE_LITE_VARIANTS.int8.id, 60_000, 'the switch to the int8 encoder');
    const after = await hub.api('/memory/model', { token });
    expect(after.body).toMatchObject({ active: { id: USE_LITE_VARIANTS.int8.id, dir: null }, switching: null, lastError: null });
    const stats = await hub.api('/memory/stats', { token });
    expect(stats.body.index).toMatchObject({ model: USE_LITE_VARIANTS.int8.id, size: 301, dimension: 512 });
    const search = await hub.api('/memory/search?q=when%20does%20the%20billing%20backup%20run', { token });
    expect(search.body.model).toBe(USE_LITE_VARIANTS.int8.id);
    expect(search.body.hits[0].memory.text).toBe('The nightly backup of the billing database runs at 02:00 UTC');
    expect(JSON.parse(readFileSync(path.join(dataDir, 'memory-model.json'), 'utf8'))).toEqual({ id: USE_LITE_VARIANTS.int8.id, dir: null });

    // After a restart the int8 encoder loads directly: nothing is re-embedded again.
    await hub.restart();
    expect((await hub.api('/memory/model', { token })).body).toMatchObject({ active: { id: USE_LITE_VARIANTS.int8.id, dir: null }, switching: null });
    expect(MemoryStore.indexedModel(dataDir)).toBe(USE_LITE_VARIANTS.int8.id);
  }, 120_000);

  it('re-embeds as bulk work, so on 2 cores it keeps to one inference worker and leaves a core for stores and searches', async () => {
    const dataDir = tempDir();
    const int8 = await OnnxSentenceEncoder.load(await ensureDefaultEncoder(resourcesDir), { threads: 2 });
    const fp32 = await OnnxSentenceEncoder.load(await ensureDefaultEncoder(resourcesDir, undefined, 'fp32'), { threads: 2 });
    // The real fp32 encoder, with each call's options written down on the way through.
    const calls: Array<{ texts: number; bulk: boolean }> = [];
    const watched: SentenceEncoder = {
      id: fp32.id,
      dimension: fp32.dimension,
      embed: (texts, options) => (calls.push({ texts: texts.length, bulk: options?.bulk === true }), fp32.embed(texts, options)),
      close: () => fp32.close(),
    };
    const store = await MemoryStore.open({ dataDir, encoder: int8, halfLifeDays: 30, dedupeSimilarity: 0.95 });
    try {
      const memories = Array.from({ length: 150 }, (_, i) => ({ text: `${TEXTS[i % TEXTS.length]} number ${i}`, kind: 'note' as const, tags: [], metadata: {}, shared: false }));
      await store.store(memories, { project: 'zoo', agent: null });
      const switching = store.switchModel(watched);
      // Stores go on during the switch (embedded with the current model, then re-embedded by the switch).
      await store.store([{ text: 'The nightly backup of the billing database runs at 02:00 UTC', kind: 'note', tags: [], metadata: {}, shared: false }], { project: 'zoo', agent: null });
      await switching;
      expect(calls.reduce((sum, call) => sum + call.texts, 0)).toBe(151);
      expect(calls.every((call) => call.bulk)).toBe(true);
      expect(MemoryStore.indexedModel(dataDir)).toBe(fp32.id);
    } finally {
      await store.close();
      await int8.close();
      await fp32.close();
    }
  }, 120_000);

  it('refuses a folder that holds no model, and keeps the current one', async () => {
    const hub = await startHub();
    const empty = tempDir();
    const result = await hub.api('/memory/model', { method: 'PUT', token: hub.app.cockpitToken, body: { dir: empty } });
    expect(result.status).toBe(400);
    expect(result.body.error).toMatch(/tokenizer\.json|manifest\.json/);
    expect((await hub.api('/memory/model', { token: hub.app.cockpitToken })).body.active.id).toBe('use-lite-512-int8');
  });
});

describe('memory over the agent socket', () => {
  it('stores, searches and extracts with the same frames and refs', async () => {
    const hub = await startHub();
    const a = await hub.register('a', { project: 'shop' });
    const socket = await openSocket(hub.url, a.agent.id, a.token);
    socket.send({ type: 'memory.store', ref: 's1', memories: [{ text: 'The checkout uses Stripe Elements', kind: 'decision' }] });
    const stored = await socket.next((f) => f.type === 'result' && f.ref === 's1');
    expect(stored).toMatchObject({ type: 'result', result: [{ outcome: 'created', memory: { project: 'shop', agent: a.agent.id } }] });

    socket.send({ type: 'memory.search', ref: 'q1', query: { q: 'which payment library does checkout use', k: 3 } });
    const found = await socket.next((f) => f.type === 'result' && f.ref === 'q1');
    expect(found.type === 'result' && (found.result as { hits: Array<{ memory: { text: string } }> }).hits[0]!.memory.text).toBe('The checkout uses Stripe Elements');

    socket.send({ type: 'memory.extract', ref: 'x1', request: { text: '# Notes\n\nWe decided to ship on Friday.\n\nTODO: update the changelog.' } });
    const extracted = await socket.next((f) => f.type === 'result' && f.ref === 'x1', 20_000);
    const kinds = (extracted as { result: { stored: Array<{ memory: { kind: string } }> } }).result.stored.map((s) => s.memory.kind);
    expect(kinds).toEqual(expect.arrayContaining(['document', 'decision', 'task']));

    socket.send({ type: 'memory.search', ref: 'bad', query: { q: '' } });
    expect(await socket.next((f) => f.type === 'error' && f.ref === 'bad')).toMatchObject({ code: 'invalid_frame' });
    socket.ws.close();
  });

  it('extracts a transcript over HTTP into a hierarchy of memories', async () => {
    const hub = await startHub();
    const { token } = await hub.register('scribe', { project: 'shop' });
    const transcript = [
      'User: the deploy failed again, can you look?',
      'Assistant: The build step failed:',
      '```',
      'Error: Cannot find module \'./config\'',
      '    at Function.Module._resolveFilename (node:internal/modules/cjs/loader:1145:15)',
      '    at Object.<anonymous> (/app/src/server.js:3:16)',
      '```',
      'Assistant: We decided to pin Node 20 in the Dockerfile. I changed src/server.js:3 to import ./config.js.',
      'User: great. TODO: add a smoke test for the container.',
    ].join('\n');
    const result = await hub.api('/memory/extract', { token, body: { text: transcript, title: 'deploy incident', source: { type: 'conversation', ref: 'chat-7' } } });
    expect(result.status).toBe(201);
    const stored = result.body.stored as Array<{ memory: { id: string; kind: string; parentId: string | null; text: string; source: unknown } }>;
    const doc = stored.find((s) => s.memory.kind === 'document')!;
    expect(doc.memory.parentId).toBeNull();
    expect(doc.memory.source).toEqual({ type: 'conversation', ref: 'chat-7' });
    const kinds = new Set(stored.map((s) => s.memory.kind));
    for (const kind of ['document', 'chunk', 'error', 'decision', 'task']) expect(kinds).toContain(kind);
    expect(stored.filter((s) => s.memory.kind !== 'document').every((s) => s.memory.parentId !== null)).toBe(true);
    expect(result.body.stats).toMatchObject({ memories: stored.length });
    const search = await hub.api('/memory/search?q=cannot%20find%20module%20config&kind=error', { token });
    expect(search.body.hits[0].memory.text).toContain("Cannot find module './config'");
  });
});
