// How an encoder call is cut into runs (lengthBatches): every text once, longest first, at most the batch size, and
// less padding than fixed batches on what concurrent stores hand the encoder; the vectors stay those of texts run
// alone, up to the int8 model's per-batch quantisation (real ONNX session).
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NoteGenerator } from '../../bench/memory/notes';
import { OnnxSentenceEncoder, SentencePieceUnigramTokenizer } from '../../src/main/embedding';
import { lengthBatches } from '../../src/main/embedding/encoder';
import { defaultModelDir, dot } from './helpers';

/** Padded tokens of a cut: each batch padded to its longest text. */
function paddedTokens(lengths: number[], batches: number[][]): number {
  return batches.reduce((sum, batch) => sum + batch.length * Math.max(1, ...batch.map((i) => lengths[i]!)), 0);
}

function fixedBatches(lengths: number[], size: number): number[][] {
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[b]! - lengths[a]! || a - b);
  const batches: number[][] = [];
  for (let start = 0; start < order.length; start += size) batches.push(order.slice(start, start + size));
  return batches;
}

describe('lengthBatches', () => {
  let tokenizer: SentencePieceUnigramTokenizer;
  beforeAll(async () => {
    tokenizer = await SentencePieceUnigramTokenizer.fromFile(path.join(await defaultModelDir(), 'vocab.json'));
  });

  it('takes every text once, longest first, at most the batch size per run', () => {
    const lengths = [5, 40, 0, 40, 17, 128, 3, 3, 60, 22, 9, 41, 1, 70, 33];
    for (const size of [1, 2, 3, 8, 20]) {
      const batches = lengthBatches(lengths, size);
      const flat = batches.flat();
      expect([...flat].sort((a, b) => a - b)).toEqual(lengths.map((_, i) => i));
      expect(batches.every((batch) => batch.length >= 1 && batch.length <= size)).toBe(true);
      // Longest first across the runs, ties in input order (40 at 1 before 40 at 3).
      expect(flat).toEqual(fixedBatches(lengths, size).flat());
    }
    expect(lengthBatches([], 8)).toEqual([]);
    expect(lengthBatches([0, 0, 0], 8)).toEqual([[0, 1, 2]]);
  });

  it('pads less than fixed batches of 8 for calls of 31 notes (what 64 concurrent stores group into)', () => {
    const notes = new NoteGenerator(11).take(31 * 40).map((draft) => tokenizer.encode(draft.text).length);
    let fixed = 0;
    let cut = 0;
    let real = 0;
    for (let start = 0; start < notes.length; start += 31) {
      const lengths = notes.slice(start, start + 31);
      fixed += paddedTokens(lengths, fixedBatches(lengths, 8));
      cut += paddedTokens(lengths, lengthBatches(lengths, 8));
      real += lengths.reduce((sum, n) => sum + n, 0);
    }
    console.log(`calls of 31 notes: padding ${(((fixed - real) / real) * 100).toFixed(1)}% in fixed batches of 8, ${(((cut - real) / real) * 100).toFixed(1)}% cut by cost`);
    expect(cut).toBeLessThan(fixed - 0.04 * real);
  });

  it('keeps a batch of equal lengths whole, and splits a very long text from short ones', () => {
    expect(lengthBatches([30, 30, 30, 30, 30, 30, 30, 30], 8)).toEqual([[0, 1, 2, 3, 4, 5, 6, 7]]);
    const batches = lengthBatches([120, 10, 10, 10, 10, 10, 10, 10], 8);
    expect(batches[0]).toEqual([0]);
  });
});

describe('vectors of a call cut by cost (int8 USE-lite, real session)', () => {
  let batched: OnnxSentenceEncoder;
  let alone: OnnxSentenceEncoder;
  beforeAll(async () => {
    const dir = await defaultModelDir();
    batched = await OnnxSentenceEncoder.load(dir, { threads: 1 });
    alone = await OnnxSentenceEncoder.load(dir, { threads: 1, batchSize: 1 });
  }, 60_000);
  afterAll(async () => {
    await Promise.all([batched?.close(), alone?.close()]);
  });

  it('are the vectors of each text run alone, up to per-batch quantisation (measured: mean cosine 0.9995, min 0.9991)', async () => {
    const texts = new NoteGenerator(29).take(31).map((draft) => draft.text);
    const [together, single] = await Promise.all([batched.embed(texts), alone.embed(texts)]);
    const cosines = texts.map((_, i) => dot(together[i]!, single[i]!));
    console.log(`31 notes in one call vs one by one: mean cosine ${(cosines.reduce((s, c) => s + c, 0) / cosines.length).toFixed(5)}, min ${Math.min(...cosines).toFixed(5)}`);
    expect(Math.min(...cosines)).toBeGreaterThan(0.997);
    // The same call gives the same vectors every time (the cut depends on the lengths only).
    expect(await batched.embed(texts)).toEqual(together);
  });
});
