/**
 * The hub's config file: `<dataDir>/config.json`. Written with its defaults on first start so a person can see
 * every setting; an existing file is never overwritten, and a malformed one stops the hub with a message that says
 * which setting is wrong rather than being silently replaced.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { BackupSettingsSchema } from '../../shared/backup-protocol';
import { AdvisorSettingsSchema } from '../advisor/settings';
import { COCKPIT_TOKEN_FILE, DEFAULT_HUB_HOST, DEFAULT_HUB_PORT } from '../../shared/hub-location';
import { DEFAULT_SESSION_IDLE_MINUTES } from '../../shared/mcp-protocol';
import { writeFileDurableSync } from '../../shared/node/durable-file';


const MiB = 1024 * 1024;

export const ConfigSchema = z
  .object({
    api: z
      .object({
        /** Loopback by default: agents and the browser cockpit on this machine only. */
        host: z.string().min(1).default(DEFAULT_HUB_HOST),
        /** 0 picks a free port (tests do this). */
        port: z.number().int().min(0).max(65535).default(DEFAULT_HUB_PORT),
      })
      .strict()
      .prefault({}),
    messages: z
      .object({
        /** Largest message body accepted, in bytes (10 MiB by default, up to 256 MiB). */
        maxBytes: z.number().int().min(1024).max(256 * MiB).default(10 * MiB),
        /** Bodies larger than this are kept in files beside the database (message-bodies/) instead of in its rows. */
        bodyFileBytes: z.number().int().min(1024).max(256 * MiB).default(MiB),
      })
      .strict()
      .prefault({}),
    memory: z
      .object({
        /** Days after which an unused memory weighs half as much in search ranking. */
        halfLifeDays: z.number().positive().max(3650).default(30),
        /** Cosine similarity above which a new memory reinforces an existing one instead of duplicating it. */
        dedupeSimilarity: z.number().min(0.5).max(1).default(0.95),
        /**
         * A sentence-transformers ONNX export (a folder with model.onnx and tokenizer.json) to embed with instead
         * of the built-in encoder; null keeps the built-in one. Changing it re-embeds in the background.
         */
        modelDir: z.string().min(1).nullable().default(null),
        /**
         * The vector index's build policy: live vectors from which an IVF index is trained (default 20,000), and
         * whether builds start on their own (default true; off, the advisor says when one is due).
         */
        index: z
          .object({ ivfThreshold: z.number().int().min(64).optional(), autoBuild: z.boolean().optional() })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    mcp: z
      .object({
        /** An MCP session with no open request (its client went away) this many minutes is closed and its resources freed. */
        sessionIdleMinutes: z.number().positive().max(7 * 24 * 60).default(DEFAULT_SESSION_IDLE_MINUTES),
      })
      .strict()
      .prefault({}),
    a2a: z
      .object({
        /** Finished A2A tasks (completed, failed, canceled, rejected) are deleted this many days after they ended. */
        keepFinishedTasksDays: z.number().positive().max(36500).default(30),
      })
      .strict()
      .prefault({}),
    /** The advisor: when a measurement counts as a bottleneck, and whether the hub applies safe fixes itself. */
    advisor: AdvisorSettingsSchema.prefault({}),
    /** Backup to a cloud-synced folder: target, project folders, exclusions, schedule, retention. */
    backup: BackupSettingsSchema.prefault({}),
    /** Hubs on several machines joined through Redis (docs/cluster.md); off (null) keeps the hub on its own. */
    cluster: z
      .object({
        /** redis://[user:password@]host:port[/db] or rediss:// for TLS; null: no cluster. */
        redis: z
          .string()
          .regex(/^rediss?:\/\/[^\s]+$/, 'expected redis://host:port or rediss://host:port (TLS)')
          .nullable()
          .default(null),
        tls: z
          .object({
            /** A PEM file of the certificate authority that signed the Redis server's certificate (rediss:// only). */
            caFile: z.string().min(1).nullable().default(null),
            rejectUnauthorized: z.boolean().default(true),
          })
          .strict()
          .prefault({}),
        /** How this hub is named to the others; the machine's host name when null. */
        hubName: z.string().min(1).max(128).nullable().default(null),
        /** Prefix of every Redis key, so several clusters (or other programs) can share one Redis. */
        keyPrefix: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'letters, digits and _ . : - only').default('devenviro'),
        /** How often the hub announces itself; it counts as gone after hubTtlMs without an announcement. */
        heartbeatMs: z.number().int().min(100).max(60_000).default(1_000),
        hubTtlMs: z.number().int().min(500).max(600_000).default(5_000),
      })
      .strict()
      .refine((cluster) => cluster.hubTtlMs >= 2 * cluster.heartbeatMs, { message: 'hubTtlMs must be at least twice heartbeatMs' })
      .prefault({}),
  })
  .strict();

export type AppConfig = z.output<typeof ConfigSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function defaultConfig(): AppConfig {
  return ConfigSchema.parse({});
}

/** The settings file's name in the data directory. */
export const CONFIG_FILE = 'config.json';

export function configFile(dataDir: string): string {
  return path.join(dataDir, CONFIG_FILE);
}

/** Creates the data directory and its config file if missing, then reads and validates the config. */
export function loadConfig(dataDir: string): AppConfig {
  mkdirSync(dataDir, { recursive: true });
  const file = configFile(dataDir);
  if (!existsSync(file)) {
    writeFileDurableSync(file, JSON.stringify(defaultConfig(), null, 2) + '\n');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`${file} is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new ConfigError(`${file} has invalid settings:\n  ${problems.join('\n  ')}`);
  }
  return parsed.data;
}

/** Writes the whole config back (after the cockpit changed a setting). */
export function saveConfig(dataDir: string, config: AppConfig): void {
  writeFileDurableSync(configFile(dataDir), JSON.stringify(config, null, 2) + '\n');
}

/**
 * The secret in the cockpit's URL (as Jupyter does): created once per data directory, readable by its owner only,
 * so a bookmark keeps working across restarts.
 */
export function loadCockpitToken(dataDir: string): string {
  const file = path.join(dataDir, COCKPIT_TOKEN_FILE);
  if (existsSync(file)) {
    const token = readFileSync(file, 'utf8').trim();
    if (token.length >= 32) return token;
  }
  const token = randomBytes(32).toString('base64url');
  writeFileDurableSync(file, token + '\n', 0o600);
  return token;
}
