// A search's query does not wait behind bulk embedding (an extraction's calls): an urgent call of a few texts goes to
// the inference worker that is free instead of queueing after the calls before it. Real encoder, real workers.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDefaultEncoder, OnnxSentenceEncoder } from '../../src/main/embedding';

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
});
