/**
 * Topics and links of the memory engine (HTTP API v1, MCP and the cockpit): memories grouped into topics per
 * project, each labelled by its distinctive words, and the links between memories (shared entity, derivation,
 * supersession, near neighbour), declared once with zod.
 */
import { z } from 'zod';
import type { Memory } from './memory-protocol';

const Project = z.string().trim().min(1).max(128);
const MemoryId = z.string().length(26);

/** A group of a project's memories about one subject, found without an LLM and kept up to date as memories arrive. */
export interface MemoryTopic {
  /** Stable while the topic lives (a ULID); a memory's `topicId` names it. */
  id: string;
  project: string;
  /** Its distinctive words, most distinctive first (3-5 of them, e.g. ["postgres", "migration", "index"]). */
  label: string[];
  /** Current memories in it (history excluded). */
  size: number;
  /** Up to three memories nearest its centre, for a preview. */
  examples: Array<{ id: string; text: string }>;
  /** When a memory last joined it. */
  updatedAt: string;
}

/**
 * Why two memories are linked:
 * - `entity`: both name the same file path, symbol, error code, URL, person or ticket (`entity` says which);
 * - `derived`: one was made from the other (document -> section -> chunk -> item);
 * - `supersedes`: one replaced the other (a newer value of the same fact);
 * - `similar`: near neighbours in meaning (`weight` is the cosine similarity).
 */
export const MEMORY_LINK_KINDS = ['entity', 'derived', 'supersedes', 'similar'] as const;
export type MemoryLinkKind = (typeof MEMORY_LINK_KINDS)[number];

export const MEMORY_ENTITY_KINDS = ['path', 'symbol', 'error', 'url', 'person', 'ticket', 'commit'] as const;
export type MemoryEntityKind = (typeof MEMORY_ENTITY_KINDS)[number];

export interface MemoryEntity {
  kind: MemoryEntityKind;
  /** As it appears, normalised (a path without ./, a ticket upper-cased, a URL without its fragment). */
  value: string;
}

/** A directed link: `from` derives from / supersedes / shares with `to`. Entity and similar links read both ways. */
export interface MemoryLink {
  from: string;
  to: string;
  kind: MemoryLinkKind;
  /** 0..1: cosine similarity for `similar`, 1 for the others. */
  weight: number;
  /** For `entity` links: the entity they share. */
  entity?: MemoryEntity;
}

/** GET /api/v1/memory/{id}/links: the links of one memory (each touches it) and the memories at their other end. */
export interface MemoryLinks {
  id: string;
  links: MemoryLink[];
  /** The linked memories the caller may read (not the memory itself). */
  memories: Memory[];
}

/** A memory and what surrounds it: the memories within `depth` links, and the links among them. */
export interface MemoryNeighbourhood {
  center: string;
  /** The centre first; each memory once. Memories the caller may not read are left out. */
  memories: Memory[];
  links: MemoryLink[];
  /** Topic of each memory that has one (memory id -> topic id), and those topics. */
  topicOf: Record<string, string>;
  topics: MemoryTopic[];
  /** True when `limit` cut the neighbourhood short. */
  truncated: boolean;
}

/** GET /api/v1/memory/topics?project=...&limit=...: the project's topics, largest first. */
export const MemoryTopicsQuery = z
  .object({
    /** An agent's own project by default; the cockpit may name any. */
    project: Project.optional(),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .strict();
export type MemoryTopicsQuery = z.input<typeof MemoryTopicsQuery>;

/** GET /api/v1/memory/topics/{id}/memories?limit=&offset=: a topic's current memories, nearest its centre first. */
export const TopicMemoriesQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(500).default(50),
    offset: z.coerce.number().int().min(0).default(0),
  })
  .strict();

/** GET /api/v1/memory/{id}/links?kinds=: a memory's own links (depth 1), with the linked memories (MemoryLinks). */
export const MemoryLinksQuery = z
  .object({
    kinds: z
      .string()
      .transform((value) => value.split(',').map((part) => part.trim()).filter(Boolean))
      .pipe(z.array(z.enum(MEMORY_LINK_KINDS)))
      .optional(),
  })
  .strict();
/** GET /api/v1/memory/{id}/neighbourhood?depth=&limit=&kinds=: the graph around a memory. */
export const NeighbourhoodQuery = z
  .object({
    depth: z.coerce.number().int().min(1).max(3).default(1),
    /** The most memories returned (the centre included). */
    limit: z.coerce.number().int().min(2).max(200).default(50),
    /** Only these kinds of link (comma-separated); all by default. */
    kinds: z
      .string()
      .transform((value) => value.split(',').map((part) => part.trim()).filter(Boolean))
      .pipe(z.array(z.enum(MEMORY_LINK_KINDS)))
      .optional(),
  })
  .strict();
export type NeighbourhoodQuery = z.input<typeof NeighbourhoodQuery>;

/** PATCH /api/v1/memory/{id}: what a memory's owner (or the cockpit) may change; at least one field. */
export const MemoryUpdate = z
  .object({
    shared: z.boolean().optional(),
    tags: z.array(z.string().trim().min(1).max(64)).max(32).optional(),
    importance: z.number().min(0).max(1).optional(),
  })
  .strict()
  .refine((update) => Object.keys(update).length > 0, { message: 'name at least one of shared, tags, importance' });
export type MemoryUpdate = z.input<typeof MemoryUpdate>;

/** The cockpit's calls for topics and the graph (contract.ts maps them to names). */
export const CockpitMemoryGraphCalls = {
  topics: MemoryTopicsQuery.extend({ project: Project }),
  topicMemories: TopicMemoriesQuery.extend({ topicId: z.string().length(26) }),
  neighbourhood: NeighbourhoodQuery.extend({ id: MemoryId }),
  update: z.object({ id: MemoryId, update: MemoryUpdate }).strict(),
  delete: z.object({ id: MemoryId }).strict(),
} as const;
