// Large extractions off the hub's event loop: the extraction worker gives the same drafts as extracting in-process,
// the engine stores them in batches with every parent link intact, and a refused text fails with the hub's code.
// Real encoder, real worker thread (from sources), real SQLite and FAISS.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OnnxSentenceEncoder, ensureDefaultEncoder } from '../../src/main/embedding';
import { extractMemories } from '../../src/main/extract';
import { EXTRACT_IN_WORKER_FROM, EXTRACT_NICENESS, ExtractRunner, WORKER_EMBED_CALL_SIZE } from '../../src/main/memory/extract-runner';
import { MemoryEngine } from '../../src/main/memory/engine';
import { storeDraftsInBatches } from '../../src/main/memory/store-drafts';
import { MemoryStore } from '../../src/main/memory/store';
import { ServiceRegistry } from '../../src/main/monitor/service-registry';
import { HubError } from '../../src/main/errors';
import { LABELLED_DIR, readLabels } from '../extract/labelled-set';

let encoder: OnnxSentenceEncoder;
const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'devenviro-extract-offthread-'));
  dirs.push(dir);
  return dir;
};

/** A large realistic document: the labelled documents, one after another, until it passes the worker threshold. */
function largeDocument(): string {
  const labels = readLabels();
  const documents = [...labels.split.tuning, ...labels.split.report].map((name) => readFileSync(path.join(LABELLED_DIR, name), 'utf8'));
  const parts: string[] = [];
  for (let round = 0; parts.join('\n\n').length < EXTRACT_IN_WORKER_FROM * 1.5; round++) {
    for (const [i, text] of documents.entries()) parts.push(`# Part ${round}.${i}\n\n${text.replace(/^#+ /gm, '## ')}`);
  }
  return parts.join('\n\n');
}

beforeAll(async () => {
  encoder = await OnnxSentenceEncoder.load(await ensureDefaultEncoder(path.resolve('resources')));
});

afterAll(async () => {
  await encoder?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('extraction off the event loop', () => {
  it('gives the same drafts and vectors in the worker as in-process', async () => {
    const text = largeDocument();
    expect(text.length).toBeGreaterThanOrEqual(EXTRACT_IN_WORKER_FROM);
    const runner = new ExtractRunner();
    let embedCalls = 0;
    try {
      const embed = (texts: string[]) => {
        embedCalls++;
        return encoder.embed(texts);
      };
      const inWorker = await runner.extract(text, { embed, source: 'big.md', project: 'p' });
      if (process.platform === 'linux') {
        // The worker's thread, and only it, runs at the extraction's niceness: the hub's other threads keep theirs.
        const nice = readdirSync('/proc/self/task').map((task) => {
          const stat = readFileSync(`/proc/self/task/${task}/stat`, 'utf8');
          return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
        });
        expect(nice.filter((value) => value === EXTRACT_NICENESS)).toHaveLength(1);
        expect(os.getPriority()).toBe(0);
      }
      const callsInWorker = embedCalls;
      // The same embed calls (the encoder's batches, and so its padding, follow them), so the same vectors.
      const inProcess = await extractMemories(text, { embed: (texts) => encoder.embed(texts), source: 'big.md', project: 'p', embedCallSize: WORKER_EMBED_CALL_SIZE });
      expect(callsInWorker).toBeGreaterThan(0);
      expect(inWorker.drafts.map((d) => [d.key, d.kind, d.text])).toEqual(inProcess.drafts.map((d) => [d.key, d.kind, d.text]));
      expect([...inWorker.vectors.keys()].sort()).toEqual([...inProcess.vectors.keys()].sort());
      const key = inProcess.drafts[0]!.key;
      expect(Array.from(inWorker.vectors.get(key)!)).toEqual(Array.from(inProcess.vectors.get(key)!));
      expect(inWorker.stats.drafts).toBe(inProcess.stats.drafts);
    } finally {
      await runner.close();
    }
  }, 120_000);

  it('stores the drafts in batches with every parent linked to its stored parent', async () => {
    const store = await MemoryStore.open({ dataDir: tempDir(), encoder, halfLifeDays: 30, dedupeSimilarity: 0.95 });
    try {
      const text = readFileSync(path.join(LABELLED_DIR, 'issue-native-addon.md'), 'utf8');
      const { drafts, vectors } = await extractMemories(text, { embed: (texts) => encoder.embed(texts), source: 'issue.md' });
      const batches: number[] = [];
      const stored = await storeDraftsInBatches(
        drafts,
        (inputs) => {
          batches.push(inputs.length);
          return store.store(inputs, { project: 'p', agent: null });
        },
        { source: { type: 'file', ref: 'issue.md' }, shared: false, vectors, batchSize: 8 },
      );
      expect(batches.length).toBe(Math.ceil(drafts.length / 8));
      expect(batches.every((n) => n <= 8)).toBe(true);
      expect(stored).toHaveLength(drafts.length);
      // Each created memory points at the memory its parent draft became (a draft folded into an existing memory,
      // such as a section whose text repeats the document's title, keeps that memory's own parent).
      const memoryOf = new Map(drafts.map((draft, i) => [draft.key, stored[i]!.memory.id]));
      const created = drafts.filter((_, i) => stored[i]!.outcome === 'created');
      expect(created.length).toBeGreaterThan(drafts.length / 2);
      for (const draft of created) {
        const memory = stored[drafts.indexOf(draft)]!.memory;
        expect(memory.parentId).toBe(draft.parentKey === null ? null : memoryOf.get(draft.parentKey));
      }
    } finally {
      await store.close();
    }
  }, 120_000);

  it('the engine extracts a large document through the worker and refuses a too-long line with the hub\'s code', async () => {
    const engine = new MemoryEngine({ dataDir: tempDir(), encoder: async () => encoder, halfLifeDays: 30, dedupeSimilarity: 0.95, services: new ServiceRegistry() });
    try {
      const report = await engine.extract({ text: largeDocument(), shared: false, source: { type: 'file', ref: 'big.md' } }, { project: 'p', agent: null });
      expect(report.stats.memories).toBe(report.stored.length);
      expect(report.stored.filter((s) => s.memory.kind === 'decision').length).toBeGreaterThan(10);
      const documents = report.stored.filter((s) => s.memory.kind === 'document');
      expect(documents).toHaveLength(1);
      const refused = await engine.extract({ text: `a\n${'b'.repeat(100_001)}`, shared: false }, { project: 'p', agent: null }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(HubError);
      expect(refused).toMatchObject({ code: 'invalid_request', status: 400 });
    } finally {
      await engine.close();
    }
  }, 180_000);
});
