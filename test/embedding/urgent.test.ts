// A search's query does not wait behind bulk embedding (an extraction's calls): an urgent call of a few texts skips
// the encoder's queue, and in the inference worker the batches queued there. Real encoder, real workers.
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDefaultEncoder, OnnxSentenceEncoder } from '../../src/main/embedding';
import { cpuSessionOptions } from '../../src/main/embedding/encoder';
import { workerPool } from '../../src/main/embedding/inference-worker';

let encoder: OnnxSentenceEncoder;

beforeAll(async () => {
  encoder = await OnnxSentenceEncoder.load(await ensureDefaultEncoder(path.resolve('resources')), { threads: 2 });
});

afterAll(async () => {
  await encoder?.close();
});

/** A bulk call of one batch (8 texts) of long texts, as an extraction makes them. */
const bulk = () =>
  Array.from({ length: 8 }, (_, i) =>
    Array.from({ length: 120 }, (_, w) => ['deploy', 'migration', 'worker', 'latency', 'queue', 'rollback', 'schema', 'cache'][(i + w) % 8]).join(' '),
  );

async function order(urgent: boolean): Promise<string[]> {
  const settled: string[] = [];
  const first = encoder.embed(bulk()).then(() => settled.push('bulk'));
  const second = encoder.embed(bulk()).then(() => settled.push('bulk'));
  const query = encoder.embed(['why was the release rolled back?'], { urgent }).then(() => settled.push('query'));
  await Promise.all([first, second, query]);
  return settled;
}

describe('urgent embedding', () => {
  it('runs a query beside queued bulk calls, not after them', async () => {
    await encoder.embed(['warm up']);
    expect(await order(false)).toEqual(['bulk', 'bulk', 'query']);
    expect((await order(true)).indexOf('query')).toBeLessThan(2);
  });

  it('gives the same vector as a queued call', async () => {
    const [queued] = await encoder.embed(['who owns the billing database?']);
    const [urgent] = await encoder.embed(['who owns the billing database?'], { urgent: true });
    for (let i = 0; i < queued!.length; i++) expect(urgent![i]).toBeCloseTo(queued![i]!, 5);
  });

  it('runs an urgent batch before the bulk batches queued in its worker', async () => {
    const pool = workerPool(path.resolve('resources/models/use-lite-int8/model.onnx'), cpuSessionOptions(2), 2);
    try {
      const feeds = (rows: number, tokens: number) => {
        const ids = BigInt64Array.from({ length: rows * tokens }, (_, i) => BigInt(100 + ((i * 37) % 5000)));
        const mask = new BigInt64Array(rows * tokens).fill(1n);
        return { input_ids: new ort.Tensor('int64', ids, [rows, tokens]), attention_mask: new ort.Tensor('int64', mask, [rows, tokens]) };
      };
      await Promise.all([pool.run(feeds(1, 4)), pool.run(feeds(1, 4)), pool.run(feeds(1, 4), undefined, { urgent: true })]);
      const settled: string[] = [];
      // Twelve bulk batches of 8 long texts: six queued on each of the two workers…
      const bulk = Array.from({ length: 12 }, () => pool.run(feeds(8, 128)).then(() => settled.push('bulk')));
      // …then a query: in a worker's queue it came after the six there; now it waits for the batch under way only.
      const query = pool.run(feeds(1, 12), undefined, { urgent: true }).then(() => settled.push('query'));
      await Promise.all([...bulk, query]);
      expect(settled).toHaveLength(13);
      expect(settled.indexOf('query')).toBeLessThan(6);
    } finally {
      await pool.release();
    }
  });
});

