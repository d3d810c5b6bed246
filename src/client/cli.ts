/**
 * `devenviro`: the agent hub from a shell. Each command speaks for one agent identity (saved by `register`), talks
 * to the hub over HTTP (`watch` over the realtime socket), prints for people by default and JSON with --json.
 *
 * Exit codes: 0 done, 1 the hub refused or could not be reached, 2 the command line was wrong.
 */
import { realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { AGENT_TIERS, IMPORTANCE, SETTABLE_STATUSES, TopicName, Ulid, type AgentInfo, type Message, type Recipient } from '../shared/agent-protocol';
import { MEMORY_KINDS, type MemorySearchResult, type StoredMemory } from '../shared/memory-protocol';
import { BackupSourceSchema, HUB_SOURCE, SnapshotId, type BackupSettings } from '../shared/backup-protocol';
import type { BackupOverview, BackupProgress, BackupRunRecord, DamagedSnapshot, ExclusionPreview, RestoreReport, SnapshotSummary, VerifyReport } from '../shared/backup-protocol';
import { resolveDataDir } from '../shared/node/data-dir';
import { AgentClient, discoverHubUrl, HubClient, HubClientError, HubHttp, type MessageBody, type SendOptions } from './client';
import { listCredentials, loadCredentials, saveCredentials, type SavedCredentials } from './credentials';

type OptionSpec = { type: 'string' | 'boolean'; short?: string; multiple?: boolean };
type Values = Record<string, string | boolean | string[] | undefined>;

interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
  /** Resolves when the user asks to stop (Ctrl-C): only `watch` listens. */
  interrupted: Promise<void>;
}

class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
  }
}

const GLOBAL_OPTIONS = {
  url: { type: 'string' },
  'data-dir': { type: 'string' },
  as: { type: 'string' },
  project: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} satisfies Record<string, OptionSpec>;

const GLOBAL_HELP = `Options for every command:
  --url URL         the hub (default: $DEVENVIRO_URL, else the running hub's <data-dir>/hub.json, else http://127.0.0.1:4477)
  --data-dir DIR    the hub's data directory (default: $DEVENVIRO_HOME, else ~/.devenviro); credentials are kept there
  --as NAME         act as this saved agent (with --project when the name is saved in several projects)
  --project P       the project of --as, and of agent names given to send
  --json            print JSON for programs instead of text for people
  -h, --help        show help

Identity: --as NAME, else $DEVENVIRO_AGENT (a name or id) with $DEVENVIRO_TOKEN, else the only saved agent.`;

interface Command {
  summary: string;
  usage: string;
  details?: string;
  options?: Record<string, OptionSpec>;
  /** Sub-actions with their own help: `devenviro <command> <action> --help`. */
  actions?: Record<string, { summary: string; usage: string; details?: string }>;
  run(context: Context): Promise<number | void>;
}

interface Context {
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
interface IdentityRef {
  id: string;
  token: string;
  name?: string;
  project?: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Commands

/** The actions of `devenviro backup`, each with the options it takes (beyond --url, --data-dir, --json, --help). */
const BACKUP_ACTIONS: Record<string, { summary: string; usage: string; details?: string; options: string[] }> = {
  status: {
    summary: 'the backup folder, sources, schedule, the run in progress and the last runs',
    usage: 'devenviro backup status [--json]',
    options: [],
  },
  set: {
    summary: 'change the backup settings',
    usage: `devenviro backup set [--target DIR] [--add-project NAME=PATH]... [--remove-project NAME]... [--exclude PATTERN]...
       [--remove-exclude PATTERN]... [--interval MIN|off] [--gitignore | --no-gitignore] [--json]`,
    details: `Reads the current settings, applies the changes, saves them, then prints the settings and any warnings.
  --target DIR              the folder backups go into (a "DevEnviro Backup" folder is made in it), e.g. the
                            folder a cloud drive syncs; a relative DIR is made absolute
  --add-project NAME=PATH   back up a project folder as NAME (a NAME already there gets the new PATH)
  --remove-project NAME     stop backing up a project folder (its earlier snapshots stay)
  --exclude PATTERN         leave out project paths matching this gitignore-style pattern (!PATTERN re-includes)
  --remove-exclude PATTERN  drop a pattern, a default one (say build/) included
  --interval MIN|off        minutes between automatic backups; off: only when asked
  --no-gitignore            do not honour the projects' own .gitignore files (--gitignore: honour them again)`,
    options: ['target', 'add-project', 'remove-project', 'exclude', 'remove-exclude', 'interval', 'gitignore', 'no-gitignore'],
  },
  preview: {
    summary: 'what a backup would take and leave out, per source',
    usage: 'devenviro backup preview [--source NAME] [--limit N] [--json]',
    details: `Counts and sizes of the files each source would contribute and of those left out, then the first skipped paths
with the rule that left each out. --source: one source (a project's name, or ${HUB_SOURCE} for the hub's data).
--limit: how many skipped paths to list per source (default 10). Nothing is written.`,
    options: ['source', 'limit'],
  },
  run: {
    summary: 'take a backup now',
    usage: 'devenviro backup run [--wait] [--json]',
    details: `Starts a backup and prints its run id. --wait follows it to the end: progress lines (phase, files, bytes, %) on
standard error, then the snapshot id on standard output; exit 1 with the error when the backup fails. Without
--wait, \`devenviro backup status\` shows how it goes.`,
    options: ['wait'],
  },
  list: {
    summary: 'the snapshots in the backup folder, newest first',
    usage: 'devenviro backup list [--json]',
    options: [],
  },
  verify: {
    summary: 're-hash every stored file a snapshot needs',
    usage: 'devenviro backup verify <snapshot-id> [--json]',
    details: 'Exit 0 when the snapshot is intact, 1 when stored files are missing or damaged (they are listed, with the paths that use them).',
    options: [],
  },
  restore: {
    summary: 'restore a source of a snapshot into a folder',
    usage: 'devenviro backup restore <snapshot-id> --source NAME --to DIR [--overwrite] [--json]',
    details: `Writes the files of one source of the snapshot (a project's name, or ${HUB_SOURCE} for a copy of the hub's data) into
DIR (made absolute), which must be empty unless --overwrite is given (files with the same path are then
replaced). Every file's content is checked against its hash. Exit 1 when some files could not be restored.
Replacing the running hub's own data with a snapshot (an in-place restore) is done from the cockpit, which stops
the hub, swaps its data folder and starts it again.`,
    options: ['source', 'to', 'overwrite'],
  },
};

const COMMANDS: Record<string, Command> = {
  register: {
    summary: 'register an agent and save its credentials',
    usage: 'devenviro register --name NAME [--project P] [--tier T] [--capability C]... [--description D] [--reclaim]',
    details: `Saves the agent's token to <data-dir>/credentials/<project>/<name>.json (owner-only) and prints its id.
Registering a name again with its saved credentials keeps the same id. --reclaim takes over a name whose
credentials are lost, using the cockpit's token from the data directory (the agent gets a new token).
Tiers: ${AGENT_TIERS.join(', ')}.`,
    options: {
      name: { type: 'string' },
      tier: { type: 'string' },
      capability: { type: 'string', multiple: true },
      description: { type: 'string' },
      reclaim: { type: 'boolean' },
    },
    async run(ctx) {
      noArgs(ctx);
      const name = ctx.values.name as string | undefined;
      if (!name) throw new UsageError('register needs --name NAME', ctx.command);
      const project = (ctx.values.project as string | undefined) ?? 'default';
      const tier = ctx.values.tier as string | undefined;
      if (tier !== undefined && !(AGENT_TIERS as readonly string[]).includes(tier)) {
        throw new UsageError(`--tier must be one of ${AGENT_TIERS.join(', ')}`, ctx.command);
      }
      const saved = loadCredentials(ctx.dataDir, project, name);
      const token = ctx.values.reclaim ? await cockpitToken(ctx.dataDir) : saved?.token;
      const agent = await HubClient.register({
        ...location(ctx),
        name,
        project,
        token,
        tier: tier as (typeof AGENT_TIERS)[number] | undefined,
        capabilities: ctx.values.capability as string[] | undefined,
        description: ctx.values.description as string | undefined,
      }).catch((error: unknown) => {
        if (error instanceof HubClientError && error.status === 409) {
          throw new HubClientError(409, error.code, `${error.message}. From this machine, \`devenviro register --name ${name} --project ${project} --reclaim\` does that`);
        }
        throw error;
      });
      const file = saveCredentials(ctx.dataDir, { id: agent.id, name: agent.agent.name, project: agent.agent.project, token: agent.token, url: agent.url });
      if (ctx.json) {
        ctx.out(JSON.stringify({ agent: agent.agent, existing: agent.existing, credentials: file }, null, 2));
      } else {
        ctx.out(agent.id);
        ctx.note(`${agent.existing ? 'Re-registered' : 'Registered'} ${name} in project ${agent.agent.project}${agent.existing ? ' (same identity)' : ''}; credentials saved to ${file}`);
      }
    },
  },

  agents: {
    summary: 'list the agents the hub knows',
    usage: 'devenviro agents [--active] [--json]',
    details: 'Without an agent identity, uses the cockpit token in the data directory.',
    options: { active: { type: 'boolean' } },
    async run(ctx) {
      noArgs(ctx);
      const http = await readerHttp(ctx);
      const { agents } = await http.request<{ agents: AgentInfo[] }>('GET', ctx.values.active ? '/agents/active' : '/agents');
      if (ctx.json) return void ctx.out(JSON.stringify(agents, null, 2));
      if (agents.length === 0) return void ctx.note(ctx.values.active ? 'No agent is active.' : 'No agents yet.');
      const now = Date.now();
      ctx.out(
        table([
          ['NAME', 'PROJECT', 'TIER', 'STATUS', 'INBOX', 'LAST SEEN', 'ID', 'ACTIVITY'],
          ...agents.map((a) => [
            a.name,
            a.project,
            a.tier,
            a.revoked ? 'revoked' : a.connected ? `${a.status}*` : a.status,
            String(a.inboxDepth),
            a.connected ? 'connected' : a.lastSeen ? ago(now - Date.parse(a.lastSeen)) : 'never',
            a.id,
            a.activity ?? '',
          ]),
        ]),
      );
    },
  },

  send: {
    summary: 'send a message to an agent, a #topic or * (everyone)',
    usage: 'devenviro send <to> <text|-> [--subject S] [--thread T] [--reply-to ID] [--json-body] [--importance I] [--ack-required]',
    details: `<to> is an agent name (in your project, or name@project), an agent id, #topic, or * for every agent.
<text> is the body; - reads it from standard input. --json-body sends it as a JSON object or array.
Importance: ${IMPORTANCE.join(', ')} (default normal). Prints the message id.`,
    options: {
      subject: { type: 'string' },
      thread: { type: 'string' },
      'reply-to': { type: 'string' },
      'json-body': { type: 'boolean' },
      importance: { type: 'string' },
      'ack-required': { type: 'boolean' },
    },
    async run(ctx) {
      if (ctx.args.length !== 2) throw new UsageError('send needs <to> and <text> (or - to read the text from standard input)', ctx.command);
      const [toArg, textArg] = ctx.args as [string, string];
      const importance = ctx.values.importance as string | undefined;
      if (importance !== undefined && !(IMPORTANCE as readonly string[]).includes(importance)) {
        throw new UsageError(`--importance must be one of ${IMPORTANCE.join(', ')}`, ctx.command);
      }
      const replyTo = ctx.values['reply-to'] as string | undefined;
      if (replyTo !== undefined && !Ulid.safeParse(replyTo).success) throw new UsageError(`--reply-to needs a message id, not ${replyTo}`, ctx.command);
      const text = textArg === '-' ? await readAll(ctx.io.stdin) : textArg;
      let body: MessageBody = text;
      if (ctx.values['json-body']) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch (error) {
          throw new UsageError(`--json-body: the text is not JSON (${(error as Error).message})`, ctx.command);
        }
        if (parsed === null || typeof parsed !== 'object') throw new UsageError('--json-body needs a JSON object or array', ctx.command);
        body = parsed as MessageBody;
      }
      const client = await ctx.identity();
      const { recipient, label } = await resolveRecipient(ctx, client, toArg);
      const options: SendOptions = {
        subject: ctx.values.subject as string | undefined,
        threadId: ctx.values.thread as string | undefined,
        replyTo,
        importance: importance as SendOptions['importance'],
        ackRequired: ctx.values['ack-required'] === true ? true : undefined,
      };
      const result = await client.send(recipient, body, options);
      if (ctx.json) return void ctx.out(JSON.stringify(result, null, 2));
      ctx.out(result.id);
      ctx.note(
        `${result.duplicate ? 'Already sent' : 'Sent'} to ${label}: ${result.recipients} recipient${result.recipients === 1 ? '' : 's'}` +
          (result.threadId !== result.id ? ` (thread ${result.threadId})` : ''),
      );
    },
  },

  inbox: {
    summary: 'show unacknowledged messages (--all: every message)',
    usage: 'devenviro inbox [--all] [--ack] [--limit N] [--json]',
    details: '--ack acknowledges the shown messages after printing them. --limit caps how many are shown (default 100).',
    options: { all: { type: 'boolean' }, ack: { type: 'boolean' }, limit: { type: 'string' } },
    async run(ctx) {
      noArgs(ctx);
      const limit = positiveInt(ctx, 'limit', 100);
      const client = await ctx.identity();
      const messages: Message[] = [];
      let after: string | undefined;
      while (messages.length < limit) {
        const page = await client.inbox({ after, limit: Math.min(1000, limit - messages.length), state: ctx.values.all ? 'all' : 'unacked' });
        messages.push(...page.messages);
        if (!page.next) break;
        after = page.next;
      }
      if (ctx.json) {
        ctx.out(JSON.stringify(messages, null, 2));
      } else if (messages.length === 0) {
        ctx.note(ctx.values.all ? 'No messages.' : 'No unacknowledged messages.');
      } else {
        const names = await nameMap(client);
        ctx.out(messages.map((m) => formatMessage(m, names)).join('\n\n'));
      }
      if (ctx.values.ack && messages.length > 0) {
        const acknowledged = await client.ack(messages.map((m) => m.id));
        ctx.note(`Acknowledged ${acknowledged} message${acknowledged === 1 ? '' : 's'}.`);
      }
    },
  },

  ack: {
    summary: 'acknowledge messages by id',
    usage: 'devenviro ack <id>... [--json]',
    async run(ctx) {
      if (ctx.args.length === 0) throw new UsageError('ack needs at least one message id', ctx.command);
      const wrong = ctx.args.filter((id) => !Ulid.safeParse(id).success);
      if (wrong.length > 0) throw new UsageError(`not message ids: ${wrong.join(', ')}`, ctx.command);
      const client = await ctx.identity();
      const acknowledged = await client.ack(ctx.args);
      if (ctx.json) return void ctx.out(JSON.stringify({ acknowledged }));
      ctx.note(`Acknowledged ${acknowledged} of ${ctx.args.length} (the others were acknowledged already, or are not in your inbox).`);
    },
  },

  watch: {
    summary: 'print each message as a line of JSON as it arrives',
    usage: 'devenviro watch [--no-ack]',
    details: `Connects the realtime socket and prints every unacknowledged message, then each new one, as one line of JSON
on standard output, acknowledging it once printed (--no-ack leaves them unacknowledged). Reconnects when the
hub goes away; Ctrl-C stops. Connection notices go to standard error.`,
    options: { 'no-ack': { type: 'boolean' } },
    async run(ctx) {
      noArgs(ctx);
      const identity = await resolveIdentity(ctx);
      const watcher = await attachIdentity(ctx, identity, { autoAck: ctx.values['no-ack'] !== true });
      // A message is acknowledged only once its line was written; one that could not be written stays unacknowledged.
      watcher.on('message', (message) => write(ctx.io.stdout, JSON.stringify(message) + '\n'));
      let stopping = false;
      let stopped!: (code: number) => void;
      const done = new Promise<number>((resolve) => (stopped = resolve));
      const stop = (code: number) => {
        stopping = true;
        stopped(code);
      };
      let lastFailure = '';
      watcher.on('connected', ({ pending, reconnected }) => {
        lastFailure = '';
        ctx.note(`${reconnected ? 'Reconnected' : 'Watching'} as ${watcher.agent.name} (${pending} unacknowledged)${reconnected ? '' : '; Ctrl-C to stop'}.`);
      });
      watcher.on('disconnected', ({ code, reason, willReconnect }) => {
        if (!stopping) ctx.note(`Disconnected (${code}${reason ? `: ${reason}` : ''})${willReconnect ? '; reconnecting…' : '.'}`);
      });
      watcher.on('reconnecting', ({ attempt, error }) => {
        // The drop itself was noted above; after it, one note per kind of failure rather than one per attempt.
        const kind = `${error.status} ${error.code}`;
        if (stopping || attempt < 2 || kind === lastFailure) return;
        lastFailure = kind;
        const why =
          error.status === 0
            ? `no hub answers at ${watcher.url}${error.cause instanceof Error ? `: ${error.cause.message}` : ''}`
            : `the hub at ${watcher.url} answered ${error.status}: ${error.message}`;
        ctx.note(`Still reconnecting (${why})…`);
      });
      watcher.on('error', (error) => {
        // A closed standard output (watch | head -1) stops the watch; the unwritten message stays unacknowledged.
        if (stopping || (error.cause as NodeJS.ErrnoException | undefined)?.code === 'EPIPE') return;
        ctx.note(`devenviro watch: ${error.message}`);
        if (error instanceof HubClientError && ['unauthorized', 'revoked', 'replaced', 'forbidden'].includes(error.code)) stop(1);
      });
      await watcher.connect();
      void ctx.io.interrupted.then(() => stop(0));
      const code = await done;
      await watcher.close();
      return code;
    },
  },

  status: {
    summary: "show or set this agent's status",
    usage: `devenviro status [${SETTABLE_STATUSES.join('|')}] [--activity TEXT] [--json]`,
    details: 'Without arguments, shows the status. --activity "" clears the activity.',
    options: { activity: { type: 'string' } },
    async run(ctx) {
      if (ctx.args.length > 1) throw new UsageError('status takes at most one status', ctx.command);
      const wanted = ctx.args[0];
      if (wanted !== undefined && !(SETTABLE_STATUSES as readonly string[]).includes(wanted)) {
        throw new UsageError(`the status must be one of ${SETTABLE_STATUSES.join(', ')}`, ctx.command);
      }
      const client = await ctx.identity();
      const activityOption = ctx.values.activity as string | undefined;
      let info: AgentInfo;
      if (wanted === undefined && activityOption === undefined) {
        info = await client.info();
      } else {
        const current = wanted ?? (client.agent.status === 'offline' ? 'online' : client.agent.status);
        const activity = activityOption === undefined ? undefined : activityOption === '' ? null : activityOption;
        info = await client.setStatus(current as (typeof SETTABLE_STATUSES)[number], activity);
      }
      if (ctx.json) return void ctx.out(JSON.stringify(info, null, 2));
      ctx.out(
        [
          `${info.name} (project ${info.project}, ${info.tier}): ${info.status}${info.activity ? ` — ${info.activity}` : ''}`,
          `  id ${info.id}; ${info.connected ? 'connected' : 'not connected'}; ${info.inboxDepth} unacknowledged; ${info.messagesIn} in, ${info.messagesOut} out`,
        ].join('\n'),
      );
    },
  },

  subscribe: {
    summary: 'subscribe to topics',
    usage: 'devenviro subscribe <topic>... [--json]',
    async run(ctx) {
      const topics = topicArgs(ctx);
      const client = await ctx.identity();
      const all = await client.subscribe(topics);
      if (ctx.json) return void ctx.out(JSON.stringify({ topics: all }));
      ctx.note(`Subscribed. Topics of ${client.agent.name}: ${all.map((t) => `#${t}`).join(', ')}`);
    },
  },

  unsubscribe: {
    summary: 'unsubscribe from topics',
    usage: 'devenviro unsubscribe <topic>... [--json]',
    async run(ctx) {
      const topics = topicArgs(ctx);
      const client = await ctx.identity();
      const all = await client.unsubscribe(topics);
      if (ctx.json) return void ctx.out(JSON.stringify({ topics: all }));
      ctx.note(`Unsubscribed. Topics of ${client.agent.name}: ${all.length ? all.map((t) => `#${t}`).join(', ') : 'none'}`);
    },
  },

  search: {
    summary: 'search the messages you sent or received',
    usage: 'devenviro search <query> [--limit N] [--json]',
    details: 'Every word must match; the last one may be a prefix. Without an agent identity, searches as the cockpit.',
    options: { limit: { type: 'string' } },
    async run(ctx) {
      if (ctx.args.length === 0) throw new UsageError('search needs a query', ctx.command);
      const limit = positiveInt(ctx, 'limit', 20);
      const http = await readerHttp(ctx);
      const { hits } = await http.request<{ hits: Array<{ message: Message; snippet: string; rank: number }> }>('GET', '/messages/search', {
        query: { q: ctx.args.join(' '), limit },
      });
      if (ctx.json) return void ctx.out(JSON.stringify(hits, null, 2));
      if (hits.length === 0) return void ctx.note('No messages match.');
      const names = await nameMap(http).catch(() => new Map<string, string>());
      ctx.out(hits.map((h) => `${h.message.id}  ${shortTime(h.message.createdAt)}  ${names.get(h.message.from) ?? h.message.from}: ${oneLine(h.snippet)}`).join('\n'));
    },
  },

  threads: {
    summary: 'list the threads you took part in',
    usage: 'devenviro threads [--limit N] [--json]',
    options: { limit: { type: 'string' } },
    async run(ctx) {
      noArgs(ctx);
      const limit = positiveInt(ctx, 'limit', 50);
      const client = await ctx.identity();
      const threads = await client.threads({ limit });
      if (ctx.json) return void ctx.out(JSON.stringify(threads, null, 2));
      if (threads.length === 0) return void ctx.note('No threads yet.');
      const names = await nameMap(client);
      ctx.out(
        table([
          ['THREAD', 'MESSAGES', 'LAST', 'PARTICIPANTS', 'SUBJECT'],
          ...threads.map((t) => [t.threadId, String(t.messages), shortTime(t.lastMessageAt), t.participants.map((p) => names.get(p) ?? p).join(', '), t.subject ?? '']),
        ]),
      );
    },
  },

  memory: {
    summary: 'the shared memory: store, extract or search memories',
    usage: `devenviro memory store <text|-> [--kind K] [--tag T]... [--importance 0..1] [--shared] [--json]
       devenviro memory extract <file|-> [--title T] [--shared] [--json]
       devenviro memory search <query> [--k N] [--scope project|shared|all] [--kind K] [--json]`,
    details: `store: one memory (kinds: ${MEMORY_KINDS.join(', ')}). extract: reads a transcript, log or document
(a file, or - for standard input) and stores what it finds: sections, chunks, decisions, tasks, errors, commands,
paths. search: vector and keyword search fused, each hit with its scores. Memories go to, and are searched in, the
agent's project (or --project); without an agent identity the cockpit's token is used.`,
    options: {
      kind: { type: 'string' },
      tag: { type: 'string', multiple: true },
      importance: { type: 'string' },
      shared: { type: 'boolean' },
      title: { type: 'string' },
      k: { type: 'string' },
      scope: { type: 'string' },
    },
    async run(ctx) {
      const [action, ...rest] = ctx.args;
      const http = await readerHttp(ctx);
      const project = ctx.values.project as string | undefined;
      const kind = ctx.values.kind as string | undefined;
      if (kind !== undefined && !kind.split(',').every((k) => (MEMORY_KINDS as readonly string[]).includes(k))) {
        throw new UsageError(`--kind must be one of ${MEMORY_KINDS.join(', ')}`, ctx.command);
      }
      switch (action) {
        case 'store': {
          if (rest.length === 0) throw new UsageError('memory store needs the text (or - to read it from standard input)', ctx.command);
          const text = rest.join(' ') === '-' ? await readAll(ctx.io.stdin) : rest.join(' ');
          const importance = ctx.values.importance === undefined ? undefined : Number(ctx.values.importance);
          if (importance !== undefined && !(importance >= 0 && importance <= 1)) throw new UsageError('--importance must be between 0 and 1', ctx.command);
          const { stored } = await http.request<{ stored: StoredMemory[] }>('POST', '/memory/store', {
            body: { text, project, kind, tags: ctx.values.tag as string[] | undefined, importance, shared: ctx.values.shared === true },
          });
          if (ctx.json) return void ctx.out(JSON.stringify(stored[0], null, 2));
          ctx.out(stored[0]!.memory.id);
          ctx.note(stored[0]!.outcome === 'created' ? 'Stored.' : `A near-identical memory existed (similarity ${stored[0]!.similarity?.toFixed(3)}): reinforced it.`);
          return;
        }
        case 'extract': {
          if (rest.length !== 1) throw new UsageError('memory extract needs one file (or - for standard input)', ctx.command);
          const source = rest[0]!;
          const text = source === '-' ? await readAll(ctx.io.stdin) : await readFile(source, 'utf8');
          const result = await http.request<{ stored: StoredMemory[]; stats: Record<string, unknown> }>('POST', '/memory/extract', {
            body: {
              text,
              project,
              title: (ctx.values.title as string | undefined) ?? (source === '-' ? undefined : path.basename(source)),
              source: source === '-' ? { type: 'conversation' } : { type: 'file', ref: path.resolve(source) },
              shared: ctx.values.shared === true,
            },
          });
          if (ctx.json) return void ctx.out(JSON.stringify(result, null, 2));
          const byKind = new Map<string, number>();
          for (const { memory } of result.stored) byKind.set(memory.kind, (byKind.get(memory.kind) ?? 0) + 1);
          ctx.out([...byKind].map(([k, n]) => `${k}: ${n}`).join(', '));
          ctx.note(`Stored ${result.stored.length} memories in ${Math.round(Number(result.stats.totalMs ?? 0))} ms.`);
          return;
        }
        case 'search': {
          if (rest.length === 0) throw new UsageError('memory search needs a query', ctx.command);
          const k = positiveInt(ctx, 'k', 10);
          const scope = ctx.values.scope as string | undefined;
          if (scope !== undefined && !['project', 'shared', 'all'].includes(scope)) throw new UsageError('--scope must be project, shared or all', ctx.command);
          const result = await http.request<MemorySearchResult>('GET', '/memory/search', { query: { q: rest.join(' '), k, scope, project, kind } });
          if (ctx.json) return void ctx.out(JSON.stringify(result, null, 2));
          if (result.hits.length === 0) return void ctx.note('No memories match.');
          ctx.out(
            table([
              ['SCORE', 'KIND', 'PROJECT', 'MEMORY'],
              ...result.hits.map((hit) => [hit.scores.final.toFixed(4), hit.memory.kind, hit.memory.project, oneLine(hit.memory.text).slice(0, 100)]),
            ]),
          );
          ctx.note(`${result.hits.length} hits in ${result.tookMs.toFixed(1)} ms (${result.model}).`);
          return;
        }
        default:
          throw new UsageError('memory needs an action: store, extract or search', ctx.command);
      }
    },
  },

  thread: {
    summary: 'show the messages of one thread',
    usage: 'devenviro thread <thread-id> [--json]',
    async run(ctx) {
      if (ctx.args.length !== 1) throw new UsageError('thread needs one thread id', ctx.command);
      const client = await ctx.identity();
      const messages = await client.thread(ctx.args[0]!);
      if (ctx.json) return void ctx.out(JSON.stringify(messages, null, 2));
      const names = await nameMap(client);
      ctx.out(messages.map((m) => formatMessage(m, names)).join('\n\n'));
    },
  },

  backup: {
    summary: 'back up the hub and project folders: status, set, preview, run, list, verify, restore',
    usage: Object.values(BACKUP_ACTIONS)
      .map((action, i) => `${i === 0 ? '' : '       '}${action.usage.replace(/\n\s+/g, '\n           ')}`)
      .join('\n'),
    details: `${Object.entries(BACKUP_ACTIONS)
      .map(([name, action]) => `  ${name.padEnd(8)} ${action.summary}`)
      .join('\n')}

Backups are the business of the person at this machine: these commands use the cockpit token in the hub's data
directory (<data-dir>/cockpit-token), never an agent's. Run \`devenviro backup <action> --help\` for an action's options.`,
    actions: BACKUP_ACTIONS,
    options: {
      target: { type: 'string' },
      'add-project': { type: 'string', multiple: true },
      'remove-project': { type: 'string', multiple: true },
      exclude: { type: 'string', multiple: true },
      'remove-exclude': { type: 'string', multiple: true },
      interval: { type: 'string' },
      gitignore: { type: 'boolean' },
      'no-gitignore': { type: 'boolean' },
      source: { type: 'string' },
      limit: { type: 'string' },
      wait: { type: 'boolean' },
      to: { type: 'string' },
      overwrite: { type: 'boolean' },
    },
    async run(ctx) {
      const [action, ...rest] = ctx.args;
      const spec = action === undefined ? undefined : BACKUP_ACTIONS[action];
      if (action === undefined || !spec) {
        throw new UsageError(`backup needs an action: ${Object.keys(BACKUP_ACTIONS).join(', ')}${action === undefined ? '' : ` (not ${action})`}`, ctx.command);
      }
      const usage = `backup ${action}`;
      if (ctx.values.as !== undefined || ctx.values.project !== undefined) {
        throw new UsageError(`backup acts as the cockpit, not as an agent: --as and --project do not apply (projects are added with \`devenviro backup set --add-project NAME=PATH\`)`, usage);
      }
      const allowed = new Set(['url', 'data-dir', 'json', 'help', ...spec.options]);
      const wrong = Object.keys(ctx.values).find((name) => ctx.values[name] !== undefined && !allowed.has(name));
      if (wrong) throw new UsageError(`--${wrong} is not an option of backup ${action}`, usage);
      const takesId = action === 'verify' || action === 'restore';
      if (takesId ? rest.length !== 1 : rest.length > 0) {
        throw new UsageError(takesId ? `backup ${action} needs one snapshot id (see \`devenviro backup list\`)` : `unexpected argument ${rest[0]}`, usage);
      }
      if (takesId && !SnapshotId.safeParse(rest[0]).success) {
        throw new UsageError(`not a snapshot id: ${rest[0]} (they look like 20250101T120000000Z-1a2b3c4d; see \`devenviro backup list\`)`, usage);
      }
      try {
        switch (action) {
          case 'status':
            return await backupStatus(ctx);
          case 'set':
            return await backupSet(ctx, usage);
          case 'preview':
            return await backupPreview(ctx, usage);
          case 'run':
            return await backupRun(ctx);
          case 'list':
            return await backupList(ctx);
          case 'verify':
            return await backupVerify(ctx, rest[0]!);
          default:
            return await backupRestore(ctx, rest[0]!, usage);
        }
      } catch (error) {
        throw explainBackupError(ctx, error);
      }
    },
  },
};

// ---------------------------------------------------------------------------------------------------------------
// Running

const USAGE = `devenviro: talk to the DevEnviro Cockpit agent hub

Usage: devenviro <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, command]) => `  ${name.padEnd(12)} ${command.summary}`)
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

// ---------------------------------------------------------------------------------------------------------------
// Identity and the hub

function location(ctx: Context): { url?: string; dataDir: string; env: NodeJS.ProcessEnv } {
  return { url: ctx.values.url as string | undefined, dataDir: ctx.dataDir, env: ctx.io.env };
}

const NO_IDENTITY =
  'no agent identity: register one with `devenviro register --name NAME`, pass --as NAME, or set DEVENVIRO_AGENT and DEVENVIRO_TOKEN';

async function resolveIdentity(ctx: Context): Promise<IdentityRef> {
  const as = ctx.values.as as string | undefined;
  const project = ctx.values.project as string | undefined;
  if (as !== undefined) return findSaved(ctx, as, project);

  const envAgent = ctx.io.env.DEVENVIRO_AGENT;
  const envToken = ctx.io.env.DEVENVIRO_TOKEN;
  if (envAgent || envToken) {
    if (!envAgent || !envToken) throw new UsageError('set both DEVENVIRO_AGENT (the agent name or id) and DEVENVIRO_TOKEN');
    if (Ulid.safeParse(envAgent).success) return { id: envAgent, token: envToken };
    const http = new HubHttp(() => discoverHubUrl(location(ctx)).url, envToken);
    const { agents } = await http.request<{ agents: AgentInfo[] }>('GET', '/agents');
    const candidates = agents.filter((a) => a.name === envAgent && (project === undefined || a.project === project));
    for (const candidate of candidates) {
      try {
        // Only the agent itself may read its topics: this finds which of the same-named agents the token is.
        await http.request('GET', `/agents/${candidate.id}/topics`);
        return { id: candidate.id, token: envToken, name: candidate.name, project: candidate.project };
      } catch (error) {
        if (!(error instanceof HubClientError && error.status === 403)) throw error;
      }
    }
    throw new UsageError(`DEVENVIRO_TOKEN is not the token of an agent named ${envAgent}${project ? ` in project ${project}` : ''}`);
  }

  const saved = listCredentials(ctx.dataDir).filter((c) => project === undefined || c.project === project);
  if (saved.length === 1) return saved[0]!;
  if (saved.length === 0) throw new UsageError(`${NO_IDENTITY} (no credentials under ${path.join(ctx.dataDir, 'credentials')})`);
  throw new UsageError(`${saved.length} agents are saved (${saved.map((c) => `${c.name}@${c.project}`).join(', ')}): choose one with --as NAME [--project P]`);
}

function findSaved(ctx: Context, name: string, project: string | undefined): SavedCredentials {
  if (project !== undefined) {
    const saved = loadCredentials(ctx.dataDir, project, name);
    if (!saved) throw new UsageError(`no saved agent ${name} in project ${project}: register it with \`devenviro register --name ${name} --project ${project}\``);
    return saved;
  }
  const matches = listCredentials(ctx.dataDir).filter((c) => c.name === name);
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) throw new UsageError(`no saved agent named ${name} under ${ctx.dataDir}: register it with \`devenviro register --name ${name}\``);
  throw new UsageError(`${name} is saved in several projects (${matches.map((c) => c.project).join(', ')}): add --project P`);
}

async function attachIdentity(ctx: Context, identity: IdentityRef, options: { autoAck?: boolean } = {}): Promise<AgentClient> {
  try {
    return await HubClient.attach({ ...location(ctx), ...options, id: identity.id, token: identity.token });
  } catch (error) {
    if (error instanceof HubClientError && (error.status === 401 || error.status === 403 || error.status === 404)) {
      const who = identity.name ? `${identity.name} (project ${identity.project})` : `agent ${identity.id}`;
      const fix = identity.name ? ` Register again: devenviro register --name ${identity.name} --project ${identity.project}` : '';
      throw new HubClientError(
        error.status,
        error.code,
        `the credentials of ${who} do not work on the hub at ${discoverHubUrl(location(ctx)).url}: ${error.message}.${fix}`,
      );
    }
    throw error;
  }
}

/** HTTP for read-only views: as the agent when there is one, else with the cockpit token of the data directory. */
async function readerHttp(ctx: Context): Promise<HubHttp> {
  try {
    const client = await ctx.identity();
    return new HubHttp(() => client.url, client.token);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    const token = await cockpitToken(ctx.dataDir).catch(() => {
      throw error;
    });
    return new HubHttp(() => discoverHubUrl(location(ctx)).url, token);
  }
}

async function cockpitToken(dataDir: string): Promise<string> {
  const file = path.join(dataDir, 'cockpit-token');
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (error) {
    throw new Error(`cannot read the cockpit token at ${file}: ${(error as Error).message}`, { cause: error });
  }
}

async function resolveRecipient(ctx: Context, client: AgentClient, to: string): Promise<{ recipient: Recipient; label: string }> {
  if (to === '*') return { recipient: { type: 'broadcast' }, label: 'everyone' };
  if (to.startsWith('#')) {
    const name = to.slice(1);
    if (!TopicName.safeParse(name).success) throw new UsageError(`not a topic name: ${to}`, ctx.command);
    return { recipient: { type: 'topic', name }, label: to };
  }
  if (Ulid.safeParse(to).success) return { recipient: { type: 'agent', id: to }, label: to };
  const at = to.lastIndexOf('@');
  const name = at > 0 ? to.slice(0, at) : to;
  const project = at > 0 ? to.slice(at + 1) : ((ctx.values.project as string | undefined) ?? client.agent.project);
  const match = (await client.agents()).find((a) => a.name === name && a.project === project);
  if (!match) throw new UsageError(`no agent named ${name} in project ${project} (see \`devenviro agents\`; use name@project for another project)`, ctx.command);
  return { recipient: { type: 'agent', id: match.id }, label: `${name}@${project}` };
}

/** Agent ids to names for display: `name` in the viewer's own project, `name@project` elsewhere. */
async function nameMap(source: AgentClient | HubHttp): Promise<Map<string, string>> {
  const agents = source instanceof AgentClient ? await source.agents() : (await source.request<{ agents: AgentInfo[] }>('GET', '/agents')).agents;
  const own = source instanceof AgentClient ? source.agent.project : undefined;
  return new Map(agents.map((a) => [a.id, a.project === own ? a.name : `${a.name}@${a.project}`]));
}

// ---------------------------------------------------------------------------------------------------------------
// Backup

const BACKUP_POLL_MS = 300;
/** Progress lines while waiting for a run: on each new phase, else at most this often. */
const BACKUP_PROGRESS_EVERY_MS = 1000;
const NO_TARGET = 'no backup folder is set yet: choose one with `devenviro backup set --target DIR`';

/** Backup calls carry the cockpit token of the data directory: only the person at this machine makes them. */
async function backupHttp(ctx: Context): Promise<HubHttp> {
  let token: string;
  try {
    token = await cockpitToken(ctx.dataDir);
  } catch (error) {
    throw new Error(
      `${(error as Error).message}. Backup commands use the cockpit token of the hub's data directory: run them on the hub's machine, with --data-dir DIR when the hub keeps its data elsewhere`,
      { cause: error },
    );
  }
  return new HubHttp(() => discoverHubUrl(location(ctx)).url, token);
}

/** Adds what to do next to the hub's answers a person can act on from the command line. */
function explainBackupError(ctx: Context, error: unknown): unknown {
  if (!(error instanceof HubClientError)) return error;
  const hint =
    error.code === 'no_target'
      ? 'Choose one with `devenviro backup set --target DIR`.'
      : error.status === 401 || error.status === 403
        ? `The cockpit token in ${ctx.dataDir} is not the one of the hub at ${discoverHubUrl(location(ctx)).url}: point --data-dir at that hub's data directory.`
        : error.code === 'destination_not_empty'
          ? 'Add --overwrite to replace the files there.'
          : error.code === 'busy'
            ? '`devenviro backup status` shows what is running.'
            : undefined;
  return hint ? new HubClientError(error.status, error.code, `${error.message} ${hint}`, { cause: error }) : error;
}

async function backupStatus(ctx: Context): Promise<void> {
  const overview = await (await backupHttp(ctx)).request<BackupOverview>('GET', '/backup');
  if (ctx.json) return void ctx.out(JSON.stringify(overview, null, 2));
  const { settings, status, runs } = overview;
  const rows = settingsRows(settings, overview.defaults.folderName);
  const running = status.running;
  rows.push(['Now', running ? `${running.trigger} backup ${running.runId} running${running.progress ? `: ${formatProgress(running.progress)}` : ''}` : 'idle']);
  const next = status.nextRunAt
    ? `${shortTime(status.nextRunAt)} (in ${span(Date.parse(status.nextRunAt) - Date.now())})`
    : !settings.target
      ? 'none until a backup folder is set'
      : settings.intervalMinutes === null
        ? 'when asked'
        : running
          ? 'planned when this one ends'
          : 'none planned';
  rows.push(['Next run', next]);
  if (status.lastError) {
    const inRow = status.consecutiveFailures > 1 ? `, ${status.consecutiveFailures} failures in a row` : '';
    rows.push(['Last error', `${shortTime(status.lastError.at)}: ${status.lastError.message} (${status.lastError.code}${inRow})`]);
  }
  ctx.out(table(rows));
  if (runs.length === 0) return void ctx.out('\nNo backup has run yet.');
  ctx.out(
    '\nLast runs:\n' +
      table([
        ['STARTED', 'TRIGGER', 'STATUS', 'FILES', 'SIZE', 'TOOK', 'SNAPSHOT / ERROR'],
        ...runs.slice(0, 10).map((r) => [shortTime(r.startedAt), r.trigger, r.status, String(r.files), formatBytes(r.bytes), took(r), r.snapshotId ?? oneLine(r.error ?? '')]),
      ]),
  );
}

function settingsRows(settings: BackupSettings, folderName: string): string[][] {
  const width = Math.max(HUB_SOURCE.length, ...settings.sources.map((s) => s.name.length));
  const rows: string[][] = [
    ['Backup folder', settings.target ? `${settings.target}  (snapshots in ${path.join(settings.target, folderName)})` : 'not set: choose one with `devenviro backup set --target DIR`'],
    ['Sources', `${HUB_SOURCE.padEnd(width)}  (the hub's own data)`],
  ];
  for (const source of settings.sources) rows.push(['', `${source.name.padEnd(width)}  ${source.path}`]);
  rows.push([
    'Left out',
    `${settings.exclude.length ? settings.exclude.join(' ') : 'nothing by pattern'}; ${settings.useGitignore ? "what each project's .gitignore leaves out" : "projects' .gitignore files not honoured"}; files over ${formatBytes(settings.maxFileBytes)}`,
  ]);
  rows.push([
    'Schedule',
    settings.intervalMinutes === null
      ? `only when asked${settings.runOnQuit ? ', and when the hub quits' : ''}`
      : `every ${count(settings.intervalMinutes, 'minute')}${settings.runOnQuit ? ', and when the hub quits' : ''}`,
  ]);
  rows.push(['Keep', `the last ${settings.keep.last}, plus the newest of each of ${count(settings.keep.daily, 'day')} and ${count(settings.keep.weekly, 'week')}`]);
  return rows;
}

async function backupSet(ctx: Context, usage: string): Promise<void> {
  const values = ctx.values;
  const list = (name: string) => (values[name] as string[] | undefined) ?? [];
  if (!BACKUP_ACTIONS.set!.options.some((name) => values[name] !== undefined)) {
    throw new UsageError('backup set needs a change: --target, --add-project, --remove-project, --exclude, --remove-exclude, --interval, --gitignore or --no-gitignore', usage);
  }
  if (values.gitignore && values['no-gitignore']) throw new UsageError('--gitignore and --no-gitignore contradict each other', usage);
  let target: string | undefined;
  if (values.target !== undefined) {
    if (!(values.target as string).trim()) throw new UsageError('--target needs a folder', usage);
    target = path.resolve(values.target as string);
  }
  const added = list('add-project').map((arg) => {
    const eq = arg.indexOf('=');
    if (eq <= 0 || eq === arg.length - 1) throw new UsageError(`--add-project needs NAME=PATH, not ${arg}`, usage);
    const parsed = BackupSourceSchema.safeParse({ name: arg.slice(0, eq).trim(), path: path.resolve(arg.slice(eq + 1)) });
    if (!parsed.success) throw new UsageError(`--add-project ${arg}: ${parsed.error.issues.map((issue) => issue.message).join('; ')}`, usage);
    return parsed.data;
  });
  const emptyPattern = [...list('exclude'), ...list('remove-exclude')].some((pattern) => !pattern.trim());
  if (emptyPattern) throw new UsageError('--exclude and --remove-exclude need a pattern', usage);
  let interval: number | null | undefined;
  if (values.interval !== undefined) {
    const raw = values.interval as string;
    const minutes = Number(raw);
    const max = 7 * 24 * 60;
    if (raw.toLowerCase() === 'off') interval = null;
    else if (Number.isInteger(minutes) && minutes >= 1 && minutes <= max) interval = minutes;
    else throw new UsageError(`--interval needs whole minutes from 1 to ${max}, or off; not ${raw}`, usage);
  }

  const http = await backupHttp(ctx);
  const overview = await http.request<BackupOverview>('GET', '/backup');
  const next: BackupSettings = { ...overview.settings, sources: [...overview.settings.sources], exclude: [...overview.settings.exclude] };
  const sameName = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
  if (target !== undefined) next.target = target;
  for (const name of list('remove-project')) {
    const at = next.sources.findIndex((s) => sameName(s.name, name));
    const known = next.sources.length ? ` (the projects are ${next.sources.map((s) => `"${s.name}"`).join(', ')})` : ' (no project is backed up)';
    if (at < 0) throw new UsageError(`no project named "${name}" is backed up${known}`, usage);
    next.sources.splice(at, 1);
  }
  for (const source of added) {
    const at = next.sources.findIndex((s) => sameName(s.name, source.name));
    if (at >= 0) next.sources[at] = source;
    else next.sources.push(source);
  }
  for (const pattern of list('remove-exclude')) {
    const at = next.exclude.indexOf(pattern);
    if (at < 0) throw new UsageError(`"${pattern}" is not one of the exclusions (\`devenviro backup status\` lists them)`, usage);
    next.exclude.splice(at, 1);
  }
  for (const pattern of list('exclude')) if (!next.exclude.includes(pattern)) next.exclude.push(pattern);
  if (interval !== undefined) next.intervalMinutes = interval;
  if (values.gitignore) next.useGitignore = true;
  if (values['no-gitignore']) next.useGitignore = false;

  const saved = await http.request<{ settings: BackupSettings; warnings: string[] }>('PUT', '/backup/settings', { body: next });
  if (ctx.json) return void ctx.out(JSON.stringify(saved, null, 2));
  ctx.out(table(settingsRows(saved.settings, overview.defaults.folderName)));
  for (const warning of saved.warnings) ctx.note(`warning: ${warning}`);
  ctx.note('Backup settings saved.');
}

async function backupPreview(ctx: Context, usage: string): Promise<void> {
  const raw = ctx.values.limit as string | undefined;
  const limit = raw === undefined ? 10 : Number(raw);
  if (!Number.isInteger(limit) || limit < 0 || limit > 10_000) throw new UsageError(`--limit needs a whole number from 0 to 10000, not ${raw}`, usage);
  const source = ctx.values.source as string | undefined;
  if (source !== undefined && !source.trim()) throw new UsageError('--source needs a name', usage);
  const { previews } = await (await backupHttp(ctx)).request<{ previews: ExclusionPreview[] }>('POST', '/backup/preview', { body: { source, limit } });
  if (ctx.json) return void ctx.out(JSON.stringify(previews, null, 2));
  ctx.out(
    table([
      ['SOURCE', 'INCLUDED', 'LEFT OUT', 'FOLDER'],
      ...previews.map((p) => [
        p.source,
        p.missing ? 'folder not there' : `${count(p.included.files, 'file')}, ${formatBytes(p.included.bytes)}`,
        p.missing ? '' : `${count(p.skipped.files, 'file')} (${formatBytes(p.skipped.bytes)}), ${count(p.skipped.dirs, 'folder')}`,
        p.path,
      ]),
    ]),
  );
  for (const p of previews) {
    if (p.skippedPaths.length === 0) continue;
    const total = p.skipped.files + p.skipped.dirs;
    ctx.out(`\nLeft out of ${p.source}${total > p.skippedPaths.length ? ` (the first ${p.skippedPaths.length} of ${total})` : ''}:`);
    ctx.out(table(p.skippedPaths.map((s) => [`  ${s.path}`, s.bytes === undefined ? '' : formatBytes(s.bytes), s.rule])));
  }
}

async function backupRun(ctx: Context): Promise<number> {
  const http = await backupHttp(ctx);
  const overview = await http.request<BackupOverview>('GET', '/backup');
  if (!overview.settings.target) throw new Error(NO_TARGET);
  const { runId } = await http.request<{ runId: string }>('POST', '/backup/run');
  if (!ctx.values.wait) {
    if (ctx.json) ctx.out(JSON.stringify({ runId }));
    else ctx.out(runId);
    ctx.note(`Backup ${runId} started; \`devenviro backup status\` shows how it goes.`);
    return 0;
  }
  ctx.note(`Backup ${runId} started into ${overview.settings.target}.`);
  const run = await followRun(ctx, http, runId);
  if (run === 'interrupted') {
    ctx.note(`Stopped waiting: backup ${runId} goes on in the hub (\`devenviro backup status\` shows how it goes).`);
    return 1;
  }
  if (ctx.json) ctx.out(JSON.stringify(run, null, 2));
  for (const warning of run.warnings) ctx.note(`warning: ${warning}`);
  if (run.status === 'ok' && run.snapshotId) {
    if (!ctx.json) ctx.out(run.snapshotId);
    ctx.note(
      `Backup done in ${took(run)}: snapshot ${run.snapshotId}, ${count(run.files, 'file')} (${formatBytes(run.bytes)}), ` +
        `${count(run.newObjects, 'new stored file')} (${formatBytes(run.newBytes)})${run.pruned ? `; ${count(run.pruned, 'old snapshot')} pruned` : ''}.`,
    );
    return 0;
  }
  const what = run.status === 'cancelled' ? 'was stopped' : 'failed';
  ctx.note(`devenviro backup run: the backup ${what}: ${run.error ?? 'no reason was recorded'}${run.errorCode ? ` (${run.errorCode})` : ''}`);
  return 1;
}

/** Polls the hub until the run ends, printing its progress to standard error; 'interrupted' on Ctrl-C. */
async function followRun(ctx: Context, http: HubHttp, runId: string): Promise<BackupRunRecord | 'interrupted'> {
  let lastLine = '';
  let lastPhase = '';
  let lastAt = 0;
  let unknown = 0;
  for (;;) {
    const overview = await http.request<BackupOverview>('GET', '/backup');
    const record = overview.runs.find((r) => r.id === runId);
    if (record && record.status !== 'running') return record;
    const running = overview.status.running?.runId === runId ? overview.status.running : null;
    if (running?.progress) {
      const line = formatProgress(running.progress);
      const now = Date.now();
      if (line !== lastLine && (running.progress.phase !== lastPhase || now - lastAt >= BACKUP_PROGRESS_EVERY_MS)) {
        ctx.note(line);
        lastLine = line;
        lastPhase = running.progress.phase;
        lastAt = now;
      }
    }
    if (!record && !running && ++unknown > 10) {
      throw new Error(`the hub does not know backup run ${runId} (did it restart?); \`devenviro backup status\` shows its last runs`);
    }
    const stop = await Promise.race([sleep(BACKUP_POLL_MS).then(() => false), ctx.io.interrupted.then(() => true)]);
    if (stop) return 'interrupted';
  }
}

function formatProgress(p: BackupProgress): string {
  if (p.phase === 'scanning') return `scanning: ${count(p.filesDone, 'file')}, ${formatBytes(p.bytesDone)} found`;
  if (p.phase === 'manifest') return 'manifest: writing the snapshot';
  if (p.phase === 'pruning') return `pruning: ${p.filesDone}/${count(p.filesTotal, 'old snapshot')} removed`;
  const share = p.bytesTotal > 0 ? p.bytesDone / p.bytesTotal : p.filesTotal > 0 ? p.filesDone / p.filesTotal : 1;
  return `${p.phase}: ${p.filesDone}/${count(p.filesTotal, 'file')}, ${formatBytes(p.bytesDone)}/${formatBytes(p.bytesTotal)} (${Math.floor(share * 100)}%)`;
}

async function backupList(ctx: Context): Promise<void> {
  const { snapshots, damaged } = await (await backupHttp(ctx)).request<{ snapshots: SnapshotSummary[]; damaged: DamagedSnapshot[] }>('GET', '/backup/snapshots');
  if (ctx.json) return void ctx.out(JSON.stringify({ snapshots, damaged }, null, 2));
  if (snapshots.length === 0) ctx.note('No snapshots yet: `devenviro backup run` takes one.');
  else {
    ctx.out(
      table([
        ['ID', 'CREATED', 'FILES', 'SIZE', 'ADDED', 'SOURCES'],
        ...snapshots.map((s) => [
          s.id,
          shortTime(s.createdAt),
          String(s.totals.files),
          formatBytes(s.totals.bytes),
          formatBytes(s.totals.newBytes),
          s.sources.map((source) => (source.missing ? `${source.name} (missing)` : source.name)).join(', ') + (s.own ? '' : `  [from ${s.origin.host}]`),
        ]),
      ]),
    );
  }
  for (const d of damaged) ctx.note(`damaged snapshot ${d.id}: ${d.error}`);
}

async function backupVerify(ctx: Context, id: string): Promise<number> {
  const report = await (await backupHttp(ctx)).request<VerifyReport>('POST', `/backup/snapshots/${id}/verify`);
  if (ctx.json) {
    ctx.out(JSON.stringify(report, null, 2));
    return report.ok ? 0 : 1;
  }
  if (report.ok) {
    ctx.out(`Snapshot ${report.snapshotId} is intact: ${count(report.files, 'file')}, ${count(report.objects, 'stored file')} (${formatBytes(report.bytes)}) re-hashed.`);
    return 0;
  }
  ctx.out(
    `Snapshot ${report.snapshotId} is damaged: of its ${count(report.objects, 'stored file')}, ${report.missing.length} missing and ${report.corrupt.length} corrupt.\n` +
      table([
        ['PROBLEM', 'STORED FILE (SHA-256)', 'USED BY'],
        ...report.missing.map((m) => ['missing', m.sha256, m.paths.join(', ')]),
        ...report.corrupt.map((c) => ['corrupt', c.sha256, `${c.paths.join(', ')} (its content now hashes to ${c.actual.slice(0, 12)}…)`]),
      ]),
  );
  return 1;
}

async function backupRestore(ctx: Context, id: string, usage: string): Promise<number> {
  const source = ctx.values.source as string | undefined;
  const to = ctx.values.to as string | undefined;
  if (!source?.trim()) throw new UsageError(`backup restore needs --source NAME (a project's name, or ${HUB_SOURCE}; \`devenviro backup list\` shows each snapshot's)`, usage);
  if (!to?.trim()) throw new UsageError('backup restore needs --to DIR, the folder to restore into', usage);
  const destination = path.resolve(to);
  const report = await (await backupHttp(ctx)).request<RestoreReport>('POST', `/backup/snapshots/${id}/restore`, {
    body: { source, destination, overwrite: ctx.values.overwrite === true },
  });
  if (ctx.json) {
    ctx.out(JSON.stringify(report, null, 2));
    return report.ok ? 0 : 1;
  }
  ctx.out(`Restored ${count(report.files, 'file')} (${formatBytes(report.bytes)}) of "${report.source}" from snapshot ${report.snapshotId} into ${report.destination}.`);
  if (report.ok) return 0;
  ctx.out(table([['NOT RESTORED', 'WHY'], ...report.failed.map((f) => [f.path, f.reason])]));
  ctx.note(`${count(report.failed.length, 'file')} could not be restored.`);
  return 1;
}

function took(run: BackupRunRecord): string {
  return run.finishedAt ? `${((Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000).toFixed(1)} s` : '';
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

function noArgs(ctx: Context): void {
  if (ctx.args.length > 0) throw new UsageError(`unexpected argument ${ctx.args[0]}`, ctx.command);
}

function topicArgs(ctx: Context): string[] {
  if (ctx.args.length === 0) throw new UsageError(`${ctx.command} needs at least one topic`, ctx.command);
  const topics = ctx.args.map((t) => (t.startsWith('#') ? t.slice(1) : t));
  const wrong = topics.filter((t) => !TopicName.safeParse(t).success);
  if (wrong.length > 0) throw new UsageError(`not topic names: ${wrong.join(', ')} (letters, digits and . _ / : -)`, ctx.command);
  return topics;
}

function positiveInt(ctx: Context, option: string, fallback: number): number {
  const raw = ctx.values[option] as string | undefined;
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new UsageError(`--${option} needs a positive whole number, not ${raw}`, ctx.command);
  return value;
}

function once<T>(make: () => Promise<T>): () => Promise<T> {
  let promise: Promise<T> | undefined;
  return () => (promise ??= make());
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

function write(stream: NodeJS.WritableStream, text: string): Promise<void> {
  return new Promise((resolve, reject) => stream.write(text, (error) => (error ? reject(error) : resolve())));
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ').trimEnd()).join('\n');
}

function formatMessage(message: Message, names: Map<string, string>): string {
  const to =
    message.to.type === 'agent' ? (names.get(message.to.id) ?? message.to.id) : message.to.type === 'topic' ? `#${message.to.name}` : 'everyone';
  const flags = [message.importance !== 'normal' ? message.importance : '', message.ackRequired ? 'ack required' : ''].filter(Boolean);
  const head = `${message.id}  ${shortTime(message.createdAt)}  ${names.get(message.from) ?? message.from} → ${to}${flags.length ? `  [${flags.join(', ')}]` : ''}`;
  const lines = [head];
  if (message.subject) lines.push(`  Subject: ${message.subject}`);
  if (message.threadId !== message.id) lines.push(`  Thread: ${message.threadId}${message.replyTo ? `, reply to ${message.replyTo}` : ''}`);
  const body = typeof message.body === 'string' ? message.body : JSON.stringify(message.body, null, 2);
  lines.push(...body.split('\n').map((line) => `  ${line}`));
  return lines.join('\n');
}

function shortTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toISOString().replace('T', ' ').slice(0, 19);
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function ago(ms: number): string {
  return `${span(ms)} ago`;
}

function span(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.round(s / 60)}m`;
  if (s < 86_400) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

// Run when executed directly (`node out/main/cli.js`, `tsx src/client/cli.ts`); bin/devenviro.mjs calls run().
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
