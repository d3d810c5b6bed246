// (c) Paraphrases score clearly higher than unrelated pairs; (d) outputs are unit length and deterministic. For both
// built-in variants: the default (int8) and the exact conversion (fp32).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OnnxSentenceEncoder, USE_LITE_VARIANTS, type SentenceEncoder } from '../../src/main/embedding';
import { defaultModelDir, dot } from './helpers';

const SIMILAR: Array<[string, string]> = [
  ['The cat sat on the mat.', 'A kitten was resting on the rug.'],
  ['How do I reset my password?', 'I forgot my password and need to change it.'],
  ['The stock market fell sharply today.', 'Share prices dropped steeply this afternoon.'],
  ['The build failed because a dependency is missing.', 'Compilation broke since a required package was not installed.'],
  ['She is cooking dinner in the kitchen.', 'A woman is preparing a meal at home.'],
  ['The meeting has been moved to Friday.', 'We rescheduled the meeting for Friday.'],
  ['It is raining heavily outside.', 'There is a downpour out there right now.'],
  ['The server is running out of memory.', 'The machine has almost no RAM left.'],
];

const DISSIMILAR: Array<[string, string]> = [
  ['The cat sat on the mat.', 'The stock market fell sharply today.'],
  ['How do I reset my password?', 'The volcano erupted last night.'],
  ['She is cooking dinner in the kitchen.', 'The build failed because a dependency is missing.'],
  ['The meeting has been moved to Friday.', 'Penguins live in the southern hemisphere.'],
  ['It is raining heavily outside.', 'Please merge the pull request after review.'],
  ['The server is running out of memory.', 'My grandmother knits warm scarves.'],
  ['A kitten was resting on the rug.', 'Interest rates were raised by the central bank.'],
  ['Share prices dropped steeply this afternoon.', 'The guitar needs new strings.'],
];

/** Minimum gap between the weakest paraphrase and the strongest unrelated pair (observed: ~0.42). */
const MARGIN = 0.25;

async function pairScores(encoder: SentenceEncoder, pairs: Array<[string, string]>): Promise<number[]> {
  const vectors = await encoder.embed(pairs.flat());
  return pairs.map((_, i) => dot(vectors[2 * i]!, vectors[2 * i + 1]!));
}

describe.each(['int8', 'fp32'] as const)('built-in sentence encoder quality (%s)', (variant) => {
  let encoder: OnnxSentenceEncoder;
  const modelDir = () => defaultModelDir(variant);

  beforeAll(async () => {
    encoder = await OnnxSentenceEncoder.load(await modelDir(), { threads: 2 });
  });

  afterAll(async () => {
    await encoder?.close();
  });

  it('describes itself', () => {
    expect(encoder.id).toBe(USE_LITE_VARIANTS[variant].id);
    expect(encoder.dimension).toBe(512);
    expect(encoder.maxTokens).toBe(128);
  });

  it('scores every paraphrase pair above every unrelated pair, with a margin', async () => {
    const similar = await pairScores(encoder, SIMILAR);
    const dissimilar = await pairScores(encoder, DISSIMILAR);
    expect(Math.min(...similar)).toBeGreaterThan(0.5);
    expect(Math.max(...dissimilar)).toBeLessThan(0.3);
    expect(Math.min(...similar) - Math.max(...dissimilar)).toBeGreaterThan(MARGIN);
  });

  it('returns unit-length vectors, also for empty, whitespace-only and unknown-only text', async () => {
    const texts = [...SIMILAR.flat(), '', '   ', '☃☃☃', 'word '.repeat(300)];
    const vectors = await encoder.embed(texts);
    expect(vectors).toHaveLength(texts.length);
    for (const v of vectors) {
      expect(v).toHaveLength(512);
      expect(v.every(Number.isFinite)).toBe(true);
      expect(Math.abs(Math.sqrt(dot(v, v)) - 1)).toBeLessThan(1e-5);
    }
  });

  it('is deterministic across calls and across encoder instances', async () => {
    const texts = DISSIMILAR.flat();
    const first = await encoder.embed(texts);
    const second = await encoder.embed(texts);
    const other = await OnnxSentenceEncoder.load(await modelDir(), { threads: 2 });
    try {
      const third = await other.embed(texts);
      expect(second).toEqual(first);
      expect(third).toEqual(first);
    } finally {
      await other.close();
    }
  });

  it('gives the same vectors from two single-threaded inference workers as from one', async () => {
    const texts = Array.from({ length: 120 }, (_, i) => `${SIMILAR.flat()[i % SIMILAR.flat().length]} (note ${i})`);
    const one = await OnnxSentenceEncoder.load(await modelDir(), { threads: 1 });
    try {
      // encoder has two workers: its 8 batches of 16 are split between them; each batch is the same either way.
      expect(await encoder.embed(texts)).toEqual(await one.embed(texts));
    } finally {
      await one.close();
    }
  });

  it('returns copies that later calls do not overwrite', async () => {
    const [a] = await encoder.embed(['first text']);
    const snapshot = Float32Array.from(a!);
    await encoder.embed(['a completely different second text', 'and a third']);
    expect(a).toEqual(snapshot);
  });

  it('serves concurrent calls in order and rejects after close', async () => {
    const [x, y] = await Promise.all([encoder.embed(['alpha']), encoder.embed(['beta gamma'])]);
    expect(x![0]).toEqual((await encoder.embed(['alpha']))[0]);
    expect(y![0]).toEqual((await encoder.embed(['beta gamma']))[0]);
    const closing = await OnnxSentenceEncoder.load(await modelDir(), { threads: 1 });
    await closing.close();
    await expect(closing.embed(['after close'])).rejects.toThrow(/closed/);
  });
});
