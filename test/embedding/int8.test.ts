// The default encoder (USE-lite with int8 transformer weights) against the exact fp32 conversion: the same vectors
// up to quantisation noise on many realistic sentences, the same neighbours on the labelled retrieval set, and a
// text's vector barely moves with the batch it is embedded in (activations are quantised per batch).
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NoteGenerator, makeQueries } from '../../bench/memory/notes';
import { OnnxSentenceEncoder, USE_LITE_VARIANTS } from '../../src/main/embedding';
import { defaultModelDir, dot } from './helpers';

const retrieval = JSON.parse(readFileSync(new URL('../memory/fixtures/retrieval.json', import.meta.url), 'utf8')) as {
  memories: Array<{ key: string; text: string }>;
  queries: Array<{ q: string; expect: string }>;
};

/** Developer notes and questions as the memory benchmark makes them, plus the labelled set and a few edge cases. */
const TEXTS = [
  ...new NoteGenerator(42).take(1500).map((draft) => draft.text),
  ...makeQueries(300, 99),
  ...retrieval.memories.map((m) => m.text),
  ...retrieval.queries.map((q) => q.q),
  '',
  'x',
  'Ünïcödé àccents, 日本語, emoji 😀 and unknown ☃☃ symbols',
  'Long input that keeps going, '.repeat(40),
];

describe('int8 default encoder vs the fp32 conversion', () => {
  let int8: OnnxSentenceEncoder;
  let fp32: OnnxSentenceEncoder;
  let a: Float32Array[];
  let b: Float32Array[];

  beforeAll(async () => {
    int8 = await OnnxSentenceEncoder.load(await defaultModelDir(), { threads: 2 });
    fp32 = await OnnxSentenceEncoder.load(await defaultModelDir('fp32'), { threads: 2 });
    [a, b] = await Promise.all([int8.embed(TEXTS), fp32.embed(TEXTS)]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([int8?.close(), fp32?.close()]);
  });

  it('is the default encoder, with its own id', () => {
    expect(int8.id).toBe(USE_LITE_VARIANTS.int8.id);
    expect(fp32.id).toBe(USE_LITE_VARIANTS.fp32.id);
    expect(int8.id).not.toBe(fp32.id);
  });

  it('gives nearly the same vector for every text (measured: mean cosine 0.9993, min 0.9977)', () => {
    const cosines = TEXTS.map((_, i) => dot(a[i]!, b[i]!));
    const mean = cosines.reduce((sum, c) => sum + c, 0) / cosines.length;
    console.log(`int8 vs fp32 over ${cosines.length} texts: mean cosine ${mean.toFixed(5)}, min ${Math.min(...cosines).toFixed(5)}`);
    expect(mean).toBeGreaterThan(0.998);
    expect(Math.min(...cosines)).toBeGreaterThan(0.995);
    // Not the same model in disguise: quantisation does change the numbers (the empty text, pooled to zeros, is the
    // one text that comes out identical).
    expect(mean).toBeLessThan(0.99999);
    expect(cosines.filter((c) => c > 0.99999).length).toBeLessThan(10);
  });

  it('keeps pairwise similarities: the score of any two texts moves by little (measured: mean 0.004, max 0.02)', () => {
    let sum = 0;
    let max = 0;
    const pairs = 4000;
    for (let p = 0; p < pairs; p++) {
      const i = (p * 7919) % TEXTS.length;
      const j = (p * 104_729 + 13) % TEXTS.length;
      const diff = Math.abs(dot(a[i]!, a[j]!) - dot(b[i]!, b[j]!));
      sum += diff;
      max = Math.max(max, diff);
    }
    expect(sum / pairs).toBeLessThan(0.01);
    expect(max).toBeLessThan(0.05);
  });

  it('finds the same nearest memory for the labelled questions as fp32 does, wherever fp32 leads by 0.01', async () => {
    const memories = retrieval.memories.map((m) => m.text);
    const scores = async (encoder: OnnxSentenceEncoder) => {
      const [m, q] = [await encoder.embed(memories), await encoder.embed(retrieval.queries.map((x) => x.q))];
      return q.map((query) => m.map((memory) => dot(query, memory)));
    };
    const first = (row: number[]) => row.reduce((best, score, i, all) => (score > all[best]! ? i : best), 0);
    const [fromInt8, fromFp32] = [await scores(int8), await scores(fp32)];
    const same = fromInt8.filter((row, i) => first(row) === first(fromFp32[i]!)).length;
    // Where fp32's first two memories are within 0.01 the int8 noise (~0.004 on a score, and it depends on the texts
    // run in the same batch) may swap them: 2 of the 30 questions are such near-ties.
    const clear = fromFp32.map((row, i) => ({ row, i })).filter(({ row }) => {
      const sorted = [...row].sort((a, b) => b - a);
      return sorted[0]! - sorted[1]! >= 0.01;
    });
    expect(clear.length).toBeGreaterThanOrEqual(25);
    expect(clear.filter(({ row, i }) => first(row) !== first(fromInt8[i]!))).toEqual([]);
    expect(same / fromInt8.length).toBeGreaterThanOrEqual(0.9);
  });

  it("moves a text's vector only slightly with its batch mates (activations are quantised per batch)", async () => {
    const texts = TEXTS.slice(0, 64);
    const together = await int8.embed(texts);
    const alone = await Promise.all(texts.slice(0, 16).map(async (text) => (await int8.embed([text]))[0]!));
    alone.forEach((vector, i) => expect(dot(vector, together[i]!)).toBeGreaterThan(0.998));
    // …and the same batch gives the same vectors every time.
    expect(await int8.embed(texts)).toEqual(together);
  });
});
