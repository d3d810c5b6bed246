/**
 * The file mailbox: the hub for agents that can only read and write files (and for tools of an older file-based
 * protocol that polled folders). The folder layout is in layout.ts and the agent-facing description in README.md.
 *
 * Exactly once, through kill -9 at any point:
 * - Outbox: a file is first claimed (renamed into `outbox/.sending/`), then sent with an idempotency key made from
 *   its name and content, then deleted once the send is committed. A crash leaves it in `.sending/`; sent again at
 *   start, the key makes the hub answer "already stored" and the file is deleted.
 * - Inbox: each delivery is written under a temporary name and flushed, then acknowledged in SQLite, then renamed
 *   into place. At start, temporaries whose delivery is acknowledged are renamed into place, the others deleted,
 *   and every delivery still unacknowledged is written.
 */
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { RegisterRequest, type AgentInfo, type RegisterResponse } from '../../shared/agent-protocol';
import type { AgentRecord, AgentRegistry } from '../agents/registry';
import { HubError } from '../errors';
import { prettyMessageJson } from '../messaging/frames';
import type { Delivery, MessagingService, ParsedSend } from '../messaging/service';
import type { StoredMessage } from '../messaging/store';
import {
  ensureDirs,
  errorCode,
  exists,
  isMissing,
  listDirs,
  listNames,
  reject,
} from './files';
import { syncDir, writeFileDurable, writeFileSynced } from '../../shared/node/durable-file';
import {
  AGENT_FILE,
  INBOX,
  inboxTempName,
  isAgentName,
  isDropFile,
  MailboxLayout,
  messageIdOfInboxTemp,
  OUTBOX,
  projectFolder,
  projectOfFolder,
  REGISTER_DIR,
  REJECTED,
  SENDING,
} from './layout';
import { FileProblem, parseOutboxFile } from './outbox-file';
import { SerialWorker } from './worker';
import { HUB_RUNTIME_FILE } from '../../shared/hub-location';

export interface FileMailboxOptions {
  dataDir: string;
  registry: AgentRegistry;
  messaging: MessagingService;
  /**
   * The largest outbox file read (larger ones are rejected unread). Default: 10 MiB + 64 KiB, the default
   * `messages.maxBytes` plus room for the JSON around the body; pass `config.messages.maxBytes + 64 * 1024`.
   */
  maxFileBytes?: number;
  /** How often every folder is looked at again, in case the watcher missed an event (ms; 0: never). Default 15 s. */
  rescanIntervalMs?: number;
  /** Where problems are reported. Default: console.warn with a `[mailbox]` prefix. */
  log?: (line: string) => void;
}

/** What `agent.json` holds for an agent registered through the mailbox. */
export interface AgentFile {
  id: string;
  name: string;
  project: string;
  /** The agent's secret for the HTTP API (`Authorization: Bearer <token>`), should it ever be able to use it. */
  token: string;
  /** Where the running hub writes its URL. */
  hubFile: string;
  registeredAt: string;
}

const DEFAULT_MAX_FILE_BYTES = 10 * 1024 * 1024 + 64 * 1024;
const MAX_REGISTRATION_BYTES = 64 * 1024;
const DEFAULT_RESCAN_MS = 15_000;
/** Outbox files read and sent together (one group commit, usually). */
const OUTBOX_BATCH = 128;
/** Inbox files written and acknowledged together. */
const INBOX_BATCH = 64;
/** A file that is not yet valid JSON but changed this recently may still be being written: look again later. */
const FRESH_WRITE_MS = 1000;
/** Waits before trying again after a failure that may pass (storage trouble), growing with each failure. */
const RETRY_DELAYS_MS = [200, 1000, 5000, 30_000];
/** Failures other than "the hub is busy or closing" are tried this many times before the file is rejected. */
const MAX_SEND_ATTEMPTS = 3;

const naturalOrder = new Intl.Collator('en', { numeric: true }).compare;

interface AgentBox {
  agent: AgentRecord;
  dir: string;
  outboxDir: string;
  sendingDir: string;
  inboxDir: string;
  rejectedDir: string;
  /** File names in outbox/ (or outbox/.sending/) waiting to be sent. */
  pending: Set<string>;
  /** Names waiting on a retry timer, not to be picked up before it fires. */
  waiting: Set<string>;
  attempts: Map<string, number>;
  scanOutbox: boolean;
  outbox: SerialWorker;
  inbox: SerialWorker;
  /** The highest delivery sequence written into the inbox folder in this run. */
  inboxCursor: number;
  inboxRecovered: boolean;
  inboxFailures: number;
  gone: boolean;
  /** The mailbox this one replaces, while its work may still be finishing. */
  previous: AgentBox | undefined;
}

/** An outbox file taken into .sending/: `fresh` when taken now, not left there by an earlier run. */
interface Claimed {
  name: string;
  file: string;
  fresh: boolean;
}

type Prepared =
  | { name: string; file: string; fresh: boolean; request: ParsedSend }
  | { name: string; file: string; problem: string }
  | { name: string; file: string; laterMs: number };

export class FileMailbox {
  private readonly layout: MailboxLayout;
  private readonly registry: AgentRegistry;
  private readonly messaging: MessagingService;
  private readonly maxFileBytes: number;
  private readonly rescanIntervalMs: number;
  private readonly log: (line: string) => void;

  private readonly boxes = new Map<string, AgentBox>();
  private readonly boxesByDir = new Map<string, AgentBox>();
  /** Mailboxes whose folder went away, by agent id. */
  private readonly retired = new Map<string, AgentBox>();
  /** Agent folders whose agent is not registered (yet), by project and name. */
  private readonly unclaimed = new Map<string, string>();
  private readonly warned = new Set<string>();
  private readonly knownAgents = new Set<string>();
  private readonly registrations = new Set<string>();
  private readonly registrationWorker: SerialWorker;
  /** Every worker made (those of mailboxes since removed too), so close() can wait for all of them. */
  private readonly workers = new Set<SerialWorker>();
  private scanning: Promise<void> | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private watcher: FSWatcher | undefined;
  private rescanTimer: NodeJS.Timeout | undefined;
  private unsubscribe: Array<() => void> = [];
  private state: 'new' | 'started' | 'closed' = 'new';
  private starting: Promise<void> | undefined;

  constructor(options: FileMailboxOptions) {
    this.layout = new MailboxLayout(options.dataDir);
    this.registry = options.registry;
    this.messaging = options.messaging;
    this.maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
    this.rescanIntervalMs = options.rescanIntervalMs ?? DEFAULT_RESCAN_MS;
    this.log = options.log ?? ((line) => console.warn(`[mailbox] ${line}`));
    this.registrationWorker = new SerialWorker(
      () => this.drainRegistrations(),
      (error) => {
        this.log(`registrations: ${(error as Error).message}; trying again shortly`);
        this.later(RETRY_DELAYS_MS[2]!, () => this.rescan());
      },
    );
    this.workers.add(this.registrationWorker);
  }

  /** `<dataDir>/mailbox`. */
  get root(): string {
    return this.layout.root;
  }

  /** The folder an agent's mailbox is in (whether or not it exists). */
  agentDir(agent: { project: string; name: string }): string {
    return this.layout.agentDir(agent.project, agent.name);
  }

  /**
   * Starts watching, then sends what was dropped while the hub was down and writes every delivery not yet written;
   * resolves once that backlog is done.
   */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error('a FileMailbox starts once');
    this.state = 'started';
    this.starting = this.open();
    await this.starting;
  }

  private async open(): Promise<void> {
    await ensureDirs([this.layout.root, this.layout.registerDir, this.layout.registerRejectedDir]);
    if (!this.running) return;
    for (const agent of this.registry.all()) this.knownAgents.add(agent.id);
    this.unsubscribe.push(
      this.messaging.onDelivered((deliveries) => this.onDelivered(deliveries)),
      this.registry.onChange((info) => this.onAgentChange(info)),
    );

    const watcher = watch(this.layout.root, {
      ignoreInitial: true,
      depth: 3,
      ignored: (file) => this.layout.ignored(file),
    });
    this.watcher = watcher;
    watcher.on('add', (file) => this.onFile(file));
    watcher.on('change', (file) => this.onFile(file));
    watcher.on('addDir', (dir) => this.onDir(dir));
    watcher.on('unlinkDir', (dir) => this.onDirRemoved(dir));
    watcher.on('error', (error) => this.log(`watching ${this.layout.root}: ${(error as Error).message}`));
    await new Promise<void>((resolve) => watcher.once('ready', resolve));

    await this.scan();
    await this.settled();
    if (this.rescanIntervalMs > 0 && this.running) {
      this.rescanTimer = setInterval(() => this.rescan(), this.rescanIntervalMs);
      this.rescanTimer.unref();
    }
  }

  /**
   * Stops watching and waits for the work under way (a send being committed, a batch of inbox files). Safe at any
   * time, also while start() is still working through a backlog. Close it before the messaging service; what is
   * left is picked up at the next start.
   */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearInterval(this.rescanTimer);
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.unsubscribe.forEach((off) => off());
    this.unsubscribe = [];
    await this.starting?.catch(() => undefined);
    clearInterval(this.rescanTimer);
    await this.watcher?.close();
    await this.scanning;
    await this.settled();
  }

  /** Resolves when nothing is being processed (for tests, and for close). */
  async settled(): Promise<void> {
    for (;;) {
      const busy = [...this.workers].filter((worker) => worker.busy);
      if (busy.length === 0) return;
      await Promise.all(busy.map((worker) => worker.idle()));
    }
  }

  private get running(): boolean {
    return this.state === 'started';
  }

  // -------------------------------------------------------------------------------------------------------------
  // Discovery: the initial scan, the periodic one, and watcher events.

  /** A scan in the background, unless one is under way. */
  private rescan(): void {
    if (this.scanning || !this.running) return;
    this.scanning = this.scan()
      .catch((error: unknown) => this.log(`rescan failed: ${(error as Error).message}`))
      .finally(() => (this.scanning = undefined));
  }

  /** Looks at every folder: registrations first, then each agent's outbox and inbox. */
  private async scan(): Promise<void> {
    if (!this.running) return;
    for (const name of await listNames(this.layout.registerDir)) if (isDropFile(name)) this.queueRegistration(name);
    // Registrations first, so an agent that registers and writes its first message at once finds its folder ready.
    await this.registrationWorker.idle();
    for (const folder of await listDirs(this.layout.root)) {
      if (folder.startsWith('.') || folder === REGISTER_DIR) continue;
      const project = projectOfFolder(folder);
      if (project === undefined) {
        this.warnOnce(
          path.join(this.layout.root, folder),
          `mailbox/${folder} is not a project folder: write the project name with every character other than a letter, ` +
            `digit, ".", "_" or "-" as %XX (UTF-8), e.g. ${projectFolder(safeDecode(folder))}`,
        );
        continue;
      }
      for (const name of await listDirs(path.join(this.layout.root, folder))) {
        if (isAgentName(name)) this.adoptFolder(project, name, path.join(this.layout.root, folder, name));
      }
    }
    for (const box of this.boxes.values()) {
      box.scanOutbox = true;
      box.outbox.kick();
      box.inbox.kick();
    }
  }

  private onFile(file: string): void {
    if (!this.running) return;
    const what = this.layout.classify(file);
    if (what.kind === 'registration') {
      this.queueRegistration(what.name);
    } else if (what.kind === 'outbox') {
      const box = this.boxesByDir.get(what.dir) ?? this.adoptFolder(what.project, what.name, what.dir);
      if (!box) return;
      box.pending.add(what.file);
      box.outbox.kick();
    }
  }

  private onDir(dir: string): void {
    if (!this.running) return;
    const what = this.layout.classify(dir);
    if (what.kind === 'agent-dir') this.adoptFolder(what.project, what.name, what.dir);
  }

  private onDirRemoved(dir: string): void {
    const what = this.layout.classify(dir);
    if (what.kind !== 'agent-dir') return;
    this.unclaimed.delete(nameKey(what.project, what.name));
    const box = this.boxesByDir.get(what.dir);
    if (box) this.closeBox(box);
  }

  /** An agent folder exists: open its mailbox, or remember it until its agent registers. */
  private adoptFolder(project: string, name: string, dir: string): AgentBox | undefined {
    const existing = this.boxesByDir.get(dir);
    if (existing) return existing;
    const agent = this.registry.findByName(project, name);
    if (agent) return this.openBox(agent, dir);
    this.unclaimed.set(nameKey(project, name), dir);
    this.warnOnce(
      dir,
      `${path.relative(this.layout.root, dir)}: no agent named ${name} is registered in project ${project}; its outbox waits ` +
        `until it registers (drop a registration file into ${this.layout.registerDir})`,
    );
    return undefined;
  }

  private warnOnce(key: string, line: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.log(line);
  }

  private onAgentChange(info: AgentInfo): void {
    if (this.knownAgents.has(info.id)) return;
    this.knownAgents.add(info.id);
    const dir = this.unclaimed.get(nameKey(info.project, info.name));
    if (dir === undefined || !this.running) return;
    this.unclaimed.delete(nameKey(info.project, info.name));
    const agent = this.registry.find(info.id);
    if (agent) this.openBox(agent, dir);
  }

  private onDelivered(deliveries: Delivery[]): void {
    if (!this.running || this.boxes.size === 0) return;
    for (const { recipients } of deliveries) {
      for (const agentId of recipients) this.boxes.get(agentId)?.inbox.kick();
    }
  }

  private openBox(agent: AgentRecord, dir: string): AgentBox {
    const current = this.boxes.get(agent.id);
    if (current && !current.gone) return current;
    const outboxDir = path.join(dir, OUTBOX);
    const previous = this.retired.get(agent.id);
    this.retired.delete(agent.id);
    const box: AgentBox = {
      agent,
      dir,
      previous,
      outboxDir,
      sendingDir: path.join(outboxDir, SENDING),
      inboxDir: path.join(dir, INBOX),
      rejectedDir: path.join(dir, REJECTED),
      pending: new Set(),
      waiting: new Set(),
      attempts: new Map(),
      scanOutbox: true,
      inboxCursor: 0,
      inboxRecovered: false,
      inboxFailures: 0,
      gone: false,
      outbox: undefined!,
      inbox: undefined!,
    };
    box.outbox = new SerialWorker(
      () => this.drainOutbox(box),
      (error) => {
        this.log(`${this.label(box)} outbox: ${(error as Error).message}; trying again shortly`);
        box.scanOutbox = true;
        this.later(RETRY_DELAYS_MS[2]!, () => box.outbox.kick());
      },
    );
    box.inbox = new SerialWorker(
      () => this.drainInbox(box),
      (error) => {
        const delay = RETRY_DELAYS_MS[Math.min(box.inboxFailures, RETRY_DELAYS_MS.length - 1)]!;
        box.inboxFailures++;
        box.inboxRecovered = false;
        this.log(`${this.label(box)} inbox: ${(error as Error).message}; trying again in ${delay} ms`);
        this.later(delay, () => box.inbox.kick());
      },
    );
    this.workers.add(box.outbox).add(box.inbox);
    this.boxes.set(agent.id, box);
    this.boxesByDir.set(dir, box);
    box.outbox.kick();
    box.inbox.kick();
    return box;
  }

  private closeBox(box: AgentBox): void {
    box.gone = true;
    if (this.boxes.get(box.agent.id) === box) this.boxes.delete(box.agent.id);
    if (this.boxesByDir.get(box.dir) === box) this.boxesByDir.delete(box.dir);
    this.retired.set(box.agent.id, box);
  }

  /** A mailbox opened again (its folder removed and made again) waits until the old one has stopped. */
  private async afterPrevious(box: AgentBox): Promise<void> {
    const previous = box.previous;
    if (!previous) return;
    await previous.outbox.idle();
    await previous.inbox.idle();
    box.previous = undefined;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Registration drop files.

  private queueRegistration(name: string): void {
    this.registrations.add(name);
    this.registrationWorker.kick();
  }

  private async drainRegistrations(): Promise<void> {
    while (this.registrations.size > 0 && this.running) {
      const name = [...this.registrations].sort(naturalOrder)[0]!;
      this.registrations.delete(name);
      await this.registerFromFile(name);
    }
  }

  private async registerFromFile(fileName: string): Promise<void> {
    const file = path.join(this.layout.registerDir, fileName);
    let content: Buffer;
    try {
      const info = await stat(file);
      if (!info.isFile()) return;
      if (info.size > MAX_REGISTRATION_BYTES) {
        await this.rejectRegistration(file, fileName, `the file is ${info.size} bytes; a registration is at most ${MAX_REGISTRATION_BYTES} bytes.`);
        return;
      }
      content = await readFile(file);
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    }

    let input: ReturnType<typeof RegisterRequest.parse>;
    try {
      let raw: unknown;
      try {
        raw = JSON.parse(content.toString('utf8'));
      } catch (error) {
        throw new FileProblem(`the file is not valid JSON (${(error as Error).message}).`);
      }
      const parsed = RegisterRequest.safeParse(raw);
      if (!parsed.success) {
        const problems = parsed.error.issues.map((issue) => `${issue.path.map(String).join('.') || 'registration'}: ${issue.message}`);
        throw new FileProblem(`the registration does not fit the protocol: ${problems.join('; ')}.`);
      }
      input = parsed.data;
    } catch (error) {
      if (!(error instanceof FileProblem)) throw error;
      await this.rejectRegistration(file, fileName, error.message);
      return;
    }

    const dir = this.layout.agentDir(input.project, input.name);
    const agentFile = path.join(dir, AGENT_FILE);
    const previous = await readAgentFile(agentFile);
    let result: RegisterResponse;
    try {
      // The token from an earlier file registration keeps the agent's token stable; without one (or when it no
      // longer matches) the registration is made with the person's authority, which reclaims the name and issues
      // a fresh token: whoever can write the data directory is the person at this machine.
      try {
        result = this.registry.register(input, { kind: 'none' }, typeof previous?.token === 'string' ? previous.token : undefined);
      } catch (error) {
        if (!(error instanceof HubError) || (error.status !== 409 && error.status !== 403)) throw error;
        result = this.registry.register(input, { kind: 'cockpit' });
      }
    } catch (error) {
      if (error instanceof HubError && error.status < 500) {
        await this.rejectRegistration(file, fileName, error.message);
        return;
      }
      throw error;
    }

    try {
      await ensureDirs([dir, path.join(dir, OUTBOX), path.join(dir, INBOX), path.join(dir, REJECTED)]);
    } catch (error) {
      await this.rejectRegistration(file, fileName, `the agent was registered (id ${result.agent.id}) but its folder ${dir} could not be made: ${(error as Error).message}.`);
      return;
    }
    const record: AgentFile = {
      id: result.agent.id,
      name: result.agent.name,
      project: result.agent.project,
      token: result.token,
      hubFile: path.join(path.dirname(this.layout.root), HUB_RUNTIME_FILE),
      registeredAt: new Date().toISOString(),
    };
    await writeFileDurable(agentFile, JSON.stringify(record, null, 2) + '\n', 0o600);
    const agent = this.registry.get(result.agent.id);
    this.unclaimed.delete(nameKey(agent.project, agent.name));
    this.openBox(agent, dir);
    await rm(file, { force: true });
  }

  private async rejectRegistration(file: string, fileName: string, reason: string): Promise<void> {
    const explanation =
      `Could not register an agent from mailbox/_register/${fileName} (${new Date().toISOString()}):\n${reason}\n\n` +
      'A registration file holds one JSON object such as {"name": "builder", "project": "acme", "tier": "development", ' +
      '"capabilities": ["code"], "description": "…"} (only "name" is required). Fix the file and move it back into ' +
      'mailbox/_register/.\n';
    try {
      await reject(file, this.layout.registerRejectedDir, fileName, explanation);
      this.log(`rejected registration ${fileName}: ${reason}`);
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Outbox: files to send.

  private async drainOutbox(box: AgentBox): Promise<void> {
    await this.afterPrevious(box);
    if (box.gone || !this.running) return;
    if (box.scanOutbox) {
      box.scanOutbox = false;
      // An agent that opted in by making its folder gets the rest made for it.
      if (!(await this.ensureSubfolders(box))) return;
      // Files left in .sending/ (by a crash, or waiting for a retry) are sent again; see claim() for namesakes.
      for (const name of await listNames(box.sendingDir)) if (isDropFile(name)) box.pending.add(name);
      for (const name of await listNames(box.outboxDir)) if (isDropFile(name)) box.pending.add(name);
    }
    while (box.pending.size > 0 && this.running && !box.gone) {
      const names = [...box.pending].filter((name) => !box.waiting.has(name)).sort(naturalOrder).slice(0, OUTBOX_BATCH);
      for (const name of box.pending) if (box.waiting.has(name)) box.pending.delete(name);
      names.forEach((name) => box.pending.delete(name));
      if (names.length === 0) return;
      await this.sendBatch(box, names);
    }
  }

  /** Makes outbox/, inbox/ and rejected/ in an agent's folder; false when the folder itself is gone. */
  private async ensureSubfolders(box: AgentBox): Promise<boolean> {
    try {
      for (const dir of [box.outboxDir, box.inboxDir, box.rejectedDir]) await mkdirOnce(dir);
      return true;
    } catch (error) {
      if (!isMissing(error) && errorCode(error) !== 'ENOTDIR') throw error;
      this.closeBox(box);
      return false;
    }
  }

  private async sendBatch(box: AgentBox, names: string[]): Promise<void> {
    try {
      await mkdirOnce(box.sendingDir);
    } catch (error) {
      if (isMissing(error) || errorCode(error) === 'ENOTDIR') return; // the outbox (or the whole folder) is gone
      throw error;
    }
    const claimed = (await Promise.all(names.map((name) => this.claim(box, name)))).filter((file) => file !== undefined);
    const prepared = (await Promise.all(claimed.map((file) => this.prepare(box, file)))).filter((item) => item !== undefined);

    // Handed over in name order and in one go, so they share a commit and are stored in that order.
    const outcomes = prepared.map((item) => ({
      item,
      sent: 'request' in item ? this.messaging.send(box.agent, item.request).then(
        (result) => ({ ok: true as const, result }),
        (error: unknown) => ({ ok: false as const, error }),
      ) : undefined,
    }));
    let sentAny = false;
    await Promise.all(
      outcomes.map(async ({ item, sent }) => {
        if ('problem' in item) return this.rejectOutboxFile(box, item.file, item.name, item.problem);
        if ('laterMs' in item) return this.retryLater(box, item.name, item.laterMs);
        const outcome = await sent!;
        if (outcome.ok) {
          sentAny = true;
          box.attempts.delete(item.name);
          await rm(item.file, { force: true });
          // Left over from a crash, a duplicate is the point of the key. A new file taken for a duplicate is more
          // likely an agent reusing a file name for the same content: say so, since nothing new was sent.
          if (outcome.result.duplicate && item.fresh) {
            this.log(
              `${this.label(box)} outbox/${item.name}: not sent again, it repeats message ${outcome.result.id} (the same file ` +
                'name and content, or the same idempotencyKey); give each message a new file name',
            );
          }
          return;
        }
        const error = outcome.error instanceof HubError ? outcome.error : new HubError(500, 'failed', (outcome.error as Error).message);
        const attempts = (box.attempts.get(item.name) ?? 0) + 1;
        box.attempts.set(item.name, attempts);
        if (error.status < 500 || (error.status !== 503 && attempts >= MAX_SEND_ATTEMPTS)) {
          box.attempts.delete(item.name);
          return this.rejectOutboxFile(box, item.file, item.name, `the hub refused the message: ${error.message}.`);
        }
        if (!this.running) return; // closing: the file stays in .sending/ and is sent at the next start
        const delay = RETRY_DELAYS_MS[Math.min(attempts - 1, RETRY_DELAYS_MS.length - 1)]!;
        this.log(`${this.label(box)} outbox/${item.name}: ${error.message}; trying again in ${delay} ms`);
        this.retryLater(box, item.name, delay);
      }),
    );
    if (sentAny) this.registry.touch(box.agent);
  }

  /**
   * Takes a file out of the agent's reach before reading it (an agent writing the same name again makes a new
   * file, never changes the one being sent). A file already in .sending/ is sent as it is; its namesake in outbox/
   * waits for the next round.
   */
  private async claim(box: AgentBox, name: string): Promise<Claimed | undefined> {
    const sending = path.join(box.sendingDir, name);
    if (await exists(sending)) {
      if (await exists(path.join(box.outboxDir, name))) box.pending.add(name);
      return { name, file: sending, fresh: false };
    }
    try {
      await rename(path.join(box.outboxDir, name), sending);
    } catch (error) {
      if (isMissing(error)) return undefined; // already handled (a repeated event) or taken back by the agent
      throw error;
    }
    return { name, file: sending, fresh: true };
  }

  private async prepare(box: AgentBox, { name, file, fresh }: Claimed): Promise<Prepared | undefined> {
    let size: number;
    let modified: number;
    let content: Buffer;
    try {
      const info = await stat(file);
      size = info.size;
      modified = info.mtimeMs;
      if (!info.isFile()) return { name, file, problem: 'this is not a file (a folder?); only files ending in .json are sent.' };
      if (size > this.maxFileBytes) {
        return {
          name,
          file,
          problem:
            `the file is ${size} bytes; the hub reads outbox files of up to ${this.maxFileBytes} bytes ` +
            '(messages.maxBytes in the hub\'s config.json, plus 64 KiB for the JSON around the body). Send a smaller ' +
            'body, or a path to a file instead of its content.',
        };
      }
      content = await readFile(file);
    } catch (error) {
      if (isMissing(error)) return undefined;
      return { name, file, problem: `the file could not be read (${(error as Error).message}).` };
    }
    if (box.agent.revokedAt) {
      return {
        name,
        file,
        problem: `agent ${box.agent.name} was revoked from the cockpit and may not send. Restore it there (or register it again with a file in mailbox/_register/), then move this file back into outbox/.`,
      };
    }
    try {
      return { name, file, fresh, request: parseOutboxFile(name, content, box.agent, this.registry) };
    } catch (error) {
      if (!(error instanceof FileProblem)) throw error;
      // Written in place rather than renamed in, a file can be read half-written: give a fresh one a moment.
      const halfWritten = size === 0 || error.message.startsWith('the file is not valid JSON');
      if (halfWritten && Date.now() - modified < FRESH_WRITE_MS) return { name, file, laterMs: FRESH_WRITE_MS };
      return { name, file, problem: error.message };
    }
  }

  private async rejectOutboxFile(box: AgentBox, file: string, name: string, reason: string): Promise<void> {
    const explanation =
      `Could not send outbox/${name} as agent ${box.agent.name} (project ${box.agent.project}) at ${new Date().toISOString()}:\n` +
      `${reason}\n\nNothing was sent. Fix the file and move it back into outbox/ to send it (write it under a name ending ` +
      'in .tmp, then rename it to .json, so it is never read half-written).\n';
    try {
      await reject(file, box.rejectedDir, name, explanation);
      this.log(`${this.label(box)} rejected outbox/${name}: ${reason}`);
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
  }

  private retryLater(box: AgentBox, name: string, delayMs: number): void {
    if (!this.running) return;
    box.waiting.add(name);
    this.later(delayMs, () => {
      box.waiting.delete(name);
      box.pending.add(name);
      box.outbox.kick();
    });
  }

  // -------------------------------------------------------------------------------------------------------------
  // Inbox: deliveries written as files.

  private async drainInbox(box: AgentBox): Promise<void> {
    await this.afterPrevious(box);
    if (box.gone || !this.running) return;
    if (!box.inboxRecovered) {
      await this.recoverInbox(box);
      box.inboxRecovered = true;
    }
    for (;;) {
      if (box.gone || !this.running) return;
      const page = this.messaging.store.inbox(box.agent.id, box.inboxCursor, INBOX_BATCH, 'unacked');
      if (page.length === 0) break;
      await this.writeInboxFiles(box, page);
      box.inboxCursor = page.at(-1)!.seq;
      if (page.length < INBOX_BATCH) break;
    }
    box.inboxFailures = 0;
  }

  /**
   * After a crash: a temporary whose delivery was acknowledged was about to be renamed into place, so it is; any
   * other was never acknowledged, so it goes (the delivery is written again).
   */
  private async recoverInbox(box: AgentBox): Promise<void> {
    let changed = false;
    for (const name of await listNames(box.inboxDir)) {
      const id = messageIdOfInboxTemp(name);
      if (id === undefined) continue;
      const temp = path.join(box.inboxDir, name);
      const final = path.join(box.inboxDir, `${id}.json`);
      if (this.deliveryState(box.agent.id, id) === 'acked' && !(await exists(final))) await rename(temp, final);
      else await rm(temp, { force: true });
      changed = true;
    }
    if (changed) await syncDir(box.inboxDir);
  }

  private deliveryState(agentId: string, messageId: string): 'acked' | 'unacked' | 'none' {
    const { store } = this.messaging;
    const seq = store.seqOf(messageId);
    if (seq === undefined) return 'none';
    if (store.inbox(agentId, seq - 1, 1, 'unacked')[0]?.seq === seq) return 'unacked';
    return store.inbox(agentId, seq - 1, 1, 'all')[0]?.seq === seq ? 'acked' : 'none';
  }

  /** Temporaries written and flushed, then one acknowledgement for all, then each renamed into place. */
  private async writeInboxFiles(box: AgentBox, messages: StoredMessage[]): Promise<void> {
    try {
      // Not recursive: if the agent's folder is gone, so is its mailbox; it is not made again behind its back.
      await mkdirOnce(box.inboxDir);
    } catch (error) {
      if (isMissing(error) || errorCode(error) === 'ENOTDIR') {
        this.closeBox(box);
        return;
      }
      throw error;
    }
    const temps = messages.map((message) => path.join(box.inboxDir, inboxTempName(message.id)));
    try {
      // Settled, not raced: when one write fails, the others are finished before their files are cleared away.
      const writes = await Promise.allSettled(
        // A large body is copied from its file as bytes, a slice at a time (see prettyMessageJson).
        messages.map((message, i) => writeFileSynced(temps[i]!, prettyMessageJson(message))),
      );
      const failed = writes.find((write) => write.status === 'rejected');
      if (failed) throw failed.reason;
      await syncDir(box.inboxDir);
      await this.messaging.ack(box.agent, messages.map((message) => message.id));
    } catch (error) {
      // Not acknowledged: the temporaries go, and the messages are written again on the next attempt.
      await Promise.all(temps.map((temp) => rm(temp, { force: true })));
      throw error;
    }
    await Promise.all(messages.map((message, i) => rename(temps[i]!, path.join(box.inboxDir, `${message.id}.json`))));
    await syncDir(box.inboxDir);
  }

  // -------------------------------------------------------------------------------------------------------------

  private later(delayMs: number, action: () => void): void {
    if (!this.running) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.running) action();
    }, delayMs);
    timer.unref();
    this.timers.add(timer);
  }

  private label(box: AgentBox): string {
    return `${box.agent.project}/${box.agent.name}`;
  }
}

/** mkdir, not recursive (a missing parent is an error), and fine if it exists. */
async function mkdirOnce(dir: string): Promise<void> {
  try {
    await mkdir(dir, { mode: 0o700 });
  } catch (error) {
    if (errorCode(error) !== 'EEXIST') throw error;
  }
}

async function readAgentFile(file: string): Promise<Partial<AgentFile> | undefined> {
  try {
    const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
    return typeof parsed === 'object' && parsed !== null ? (parsed as Partial<AgentFile>) : undefined;
  } catch {
    return undefined;
  }
}

function safeDecode(folder: string): string {
  try {
    return decodeURIComponent(folder);
  } catch {
    return folder;
  }
}

function nameKey(project: string, name: string): string {
  return `${project}\u0000${name}`;
}
