// User-brought sentence-transformers models exported to ONNX (e.g. all-MiniLM-L6-v2 from the Hugging Face Hub's
// onnx/ folder or an Optimum export): a folder with model.onnx (or onnx/model.onnx) and tokenizer.json, optionally
// config.json, tokenizer_config.json, special_tokens_map.json, sentence_bert_config.json, modules.json,
// 1_Pooling/config.json and 2_Normalize/.
//
// Pipeline, as sentence-transformers does it: tokenise with tokenizer.json (@huggingface/tokenizers, pure JS, offline),
// truncate to the max sequence length keeping the special tokens, pad each batch to its longest sequence, run the
// graph, pool the per-token output with the attention mask (mode from 1_Pooling/config.json, default mean), and
// L2-normalise (always: the memory engine compares vectors by inner product). A graph that already outputs pooled
// vectors (`sentence_embedding`, rank 2) is only normalised.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import * as ort from 'onnxruntime-node';
import { cpuSessionOptions, QueuedOnnxEncoder, runnerFor, type EmbedOptions, type OnnxSentenceEncoderOptions } from './encoder';
import type { InferenceRunner } from './inference-worker';
import type { Tokenizer } from './tokenizer';

/** sentence-transformers pooling modes (1_Pooling/config.json). Several enabled modes are concatenated in this order. */
export const POOLING_MODES = ['cls', 'max', 'mean', 'mean_sqrt_len_tokens', 'weightedmean', 'lasttoken'] as const;
export type PoolingMode = (typeof POOLING_MODES)[number];

/** Max sequence length when neither sentence_bert_config.json nor tokenizer_config.json says. */
export const DEFAULT_MAX_LENGTH = 256;
/** Cap for tokenizer_config.json model_max_length (often a huge sentinel such as 1e30). */
export const TOKENIZER_MAX_LENGTH_CAP = 512;
/** Texts per inference call unless told otherwise. */
const ST_BATCH_SIZE = 32;

export interface SentenceTransformerOptions extends OnnxSentenceEncoderOptions {
  /** Texts per inference call (default 32: transformer exports were not measured like the built-in encoder). */
  batchSize?: number;
  /** Max tokens per text including special tokens (default: from the folder's config files, see resolveMaxLength). */
  maxLength?: number;
  /** Pooling override (default: from 1_Pooling/config.json, else mean). Changes the encoder id. */
  pooling?: PoolingMode | PoolingMode[];
  /** Graph output to use (default: sentence_embedding, last_hidden_state, token_embeddings, or the only output). */
  output?: string;
  /** ONNX file relative to the folder (default: model.onnx, onnx/model.onnx, or the only *.onnx file). */
  modelFile?: string;
  /** Name used in the encoder id (default: the folder's name, or its parent's when the folder is `onnx`). */
  name?: string;
  /**
   * modules.json may list modules that an ONNX export of the transformer alone does not contain (e.g. 2_Dense).
   * Pooling the per-token output then gives different vectors than the original model, so loading fails unless this
   * is true (the vectors are still consistent among themselves).
   */
  ignoreExtraModules?: boolean;
}

/** What a sentence-transformers folder holds and how it will be run, read without creating an inference session. */
export interface SentenceTransformerInfo {
  dir: string;
  /** Stable encoder id: `st:<name>:<first 12 hex of sha256(model file)>`, plus `:<pooling>` when not mean. */
  id: string;
  name: string;
  /** Absolute paths. */
  modelFile: string;
  tokenizerFile: string;
  modelSha256: string;
  /** Relative paths of the recognised files that are present. */
  files: string[];
  maxLength: number;
  maxLengthSource: 'option' | 'sentence_bert_config.json' | 'tokenizer_config.json' | 'default';
  pooling: PoolingMode[];
  poolingSource: 'option' | 'pooling-config' | 'default';
  /** sentence_bert_config.json do_lower_case: texts are lower-cased before tokenising. */
  lowercase: boolean;
  /** config.json hidden_size, if any (the per-token width; the real dimension comes from the graph). */
  hiddenSize?: number;
  /** modules.json entries other than Transformer / Pooling / Normalize (e.g. "2_Dense"). */
  extraModules: string[];
  warnings: string[];
}

const RECOGNISED_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'config.json',
  'sentence_bert_config.json',
  'modules.json',
  '1_Pooling/config.json',
  '2_Normalize',
];

// ---------------------------------------------------------------------------------------------------------------------
// Files and configuration
// ---------------------------------------------------------------------------------------------------------------------

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

async function readJson(file: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

async function listOnnx(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((f) => f.endsWith('.onnx')).sort();
  } catch {
    return [];
  }
}

/** The files that make a folder a sentence-transformers ONNX export; absent ones are undefined. */
export interface SentenceTransformerFiles {
  /** Relative path of the ONNX graph. */
  model?: string;
  /** Relative path of tokenizer.json. */
  tokenizer?: string;
  /** Every *.onnx in the folder and its onnx/ subfolder, when the model could not be chosen among several. */
  ambiguous?: string[];
}

/**
 * Finds the ONNX graph (model.onnx, onnx/model.onnx, else the only *.onnx file in the folder or in onnx/) and
 * tokenizer.json (in the folder, else in onnx/).
 */
export async function findSentenceTransformerFiles(dir: string, modelFile?: string): Promise<SentenceTransformerFiles> {
  const found: SentenceTransformerFiles = {};
  for (const rel of ['tokenizer.json', 'onnx/tokenizer.json']) {
    if (await exists(path.join(dir, rel))) {
      found.tokenizer = rel;
      break;
    }
  }
  if (modelFile !== undefined) {
    if (await exists(path.join(dir, modelFile))) found.model = modelFile;
    return found;
  }
  for (const rel of ['model.onnx', 'onnx/model.onnx']) {
    if (await exists(path.join(dir, rel))) {
      found.model = rel;
      return found;
    }
  }
  const candidates = [
    ...(await listOnnx(dir)),
    ...(await listOnnx(path.join(dir, 'onnx'))).map((f) => `onnx/${f}`),
  ];
  if (candidates.length === 1) found.model = candidates[0];
  else if (candidates.length > 1) found.ambiguous = candidates;
  return found;
}

function isPoolingMode(value: unknown): value is PoolingMode {
  return typeof value === 'string' && (POOLING_MODES as readonly string[]).includes(value);
}

/** Pooling modes from a 1_Pooling/config.json (flag style, or a `pooling_mode` string); undefined if none is on. */
export function poolingFromConfig(config: Record<string, unknown>): PoolingMode[] | undefined {
  const flags: Record<PoolingMode, string> = {
    cls: 'pooling_mode_cls_token',
    max: 'pooling_mode_max_tokens',
    mean: 'pooling_mode_mean_tokens',
    mean_sqrt_len_tokens: 'pooling_mode_mean_sqrt_len_tokens',
    weightedmean: 'pooling_mode_weightedmean_tokens',
    lasttoken: 'pooling_mode_lasttoken',
  };
  const modes = POOLING_MODES.filter((mode) => config[flags[mode]] === true);
  if (modes.length > 0) return modes;
  const named = config.pooling_mode;
  if (typeof named === 'string') {
    const alias: Record<string, PoolingMode> = { cls_token: 'cls', max_tokens: 'max', mean_tokens: 'mean' };
    const mode = alias[named] ?? named;
    if (isPoolingMode(mode)) return [mode];
    throw new Error(`unsupported pooling_mode "${named}"`);
  }
  return undefined;
}

const positiveInt = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;

/** The name part of the encoder id: the folder's name (its parent's if it is called `onnx`), made id-safe. */
function modelName(dir: string, override?: string): string {
  let base = override ?? path.basename(dir);
  if (override === undefined && base === 'onnx') base = path.basename(path.dirname(dir));
  const safe = base.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '');
  return safe === '' ? 'model' : safe;
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Reads a sentence-transformers folder's files and configuration (no inference session): which model and tokenizer
 * files, the id, max length, pooling. Throws a clear error when model or tokenizer is missing.
 */
export async function inspectSentenceTransformer(
  dir: string,
  options: SentenceTransformerOptions = {},
): Promise<SentenceTransformerInfo> {
  const root = path.resolve(dir);
  const found = await findSentenceTransformerFiles(root, options.modelFile);
  const missing: string[] = [];
  if (!found.model) {
    missing.push(
      options.modelFile
        ? options.modelFile
        : found.ambiguous
          ? `one ONNX graph (found several: ${found.ambiguous.join(', ')}; pick one with the modelFile option)`
          : 'model.onnx (or onnx/model.onnx)',
    );
  }
  if (!found.tokenizer) missing.push('tokenizer.json');
  if (missing.length > 0 || !found.model || !found.tokenizer) {
    throw new Error(`${root} is not a sentence-transformers ONNX folder: missing ${missing.join(' and ')}`);
  }

  const warnings: string[] = [];
  const files: string[] = [found.model];
  for (const rel of RECOGNISED_FILES) if (await exists(path.join(root, rel))) files.push(rel);
  if (found.tokenizer !== 'tokenizer.json') files.push(found.tokenizer);

  const stConfig = await readJson(path.join(root, 'sentence_bert_config.json'));
  const tokConfig = await readJson(path.join(root, 'tokenizer_config.json'));
  const modelConfig = await readJson(path.join(root, 'config.json'));
  const modules = await readJson(path.join(root, 'modules.json'));

  // Max length: option, sentence_bert_config.json, tokenizer_config.json (capped at 512), else 256; never more than
  // the model's position table (config.json max_position_embeddings).
  let maxLength: number;
  let maxLengthSource: SentenceTransformerInfo['maxLengthSource'];
  if (options.maxLength !== undefined) {
    if (!positiveInt(options.maxLength)) throw new Error(`maxLength must be a positive integer, got ${options.maxLength}`);
    maxLength = options.maxLength;
    maxLengthSource = 'option';
  } else if (positiveInt(stConfig?.max_seq_length)) {
    maxLength = stConfig!.max_seq_length as number;
    maxLengthSource = 'sentence_bert_config.json';
  } else if (positiveInt(tokConfig?.model_max_length)) {
    maxLength = Math.min(tokConfig!.model_max_length as number, TOKENIZER_MAX_LENGTH_CAP);
    maxLengthSource = 'tokenizer_config.json';
  } else {
    maxLength = DEFAULT_MAX_LENGTH;
    maxLengthSource = 'default';
  }
  const positions = positiveInt(modelConfig?.max_position_embeddings);
  if (positions !== undefined && maxLength > positions && maxLengthSource !== 'option') {
    warnings.push(`max length ${maxLength} exceeds max_position_embeddings ${positions}; using ${positions}`);
    maxLength = positions;
  }

  // Pooling: option, else the Pooling module's config (path from modules.json, else 1_Pooling/), else mean.
  const moduleList = Array.isArray(modules) ? (modules as Array<Record<string, unknown>>) : [];
  const poolingModule = moduleList.find((m) => String(m.type ?? '').endsWith('.Pooling'));
  const poolingDir = typeof poolingModule?.path === 'string' ? poolingModule.path : '1_Pooling';
  let pooling: PoolingMode[];
  let poolingSource: SentenceTransformerInfo['poolingSource'];
  if (options.pooling !== undefined) {
    pooling = Array.isArray(options.pooling) ? [...options.pooling] : [options.pooling];
    const bad = pooling.filter((p) => !isPoolingMode(p));
    if (pooling.length === 0 || bad.length > 0) throw new Error(`unsupported pooling option: ${JSON.stringify(options.pooling)}`);
    pooling = POOLING_MODES.filter((m) => pooling.includes(m));
    poolingSource = 'option';
  } else {
    const poolingFile = path.join(root, poolingDir, 'config.json');
    const config = await readJson(poolingFile);
    let fromConfig: PoolingMode[] | undefined;
    try {
      fromConfig = config ? poolingFromConfig(config) : undefined;
    } catch (err) {
      throw new Error(`${poolingFile}: ${(err as Error).message}`, { cause: err });
    }
    if (config && !fromConfig) warnings.push(`${poolingDir}/config.json enables no pooling mode; using mean`);
    pooling = fromConfig ?? ['mean'];
    poolingSource = fromConfig ? 'pooling-config' : 'default';
  }

  const extraModules = moduleList
    .filter((m) => !/\.(Transformer|Pooling|Normalize)$/.test(String(m.type ?? '')))
    .map((m) => String(m.path || m.name || m.type));

  const name = modelName(root, options.name);
  const modelFile = path.join(root, found.model);
  const modelSha256 = await sha256File(modelFile);
  const poolingKey = pooling.join('+');
  const id = `st:${name}:${modelSha256.slice(0, 12)}${poolingKey === 'mean' ? '' : `:${poolingKey}`}`;

  return {
    dir: root,
    id,
    name,
    modelFile,
    tokenizerFile: path.join(root, found.tokenizer),
    modelSha256,
    files,
    maxLength,
    maxLengthSource,
    pooling,
    poolingSource,
    lowercase: stConfig?.do_lower_case === true,
    hiddenSize: positiveInt(modelConfig?.hidden_size),
    extraModules,
    warnings,
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// Tokenizer
// ---------------------------------------------------------------------------------------------------------------------

/** Token ids and token type ids of one text, as fed to the model. */
export interface EncodedText {
  ids: number[];
  typeIds: number[];
  tokens: string[];
}

function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return undefined;
}

/**
 * A Hugging Face tokenizer.json (WordPiece, BPE, Unigram ... as supported by @huggingface/tokenizers) with
 * sentence-transformers truncation: at most `maxLength` ids, special tokens ([CLS] ... [SEP], <s> ... </s>) kept.
 */
export class TokenizerJsonTokenizer implements Tokenizer {
  readonly padId: number;
  private readonly tokenizer: HfTokenizer;

  constructor(
    tokenizerJson: Record<string, unknown>,
    config: Record<string, unknown>,
    readonly maxLength: number,
    private readonly lowercase = false,
  ) {
    // tokenizers.js wants every top-level component key present (null when absent) and an added_tokens array.
    const json: Record<string, unknown> = { added_tokens: [], ...tokenizerJson };
    for (const key of ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder']) json[key] ??= null;
    if (!json.model || typeof json.model !== 'object') throw new Error('tokenizer.json has no "model"');
    this.tokenizer = new HfTokenizer(json, config);
    const padding = tokenizerJson.padding as { pad_id?: unknown } | null | undefined;
    const candidates = [tokenContent(config.pad_token), '[PAD]', '<pad>'];
    const fromToken = candidates.map((t) => (t === undefined ? undefined : this.tokenizer.token_to_id(t))).find((id) => id !== undefined);
    this.padId = typeof padding?.pad_id === 'number' ? padding.pad_id : (fromToken ?? 0);
  }

  /**
   * Loads `tokenizerFile`, with tokenizer_config.json / special_tokens_map.json from `configDir` (default: the
   * tokenizer's folder) if present.
   */
  static async fromFile(
    tokenizerFile: string,
    maxLength: number,
    lowercase = false,
    configDir = path.dirname(tokenizerFile),
  ): Promise<TokenizerJsonTokenizer> {
    const json = await readJson(tokenizerFile);
    if (!json) throw new Error(`cannot read ${tokenizerFile}`);
    const specials = (await readJson(path.join(configDir, 'special_tokens_map.json'))) ?? {};
    const config = (await readJson(path.join(configDir, 'tokenizer_config.json'))) ?? {};
    // tokenizers.js reads special tokens (eos_token for Unigram, pad_token) as plain strings from the config.
    const merged: Record<string, unknown> = {};
    for (const [key, value] of Object.entries({ ...specials, ...config })) merged[key] = tokenContent(value) ?? value;
    try {
      return new TokenizerJsonTokenizer(json, merged, maxLength, lowercase);
    } catch (err) {
      throw new Error(`cannot use ${tokenizerFile}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Token strings of a text as fed to the model (special tokens included, truncated). */
  tokens(text: string): string[] {
    return this.encodeText(text).tokens;
  }

  encode(text: string): number[] {
    return this.encodeText(text).ids;
  }

  encodeText(text: string): EncodedText {
    const input = this.lowercase ? text.toLowerCase() : text;
    const full = this.tokenizer.encode(input, { return_token_type_ids: true });
    const typeIds = full.token_type_ids ?? new Array<number>(full.ids.length).fill(0);
    if (full.ids.length <= this.maxLength) return { ids: full.ids, typeIds, tokens: full.tokens };

    // Too long: keep the special tokens the post-processor added and cut the text's own tokens, as the Rust tokenizers
    // library (and so sentence-transformers) truncates. Find where the bare tokens sit inside the full sequence.
    const bare = this.tokenizer.encode(input, { add_special_tokens: false });
    const added = full.ids.length - bare.ids.length;
    let offset = -1;
    for (let p = 0; p <= added && offset < 0; p++) {
      if (bare.ids.every((id, i) => full.ids[p + i] === id)) offset = p;
    }
    if (offset < 0 || added >= this.maxLength) {
      // The post-processor did more than add tokens around the text: plain cut.
      return {
        ids: full.ids.slice(0, this.maxLength),
        typeIds: typeIds.slice(0, this.maxLength),
        tokens: full.tokens.slice(0, this.maxLength),
      };
    }
    const keep = this.maxLength - added;
    const cut = <T>(xs: T[]): T[] => [...xs.slice(0, offset + keep), ...xs.slice(offset + bare.ids.length)];
    return { ids: cut(full.ids), typeIds: cut(typeIds), tokens: cut(full.tokens) };
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Pooling
// ---------------------------------------------------------------------------------------------------------------------

/**
 * Pools one sequence's per-token vectors `hidden` (row-major [seq, width], padded rows included) with its attention
 * mask, then L2-normalises; several modes are concatenated. Matches sentence-transformers' Pooling module (clamps
 * token counts at 1e-9), except that a text with no tokens at all gives a zero vector for every mode.
 */
export function poolAndNormalize(
  hidden: Float32Array,
  mask: ArrayLike<number | bigint>,
  width: number,
  modes: readonly PoolingMode[],
): Float32Array {
  const seq = mask.length;
  const out = new Float64Array(width * modes.length);
  const on = (t: number) => Number(mask[t]) !== 0;
  let count = 0;
  let last = -1;
  for (let t = 0; t < seq; t++) {
    if (on(t)) {
      count++;
      last = t;
    }
  }
  modes.forEach((mode, m) => {
    const o = m * width;
    if (count === 0) return;
    switch (mode) {
      case 'cls':
      case 'lasttoken': {
        const t = mode === 'cls' ? 0 : last;
        for (let k = 0; k < width; k++) out[o + k] = hidden[t * width + k]!;
        break;
      }
      case 'max':
        for (let k = 0; k < width; k++) {
          let best = -Infinity;
          for (let t = 0; t < seq; t++) if (on(t)) best = Math.max(best, hidden[t * width + k]!);
          out[o + k] = best;
        }
        break;
      case 'mean':
      case 'mean_sqrt_len_tokens':
      case 'weightedmean': {
        let total = 0;
        for (let t = 0; t < seq; t++) {
          if (!on(t)) continue;
          const w = mode === 'weightedmean' ? t + 1 : 1;
          total += w;
          for (let k = 0; k < width; k++) out[o + k] = out[o + k]! + w * hidden[t * width + k]!;
        }
        const divisor = mode === 'mean_sqrt_len_tokens' ? Math.sqrt(Math.max(count, 1e-9)) : Math.max(total, 1e-9);
        for (let k = 0; k < width; k++) out[o + k] = out[o + k]! / divisor;
        break;
      }
    }
  });
  return normalized(out);
}

/** L2-normalises in float64 and returns float32 (zero vectors stay zero). */
function normalized(values: ArrayLike<number>): Float32Array {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i]! * values[i]!;
  const norm = Math.sqrt(sum);
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = norm > 0 ? values[i]! / norm : 0;
  return out;
}

// ---------------------------------------------------------------------------------------------------------------------
// Encoder
// ---------------------------------------------------------------------------------------------------------------------

const OUTPUT_PREFERENCE = ['sentence_embedding', 'last_hidden_state', 'token_embeddings'];
const KNOWN_INPUTS = ['input_ids', 'attention_mask', 'token_type_ids', 'position_ids'];

type IntType = 'int64' | 'int32';

interface GraphIo {
  output: string;
  /** 3: per-token [batch, seq, width] (pooled here); 2: pooled [batch, dim]; undefined: not declared, probe. */
  rank?: 2 | 3;
  /** Declared last dimension, if numeric. */
  width?: number;
  inputTypes: Map<string, IntType>;
}

function tensorMeta(
  list: readonly ort.InferenceSession.ValueMetadata[] | undefined,
  name: string,
): ort.InferenceSession.TensorValueMetadata | undefined {
  const meta = list?.find((m) => m.name === name);
  return meta && meta.isTensor ? meta : undefined;
}

function inspectGraph(session: ort.InferenceSession, id: string, outputOption?: string): GraphIo {
  const unknown = session.inputNames.filter((n) => !KNOWN_INPUTS.includes(n));
  if (!session.inputNames.includes('input_ids') || unknown.length > 0) {
    throw new Error(
      `encoder ${id}: unsupported model inputs [${session.inputNames.join(', ')}]; expected input_ids and optionally ` +
        `${KNOWN_INPUTS.slice(1).join(', ')}`,
    );
  }
  const inputTypes = new Map<string, IntType>();
  for (const name of session.inputNames) {
    const type = tensorMeta(session.inputMetadata, name)?.type ?? 'int64';
    if (type !== 'int64' && type !== 'int32') throw new Error(`encoder ${id}: input ${name} is ${type}, expected int64 or int32`);
    inputTypes.set(name, type);
  }

  let output: string | undefined;
  if (outputOption !== undefined) {
    if (!session.outputNames.includes(outputOption)) {
      throw new Error(`encoder ${id}: model has no output "${outputOption}" (outputs: ${session.outputNames.join(', ')})`);
    }
    output = outputOption;
  } else {
    output = OUTPUT_PREFERENCE.find((n) => session.outputNames.includes(n));
    if (!output && session.outputNames.length === 1) output = session.outputNames[0];
    if (!output) {
      throw new Error(
        `encoder ${id}: cannot tell which output holds the embeddings (outputs: ${session.outputNames.join(', ')}); ` +
          'pass the output option',
      );
    }
  }
  const shape = tensorMeta(session.outputMetadata, output)?.shape ?? [];
  const rank = shape.length === 2 || shape.length === 3 ? shape.length : undefined;
  const lastDim = shape[shape.length - 1];
  return { output, rank, width: typeof lastDim === 'number' && lastDim > 0 ? lastDim : undefined, inputTypes };
}

/** A user-brought sentence-transformers ONNX model; create it with loadSentenceTransformer. */
export class SentenceTransformerEncoder extends QueuedOnnxEncoder {
  readonly id: string;
  readonly maxLength: number;
  readonly output: string;
  private dim = 0;
  private rank: 2 | 3 | undefined;
  private readonly batchSize: number;

  private constructor(
    runner: InferenceRunner,
    readonly tokenizer: TokenizerJsonTokenizer,
    readonly info: SentenceTransformerInfo,
    private readonly io: GraphIo,
    private readonly options: SentenceTransformerOptions,
  ) {
    super(runner);
    this.id = info.id;
    this.maxLength = info.maxLength;
    this.output = io.output;
    this.rank = io.rank;
    this.batchSize = Math.max(1, Math.floor(options.batchSize ?? ST_BATCH_SIZE));
    if (io.rank !== undefined && io.width !== undefined) {
      this.dim = io.rank === 3 ? io.width * info.pooling.length : io.width;
    }
  }

  get dimension(): number {
    return this.dim;
  }

  /** Pooling applied to the per-token output, or 'included' when the graph outputs pooled vectors. */
  get pooling(): PoolingMode[] | 'included' {
    return this.rank === 2 ? 'included' : this.info.pooling;
  }

  static async load(dir: string, options: SentenceTransformerOptions = {}): Promise<SentenceTransformerEncoder> {
    const info = await inspectSentenceTransformer(dir, options);
    const tokenizer = await TokenizerJsonTokenizer.fromFile(info.tokenizerFile, info.maxLength, info.lowercase, info.dir);
    const sessionOptions = cpuSessionOptions(options.threads);
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(info.modelFile, sessionOptions);
    } catch (err) {
      throw new Error(`encoder ${info.id}: cannot load ${info.modelFile}: ${(err as Error).message}`, { cause: err });
    }
    let io: GraphIo;
    try {
      io = inspectGraph(session, info.id, options.output);
    } catch (err) {
      await session.release();
      throw err;
    }
    const runner = await runnerFor(session, info.modelFile, sessionOptions);
    try {
      const encoder = new SentenceTransformerEncoder(runner, tokenizer, info, io, options);
      // Symbolic or undeclared output shape: one probe run tells the rank and width.
      if (encoder.dim === 0) await encoder.runBatch([tokenizer.encodeText('hello world')]);
      encoder.checkModules();
      return encoder;
    } catch (err) {
      await runner.release();
      throw err;
    }
  }

  /** Token ids as fed to the model (tokenised, special tokens added, truncated to maxLength). */
  tokenize(text: string): number[] {
    return this.tokenizer.encode(text);
  }

  /** A per-token output cannot stand in for modules (e.g. 2_Dense) that modules.json lists after pooling. */
  private checkModules(): void {
    const { extraModules } = this.info;
    if (this.rank !== 3 || extraModules.length === 0) return;
    const message =
      `modules.json lists ${extraModules.join(', ')}, which ${path.basename(this.info.modelFile)} does not contain ` +
      `(its output "${this.output}" is per-token)`;
    if (!this.options.ignoreExtraModules) {
      throw new Error(
        `encoder ${this.id}: ${message}; export the full model (an ONNX graph with a sentence_embedding output) ` +
          'or load with ignoreExtraModules to pool the per-token output anyway',
      );
    }
    this.info.warnings.push(`${message}; ignored`);
  }

  protected async embedNow(texts: string[], options: EmbedOptions = {}): Promise<Float32Array[]> {
    const encoded = texts.map((t) => this.tokenizer.encodeText(t));
    return this.inLengthOrder(encoded, (text) => text.ids.length, this.batchSize, (batch) => this.runBatch(batch, options));
  }

  private async runBatch(batch: EncodedText[], options: EmbedOptions = {}): Promise<Float32Array[]> {
    // Pad to the longest sequence (at least one column, so a batch of empty texts is still a valid tensor).
    const seq = Math.max(1, ...batch.map((e) => e.ids.length));
    const size = batch.length * seq;
    const ids = new Array<number>(size).fill(this.tokenizer.padId);
    const mask = new Array<number>(size).fill(0);
    const types = new Array<number>(size).fill(0);
    batch.forEach((e, row) => {
      e.ids.forEach((id, col) => {
        ids[row * seq + col] = id;
        mask[row * seq + col] = 1;
        types[row * seq + col] = e.typeIds[col] ?? 0;
      });
    });
    const values: Record<string, number[]> = {
      input_ids: ids,
      attention_mask: mask,
      token_type_ids: types,
      position_ids: Array.from({ length: size }, (_, i) => i % seq),
    };
    const dims = [batch.length, seq];
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, type] of this.io.inputTypes) {
      const data = values[name]!;
      feeds[name] =
        type === 'int64'
          ? new ort.Tensor('int64', BigInt64Array.from(data, (v) => BigInt(v)), dims)
          : new ort.Tensor('int32', Int32Array.from(data), dims);
    }
    const outputs = await this.runner.run(feeds, [this.output], options);
    try {
      const result = outputs[this.output];
      if (!result || result.type !== 'float32') {
        throw new Error(`encoder ${this.id}: output ${this.output} is ${result?.type ?? 'missing'}, expected float32`);
      }
      const shape = result.dims;
      if (this.rank === undefined) {
        if (shape.length !== 2 && shape.length !== 3) {
          throw new Error(`encoder ${this.id}: output ${this.output} has rank ${shape.length}, expected 2 or 3`);
        }
        this.rank = shape.length;
      }
      const width = shape[shape.length - 1]!;
      if (this.dim === 0) this.dim = this.rank === 3 ? width * this.info.pooling.length : width;
      const expected = this.rank === 3 ? [batch.length, seq, width] : [batch.length, width];
      if (shape.length !== expected.length || shape.some((d, i) => d !== expected[i])) {
        throw new Error(`encoder ${this.id}: unexpected output shape [${shape.join(', ')}], expected [${expected.join(', ')}]`);
      }
      const data = result.data as Float32Array;
      return batch.map((_, row) => {
        if (this.rank === 2) return normalized(data.subarray(row * width, (row + 1) * width));
        const hidden = data.subarray(row * seq * width, (row + 1) * seq * width);
        return poolAndNormalize(hidden, mask.slice(row * seq, (row + 1) * seq), width, this.info.pooling);
      });
    } finally {
      for (const t of Object.values(outputs)) t.dispose();
      for (const t of Object.values(feeds)) t.dispose();
    }
  }
}

/**
 * Loads a sentence-transformers model exported to ONNX from `dir` (model.onnx or onnx/model.onnx + tokenizer.json,
 * plus the optional sentence-transformers config files). See SentenceTransformerOptions for overrides.
 */
export function loadSentenceTransformer(
  dir: string,
  options: SentenceTransformerOptions = {},
): Promise<SentenceTransformerEncoder> {
  return SentenceTransformerEncoder.load(dir, options);
}
