// Picks the right loader for a model folder:
//   - manifest.json (a model built by this project, e.g. resources/models/use-lite) -> OnnxSentenceEncoder;
//   - tokenizer.json + an ONNX graph (model.onnx or onnx/model.onnx) -> a sentence-transformers export, run by
//     loadSentenceTransformer;
//   - anything else -> an error naming what is missing.
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { OnnxSentenceEncoder, type SentenceEncoder } from './encoder';
import {
  findSentenceTransformerFiles,
  inspectSentenceTransformer,
  loadSentenceTransformer,
  type PoolingMode,
  type SentenceTransformerOptions,
} from './sentence-transformers';

export type ModelDirKind = 'manifest' | 'sentence-transformers';

/** What a model folder holds, for the UI / CLI, without creating an inference session. */
export interface ModelDirDescription {
  kind: ModelDirKind;
  /** The encoder id its vectors will carry. */
  id: string;
  dir: string;
  /** Relative paths of the files the encoder uses. */
  files: string[];
  name?: string;
  /** Known without loading for manifest models; undefined for sentence-transformers (read from the graph on load). */
  dimension?: number;
  maxTokens: number;
  /** sentence-transformers only: pooling applied to the per-token output (unless the graph pools by itself). */
  pooling?: PoolingMode[];
  warnings: string[];
}

async function isDirectory(dir: string): Promise<boolean> {
  try {
    return (await stat(dir)).isDirectory();
  } catch {
    return false;
  }
}

async function hasFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

/** Which kind of model folder `dir` is; throws an error naming what is missing when it is neither. */
async function detect(dir: string, options: SentenceTransformerOptions): Promise<ModelDirKind> {
  if (!(await isDirectory(dir))) throw new Error(`model folder ${dir} does not exist or is not a folder`);
  if (await hasFile(path.join(dir, 'manifest.json'))) return 'manifest';
  const found = await findSentenceTransformerFiles(dir, options.modelFile);
  if (found.tokenizer && found.model) return 'sentence-transformers';

  const entries = (await readdir(dir)).sort();
  const present = entries.length > 0 ? `it contains: ${entries.slice(0, 12).join(', ')}${entries.length > 12 ? ', ...' : ''}` : 'it is empty';
  let missing: string;
  if (found.ambiguous) {
    missing = `several ONNX graphs (${found.ambiguous.join(', ')}): choose one with the modelFile option`;
  } else if (found.tokenizer) {
    missing = `it has tokenizer.json but no ONNX graph: add ${options.modelFile ?? 'model.onnx (or onnx/model.onnx)'}`;
  } else if (found.model) {
    missing =
      `it has ${found.model} but no tokenizer.json: add the model's tokenizer.json ` +
      '(a "fast" tokenizer file; vocab.txt / sentencepiece.model alone are not enough)';
  } else {
    missing =
      'expected manifest.json (a model built by DevEnviro, e.g. use-lite) or a sentence-transformers ONNX export ' +
      '(tokenizer.json and model.onnx or onnx/model.onnx)';
  }
  throw new Error(`no sentence encoder in ${dir}: ${missing}; ${present}`);
}

/** Reads the folder and tells what it is and which encoder id it yields, without loading the model. */
export async function describeModelDir(
  dir: string,
  options: SentenceTransformerOptions = {},
): Promise<ModelDirDescription> {
  const root = path.resolve(dir);
  const kind = await detect(root, options);
  if (kind === 'manifest') {
    const file = path.join(root, 'manifest.json');
    let manifest: Record<string, unknown>;
    try {
      manifest = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new Error(`cannot read encoder manifest ${file}: ${(err as Error).message}`, { cause: err });
    }
    if (typeof manifest.id !== 'string' || manifest.id === '') throw new Error(`invalid encoder manifest ${file}: id`);
    const files = ['manifest.json'];
    const manifestFiles = manifest.files as Record<string, unknown> | undefined;
    for (const value of Object.values(manifestFiles ?? {})) if (typeof value === 'string') files.push(value);
    const warnings = [];
    for (const rel of files) if (!(await hasFile(path.join(root, rel)))) warnings.push(`${rel} is missing`);
    return {
      kind,
      id: manifest.id,
      dir: root,
      files,
      name: typeof manifest.name === 'string' ? manifest.name : undefined,
      dimension: typeof manifest.dimension === 'number' ? manifest.dimension : undefined,
      maxTokens: typeof manifest.maxTokens === 'number' ? manifest.maxTokens : 0,
      warnings,
    };
  }
  const info = await inspectSentenceTransformer(root, options);
  return {
    kind,
    id: info.id,
    dir: root,
    files: info.files,
    name: info.name,
    maxTokens: info.maxLength,
    pooling: info.pooling,
    warnings: info.warnings,
  };
}

/**
 * Loads the sentence encoder in `dir`: our manifest.json models with OnnxSentenceEncoder, sentence-transformers ONNX
 * exports with loadSentenceTransformer. `options` are passed on (threads and batchSize apply to both kinds).
 */
export async function loadEncoderFromDir(dir: string, options: SentenceTransformerOptions = {}): Promise<SentenceEncoder> {
  const root = path.resolve(dir);
  const kind = await detect(root, options);
  if (kind === 'manifest') return OnnxSentenceEncoder.load(root, { threads: options.threads, batchSize: options.batchSize });
  return loadSentenceTransformer(root, options);
}
