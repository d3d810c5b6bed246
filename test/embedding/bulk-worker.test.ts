// An extraction's embedding runs on a niced inference worker, so other agents' searches and stores get the cores
// first: bulk batches go to the pool's last worker (niceness 10 on Linux), interactive runs to the other while the
// bulk one is busy. Real ONNX sessions in real worker threads; which worker ran a run is what each worker reports.
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { cpuSessionOptions } from '../../src/main/embedding/encoder';
import { BULK_INFERENCE_NICENESS, workerPool } from '../../src/main/embedding/inference-worker';

const pool = workerPool(path.resolve('resources/models/use-lite-int8/model.onnx'), cpuSessionOptions(2), 2);

afterAll(async () => {
  await pool.release();
});

const feeds = (rows: number, tokens: number) => {
  const ids = BigInt64Array.from({ length: rows * tokens }, (_, i) => BigInt(100 + ((i * 37) % 5000)));
  const mask = new BigInt64Array(rows * tokens).fill(1n);
  return { input_ids: new ort.Tensor('int64', ids, [rows, tokens]), attention_mask: new ort.Tensor('int64', mask, [rows, tokens]) };
};

describe('bulk inference worker', () => {
  it('runs every bulk batch on the niced worker and an interactive run on the other', async () => {
    await Promise.all(Array.from({ length: 6 }, () => pool.run(feeds(8, 64), undefined, { bulk: true })));
    let [interactive, bulk] = pool.use();
    expect(bulk!.runs).toBe(6);
    expect(interactive!.runs).toBe(0);
    // Its own thread's priority, reported by the worker: lowered on Linux, where a thread's niceness is its own.
    expect(bulk!.niceness).toBe(process.platform === 'linux' ? BULK_INFERENCE_NICENESS : 0);

    // While bulk batches are queued on the niced worker, a store's batch and a search's query go to the other.
    const queued = Array.from({ length: 6 }, () => pool.run(feeds(8, 128), undefined, { bulk: true }));
    await pool.run(feeds(4, 16));
    await pool.run(feeds(1, 8), undefined, { urgent: true });
    await Promise.all(queued);
    [interactive, bulk] = pool.use();
    expect(bulk!.runs).toBe(12);
    expect(interactive!.runs).toBe(2);
    expect(interactive!.niceness).toBe(0);
  });

  it('gives the same output for a batch whichever worker runs it', async () => {
    const [fromBulk] = Object.values(await pool.run(feeds(2, 24), undefined, { bulk: true }));
    const [fromOther] = Object.values(await pool.run(feeds(2, 24)));
    expect(fromBulk!.dims).toEqual(fromOther!.dims);
    expect(Array.from(fromBulk!.data)).toEqual(Array.from(fromOther!.data));
  });
});
