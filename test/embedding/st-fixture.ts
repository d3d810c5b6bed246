// Builds tiny sentence-transformers-style model folders for tests: a BERT WordPiece tokenizer.json (~60 tokens), a
// seeded ONNX graph (last_hidden_state = word + token-type + position embeddings, gathered), and the optional
// sentence-transformers config files. Nothing is downloaded; everything is deterministic.
//
// The ONNX protobuf is written with a minimal proto2 writer in the style of scripts/encoder/build-use-lite.mjs (that
// file's writer is internal to the pinned default-model build, so it is not imported or changed here).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { mulberry32 } from '../support/seeded-random';

// ---------------------------------------------------------------------------------------------------------------------
// Minimal protobuf / ONNX writer
// ---------------------------------------------------------------------------------------------------------------------

function varint(value: number | bigint): Buffer {
  let v = BigInt.asUintN(64, BigInt(value));
  const bytes: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    bytes.push(byte);
  } while (v !== 0n);
  return Buffer.from(bytes);
}

class Message {
  private readonly chunks: Buffer[] = [];
  varint(field: number, value: number | bigint): this {
    this.chunks.push(varint((field << 3) | 0), varint(value));
    return this;
  }
  bytes(field: number, buf: Buffer): this {
    this.chunks.push(varint((field << 3) | 2), varint(buf.length), buf);
    return this;
  }
  string(field: number, s: string): this {
    return this.bytes(field, Buffer.from(s, 'utf8'));
  }
  message(field: number, msg: Message): this {
    return this.bytes(field, msg.toBuffer());
  }
  toBuffer(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

const DT_FLOAT = 1;
const DT_INT64 = 7;
type Dim = number | string;

interface NodeSpec {
  op: string;
  inputs: string[];
  output: string;
  /** Integer attributes only (all this fixture needs). */
  ints?: Record<string, number>;
}

function valueInfo(name: string, elemType: number, dims: Dim[]): Message {
  const shape = new Message();
  for (const d of dims) shape.message(1, typeof d === 'string' ? new Message().string(2, d) : new Message().varint(1, d));
  const tensorType = new Message().varint(1, elemType).message(2, shape);
  return new Message().string(1, name).message(2, new Message().message(1, tensorType));
}

function floatTensor(name: string, dims: number[], values: Float32Array): Message {
  const m = new Message();
  for (const d of dims) m.varint(1, d);
  return m.varint(2, DT_FLOAT).string(8, name).bytes(9, Buffer.from(values.buffer, values.byteOffset, values.byteLength));
}

function int64Tensor(name: string, dims: number[], values: number[]): Message {
  const raw = Buffer.alloc(values.length * 8);
  values.forEach((v, i) => raw.writeBigInt64LE(BigInt(v), i * 8));
  const m = new Message();
  for (const d of dims) m.varint(1, d);
  return m.varint(2, DT_INT64).string(8, name).bytes(9, raw);
}

function onnxModel(options: {
  nodes: NodeSpec[];
  initializers: Message[];
  inputs: Array<{ name: string; type: number; dims: Dim[] }>;
  outputs: Array<{ name: string; type: number; dims: Dim[] }>;
}): Buffer {
  const graph = new Message();
  options.nodes.forEach((n, i) => {
    const node = new Message();
    for (const input of n.inputs) node.string(1, input);
    node.string(2, n.output).string(3, `${n.op}_${i}`).string(4, n.op);
    for (const [key, value] of Object.entries(n.ints ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
      node.message(5, new Message().string(1, key).varint(3, value).varint(20, 2));
    }
    graph.message(1, node);
  });
  graph.string(2, 'tiny-st');
  for (const t of options.initializers) graph.message(5, t);
  for (const i of options.inputs) graph.message(11, valueInfo(i.name, i.type, i.dims));
  for (const o of options.outputs) graph.message(12, valueInfo(o.name, o.type, o.dims));
  return new Message()
    .varint(1, 8)
    .string(2, 'devenviro-cockpit/test-fixture')
    .message(7, graph)
    .message(8, new Message().string(1, '').varint(2, 17))
    .toBuffer();
}

// ---------------------------------------------------------------------------------------------------------------------
// Tiny BERT tokenizer
// ---------------------------------------------------------------------------------------------------------------------

/** Vocabulary by id: specials first, then words and ## continuation pieces. */
export const VOCAB: readonly string[] = [
  '[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]',
  '.', ',', '!', '?', "'",
  'the', 'a', 'cat', 'cats', 'sat', 'on', 'mat', 'dog', 'ran', 'in',
  'park', 'play', 'run', 'jump', 'hello', 'world', 'cafe', 'resume', 'naive', 'un',
  'is', 'was', 'to', 'and', 'of', 'big', 'small', 'red', 'blue', 'memory',
  'agent', 'code', 'test', 'fast', 'slow', 'i', 'you', 'it', 'b', 'c',
  '##s', '##ing', '##ed', '##er', '##ly', '##believ', '##able', '##n', '##e', '##c',
];
export const TOKEN_ID: ReadonlyMap<string, number> = new Map(VOCAB.map((token, id) => [token, id]));
export const HIDDEN = 8;
export const MAX_POSITIONS = 64;

const special = (content: string, id = TOKEN_ID.get(content)!) => ({
  id,
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: false,
  special: true,
});

/** A tokenizer.json as written by the Rust `tokenizers` library for bert-base-uncased style models. */
export function bertTokenizerJson(): object {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].map(special),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [TOKEN_ID.get('[CLS]')], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [TOKEN_ID.get('[SEP]')], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(VOCAB.map((token, id) => [token, id])),
    },
  };
}

/** A tiny SentencePiece-style Unigram tokenizer.json (Metaspace pre-tokenizer, "</s>" appended), T5/XLM-R family. */
export function unigramTokenizerJson(): object {
  const pieces: Array<[string, number]> = [
    ['<pad>', 0], ['</s>', 0], ['<unk>', 0],
    ['\u2581the', -2], ['\u2581cat', -3], ['\u2581c', -5], ['at', -4], ['s', -3], ['\u2581sat', -3.5], ['\u2581', -4],
    ['\u2581on', -3], ['\u2581mat', -4], ['\u2581m', -5], ['.', -3], ['\u2581dog', -4], ['e', -6], ['a', -6], ['t', -6],
  ];
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      special('<pad>', 0),
      special('</s>', 1),
      special('<unk>', 2),
    ],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Lowercase' }] },
    pre_tokenizer: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      pair: [
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '</s>', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 0 } },
        { SpecialToken: { id: '</s>', type_id: 0 } },
      ],
      special_tokens: { '</s>': { id: '</s>', ids: [1], tokens: ['</s>'] } },
    },
    decoder: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: true },
    model: { type: 'Unigram', unk_id: 2, vocab: pieces, byte_fallback: false },
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// Tiny model
// ---------------------------------------------------------------------------------------------------------------------

const random = mulberry32;

function table(rows: number, cols: number, next: () => number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < out.length; i++) out[i] = next() * 2 - 1;
  return out;
}

export interface TinyWeights {
  word: Float32Array; // [VOCAB.length, HIDDEN]
  tokenType: Float32Array; // [2, HIDDEN]
  position: Float32Array; // [MAX_POSITIONS, HIDDEN]
}

export function tinyWeights(seed = 42): TinyWeights {
  const next = random(seed);
  return {
    word: table(VOCAB.length, HIDDEN, next),
    tokenType: table(2, HIDDEN, next),
    position: table(MAX_POSITIONS, HIDDEN, next),
  };
}

export interface TinyModelOptions {
  seed?: number;
  /** Include the token_type_ids input (default true). */
  tokenTypes?: boolean;
  /** Name of the per-token output (default last_hidden_state). */
  output?: string;
  /** Declare the hidden size as a symbolic dimension, so the loader has to probe (default false). */
  symbolicHidden?: boolean;
  /** Also output `sentence_embedding` = sum over all tokens (unmasked), like a graph with pooling inside. */
  pooledOutput?: boolean;
}

/**
 * ONNX graph: hidden[b, t] = word[input_ids[b, t]] + tokenType[token_type_ids[b, t]] + position[t]. Like a real
 * encoder it produces non-zero vectors at padded positions, so pooling must apply the attention mask itself.
 */
export function tinyOnnx(options: TinyModelOptions = {}): Buffer {
  const w = tinyWeights(options.seed);
  const tokenTypes = options.tokenTypes ?? true;
  const output = options.output ?? 'last_hidden_state';
  const nodes: NodeSpec[] = [
    { op: 'Gather', inputs: ['word_embeddings', 'input_ids'], output: 'word' },
    // Positions 0..seq-1: slice the position table to the sequence length.
    { op: 'Shape', inputs: ['input_ids'], output: 'seq_len', ints: { start: 1, end: 2 } },
    { op: 'Slice', inputs: ['position_embeddings', 'zero', 'seq_len', 'zero'], output: 'positions' },
  ];
  if (tokenTypes) {
    nodes.push({ op: 'Gather', inputs: ['token_type_embeddings', 'token_type_ids'], output: 'types' });
    nodes.push({ op: 'Add', inputs: ['word', 'types'], output: 'word_types' });
    nodes.push({ op: 'Add', inputs: ['word_types', 'positions'], output });
  } else {
    nodes.push({ op: 'Add', inputs: ['word', 'positions'], output });
  }
  const hiddenDim: Dim = options.symbolicHidden ? 'hidden' : HIDDEN;
  const outputs = [{ name: output, type: DT_FLOAT, dims: ['batch', 'sequence', hiddenDim] as Dim[] }];
  if (options.pooledOutput) {
    nodes.push({ op: 'ReduceSum', inputs: [output, 'axis_1'], output: 'sentence_embedding', ints: { keepdims: 0 } });
    outputs.push({ name: 'sentence_embedding', type: DT_FLOAT, dims: ['batch', hiddenDim] });
  }
  const inputs = [
    { name: 'input_ids', type: DT_INT64, dims: ['batch', 'sequence'] as Dim[] },
    { name: 'attention_mask', type: DT_INT64, dims: ['batch', 'sequence'] as Dim[] },
  ];
  if (tokenTypes) inputs.push({ name: 'token_type_ids', type: DT_INT64, dims: ['batch', 'sequence'] });
  const initializers = [
    floatTensor('word_embeddings', [VOCAB.length, HIDDEN], w.word),
    floatTensor('position_embeddings', [MAX_POSITIONS, HIDDEN], w.position),
    int64Tensor('zero', [1], [0]),
  ];
  if (options.pooledOutput) initializers.push(int64Tensor('axis_1', [1], [1]));
  if (tokenTypes) initializers.push(floatTensor('token_type_embeddings', [2, HIDDEN], w.tokenType));
  return onnxModel({ nodes, initializers, inputs, outputs });
}

/** What the tiny graph outputs for one sequence of ids (token type 0): [ids.length][HIDDEN]. */
export function tinyHidden(ids: number[], options: { seed?: number; tokenTypes?: boolean } = {}): number[][] {
  const w = tinyWeights(options.seed);
  const tokenTypes = options.tokenTypes ?? true;
  return ids.map((id, t) =>
    Array.from({ length: HIDDEN }, (_, k) => {
      // Float32 adds in the graph's order, so the reference sees the same rounding as onnxruntime.
      let v = Math.fround(w.word[id * HIDDEN + k]!);
      if (tokenTypes) v = Math.fround(v + w.tokenType[k]!);
      return Math.fround(v + w.position[t * HIDDEN + k]!);
    }),
  );
}

export interface TinyDirOptions extends TinyModelOptions {
  /** Where model.onnx goes: the folder itself, or an onnx/ subfolder as on the Hugging Face Hub (default 'root'). */
  layout?: 'root' | 'onnx-subdir';
  /** Pooling written to 1_Pooling/config.json (and modules.json); omitted: no pooling config at all. */
  pooling?: 'mean' | 'cls' | 'max';
  /** sentence_bert_config.json max_seq_length; omitted: no such file. */
  maxSeqLength?: number;
  /** tokenizer_config.json model_max_length; omitted: no such file. */
  modelMaxLength?: number;
}

/** Writes a complete tiny sentence-transformers folder into `dir` and returns `dir`. */
export function writeTinySentenceTransformer(dir: string, options: TinyDirOptions = {}): string {
  mkdirSync(dir, { recursive: true });
  const json = (file: string, value: unknown) => {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), `${JSON.stringify(value, null, 2)}\n`);
  };
  json('tokenizer.json', bertTokenizerJson());
  const modelPath = options.layout === 'onnx-subdir' ? path.join(dir, 'onnx', 'model.onnx') : path.join(dir, 'model.onnx');
  mkdirSync(path.dirname(modelPath), { recursive: true });
  writeFileSync(modelPath, tinyOnnx(options));
  json('config.json', { model_type: 'bert', hidden_size: HIDDEN, max_position_embeddings: MAX_POSITIONS, vocab_size: VOCAB.length });
  json('special_tokens_map.json', {
    cls_token: '[CLS]', sep_token: '[SEP]', pad_token: '[PAD]', unk_token: '[UNK]', mask_token: '[MASK]',
  });
  if (options.modelMaxLength !== undefined) {
    json('tokenizer_config.json', { do_lower_case: true, model_max_length: options.modelMaxLength, tokenizer_class: 'BertTokenizer' });
  }
  if (options.maxSeqLength !== undefined) json('sentence_bert_config.json', { max_seq_length: options.maxSeqLength, do_lower_case: false });
  if (options.pooling !== undefined) {
    json('modules.json', [
      { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
      { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
      { idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' },
    ]);
    json('1_Pooling/config.json', {
      word_embedding_dimension: HIDDEN,
      pooling_mode_cls_token: options.pooling === 'cls',
      pooling_mode_mean_tokens: options.pooling === 'mean',
      pooling_mode_max_tokens: options.pooling === 'max',
      pooling_mode_mean_sqrt_len_tokens: false,
      pooling_mode_weightedmean_tokens: false,
      pooling_mode_lasttoken: false,
      include_prompt: true,
    });
    mkdirSync(path.join(dir, '2_Normalize'), { recursive: true });
  }
  return dir;
}
