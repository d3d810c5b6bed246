// (b) The exact (fp32) ONNX conversion run through OnnxSentenceEncoder reproduces the TF.js reference
// (@energetic-ai/embeddings running the original graph from the npm package's local files) within 1e-4, in
// mixed-length batches. The int8 variant is held to the fp32 one in int8.test.ts.
import type { EmbeddingsModel } from '@energetic-ai/embeddings';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OnnxSentenceEncoder } from '../../src/main/embedding';
import { defaultModelDir, maxAbsDiff, referenceModel } from './helpers';

const SENTENCES = [
  'The cat sat on the mat.',
  'A kitten was resting on the rug.',
  'The stock market fell sharply today.',
  'Hi',
  'How do I reset my password if I no longer have access to the email address on my account?',
  // Empty text in the middle of a batch (the reference drops a trailing empty row, so keep it inside).
  '',
  'Prices rose 12.5% to $1,234.56 on 2024-03-01; see https://example.com/a?b=c.',
  'Ünïcödé àccents, 日本語, emoji 😀 and unknown ☃☃ symbols',
  'npm ERR! code ERESOLVE: unable to resolve dependency tree while installing react@19',
  'x',
  // Over 128 tokens: the reference clips inside its graph, we truncate before feeding the model.
  'Long input that keeps going, '.repeat(40),
];

describe('OnnxSentenceEncoder vs the TF.js reference', () => {
  let encoder: OnnxSentenceEncoder;
  let reference: EmbeddingsModel;
  let expected: number[][];

  beforeAll(async () => {
    encoder = await OnnxSentenceEncoder.load(await defaultModelDir('fp32'), { threads: 2, batchSize: 32 });
    reference = await referenceModel();
    expected = await reference.embed(SENTENCES);
  });

  afterAll(async () => {
    await encoder?.close();
  });

  it('feeds the model the same token ids as the reference, truncated to 128', () => {
    for (const text of SENTENCES) {
      expect(encoder.tokenize(text)).toEqual(reference.tokenizer.encode(text).slice(0, 128));
    }
    expect(reference.tokenizer.encode(SENTENCES.at(-1)!).length).toBeGreaterThan(128);
  });

  it('matches the reference within 1e-4 on a mixed-length batch', async () => {
    const actual = await encoder.embed(SENTENCES);
    expect(actual).toHaveLength(SENTENCES.length);
    const diffs = actual.map((vector, i) => {
      expect(vector).toBeInstanceOf(Float32Array);
      expect(vector).toHaveLength(512);
      return maxAbsDiff(vector, expected[i]!);
    });
    expect(Math.max(...diffs)).toBeLessThan(1e-4);
  });

  it('gives each text the same vector alone, in small batches and in one batch (padding does not leak)', async () => {
    const together = await encoder.embed(SENTENCES);
    const alone = await Promise.all(SENTENCES.map(async (text) => (await encoder.embed([text]))[0]!));
    const smallBatches = await OnnxSentenceEncoder.load(await defaultModelDir('fp32'), { threads: 2, batchSize: 3 });
    try {
      const batched = await smallBatches.embed(SENTENCES);
      SENTENCES.forEach((_, i) => {
        expect(maxAbsDiff(alone[i]!, together[i]!)).toBeLessThan(1e-5);
        expect(maxAbsDiff(batched[i]!, together[i]!)).toBeLessThan(1e-5);
        expect(maxAbsDiff(alone[i]!, expected[i]!)).toBeLessThan(1e-4);
      });
    } finally {
      await smallBatches.close();
    }
  });

  it('handles an empty list and a batch made only of empty texts', async () => {
    expect(await encoder.embed([])).toEqual([]);
    const [empty] = await encoder.embed(['']);
    expect(maxAbsDiff(empty!, expected[SENTENCES.indexOf('')]!)).toBeLessThan(1e-4);
  });
});
