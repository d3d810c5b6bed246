/**
 * `devenviro`: the agent hub from a shell. Each command speaks for one agent identity (saved by `register`), talks
 * to the hub over HTTP (`watch` over the realtime socket), prints for people by default and JSON with --json.
 * This is the entry (built to out/main/cli.js): it finds the command, parses its options and reports its errors.
 *
 * Exit codes: 0 done, 1 the hub refused or could not be reached, 2 the command line was wrong, 3 other agents hold
 * the files (reserve, guard check).
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { resolveDataDir } from '../../shared/node/data-dir';
import { HubClientError, ReservationConflictError } from '../client';
import { agents, register, status, subscribe, unsubscribe } from './agents';
import { backup } from './backup';
import { connect } from './connect';
import { guard } from './guard';
import { EXIT_CONFLICT, GLOBAL_HELP, GLOBAL_OPTIONS, once, UsageError, type Command, type Context, type Io, type Values } from './command';
import { attachIdentity, resolveIdentity } from './hub';
import { cockpitUrl } from './cockpit-url';
import { mcp } from './mcp';
import { memory } from './memory';
import { ack, inbox, search, send, thread, threads, watch } from './messages';
import { release, reservations, reserve } from './reservations';
import { task } from './tasks';
import { workflow } from './workflow';

/** The commands in the order `devenviro --help` lists them. */
const COMMANDS: Record<string, Command> = {
  register,
  connect,
  agents,
  send,
  inbox,
  ack,
  watch,
  status,
  subscribe,
  unsubscribe,
  search,
  threads,
  memory,
  thread,
  reserve,
  release,
  reservations,
  task,
  workflow,
  guard,
  backup,
  mcp,
  'cockpit-url': cockpitUrl,
};

const NAME_WIDTH = Math.max(...Object.keys(COMMANDS).map((name) => name.length));

const USAGE = `devenviro: talk to the DevEnviro Cockpit agent hub

Usage: devenviro <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, command]) => `  ${name.padEnd(NAME_WIDTH)} ${command.summary}`)
  .join('\n')}

${GLOBAL_HELP}

Run \`devenviro <command> --help\` for a command's options.`;

function commandHelp(name: string, action?: string): string {
  const command = COMMANDS[name]!;
  const sub = action === undefined ? undefined : command.actions?.[action];
  if (sub) return `devenviro ${name} ${action}: ${sub.summary}\n\nUsage: ${sub.usage}\n${sub.details ? `\n${sub.details}\n` : ''}\n${GLOBAL_HELP}`;
  return `devenviro ${name}: ${command.summary}\n\nUsage: ${command.usage}\n${command.details ? `\n${command.details}\n` : ''}\n${GLOBAL_HELP}`;
}

/** Runs one command line; resolves with the exit code. */
export async function main(argv: string[], ioOverrides: Partial<Io> = {}): Promise<number> {
  const io: Io = {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    interrupted: new Promise<void>(() => undefined),
    ...ioOverrides,
  };
  const say = (stream: NodeJS.WritableStream, text: string) => stream.write(text.endsWith('\n') ? text : text + '\n');

  const split = splitCommand(argv);
  let commandName = split.command;
  if (commandName === 'help') {
    const words = split.rest.filter((arg) => !arg.startsWith('-'));
    commandName = words[0];
    if (commandName === undefined || !COMMANDS[commandName]) {
      say(io.stdout, USAGE);
      return commandName === undefined ? 0 : 2;
    }
    say(io.stdout, commandHelp(commandName, words[1]));
    return 0;
  }
  if (commandName === undefined) {
    const wantsHelp = split.rest.some((arg) => arg === '--help' || arg === '-h');
    say(wantsHelp ? io.stdout : io.stderr, USAGE);
    return wantsHelp ? 0 : 2;
  }
  const command = COMMANDS[commandName];
  if (!command) {
    say(io.stderr, `devenviro: unknown command "${commandName}"\n\n${USAGE}`);
    return 2;
  }

  try {
    let parsed: { values: Values; positionals: string[] };
    try {
      parsed = parseArgs({ args: split.rest, options: { ...GLOBAL_OPTIONS, ...command.options }, allowPositionals: true, strict: true }) as typeof parsed;
    } catch (error) {
      throw new UsageError((error as Error).message.replace(/\. To specify a positional argument.*$/s, ''), commandName);
    }
    if (parsed.values.help) {
      say(io.stdout, commandHelp(commandName, parsed.positionals[0]));
      return 0;
    }
    const dataDir = resolveDataDir({ flag: parsed.values['data-dir'] as string | undefined, env: io.env });
    const context: Context = {
      command: commandName,
      args: parsed.positionals,
      values: parsed.values,
      io,
      dataDir,
      json: parsed.values.json === true,
      out: (text) => say(io.stdout, text),
      note: (text) => say(io.stderr, text),
      identity: once(async () => attachIdentity(context, await resolveIdentity(context))),
    };
    return (await command.run(context)) ?? 0;
  } catch (error) {
    if (error instanceof UsageError) {
      say(io.stderr, `devenviro ${error.command ?? commandName}: ${error.message}\nRun \`devenviro ${error.command ?? commandName} --help\` for usage.`);
      return 2;
    }
    if (error instanceof ReservationConflictError) {
      say(io.stderr, `devenviro ${commandName}: ${error.message}`);
      return EXIT_CONFLICT;
    }
    if (error instanceof HubClientError) {
      say(io.stderr, `devenviro ${commandName}: ${error.message}${error.status ? ` (${error.status} ${error.code})` : ''}`);
      return 1;
    }
    say(io.stderr, `devenviro ${commandName}: ${(error as Error)?.message ?? String(error)}`);
    return 1;
  }
}

/** The command is the first word that is not an option (nor the value of a global option that takes one). */
function splitCommand(argv: string[]): { command: string | undefined; rest: string[] } {
  const takesValue = new Set(Object.entries(GLOBAL_OPTIONS).filter(([, spec]) => spec.type === 'string').map(([name]) => `--${name}`));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') break;
    if (arg.startsWith('-')) {
      if (takesValue.has(arg)) i++;
      continue;
    }
    return { command: arg, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] };
  }
  return { command: undefined, rest: argv };
}

/** Runs the command line of this process and sets its exit code; Ctrl-C is handed to the command. */
export async function run(argv: string[] = process.argv.slice(2)): Promise<void> {
  let interrupt!: () => void;
  const interrupted = new Promise<void>((resolve) => (interrupt = resolve));
  let interrupts = 0;
  const onSignal = () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    interrupt();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    // A reader that went away (devenviro watch | head -1) is a normal way to stop: like Ctrl-C, once.
    if (error.code !== 'EPIPE') throw error;
    interrupts++;
    interrupt();
  });
  try {
    process.exitCode = await main(argv, { interrupted });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

// Run when executed directly (`node out/main/cli.js`, `tsx src/client/cli/main.ts`); bin/devenviro.mjs calls run().
function invokedDirectly(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}
if (invokedDirectly()) void run();
