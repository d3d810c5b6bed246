/**
 * The file mailbox: the hub for agents that can only read and write files (and for tools of an older file-based
 * protocol that polled folders). The folder layout is in layout.ts and the agent-facing description in docs/file-mailbox.md.
 * This class starts and stops it and finds the agents' folders (watcher events, a scan at start and a periodic one);
 * boxes.ts keeps one mailbox per agent, whose work is done by the outbox sender (outbox.ts: files agents write →
 * hub), the inbox writer (inbox.ts: hub → files agents read) and the request answerer (requests.ts: reservation
 * requests → answer files); registration.ts reads registration drop files.
 *
 * Exactly once, through kill -9 at any point:
 * - Outbox: a file is first claimed (renamed into `outbox/.sending/`), then sent with an idempotency key made from
 *   its name and content, then deleted once the send is committed. A crash leaves it in `.sending/`; sent again at
 *   start, the key makes the hub answer "already stored" and the file is deleted.
 * - Inbox: each delivery is written under a temporary name and flushed, then acknowledged in SQLite, then renamed
 *   into place. At start, temporaries whose delivery is acknowledged are renamed into place, the others deleted,
 *   and every delivery still unacknowledged is written.
 */
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { AgentInfo } from '../../shared/agent-protocol';
import type { AgentRegistry } from '../agents/registry';
import type { Delivery, MessagingService } from '../messaging/service';
import type { ReservationService } from '../reservations/service';
import type { TaskServerFrame } from '../../shared/task-protocol';
import type { TaskService } from '../tasks/service';
import { AgentBoxes } from './boxes';
import type { AgentBox, MailboxContext } from './context';
import { ensureDirs, listDirs, listNames } from './files';
import { isAgentName, isDropFile, MailboxLayout, projectFolder, projectOfFolder, REGISTER_DIR } from './layout';
import { Registrations } from './registration';
import { MailboxTaskPush } from './tasks';
import type { SerialWorker } from './worker';

export interface FileMailboxOptions {
  dataDir: string;
  registry: AgentRegistry;
  messaging: MessagingService;
  /** Answers the reservation requests agents drop into requests/ (docs/file-mailbox.md). */
  reservations: ReservationService;
  /** Answers the task requests agents drop into requests/, and pushes tasks into the inboxes of those that ask. */
  tasks: TaskService;
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

const DEFAULT_MAX_FILE_BYTES = 10 * 1024 * 1024 + 64 * 1024;
const DEFAULT_RESCAN_MS = 15_000;

export class FileMailbox {
  private readonly layout: MailboxLayout;
  private readonly registry: AgentRegistry;
  private readonly messaging: MessagingService;
  private readonly reservations: ReservationService;
  private readonly taskPush: MailboxTaskPush;
  private readonly maxFileBytes: number;
  private readonly rescanIntervalMs: number;
  private readonly log: (line: string) => void;

  private readonly boxes: AgentBoxes;
  /** Agent folders whose agent is not registered (yet), by project and name. */
  private readonly unclaimed = new Map<string, string>();
  private readonly warned = new Set<string>();
  private readonly knownAgents = new Set<string>();
  private readonly registrations: Registrations;
  /** What the outbox sender, inbox writer and registration see of this mailbox. */
  private readonly context: MailboxContext;
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
    this.reservations = options.reservations;
    this.maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
    this.rescanIntervalMs = options.rescanIntervalMs ?? DEFAULT_RESCAN_MS;
    this.log = options.log ?? ((line) => console.warn(`[mailbox] ${line}`));
    const isRunning = () => this.running;
    const taskPush = () => this.taskPush;
    this.context = {
      layout: this.layout,
      registry: this.registry,
      messaging: this.messaging,
      reservations: this.reservations,
      tasks: options.tasks,
      get taskPush() {
        return taskPush();
      },
      maxFileBytes: this.maxFileBytes,
      get running() {
        return isRunning();
      },
      log: this.log,
      later: (delayMs, action) => this.later(delayMs, action),
      closeBox: (box) => this.boxes.close(box),
    };
    this.boxes = new AgentBoxes(this.context, this.workers, (box) => {
      this.taskPush.restore(box).catch((error: unknown) => this.log(`${box.agent.project}/${box.agent.name} tasks: ${(error as Error).message}`));
    });
    this.taskPush = new MailboxTaskPush(this.context, options.tasks, this.workers, (agentId) => this.boxes.ofAgent(agentId));
    this.registrations = new Registrations(
      this.context,
      (agent, dir) => {
        this.unclaimed.delete(nameKey(agent.project, agent.name));
        this.boxes.open(agent, dir);
      },
      () => this.rescan(),
    );
    this.workers.add(this.registrations.worker);
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
   * A task frame (offered, cancelled) for an agent the realtime gateway could not reach: written into its inbox as a
   * task file when it has a mailbox. False when it has none.
   */
  taskFrame(agentId: string, frame: TaskServerFrame): boolean {
    return this.taskPush.frame(agentId, frame);
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
    this.taskPush.close();
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
    for (const name of await listNames(this.layout.registerDir)) if (isDropFile(name)) this.registrations.queue(name);
    // Registrations first, so an agent that registers and writes its first message at once finds its folder ready.
    await this.registrations.worker.idle();
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
      box.scanRequests = true;
      box.outbox.kick();
      box.inbox.kick();
      box.requests.kick();
    }
  }

  private onFile(file: string): void {
    if (!this.running) return;
    const what = this.layout.classify(file);
    if (what.kind === 'registration') {
      this.registrations.queue(what.name);
    } else if (what.kind === 'outbox') {
      const box = this.boxes.inDir(what.dir) ?? this.adoptFolder(what.project, what.name, what.dir);
      if (!box) return;
      box.pending.add(what.file);
      box.outbox.kick();
    } else if (what.kind === 'request') {
      const box = this.boxes.inDir(what.dir) ?? this.adoptFolder(what.project, what.name, what.dir);
      if (!box) return;
      box.pendingRequests.add(what.file);
      box.requests.kick();
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
    const box = this.boxes.inDir(what.dir);
    if (box) this.boxes.close(box);
  }

  /** An agent folder exists: open its mailbox, or remember it until its agent registers. */
  private adoptFolder(project: string, name: string, dir: string): AgentBox | undefined {
    const existing = this.boxes.inDir(dir);
    if (existing) return existing;
    const agent = this.registry.findByName(project, name);
    if (agent) return this.boxes.open(agent, dir);
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
    if (agent) this.boxes.open(agent, dir);
  }

  private onDelivered(deliveries: Delivery[]): void {
    if (!this.running || this.boxes.size === 0) return;
    for (const { recipients } of deliveries) {
      for (const agentId of recipients) this.boxes.ofAgent(agentId)?.inbox.kick();
    }
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
