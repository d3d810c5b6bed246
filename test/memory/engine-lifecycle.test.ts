// The memory engine's store pipeline and model lifecycle, against the real encoder, SQLite and FAISS.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureDefaultEncoder, OnnxSentenceEncoder, USE_LITE_VARIANTS, type SentenceEncoder } from '../../src/main/embedding';
import { HubError } from '../../src/main/errors';
import { MemorySearchQuery } from '../../src/shared/memory-protocol';
import { MemoryEngine } from '../../src/main/memory/engine';
import { MemoryStore, type ParsedMemoryInput } from '../../src/main/memory/store';
import { ServiceRegistry } from '../../src/main/monitor/service-registry';
import { resourcesDir } from '../embedding/helpers';
import { tempDir } from '../helpers';
import { until } from '../hub/harness';

const note = (text: string, vector?: Float32Array): ParsedMemoryInput & { vector?: Float32Array } => ({
  text,
  kind: 'note',
  tags: [],
  metadata: {},
  shared: false,
  ...(vector ? { vector } : {}),
});
const context = { project: 'zoo', agent: null };

describe('the memory store pipeline', () => {
  it('answers a group whose commit fails, and still stores the group queued behind it', async () => {
    const encoder = await OnnxSentenceEncoder.load(await ensureDefaultEncoder(resourcesDir));
    const service = await MemoryStore.open({ dataDir: tempDir(), encoder, halfLifeDays: 30, dedupeSimilarity: 0.95 });
    try {
      // A vector of the wrong dimension makes the group's FAISS lookup throw; the store after it is taken from the
      // queue (and embedding) before that commit runs.
      const broken = service.store([note('a broken vector', new Float32Array(3))], context);
      const after = service.store([note('the deploy runs on Fridays')], context);
      const failure = await broken.catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(HubError);
      expect(failure).toMatchObject({ status: 503, code: 'storage_failed' });
      expect(await after).toMatchObject([{ outcome: 'created', memory: { text: 'the deploy runs on Fridays' } }]);
      expect(await service.store([note('the build uses Node 20')], context)).toMatchObject([{ outcome: 'created' }]);
      expect(service.stats().total).toBe(2);
    } finally {
      await service.close();
      await encoder.close();
    }
  }, 60_000);
});

describe('the memory engine', () => {
  it('records the model at the first start, and closes an earlier encoder once the memories moved off it', async () => {
    const dataDir = tempDir();
    const fp32Dir = await ensureDefaultEncoder(resourcesDir, undefined, 'fp32');
    // Memories as an earlier version left them: embedded with the fp32 encoder, no recorded choice.
    const seed = await OnnxSentenceEncoder.load(fp32Dir);
    const old = await MemoryStore.open({ dataDir, encoder: seed, halfLifeDays: 30, dedupeSimilarity: 0.95 });
    await old.store([note('the nightly backup runs at 02:00 UTC'), note('the staging database is Postgres 16')], context);
    await old.close();
    await seed.close();

    const int8 = await OnnxSentenceEncoder.load(await ensureDefaultEncoder(resourcesDir));
    let fp32: SentenceEncoder | undefined;
    const services = new ServiceRegistry();
    const engine = new MemoryEngine({
      dataDir,
      encoder: async () => int8,
      earlierEncoders: { [USE_LITE_VARIANTS.fp32.id]: async () => (fp32 = await OnnxSentenceEncoder.load(fp32Dir)) },
      halfLifeDays: 30,
      dedupeSimilarity: 0.95,
      services,
    });
    try {
      const service = await engine.store();
      expect(service.model).toBe(USE_LITE_VARIANTS.fp32.id);
      // Recorded at once, so the next start needs no look at the data.
      const choiceFile = path.join(dataDir, 'memory-model.json');
      expect(existsSync(choiceFile)).toBe(true);
      await until(() => engine.model().switching === null && engine.model().active.id === USE_LITE_VARIANTS.int8.id, 60_000, 'the switch to int8');
      expect(JSON.parse(readFileSync(choiceFile, 'utf8'))).toEqual({ id: USE_LITE_VARIANTS.int8.id, dir: null });
      // The fp32 encoder, loaded by the engine, is closed; the built-in one stays with its owner.
      await expect.poll(() => fp32!.embed(['x']).then(() => 'open', () => 'closed'), { timeout: 10_000 }).toBe('closed');
      expect((await int8.embed(['x']))[0]).toHaveLength(512);
      const found = await service.search(MemorySearchQuery.parse({ q: 'when does the backup run', k: 1 }), context);
      expect(found.hits[0]?.memory.text).toBe('the nightly backup runs at 02:00 UTC');
    } finally {
      await engine.close();
      await int8.close();
    }
  }, 120_000);
});
