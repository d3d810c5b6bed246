/**
 * The advisor's wire shapes: a piece of advice names a bottleneck with its evidence (figures with units, since when)
 * and a suggestion, and may offer a fix the hub can apply; a fix result carries before/after figures. Also CPU
 * profiles and heap snapshots taken from the cockpit. Served at `GET /api/v1/performance/advice` and through the
 * cockpit calls `advice.list`, `advice.fix`, `profiles.start`, `profiles.list`.
 */
import { z } from 'zod';

/** The rules, one per bottleneck the hub can recognise from its own measurements. */
export const ADVICE_RULES = [
  'search-latency',
  'index-compaction',
  'event-loop-stall',
  'gc-pressure',
  'heap-usage',
  'sqlite-wal',
  'sqlite-free-pages',
  'inference-queue',
  'offline-inbox',
  'slow-consumer',
  'disk-free',
] as const;
export type AdviceRule = (typeof ADVICE_RULES)[number];

export type AdviceSeverity = 'info' | 'warning' | 'critical';

export type EvidenceUnit = 'ms' | 's' | 'bytes' | 'count' | 'percent' | 'vectors' | 'messages' | 'minutes';

/** One measured figure behind a piece of advice. */
export interface AdviceEvidence {
  label: string;
  value: number;
  unit: EvidenceUnit;
  /** When the figure was measured, or since when the condition holds (ISO time); null when not known. */
  since: string | null;
}

export type FixKind = 'checkpoint' | 'vacuum' | 'retrain-index' | 'compact-index' | 'revoke-agent';

/** What the hub can do about it itself. */
export interface AdviceFix {
  kind: FixKind;
  /** The button's words ("Checkpoint now"). */
  label: string;
  /** In words: what it costs and how long it should take ("about 2 s; writes wait meanwhile"). */
  estimatedCost: string;
  /** Estimated duration, when the hub can estimate it. */
  estimatedMs: number | null;
  /** True when applying it loses nothing and holds up no agent noticeably (the hub may apply it on its own). */
  safe: boolean;
}

export interface FixFigure {
  label: string;
  before: number;
  after: number;
  unit: EvidenceUnit;
}

export interface FixResult {
  adviceId: string;
  kind: FixKind;
  ok: boolean;
  /** True when the hub applied it on its own (advisor.autoFix). */
  automatic: boolean;
  startedAt: string;
  durationMs: number;
  figures: FixFigure[];
  error: string | null;
}

export interface Advice {
  /** Stable while the condition lasts: the rule, and what it is about (`sqlite-wal.hub`, `offline-inbox.<agent id>`). */
  id: string;
  rule: AdviceRule;
  severity: AdviceSeverity;
  /** Names the bottleneck, with its main figure ("the hub database's WAL is 1.2 GB"). */
  title: string;
  /** The project it concerns, when it is about one agent (an agent's token sees only its own project's). */
  project?: string;
  evidence: AdviceEvidence[];
  /** What to do, in words. */
  suggestion: string;
  fix: AdviceFix | null;
  /** Since when the hub has seen this condition (first evaluation that found it). */
  since: string;
  /** The last fix applied to this advice, if any (kept after the condition went away, in `recentFixes`). */
  lastFix: FixResult | null;
}

export interface AdviceReport {
  at: string;
  advice: Advice[];
  /** Whether the hub applies safe fixes on its own (config advisor.autoFix). */
  autoFix: boolean;
  /** The latest fixes, newest first (up to 20), including those whose advice is gone. */
  recentFixes: FixResult[];
}

/** An advice id as it appears in `POST /api/v1/performance/advice/{id}/fix`. */
export const AdviceId = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[a-z-]+(\.[A-Za-z0-9_-]+)?$/, 'an advice id: rule or rule.subject');

export type ProfileKind = 'cpu' | 'heap';

export const ProfileRequest = z
  .object({
    kind: z.enum(['cpu', 'heap']),
    /** CPU profiles only: how long to sample. */
    seconds: z.number().int().min(1).max(300).default(10),
  })
  .strict();

export interface ProfileInfo {
  id: string;
  kind: ProfileKind;
  state: 'running' | 'done' | 'failed';
  /** CPU profiles: the seconds asked for. */
  seconds: number | null;
  startedAt: string;
  finishedAt: string | null;
  /** 0..1 while running (CPU: time elapsed; heap: bytes written of the estimate). */
  progress: number;
  bytes: number;
  /** The downloaded file's name (open a .cpuprofile or .heapsnapshot in Chrome DevTools). */
  fileName: string;
  error: string | null;
}

export const PROFILE_ID_PATTERN = /^(cpu|heap)-[0-9]{8}T[0-9]{6}Z-[a-z0-9]{4}$/;

export const ADVICE_PATH = '/api/v1/performance/advice';
export const adviceFixPath = (id: string) => `${ADVICE_PATH}/${encodeURIComponent(id)}/fix`;
export const PROFILES_PATH = '/api/v1/performance/profiles';
/** The download of a finished profile or snapshot (cockpit token). */
export const profilePath = (id: string) => `${PROFILES_PATH}/${encodeURIComponent(id)}`;
