// Sentence embedding for the cockpit's shared memory: the SentenceEncoder interface, the onnxruntime-backed encoder,
// and helpers to locate / build the default model (Universal Sentence Encoder Lite, 512-d).
import path from 'node:path';
import { buildUseLite, type BuildProgress } from '../../../scripts/encoder/build-use-lite.mjs';

export { OnnxSentenceEncoder, normalizeInPlace } from './encoder';
export type { EncoderManifest, OnnxSentenceEncoderOptions, SentenceEncoder } from './encoder';
export { SentencePieceUnigramTokenizer } from './tokenizer';
export type { SentencePieceVocab, Tokenizer } from './tokenizer';
export type { BuildProgress } from '../../../scripts/encoder/build-use-lite.mjs';
export {
  inspectSentenceTransformer,
  loadSentenceTransformer,
  poolAndNormalize,
  SentenceTransformerEncoder,
  TokenizerJsonTokenizer,
} from './sentence-transformers';
export type { PoolingMode, SentenceTransformerInfo, SentenceTransformerOptions } from './sentence-transformers';
export { describeModelDir, loadEncoderFromDir } from './models';
export type { ModelDirDescription, ModelDirKind } from './models';

/** Directory of the default encoder (model.onnx, vocab.json, manifest.json) under the app's resources directory. */
export function defaultEncoderDir(resourcesDir: string): string {
  return path.join(resourcesDir, 'models', 'use-lite');
}

interface PendingBuild {
  done: Promise<string>;
  listeners: Set<(progress: BuildProgress) => void>;
}

const inFlight = new Map<string, PendingBuild>();

/**
 * Makes sure the default encoder exists under `resourcesDir` and returns its directory. It is normally built at
 * postinstall; if it is missing or does not match its pinned checksum it is (re)built here (a fraction of a second
 * to a few seconds), reporting progress. Concurrent calls for the same directory share one build and all receive its
 * progress.
 */
export function ensureDefaultEncoder(
  resourcesDir: string,
  onProgress?: (progress: BuildProgress) => void,
): Promise<string> {
  const outDir = defaultEncoderDir(resourcesDir);
  let pending = inFlight.get(outDir);
  if (!pending) {
    const listeners = new Set<(progress: BuildProgress) => void>();
    const done = buildUseLite({ outDir, onProgress: (p) => listeners.forEach((listener) => listener(p)) })
      .then(() => outDir)
      .finally(() => inFlight.delete(outDir));
    pending = { done, listeners };
    inFlight.set(outDir, pending);
  }
  if (onProgress) pending.listeners.add(onProgress);
  return pending.done;
}
