// Sentence embedding for the cockpit's shared memory: the SentenceEncoder interface, the onnxruntime-backed encoder,
// and helpers to locate / build the default model (Universal Sentence Encoder Lite, 512-d, int8 weights).
import path from 'node:path';
import { buildUseLite, DEFAULT_VARIANT, VARIANTS, type BuildProgress, type UseLiteVariant } from '../../../scripts/encoder/build-use-lite.mjs';

export { OnnxSentenceEncoder, normalizeInPlace } from './encoder';
export type { EmbedOptions, EncoderManifest, OnnxSentenceEncoderOptions, SentenceEncoder } from './encoder';
export { SentencePieceUnigramTokenizer } from './tokenizer';
export type { SentencePieceVocab, Tokenizer } from './tokenizer';
export type { BuildProgress, UseLiteVariant } from '../../../scripts/encoder/build-use-lite.mjs';
/** The built-in encoder's variants (fp32, int8: ids, folders, pinned checksums). */
export { VARIANTS as USE_LITE_VARIANTS } from '../../../scripts/encoder/build-use-lite.mjs';
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

/**
 * Directory of a built-in encoder variant (model.onnx, vocab.json, manifest.json) under the app's resources
 * directory: the default (int8, resources/models/use-lite-int8) unless another variant is named.
 */
export function defaultEncoderDir(resourcesDir: string, variant: UseLiteVariant = DEFAULT_VARIANT): string {
  return path.join(resourcesDir, 'models', VARIANTS[variant].dir);
}

interface PendingBuild {
  done: Promise<string>;
  listeners: Set<(progress: BuildProgress) => void>;
}

const inFlight = new Map<string, PendingBuild>();

/**
 * Makes sure a built-in encoder variant (default: the default one) exists under `resourcesDir` and returns its
 * directory. It is normally built at postinstall; if it is missing or does not match its pinned checksum it is
 * (re)built here (a fraction of a second to a few seconds), reporting progress. Concurrent calls for the same
 * directory share one build and all receive its progress.
 */
export function ensureDefaultEncoder(
  resourcesDir: string,
  onProgress?: (progress: BuildProgress) => void,
  variant: UseLiteVariant = DEFAULT_VARIANT,
): Promise<string> {
  const outDir = defaultEncoderDir(resourcesDir, variant);
  let pending = inFlight.get(outDir);
  if (!pending) {
    const listeners = new Set<(progress: BuildProgress) => void>();
    const done = buildUseLite({ outDir, variant, onProgress: (p) => listeners.forEach((listener) => listener(p)) })
      .then(() => outDir)
      .finally(() => inFlight.delete(outDir));
    pending = { done, listeners };
    inFlight.set(outDir, pending);
  }
  if (onProgress) pending.listeners.add(onProgress);
  return pending.done;
}
