/** The memory engine's wire protocol (HTTP API v1, the agents' socket and the cockpit), declared once with zod. */
import { z } from 'zod';

export const MEMORY_KINDS = ['fact', 'decision', 'task', 'error', 'code', 'note', 'chunk', 'document', 'section'] as const;
export type MemoryKind = (typeof MEMORY_KINDS)[number];
/**
 * What a search covers: `project` (the default) one project's memories; `shared` also other projects' shared ones;
 * `all` every project's, for the cockpit only. An agent's project is always its own (naming another is refused).
 */
export const MEMORY_SCOPES = ['project', 'shared', 'all'] as const;
export type MemoryScope = (typeof MEMORY_SCOPES)[number];

/** The longest text one memory holds; extraction keeps every memory it makes within it too. */
export const MEMORY_TEXT_MAX_CHARS = 100_000;
/** The most memories one store request carries. */
export const MEMORY_BATCH_MAX = 10_000;
/** The longest text one extraction takes. */
export const EXTRACT_TEXT_MAX_CHARS = 5_000_000;
/**
 * The longest line an extraction takes: no memory may be longer, and a line that long is data (minified code,
 * base64, a dump without line breaks), not text a person would keep; cutting it into sentences made thousands of
 * junk memories and held the hub for half a minute.
 */
export const EXTRACT_LINE_MAX_CHARS = MEMORY_TEXT_MAX_CHARS;

/** Where the first line over `max` characters starts (0-based line, its length), or null: one pass, no copies. */
export function firstLineOver(text: string, max: number): { line: number; length: number } | null {
  if (text.length <= max) return null;
  let line = 0;
  let from = 0;
  while (from <= text.length) {
    let end = text.indexOf('\n', from);
    if (end === -1) end = text.length;
    if (end - from > max) return { line, length: end - from };
    from = end + 1;
    line++;
  }
  return null;
}

const Tag = z.string().trim().min(1).max(64);
const Project = z.string().trim().min(1).max(128);

export const MemorySource = z
  .object({
    type: z.enum(['message', 'file', 'conversation', 'manual']),
    ref: z.string().max(2000).optional(),
  })
  .strict();

export const MemoryInput = z
  .object({
    text: z.string().trim().min(1).max(MEMORY_TEXT_MAX_CHARS),
    /** The caller's own project by default; only the cockpit may name another. */
    project: Project.optional(),
    kind: z.enum(MEMORY_KINDS).default('note'),
    tags: z.array(Tag).max(32).default([]),
    metadata: z.record(z.string(), z.unknown()).default({}),
    /** 0..1; the engine estimates one when absent. */
    importance: z.number().min(0).max(1).optional(),
    source: MemorySource.optional(),
    /** A memory of this batch (by index) or an existing memory (by id) this one belongs under. */
    parent: z.union([z.number().int().min(0), z.string().length(26)]).optional(),
    /** Readable by other projects' agents (searches with scope=shared, GET by id); only its own project changes it. */
    shared: z.boolean().default(false),
  })
  .strict();
export type MemoryInput = z.input<typeof MemoryInput>;

export const StoreRequest = z.union([
  MemoryInput,
  z.object({ memories: z.array(MemoryInput).min(1).max(MEMORY_BATCH_MAX) }).strict(),
]);

export const ExtractRequest = z
  .object({
    text: z
      .string()
      .min(1)
      .max(EXTRACT_TEXT_MAX_CHARS)
      .superRefine((text, context) => {
        const long = firstLineOver(text, EXTRACT_LINE_MAX_CHARS);
        if (long) {
          context.addIssue({
            code: 'custom',
            message:
              `line ${long.line + 1} is ${long.length.toLocaleString('en-US')} characters long; a memory holds at most ` +
              `${EXTRACT_LINE_MAX_CHARS.toLocaleString('en-US')} (break the text into lines, or store a summary of it)`,
          });
        }
      }),
    project: Project.optional(),
    title: z.string().max(500).optional(),
    source: MemorySource.optional(),
    shared: z.boolean().default(false),
  })
  .strict();

const csv = z
  .string()
  .transform((value) => value.split(',').map((part) => part.trim()).filter(Boolean))
  .pipe(z.array(z.string().min(1)));

export const MemorySearchQuery = z.object({
  q: z.string().trim().min(1).max(2000),
  project: Project.optional(),
  agent: z.string().max(128).optional(),
  kind: csv.pipe(z.array(z.enum(MEMORY_KINDS))).optional(),
  tags: csv.optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  k: z.coerce.number().int().min(1).max(200).default(10),
  scope: z.enum(MEMORY_SCOPES).default('project'),
  /** Also memories superseded by a newer one (history); by default only current ones are searched. */
  includeHistory: z
    .preprocess((value) => (value === 'true' || value === '1' ? true : value === 'false' || value === '0' ? false : value), z.boolean())
    .default(false),
});
export type MemorySearchQuery = z.input<typeof MemorySearchQuery>;

export interface Memory {
  id: string;
  project: string;
  agent: string | null;
  kind: MemoryKind;
  text: string;
  tags: string[];
  metadata: Record<string, unknown>;
  importance: number;
  createdAt: string;
  updatedAt: string;
  lastAccessedAt: string | null;
  accessCount: number;
  /** How many times a near-identical memory was stored again and folded into this one. */
  reinforcements: number;
  source: { type: string; ref: string | null } | null;
  parentId: string | null;
  shared: boolean;
  /** The older memory this one replaced (same subject, another value), kept as history. */
  supersedes: string | null;
  /** The newer memory that replaced this one; set, this memory is history and searches skip it unless asked. */
  supersededBy: string | null;
}

export interface StoredMemory {
  memory: Memory;
  /**
   * `created`; `reinforced` when the same fact was already stored (that memory is returned, updated); `supersedes` when
   * it states a newer value of an existing memory (another number, version, date, name, path, or the negation): the
   * new memory is stored and current, the old one stays as history (`memory.supersedes`, and `superseded` here).
   */
  outcome: 'created' | 'reinforced' | 'supersedes';
  /** For `reinforced` and `supersedes`: how similar the existing memory was (1 = identical text). */
  similarity?: number;
  /** For `supersedes`: the memory it replaced. */
  superseded?: { id: string; text: string; because: 'value' | 'negation' };
}

/** Every number behind a hit's place in the ranking, so it can be explained. */
export interface MemoryScores {
  /** Place among the vector index's nearest neighbours; null: found by keywords only. */
  vectorRank: number | null;
  /** Cosine similarity of the query and the memory (computed for keyword-only hits too). */
  vectorSimilarity: number | null;
  /** Place by keyword coverage among the hits that share a word with the query; null: none shared. */
  keywordRank: number | null;
  /** IDF-weighted share of the query's words the memory contains (0-1): a common word adds little, a rare one much. */
  keywordScore: number | null;
  /** The memory holds a rare identifier of the query (commit, ticket, error code, path, symbol): it ranks first. */
  exact: boolean;
  /** Relevance: vector similarity + weighted keyword coverage (before the exact-match bonus, importance, recency). */
  fused: number;
  importance: number;
  /** 1 for a memory used just now, halving every half-life since its last use. */
  recency: number;
  final: number;
}

export interface MemoryHit {
  memory: Memory;
  scores: MemoryScores;
  /**
   * A weak match: no exact identifier and a relevance under the calibrated threshold. When the first hit is weak,
   * nothing stored answers the question well; show it as "no good match" rather than as an answer.
   */
  weak: boolean;
  /** The topic the memory belongs to (memory-graph-protocol.ts), when topics have been assigned. */
  topic?: { id: string; label: string[] } | null;
}

export interface MemorySearchResult {
  hits: MemoryHit[];
  tookMs: number;
  model: string;
}

export interface MemoryStats {
  total: number;
  byProject: Array<{ project: string; count: number }>;
  byKind: Array<{ kind: MemoryKind; count: number }>;
  index: { kind: string; size: number; model: string; dimension: number; tombstones: number };
}

/** Which encoder the memories are embedded with, and a switch to another one while it runs. */
export interface ModelChoice {
  id: string;
  /** null: the built-in encoder. */
  dir: string | null;
}

export interface MemoryModelState {
  active: ModelChoice;
  switching: { to: ModelChoice; done: number; total: number } | null;
  lastError: string | null;
}

export interface MemoryOverview extends MemoryStats {
  /** Memories created per day, last 30 days. */
  growth: Array<{ day: string; count: number }>;
  importance: Array<{ bucket: string; count: number }>;
  age: Array<{ bucket: string; count: number }>;
}

/** How the text of an extraction was read. */
export type DocumentFormat = 'markdown' | 'transcript' | 'jsonl' | 'plain';

export interface ExtractTimings {
  /** Format detection, turns/sections, fences, traces and sentence splitting. */
  parseMs: number;
  /** Salient item detection (runs on the main thread while the encoder works). */
  salientMs: number;
  /** Wall-clock time of the embedding calls. */
  embedMs: number;
  /** Boundary detection, chunk assembly and scoring. */
  chunkMs: number;
  totalMs: number;
}

export interface ExtractStats {
  format: DocumentFormat;
  lines: number;
  words: number;
  approxTokens: number;
  sections: number;
  turns: number;
  /** Units (sentences, code blocks, traces) the text was split into. */
  units: number;
  /** Distinct texts sent to the encoder. */
  embeddedTexts: number;
  embedCalls: number;
  chunks: number;
  drafts: number;
  draftsByKind: Record<MemoryKind, number>;
  /** Salient items merged into an earlier identical one. */
  duplicatesMerged: number;
  timings: ExtractTimings;
}

/** What an extraction stored, and its figures: the extraction's own, then the whole request's. */
export interface ExtractReport {
  stored: StoredMemory[];
  stats: ExtractStats & {
    /** Extraction, embedding included. */
    extractMs: number;
    /** The whole request: extraction and storing. */
    totalMs: number;
    /** Memories stored (new or reinforced). */
    memories: number;
  };
}
