/** The advisor's settings (config.json `advisor`): the thresholds its rules use, and whether it fixes on its own. */
import { z } from 'zod';

const MiB = 1024 * 1024;

export const AdvisorSettingsSchema = z
  .object({
    /**
     * Apply the safest fixes (WAL checkpoints) without asking, when their rule fires. Off by default: the advice is
     * shown and a person clicks.
     */
    autoFix: z.boolean().default(false),
    /** How often the hub evaluates its rules on its own (for autoFix), in seconds. */
    evaluateSeconds: z.number().min(1).max(3600).default(30),
    /** Search p99 (since start) above which search counts as slow. */
    searchP99Ms: z.number().positive().default(25),
    /** A flat (exact) index beyond this many vectors should be IVF (default: the IVF threshold, 20,000). */
    flatIndexVectors: z.number().int().positive().default(20_000),
    /** An IVF index grown this many times past the count it was trained on should be retrained. */
    ivfGrowth: z.number().min(1).default(1.5),
    /** Tombstones (deleted or replaced vectors) beyond this share of the index call for compaction. */
    tombstoneShare: z.number().min(0).max(1).default(0.1),
    /** An event-loop stall at least this long is recorded (with its time and what ran). */
    stallMs: z.number().positive().default(200),
    /** How long a stall stays in the advice. */
    stallMinutes: z.number().positive().default(30),
    /** Share of wall time spent in garbage collection (over the last minute) that counts as pressure. */
    gcShare: z.number().min(0).max(1).default(0.1),
    /** Share of V8's heap limit in use that counts as too close to it. */
    heapShare: z.number().min(0).max(1).default(0.8),
    /** A WAL file larger than this calls for a checkpoint (the hub restarts its WAL near 64 MiB under load). */
    walBytes: z.number().int().min(0).default(256 * MiB),
    /** WAL content not yet checkpointed beyond this (checkpoints held back, by a long read, say). */
    checkpointLagBytes: z.number().int().min(0).default(64 * MiB),
    /** Free pages beyond this many bytes, and beyond freePageShare of the file, call for a vacuum. */
    freePageBytes: z.number().int().min(0).default(128 * MiB),
    freePageShare: z.number().min(0).max(1).default(0.25),
    /** Texts waiting for the encoder beyond this count. */
    inferenceQueue: z.number().int().min(0).default(256),
    /** An agent offline this many minutes with at least inboxUnread messages waiting. */
    offlineMinutes: z.number().min(0).default(30),
    inboxUnread: z.number().int().min(1).default(100),
    /** A connected agent with this many messages not yet taken is a slow consumer. */
    slowConsumerUnread: z.number().int().min(1).default(1000),
    /** Free space below this in the data or backup folder's file system. */
    diskFreeBytes: z.number().int().min(0).default(2 * 1024 * MiB),
  })
  .strict();

export type AdvisorSettings = z.output<typeof AdvisorSettingsSchema>;
