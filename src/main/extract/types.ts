/** Public types of memory extraction (text in, hierarchical scored memory drafts out). */
import type { DocumentFormat, ExtractStats, ExtractTimings } from '../../shared/memory-protocol';

/** The figures of an extraction travel to agents and the cockpit, so they are declared in src/shared. */
export type { DocumentFormat, ExtractStats, ExtractTimings };

export type DraftKind = 'document' | 'section' | 'chunk' | 'fact' | 'decision' | 'task' | 'error' | 'code' | 'note';

/** Salient kinds: items found by the detectors, stored under the chunk they came from. */
export type SalientKind = Exclude<DraftKind, 'document' | 'section' | 'chunk'>;

export interface MemoryDraft {
  /** Stable within one extraction and across re-extractions of the same source (see ExtractOptions.source). */
  key: string;
  /** Key of the parent draft (always earlier in `drafts`), or null for the document. */
  parentKey: string | null;
  kind: DraftKind;
  /** Non-empty, at most MAX_DRAFT_TEXT characters. */
  text: string;
  /** At most 32 tags of at most 64 characters. */
  tags: string[];
  /** 0..1 */
  importance: number;
  /** e.g. lineStart, lineEnd (1-based, in the input text), heading, path, line, url, command, symbol, language, count. */
  metadata: Record<string, unknown>;
}

export interface ExtractOptions {
  /** The sentence encoder: unit vectors, one per text, in order. */
  embed: (texts: string[]) => Promise<Float32Array[]>;
  /** Upper bound of a chunk, in approximate tokens (words × 1.3). Default 256. A single unit (code block, trace)
   *  bigger than this is kept whole as its own chunk. */
  maxChunkTokens?: number;
  /** Semantic cuts never leave a chunk smaller than this (approximate tokens). Default 40. */
  minChunkTokens?: number;
  /** Document title; default: first heading, else first meaningful line. */
  title?: string;
  project?: string;
  /** Agent the text came from; added as an `agent:<name>` tag. */
  agent?: string;
  /** Where the text came from (file path, URL, conversation id). With a source, keys depend on it rather than on the
   *  text, so re-extracting an updated source yields the same document key. */
  source?: string;
  /** Force a format instead of detecting it. */
  format?: DocumentFormat;
  /** Texts per embed() call (the encoder batches within a call; smaller calls let other users interleave). Default 256. */
  embedCallSize?: number;
  /** Each sentence is embedded from its first this-many words (bounds the encoder's cost per sentence). Default 40. */
  maxEmbedWords?: number;
}

export interface ExtractResult {
  /** Parents before children. */
  drafts: MemoryDraft[];
  /**
   * Vectors that came for free, by draft key: every chunk (normalised mean of its sentence vectors), every section
   * and the document (normalised mean of their chunks), and salient items whose text is exactly one embedded
   * sentence. Other drafts (code, traces, entities) are left for the store to embed.
   */
  vectors: Map<string, Float32Array>;
  stats: ExtractStats;
}
