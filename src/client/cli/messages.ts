/** The message commands: send, inbox, ack, watch, search, threads and thread. */
import { IMPORTANCE, Ulid, type Message } from '../../shared/agent-protocol';
import { HubClientError, type MessageBody, type SendOptions } from '../client';
import { noArgs, positiveInt, readAll, UsageError, write, type Command } from './command';
import { attachIdentity, nameMap, readerHttp, resolveIdentity, resolveRecipient } from './hub';
import { formatMessage, oneLine, shortTime, table } from './output';

export const send: Command = {
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
};

export const inbox: Command = {
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
};

export const ack: Command = {
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
};

export const watch: Command = {
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
};

export const search: Command = {
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
};

export const threads: Command = {
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
};

export const thread: Command = {
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
};
