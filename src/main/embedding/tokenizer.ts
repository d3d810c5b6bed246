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

interface TrieNode {
  children: Map<string, TrieNode>;
  /** Piece id ending here, or -1. */
  id: number;
  score: number;
}

const newNode = (): TrieNode => ({ children: new Map(), id: -1, score: 0 });

export class SentencePieceUnigramTokenizer implements Tokenizer {
  private readonly root = newNode();
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
    vocab.pieces.forEach(([piece, score], id) => {
      this.pieceLengths[id] = [...piece].length;
      if (id < reserved) return;
      let node = this.root;
      for (const symbol of piece) {
        let child = node.children.get(symbol);
        if (!child) {
          child = newNode();
          node.children.set(symbol, child);
        }
        node = child;
      }
      // A duplicated piece keeps the last id and score, like the reference trie.
      node.id = id;
      node.score = score ?? 0;
    });
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

  /** NFKC, then "▁" before the text and in place of every ASCII space. */
  normalize(text: string): string {
    const normalized = text.normalize('NFKC');
    return normalized.length > 0 ? this.wordBoundary + normalized.replace(/ /g, this.wordBoundary) : normalized;
  }

  encode(text: string): number[] {
    const symbols = Array.from(this.normalize(text));
    const n = symbols.length;
    // best[e]: score of the best segmentation of symbols[0, e); words[e]: id of its last piece.
    const best = new Float64Array(n + 1);
    const words = new Int32Array(n + 1);
    const relax = (start: number, end: number, id: number, score: number): void => {
      const total = score + best[start]!;
      // `best === 0` doubles as "unset" in the reference; keep that so segmentations match exactly.
      if (best[end] === 0 || total >= best[end]!) {
        best[end] = total;
        words[end] = id;
      }
    };

    // Forward pass over start positions. Every update of best[end] comes from a smaller start, so best[start] is final
    // when read, and updates to each best[end] happen in ascending start order, as in the reference.
    for (let start = 0; start < n; start++) {
      let node = this.root.children.get(symbols[start]!);
      let matched = false;
      for (let end = start + 1; node; end++) {
        if (node.id >= 0) {
          relax(start, end, node.id, node.score);
          matched = true;
        }
        node = end < n ? node.children.get(symbols[end]!) : undefined;
      }
      if (!matched) relax(start, start + 1, this.unkId, 0);
    }

    const ids: number[] = [];
    for (let pos = n; pos > 0; pos -= this.pieceLengths[words[pos]!]!) {
      const id = words[pos]!;
      // Collapse runs of unknown ids.
      if (!(id === this.unkId && ids[ids.length - 1] === this.unkId)) ids.push(id);
    }
    return ids.reverse();
  }
}
