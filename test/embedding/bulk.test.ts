// Bulk embedding (a large extraction's texts) keeps off one inference worker, so a store's texts and a search's query
// find a worker (and, on 2 cores, a core) free of its backlog. Real model, real worker threads.
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDefaultEncoder, OnnxSentenceEncoder } from '../../src/main/embedding';
import { cpuSessionOptions } from '../../src/main/embedding/encoder';
import { bulkWorkersFor, workerPool } from '../../src/main/embedding/inference-worker';

const modelPath = path.resolve('resources/models/use-lite-int8/model.onnx');

/** Feeds of `rows` texts of `tokens` tokens each. */
function feeds(rows: number, tokens: number): Record<string, ort.Tensor> {
  const ids = BigInt64Array.from({ length: rows * tokens }, (_, i) => BigInt(100 + ((i * 37) % 5000)));
  const mask = new BigInt64Array(rows * tokens).fill(1n);
  return { input_ids: new ort.Tensor('int64', ids, [rows, tokens]), attention_mask: new ort.Tensor('int64', mask, [rows, tokens]) };
}

/** Queues 24 bulk batches, then one interactive batch; returns how many bulk batches had finished before it did. */
async function bulkDoneBeforeInteractive(bulkWorkers: number): Promise<number> {
  const pool = workerPool(modelPath, cpuSessionOptions(2), 2, bulkWorkers);
  try {
    await Promise.all([pool.run(feeds(1, 4)), pool.run(feeds(1, 4))]);
    let bulkDone = 0;
    const bulk = Array.from({ length: 24 }, () => pool.run(feeds(8, 96), undefined, { bulk: true }).then(() => bulkDone++));
    const interactive = pool.run(feeds(4, 24)).then(() => bulkDone);
    const [before] = await Promise.all([interactive, ...bulk]);
    expect(bulkDone).toBe(24);
    return before;
  } finally {
    await pool.release();
  }
}

describe('bulk embedding', () => {
  it('keeps one worker free of bulk batches on 2 cores, and uses every worker where cores are to spare', () => {
    expect(bulkWorkersFor(2, 2)).toBe(1);
    expect(bulkWorkersFor(2, 1)).toBe(1);
    expect(bulkWorkersFor(2, 4)).toBe(2);
    expect(bulkWorkersFor(4, 3)).toBe(2);
    expect(bulkWorkersFor(1, 8)).toBe(1);
  });

  it('runs an interactive batch on a worker without the bulk backlog', async () => {
    // Bulk on one worker of two: the interactive batch goes to the other, idle, one and does not wait for the 24.
    expect(await bulkDoneBeforeInteractive(1)).toBeLessThan(12);
    // Bulk on both workers (as before): 12 were queued on each, and the interactive batch waited for one worker's 12.
    expect(await bulkDoneBeforeInteractive(2)).toBeGreaterThanOrEqual(12);
  });

  describe('through the encoder', () => {
    let encoder: OnnxSentenceEncoder;

    beforeAll(async () => {
      encoder = await OnnxSentenceEncoder.load(await ensureDefaultEncoder(path.resolve('resources')), { threads: 2 });
    });

    afterAll(async () => {
      await encoder?.close();
    });

    const sentences = (n: number) =>
      Array.from({ length: n }, (_, i) =>
        Array.from({ length: 60 }, (_, w) => ['deploy', 'migration', 'worker', 'latency', 'queue', 'rollback', 'schema', 'cache'][(i + w) % 8]).join(' '),
      );

    it('does not queue a store behind a bulk call, and gives the same vectors either way', async () => {
      await encoder.embed(['warm up']);
      const settled: string[] = [];
      const bulk = encoder.embed(sentences(96), { bulk: true }).then((vectors) => (settled.push('bulk'), vectors));
      const store = encoder.embed(['The billing database moved to the eu-west cluster.']).then(() => settled.push('store'));
      const [bulkVectors] = await Promise.all([bulk, store]);
      expect(settled).toEqual(['store', 'bulk']);
      const again = await encoder.embed(sentences(96));
      expect(bulkVectors).toHaveLength(96);
      // Same batches (same texts, same length order), so the same vectors whichever worker ran them.
      let maxDiff = 0;
      bulkVectors.forEach((vector, i) => vector.forEach((value, d) => (maxDiff = Math.max(maxDiff, Math.abs(value - again[i]![d]!)))));
      expect(maxDiff).toBeLessThan(1e-5);
      expect(encoder.queueDepth()).toBe(0);
    });
  });
});
