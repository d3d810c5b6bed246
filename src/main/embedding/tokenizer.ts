// SentencePiece unigram tokenizer (Viterbi segmentation) for the default encoder, Universal Sentence Encoder Lite.
//
// It reproduces the reference implementation in @energetic-ai/embeddings@0.2.0 (which is what the model's published
// embeddings are computed with) id for id, including its quirks:
//   - normalisation is NFKC only; then "▁" (U+2581) is prepended and every ASCII space becomes "▁" (tabs, newlines
//     and other whitespace are left alone, leading/trailing/repeated spaces are kept); an empty string stays empty;
//   - the first `reservedIds` pieces (<unk>, <s>, </s>, extra ids) never take part in segmentation;
//   - a position where no piece starts is covered by one unknown symbol (id 0) with score 0; runs of unknown ids are
//     collapsed into a single id 0;
//   - the Viterbi update keeps a candidate when `best === 0 || score >= best`, so ties go to the later start position
//     and a best score of exactly 0 counts as "unset".
// Symbols are Unicode code points, not UTF-16 units. The model clips input to its own maximum (128 tokens); callers
// truncate, this class does not.
import { readFile } from 'node:fs/promises';

/** Anything but printable ASCII, tabs and line ends: NFKC leaves such a text unchanged. */
const NOT_PLAIN_ASCII = /[^ -~\t\n\r]/;
/** Knuth's multiplicative hash (2^32 / golden ratio), for the trie's hash table. */
const HASH_MULTIPLIER = 0x9e3779b1 | 0;

/** Turns text into token ids. Implemented per tokenizer family so encoders are not tied to one model. */
export interface Tokenizer {
  encode(text: string): number[];
}

/** vocab.json written by scripts/encoder/build-use-lite.mjs. */
export interface SentencePieceVocab {
  type: 'sentencepiece-unigram';
  normalization: 'NFKC';
  wordBoundary: string;
  unkId: number;
  reservedIds: number;
  /** [piece, log-probability score] by id. */
  pieces: Array<[string, number]>;
}

export class SentencePieceUnigramTokenizer implements Tokenizer {
  /**
   * The trie of the pieces as flat tables (node 0 is the root). Each code point the pieces use gets a small letter
   * number, and a child is found under the key `node * letters + letter` in one open-addressing hash table of typed
   * arrays (childKeys, childNodes): the Viterbi pass looks up ~1,000 children per note, and a Map per node keyed by
   * one-character strings took ~2x the CPU. A code point no piece uses has no letter and starts or continues no piece.
   */
  private readonly letters = new Map<number, number>();
  private readonly childKeys: Int32Array;
  private readonly childNodes: Int32Array;
  private readonly childShift: number;
  /** Piece id ending at each node, or -1; and its score. */
  private readonly nodeIds: Int32Array;
  private readonly nodeScores: Float64Array;
  /** Length in code points of each piece, used to walk the Viterbi path backwards. */
  private readonly pieceLengths: Int32Array;
  private readonly wordBoundary: string;
  private readonly unkId: number;

  /**
   * `pieces` may also be the npm package's raw vocab.json array, whose few null scores count as 0 (the reference
   * adds them to numbers, and `null + x === x`).
   */
  constructor(
    vocab: { pieces: ReadonlyArray<readonly [string, number | null]> } & Partial<Omit<SentencePieceVocab, 'pieces'>>,
  ) {
    this.wordBoundary = vocab.wordBoundary ?? '\u2581';
    this.unkId = vocab.unkId ?? 0;
    const reserved = vocab.reservedIds ?? 6;
    this.pieceLengths = new Int32Array(vocab.pieces.length);
    const codePoints = vocab.pieces.map(([piece]) => Array.from(piece, (symbol) => symbol.codePointAt(0)!));
    codePoints.forEach((codes, id) => {
      this.pieceLengths[id] = codes.length;
      if (id < reserved) return;
      for (const code of codes) if (!this.letters.has(code)) this.letters.set(code, this.letters.size);
    });
    const letterCount = this.letters.size;
    const children = new Map<number, number>();
    const ids: number[] = [-1];
    const scores: number[] = [0];
    codePoints.forEach((codes, id) => {
      if (id < reserved) return;
      let node = 0;
      for (const code of codes) {
        const key = node * letterCount + this.letters.get(code)!;
        let child = children.get(key);
        if (child === undefined) {
          child = ids.length;
          ids.push(-1);
          scores.push(0);
          children.set(key, child);
        }
        node = child;
      }
      // A duplicated piece keeps the last id and score, like the reference trie.
      ids[node] = id;
      scores[node] = vocab.pieces[id]![1] ?? 0;
    });
    if (ids.length * letterCount >= 2 ** 31) throw new Error('vocabulary too large for the tokenizer\'s trie');
    // A table at most half full, so a lookup probes one or two slots.
    const bits = Math.max(4, Math.ceil(Math.log2(children.size * 2 + 1)));
    this.childShift = 32 - bits;
    this.childKeys = new Int32Array(1 << bits).fill(-1);
    this.childNodes = new Int32Array(1 << bits);
    for (const [key, child] of children) {
      let slot = Math.imul(key, HASH_MULTIPLIER) >>> this.childShift;
      while (this.childKeys[slot] !== -1) slot = (slot + 1) & (this.childKeys.length - 1);
      this.childKeys[slot] = key;
      this.childNodes[slot] = child;
    }
    this.nodeIds = Int32Array.from(ids);
    this.nodeScores = Float64Array.from(scores);
    // The unknown symbol always spans exactly one code point.
    if (this.unkId < this.pieceLengths.length) this.pieceLengths[this.unkId] = 1;
  }

  static async fromFile(vocabPath: string): Promise<SentencePieceUnigramTokenizer> {
    const vocab = JSON.parse(await readFile(vocabPath, 'utf8')) as SentencePieceVocab;
    if (vocab.type !== 'sentencepiece-unigram' || !Array.isArray(vocab.pieces)) {
      throw new Error(`${vocabPath} is not a sentencepiece-unigram vocabulary`);
    }
    return new SentencePieceUnigramTokenizer(vocab);
  }

  /** The trie node under `key` (node * letters + letter), or -1. */
  private child(key: number): number {
    const mask = this.childKeys.length - 1;
    for (let slot = Math.imul(key, HASH_MULTIPLIER) >>> this.childShift; ; slot = (slot + 1) & mask) {
      const found = this.childKeys[slot]!;
      if (found === key) return this.childNodes[slot]!;
      if (found === -1) return -1;
    }
  }

  /** NFKC, then "▁" before the text and in place of every ASCII space. */
  normalize(text: string): string {
    // Most texts are plain ASCII, which NFKC leaves as it is: skip the pass over them.
    const normalized = NOT_PLAIN_ASCII.test(text) ? text.normalize('NFKC') : text;
    return normalized.length > 0 ? this.wordBoundary + normalized.replace(/ /g, this.wordBoundary) : normalized;
  }

  encode(text: string): number[] {
    const normalized = this.normalize(text);
    // The text's code points as letters of the pieces' alphabet (-1: in no piece).
    const letterCount = this.letters.size;
    const symbols = new Int32Array(normalized.length);
    let n = 0;
    for (let i = 0; i < normalized.length; i++) {
      const code = normalized.codePointAt(i)!;
      symbols[n++] = this.letters.get(code) ?? -1;
      if (code > 0xffff) i++;
    }
    // best[e]: score of the best segmentation of symbols[0, e); words[e]: id of its last piece.
    const best = new Float64Array(n + 1);
    const words = new Int32Array(n + 1);
    const { nodeIds, nodeScores, unkId } = this;

    // Forward pass over start positions. Every update of best[end] comes from a smaller start, so best[start] is final
    // when read, and updates to each best[end] happen in ascending start order, as in the reference. A candidate is
    // kept when `best[end] === 0 || total >= best[end]`: the reference's `best === 0` doubles as "unset", and ties go
    // to the later start; keeping that makes segmentations match exactly.
    for (let start = 0; start < n; start++) {
      const base = best[start]!;
      let node = symbols[start]! >= 0 ? this.child(symbols[start]!) : -1;
      let matched = false;
      for (let end = start + 1; node >= 0; end++) {
        const id = nodeIds[node]!;
        if (id >= 0) {
          const total = nodeScores[node]! + base;
          if (best[end] === 0 || total >= best[end]!) {
            best[end] = total;
            words[end] = id;
          }
          matched = true;
        }
        node = end < n && symbols[end]! >= 0 ? this.child(node * letterCount + symbols[end]!) : -1;
      }
      if (!matched && (best[start + 1] === 0 || base >= best[start + 1]!)) {
        best[start + 1] = base;
        words[start + 1] = unkId;
      }
    }

    const ids: number[] = [];
    for (let pos = n; pos > 0; pos -= this.pieceLengths[words[pos]!]!) {
      const id = words[pos]!;
      // Collapse runs of unknown ids.
      if (!(id === unkId && ids[ids.length - 1] === unkId)) ids.push(id);
    }
    return ids.reverse();
  }
}
