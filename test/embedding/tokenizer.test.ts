// (a) Our SentencePiece unigram tokenizer produces exactly the ids of the reference tokenizer in
// @energetic-ai/embeddings, which the USE-lite weights were published with.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultSourceDir } from '../../scripts/encoder/build-use-lite.mjs';
import { SentencePieceUnigramTokenizer } from '../../src/main/embedding';
import { defaultModelDir, referenceTokenizer } from './helpers';

const SENTENCES = [
  '',
  ' ',
  'a',
  'Hello, world!',
  'The quick brown fox jumps over the lazy dog.',
  "It's 3:45pm -- are we done yet?!? (No.)",
  'Prices rose 12.5% to $1,234.56 on 2024-03-01; see https://example.com/a/b?c=d#e.',
  'email: someone@example.org, phone +1 (555) 010-9999',
  '  leading, trailing   and   repeated   spaces  ',
  'tabs\tand\nnewlines\r\nare not spaces',
  'Ünïcödé àccents: café, naïve, façade, Ångström, Øresund',
  'ﬁne ﬂowers — “smart quotes” and ‘single’ … ellipsis',
  'Fullwidth ＡＢＣ１２３ and ① ② ③ and ² ³ (NFKC folds these)',
  '日本語のテキスト、中文文本，한국어 텍스트',
  'Русский текст и ελληνικά γράμματα',
  'emoji 😀🎉👍🏽 and astral 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 symbols',
  'unknown runs: ☃☃☃ ✈✈ ⌘⌥⇧ \u0000\u0001 \uFFFF',
  'combining e\u0301 vs é, and Hangul jamo \u1100\u1161',
  'ALL CAPS SHOUTING AND MiXeD cAsE',
  'numbers 0 1 10 100 1000 10000 3.14159 -42 1e10 0x1F',
  'code: const x = a[i] + b.c(d, e) => { return f?.g ?? h; }',
  ':) :( :-) :00 :: :// ): — pieces whose vocab score is null',
  '____ ---- ==== **** #### @@@@ !!!! ????',
  'The cat sat on the mat. '.repeat(30),
];

/** Deterministic pseudo-random strings drawn from a pool mixing ASCII, accents, CJK, symbols and astral chars. */
function randomStrings(count: number, seed: number): string[] {
  const pool = [
    ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789',
    ...'      .,;:!?\'"()-_/\\@#$%&*+=<>[]{}|~`^',
    ...'éèêëàâäôöûüçñßøåæœ',
    ...'日本語中文한국어',
    ...'☃✈⌘€£¥©®™°±×÷',
    '😀', '👍', '𝔘', '\t', '\n', 'ﬁ', 'Ａ', '①',
  ];
  let state = seed >>> 0;
  const next = (): number => {
    // xorshift32
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  return Array.from({ length: count }, () => {
    const length = Math.floor(next() * 60);
    return Array.from({ length }, () => pool[Math.floor(next() * pool.length)]!).join('');
  });
}

describe('SentencePieceUnigramTokenizer', () => {
  let ours: SentencePieceUnigramTokenizer;
  let reference: { encode(text: string): number[] };

  beforeAll(async () => {
    const dir = await defaultModelDir();
    ours = await SentencePieceUnigramTokenizer.fromFile(path.join(dir, 'vocab.json'));
    reference = await referenceTokenizer();
  });

  it.each(SENTENCES.map((s) => [JSON.stringify(s).slice(0, 70), s]))('matches the reference on %s', (_, text) => {
    expect(ours.encode(text)).toEqual(reference.encode(text));
  });

  it('matches the reference on 2,000 random mixed-script strings', () => {
    const mismatches = randomStrings(2000, 0x5eed)
      .filter((text) => JSON.stringify(ours.encode(text)) !== JSON.stringify(reference.encode(text)))
      .slice(0, 5);
    expect(mismatches).toEqual([]);
  });

  it('reads the npm package\'s raw vocabulary too (null scores count as 0, like the reference)', async () => {
    const raw = JSON.parse(await readFile(path.join(defaultSourceDir(), 'vocab.json'), 'utf8')) as Array<[string, number | null]>;
    expect(raw.some(([, score]) => score === null)).toBe(true);
    const fromRaw = new SentencePieceUnigramTokenizer({ pieces: raw });
    for (const text of SENTENCES) expect(fromRaw.encode(text)).toEqual(reference.encode(text));
  });

  it('produces real pieces, word boundaries and collapsed unknowns', () => {
    expect(ours.encode('')).toEqual([]);
    expect(ours.normalize(' a  b')).toBe('\u2581\u2581a\u2581\u2581b');
    expect(ours.normalize('ﬁ①')).toBe('\u2581fi1');
    const ids = ours.encode('The cat sat on the mat.');
    expect(ids.length).toBeGreaterThan(3);
    expect(ids.every((id) => id >= 6 && id < 8000)).toBe(true);
    // A run of characters missing from the vocabulary becomes a single unknown id 0.
    const unknown = ours.encode('x ☃☃☃ y');
    expect(unknown.filter((id) => id === 0)).toHaveLength(1);
  });
});
