// User-brought sentence-transformers ONNX models, exercised on a tiny model the tests build themselves
// (test/embedding/st-fixture.ts): tokenizer.json through @huggingface/tokenizers, pooling + normalisation against a JS
// re-computation, config discovery, and the loader choice in loadEncoderFromDir / describeModelDir.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  describeModelDir,
  inspectSentenceTransformer,
  loadEncoderFromDir,
  loadSentenceTransformer,
  OnnxSentenceEncoder,
  SentenceTransformerEncoder,
  TokenizerJsonTokenizer,
  type SentenceEncoder,
} from '../../src/main/embedding';
import { tempDir } from '../helpers';
import { defaultModelDir, dot, maxAbsDiff } from './helpers';
import {
  bertTokenizerJson,
  HIDDEN,
  TOKEN_ID,
  tinyHidden,
  unigramTokenizerJson,
  writeTinySentenceTransformer,
  type TinyDirOptions,
} from './st-fixture';

const ids = (tokens: string[]): number[] =>
  tokens.map((t) => {
    const id = TOKEN_ID.get(t);
    if (id === undefined) throw new Error(`fixture vocabulary has no ${t}`);
    return id;
  });

function normalize(v: number[]): number[] {
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return v.map((x) => x / norm);
}

/** Reference pooling over the tiny graph's hidden states for one unpadded sequence. */
function reference(tokenIds: number[], mode: 'mean' | 'cls' | 'max', options: { tokenTypes?: boolean } = {}): number[] {
  const hidden = tinyHidden(tokenIds, options);
  const pooled = Array.from({ length: HIDDEN }, (_, k) => {
    const column = hidden.map((row) => row[k]!);
    if (mode === 'cls') return column[0]!;
    if (mode === 'max') return Math.max(...column);
    return column.reduce((a, b) => a + b, 0) / column.length;
  });
  return normalize(pooled);
}

async function withEncoder<T extends SentenceEncoder>(encoder: T, use: (encoder: T) => Promise<void>): Promise<void> {
  try {
    await use(encoder);
  } finally {
    await encoder.close();
  }
}

function tinyDir(options: TinyDirOptions = {}, name = 'tiny-minilm'): string {
  return writeTinySentenceTransformer(path.join(tempDir('st-'), name), options);
}

const SENTENCES = [
  'The cat sat on the mat.',
  'Dogs playing in the park!',
  'Café résumé, NAÏVE',
  'The zebra sat',
  'unbelievable cats',
  'hello',
  '',
];

describe('TokenizerJsonTokenizer (tokenizer.json via @huggingface/tokenizers)', () => {
  const bert = (maxLength = 128) => new TokenizerJsonTokenizer(bertTokenizerJson() as Record<string, unknown>, {}, maxLength);

  it.each([
    ['The cat sat on the mat.', ['[CLS]', 'the', 'cat', 'sat', 'on', 'the', 'mat', '.', '[SEP]']],
    ['Dogs playing in the park!', ['[CLS]', 'dog', '##s', 'play', '##ing', 'in', 'the', 'park', '!', '[SEP]']],
    // Lower-cased and accents stripped by BertNormalizer.
    ['Café résumé, NAÏVE', ['[CLS]', 'cafe', 'resume', ',', 'naive', '[SEP]']],
    // A word that cannot be split into vocabulary pieces becomes [UNK] as a whole.
    ['The zebra sat', ['[CLS]', 'the', '[UNK]', 'sat', '[SEP]']],
    ['unbelievable cats', ['[CLS]', 'un', '##believ', '##able', 'cats', '[SEP]']],
    ['', ['[CLS]', '[SEP]']],
  ])('splits %j into WordPiece pieces with [CLS]/[SEP]', (text, pieces) => {
    const tokenizer = bert();
    expect(tokenizer.tokens(text)).toEqual(pieces);
    expect(tokenizer.encode(text)).toEqual(ids(pieces));
    expect(tokenizer.encodeText(text).typeIds).toEqual(pieces.map(() => 0));
  });

  it('truncates to maxLength keeping [CLS] and [SEP]', () => {
    const tokenizer = bert(6);
    expect(tokenizer.tokens('The cat sat on the mat.')).toEqual(['[CLS]', 'the', 'cat', 'sat', 'on', '[SEP]']);
    expect(tokenizer.encode('Dogs playing in the park!')).toEqual(ids(['[CLS]', 'dog', '##s', 'play', '##ing', '[SEP]']));
    expect(tokenizer.encode('hello world')).toEqual(ids(['[CLS]', 'hello', 'world', '[SEP]']));
    expect(tokenizer.padId).toBe(TOKEN_ID.get('[PAD]'));
  });

  it('handles a SentencePiece-style Unigram tokenizer.json too, keeping </s> on truncation', () => {
    const tokenizer = new TokenizerJsonTokenizer(unigramTokenizerJson() as Record<string, unknown>, {}, 5);
    expect(new TokenizerJsonTokenizer(unigramTokenizerJson() as Record<string, unknown>, {}, 64).tokens('The cats sat on the mat.'))
      .toEqual(['\u2581the', '\u2581cat', 's', '\u2581sat', '\u2581on', '\u2581the', '\u2581mat', '.', '</s>']);
    expect(tokenizer.tokens('The cats sat on the mat.')).toEqual(['\u2581the', '\u2581cat', 's', '\u2581sat', '</s>']);
    expect(tokenizer.encode('The cats sat on the mat.')).toEqual([3, 4, 7, 8, 1]);
    expect(tokenizer.padId).toBe(0);
  });
});

describe('inspectSentenceTransformer', () => {
  it('reads max length from sentence_bert_config.json, else tokenizer_config.json (capped at 512), else 256', async () => {
    const st = await inspectSentenceTransformer(tinyDir({ maxSeqLength: 12, modelMaxLength: 40 }));
    expect([st.maxLength, st.maxLengthSource]).toEqual([12, 'sentence_bert_config.json']);
    const tok = await inspectSentenceTransformer(tinyDir({ modelMaxLength: 40 }));
    expect([tok.maxLength, tok.maxLengthSource]).toEqual([40, 'tokenizer_config.json']);
    // 1e30 is the "no limit" sentinel many tokenizer_config.json files carry; config.json caps at 64 positions here.
    const huge = await inspectSentenceTransformer(tinyDir({ modelMaxLength: 1e30 }));
    expect(huge.maxLength).toBe(64);
    expect(huge.warnings.join()).toMatch(/max_position_embeddings 64/);
    const dir = tinyDir();
    expect((await inspectSentenceTransformer(dir)).maxLength).toBe(64); // 256 default, capped by config.json
    rmSync(path.join(dir, 'config.json'));
    const bare = await inspectSentenceTransformer(dir);
    expect([bare.maxLength, bare.maxLengthSource]).toEqual([256, 'default']);
    expect((await inspectSentenceTransformer(dir, { maxLength: 9 })).maxLength).toBe(9);
  });

  it('gives a stable id from the folder name and the model hash, and lists the files', async () => {
    const a = await inspectSentenceTransformer(tinyDir({ pooling: 'mean', maxSeqLength: 32 }, 'all-MiniLM-L6-v2'));
    const b = await inspectSentenceTransformer(tinyDir({ pooling: 'mean', maxSeqLength: 32 }, 'all-MiniLM-L6-v2'));
    expect(a.id).toMatch(/^st:all-MiniLM-L6-v2:[0-9a-f]{12}$/);
    expect(b.id).toBe(a.id);
    expect(a.id.endsWith(a.modelSha256.slice(0, 12))).toBe(true);
    const otherWeights = await inspectSentenceTransformer(tinyDir({ seed: 7 }, 'all-MiniLM-L6-v2'));
    expect(otherWeights.id).not.toBe(a.id);
    expect(a.files).toEqual([
      'model.onnx',
      'tokenizer.json',
      'special_tokens_map.json',
      'config.json',
      'sentence_bert_config.json',
      'modules.json',
      '1_Pooling/config.json',
      '2_Normalize',
    ]);
    expect(a.pooling).toEqual(['mean']);
    const cls = await inspectSentenceTransformer(tinyDir({ pooling: 'cls' }, 'all-MiniLM-L6-v2'));
    expect(cls.id).toBe(`${a.id}:cls`); // same graph, other pooling: other vectors, other id
  });
});

describe('loadSentenceTransformer', () => {
  it('detects the inputs and output, the dimension and the max length', async () => {
    const dir = tinyDir({ pooling: 'mean', maxSeqLength: 8 });
    await withEncoder(await loadSentenceTransformer(dir), async (encoder) => {
      expect(encoder.dimension).toBe(HIDDEN);
      expect(encoder.output).toBe('last_hidden_state');
      expect(encoder.pooling).toEqual(['mean']);
      expect(encoder.maxLength).toBe(8);
      expect(encoder.id).toMatch(/^st:tiny-minilm:[0-9a-f]{12}$/);
      expect(encoder.tokenize('The cat sat on the mat, the dog ran in the park.')).toEqual(
        ids(['[CLS]', 'the', 'cat', 'sat', 'on', 'the', 'mat', '[SEP]']),
      );
    });
  });

  it('equals masked mean pooling + L2 normalisation recomputed in JS, and padding in a batch changes nothing', async () => {
    await withEncoder(await loadSentenceTransformer(tinyDir(), { batchSize: 4 }), async (encoder) => {
      const batched = await encoder.embed(SENTENCES);
      expect(batched).toHaveLength(SENTENCES.length);
      for (const [i, text] of SENTENCES.entries()) {
        const expected = reference(encoder.tokenize(text), 'mean');
        expect(maxAbsDiff(batched[i]!, expected)).toBeLessThan(1e-6);
        expect(Math.abs(dot(batched[i]!, batched[i]!) - 1)).toBeLessThan(1e-6);
        // Alone (no padding at all) the vector is the same.
        const [alone] = await encoder.embed([text]);
        expect(maxAbsDiff(alone!, batched[i]!)).toBeLessThan(1e-6);
      }
      // A very long text next to a short one pads the short one heavily: still the same.
      const [short, long] = await encoder.embed(['hello', 'the cat sat on the mat '.repeat(20)]);
      expect(maxAbsDiff(short!, batched[SENTENCES.indexOf('hello')]!)).toBeLessThan(1e-6);
      expect(maxAbsDiff(long!, reference(encoder.tokenize('the cat sat on the mat '.repeat(20)), 'mean'))).toBeLessThan(1e-6);
      expect(encoder.tokenize('the cat sat on the mat '.repeat(20))).toHaveLength(64);
      expect(await encoder.embed([])).toEqual([]);
    });
  });

  it('uses CLS pooling when 1_Pooling/config.json says so (and max pooling likewise)', async () => {
    for (const mode of ['cls', 'max'] as const) {
      await withEncoder(await loadSentenceTransformer(tinyDir({ pooling: mode })), async (encoder) => {
        expect(encoder.pooling).toEqual([mode]);
        expect(encoder.id.endsWith(`:${mode}`)).toBe(true);
        const vectors = await encoder.embed(SENTENCES);
        for (const [i, text] of SENTENCES.entries()) {
          expect(maxAbsDiff(vectors[i]!, reference(encoder.tokenize(text), mode))).toBeLessThan(1e-6);
        }
      });
    }
    // The pooling option overrides the folder's config.
    await withEncoder(await loadSentenceTransformer(tinyDir({ pooling: 'mean' }), { pooling: 'cls' }), async (encoder) => {
      const [v] = await encoder.embed(['The cat sat on the mat.']);
      expect(maxAbsDiff(v!, reference(encoder.tokenize('The cat sat on the mat.'), 'cls'))).toBeLessThan(1e-6);
    });
  });

  it('finds onnx/model.onnx, probes a symbolic hidden size, and runs a graph without token_type_ids', async () => {
    const dir = tinyDir({ layout: 'onnx-subdir', symbolicHidden: true, tokenTypes: false }, 'hub-layout');
    await withEncoder(await loadSentenceTransformer(dir), async (encoder) => {
      expect(encoder.info.files[0]).toBe('onnx/model.onnx');
      expect(encoder.dimension).toBe(HIDDEN);
      const [v] = await encoder.embed(['Dogs playing in the park!']);
      const expected = reference(encoder.tokenize('Dogs playing in the park!'), 'mean', { tokenTypes: false });
      expect(maxAbsDiff(v!, expected)).toBeLessThan(1e-6);
    });
  });

  it('prefers a pooled sentence_embedding output and only normalises it', async () => {
    const dir = tinyDir({ pooledOutput: true, pooling: 'cls' });
    await withEncoder(await loadSentenceTransformer(dir), async (encoder) => {
      expect(encoder.output).toBe('sentence_embedding');
      expect(encoder.pooling).toBe('included');
      const [v] = await encoder.embed(['The cat sat on the mat.']);
      const hidden = tinyHidden(encoder.tokenize('The cat sat on the mat.'));
      const summed = Array.from({ length: HIDDEN }, (_, k) => hidden.reduce((s, row) => s + row[k]!, 0));
      expect(maxAbsDiff(v!, normalize(summed))).toBeLessThan(1e-6);
    });
    // The output option picks the per-token one instead.
    await withEncoder(await loadSentenceTransformer(dir, { output: 'last_hidden_state' }), async (encoder) => {
      expect(encoder.pooling).toEqual(['cls']);
    });
  });

  it('refuses a per-token graph when modules.json lists a Dense layer it does not contain, unless told to ignore it', async () => {
    const dir = tinyDir({ pooling: 'mean' });
    writeFileSync(
      path.join(dir, 'modules.json'),
      JSON.stringify([
        { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
        { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
        { idx: 2, name: '2', path: '2_Dense', type: 'sentence_transformers.models.Dense' },
        { idx: 3, name: '3', path: '3_Normalize', type: 'sentence_transformers.models.Normalize' },
      ]),
    );
    await expect(loadSentenceTransformer(dir)).rejects.toThrow(/modules\.json lists 2_Dense/);
    await withEncoder(await loadSentenceTransformer(dir, { ignoreExtraModules: true }), async (encoder) => {
      expect(encoder.info.warnings.join()).toMatch(/2_Dense/);
    });
  });
});

describe('loadEncoderFromDir / describeModelDir', () => {
  it('loads the USE-lite folder (manifest.json) with OnnxSentenceEncoder', { timeout: 120_000 }, async () => {
    const dir = await defaultModelDir();
    const description = await describeModelDir(dir);
    expect(description).toMatchObject({ kind: 'manifest', id: 'use-lite-512-int8', dimension: 512, maxTokens: 128 });
    expect(description.files).toEqual(['manifest.json', 'model.onnx', 'vocab.json']);
    await withEncoder(await loadEncoderFromDir(dir), async (encoder) => {
      expect(encoder).toBeInstanceOf(OnnxSentenceEncoder);
      expect([encoder.id, encoder.dimension]).toEqual(['use-lite-512-int8', 512]);
    });
  });

  it('loads a sentence-transformers folder with loadSentenceTransformer, and describes it without loading', async () => {
    const dir = tinyDir({ pooling: 'mean', maxSeqLength: 16, layout: 'onnx-subdir' });
    const description = await describeModelDir(dir);
    expect(description).toMatchObject({ kind: 'sentence-transformers', maxTokens: 16, pooling: ['mean'] });
    expect(description.files).toContain('onnx/model.onnx');
    expect(description.files).toContain('tokenizer.json');
    await withEncoder(await loadEncoderFromDir(dir), async (encoder) => {
      expect(encoder).toBeInstanceOf(SentenceTransformerEncoder);
      expect(encoder.id).toBe(description.id);
      expect(encoder.dimension).toBe(HIDDEN);
    });
  });

  it('errors clearly on an empty folder, a missing folder, and a folder missing one of the two files', async () => {
    const empty = tempDir('st-empty-');
    await expect(loadEncoderFromDir(empty)).rejects.toThrow(
      /no sentence encoder in .*: expected manifest\.json .* or a sentence-transformers ONNX export \(tokenizer\.json and model\.onnx or onnx\/model\.onnx\); it is empty/,
    );
    await expect(describeModelDir(empty)).rejects.toThrow(/no sentence encoder/);
    await expect(loadEncoderFromDir(path.join(empty, 'nope'))).rejects.toThrow(/does not exist/);

    const noModel = tinyDir();
    rmSync(path.join(noModel, 'model.onnx'));
    await expect(loadEncoderFromDir(noModel)).rejects.toThrow(/has tokenizer\.json but no ONNX graph: add model\.onnx/);

    const noTokenizer = tinyDir();
    rmSync(path.join(noTokenizer, 'tokenizer.json'));
    writeFileSync(path.join(noTokenizer, 'vocab.txt'), 'the\n');
    await expect(loadEncoderFromDir(noTokenizer)).rejects.toThrow(/has model\.onnx but no tokenizer\.json/);

    const several = tinyDir({ layout: 'onnx-subdir' });
    mkdirSync(path.join(several, 'onnx'), { recursive: true });
    writeFileSync(path.join(several, 'onnx', 'model_qint8_avx512.onnx'), '');
    // model.onnx exists, so it wins; without it the choice is ambiguous.
    expect((await describeModelDir(several)).files[0]).toBe('onnx/model.onnx');
    writeFileSync(path.join(several, 'onnx', 'model_O2.onnx'), '');
    rmSync(path.join(several, 'onnx', 'model.onnx'));
    await expect(describeModelDir(several)).rejects.toThrow(/several ONNX graphs .*modelFile/);
    expect((await describeModelDir(several, { modelFile: 'onnx/model_O2.onnx' })).files[0]).toBe('onnx/model_O2.onnx');
  });
});
