/**
 * What every `devenviro` command shares: the command and context shapes, the global options and their help, and
 * the argument checks commands use.
 */
import { TopicName } from '../../shared/agent-protocol';
import { DEFAULT_HUB_URL, HUB_RUNTIME_FILE } from '../../shared/hub-location';
import type { AgentClient } from '../client';

export type OptionSpec = { type: 'string' | 'boolean'; short?: string; multiple?: boolean };
export type Values = Record<string, string | boolean | string[] | undefined>;

export interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
  /** Resolves when the user asks to stop (Ctrl-C): only `watch` listens. */
  interrupted: Promise<void>;
}

/** The exit code of a command refused because other agents hold the files (reserve, guard check). */
export const EXIT_CONFLICT = 3;

export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
  }
}

export const GLOBAL_OPTIONS = {
  url: { type: 'string' },
  'data-dir': { type: 'string' },
  as: { type: 'string' },
  project: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} satisfies Record<string, OptionSpec>;

export const GLOBAL_HELP = `Options for every command:
  --url URL         the hub (default: $DEVENVIRO_URL, else the running hub's <data-dir>/${HUB_RUNTIME_FILE}, else ${DEFAULT_HUB_URL})
  --data-dir DIR    the hub's data directory (default: $DEVENVIRO_HOME, else ~/.devenviro); credentials are kept there
  --as NAME         act as this saved agent (with --project when the name is saved in several projects)
  --project P       the project of --as, and of agent names given to send
  --json            print JSON for programs instead of text for people
  -h, --help        show help

Identity: --as NAME, else $DEVENVIRO_AGENT (a name or id) with $DEVENVIRO_TOKEN, else the only saved agent.`;

export interface Command {
  summary: string;
  usage: string;
  details?: string;
  options?: Record<string, OptionSpec>;
  /** Sub-actions with their own help: `devenviro <command> <action> --help`. */
  actions?: Record<string, { summary: string; usage: string; details?: string }>;
  run(context: Context): Promise<number | void>;
}

export interface Context {
  command: string;
  args: string[];
  values: Values;
  io: Io;
  dataDir: string;
  json: boolean;
  out(text: string): void;
  note(text: string): void;
  /** The agent the command speaks for. */
  identity(): Promise<AgentClient>;
}

/** Who a command speaks for, before a client is made. */
export interface IdentityRef {
  id: string;
  token: string;
  name?: string;
  project?: string;
}

export function noArgs(ctx: Context): void {
  if (ctx.args.length > 0) throw new UsageError(`unexpected argument ${ctx.args[0]}`, ctx.command);
}

export function topicArgs(ctx: Context): string[] {
  if (ctx.args.length === 0) throw new UsageError(`${ctx.command} needs at least one topic`, ctx.command);
  const topics = ctx.args.map((t) => (t.startsWith('#') ? t.slice(1) : t));
  const wrong = topics.filter((t) => !TopicName.safeParse(t).success);
  if (wrong.length > 0) throw new UsageError(`not topic names: ${wrong.join(', ')} (letters, digits and . _ / : -)`, ctx.command);
  return topics;
}

export function positiveInt(ctx: Context, option: string, fallback: number): number {
  const raw = ctx.values[option] as string | undefined;
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new UsageError(`--${option} needs a positive whole number, not ${raw}`, ctx.command);
  return value;
}

export function once<T>(make: () => Promise<T>): () => Promise<T> {
  let promise: Promise<T> | undefined;
  return () => (promise ??= make());
}

export async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

export function write(stream: NodeJS.WritableStream, text: string): Promise<void> {
  return new Promise((resolve, reject) => stream.write(text, (error) => (error ? reject(error) : resolve())));
}
