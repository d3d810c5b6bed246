/**
 * The open agent mailboxes, by agent and by folder. Opening one starts its three workers: the outbox sender
 * (outbox.ts), the inbox writer (inbox.ts) and the request answerer (requests.ts), each retried on the mailbox's
 * backoff when a run of it fails.
 */
import path from 'node:path';
import { backoffDelay } from '../../shared/retry';
import type { AgentRecord } from '../agents/registry';
import { AGAIN_SHORTLY_MS, label, RETRY_BACKOFF, type AgentBox, type MailboxContext } from './context';
import { drainInbox } from './inbox';
import { ANSWERS, INBOX, OUTBOX, REJECTED, REQUESTS, SENDING, WORKING } from './layout';
import { drainOutbox } from './outbox';
import { drainRequests } from './requests';
import { SerialWorker } from './worker';

export class AgentBoxes {
  private readonly byAgent = new Map<string, AgentBox>();
  private readonly byDir = new Map<string, AgentBox>();
  /** Mailboxes whose folder went away, by agent id. */
  private readonly retired = new Map<string, AgentBox>();

  /** `workers`: every worker made is added, so the mailbox's close() can wait for all of them. */
  /** `onOpen`: called for each mailbox opened (its pushed tasks are restored there). */
  constructor(
    private readonly ctx: MailboxContext,
    private readonly workers: Set<SerialWorker>,
    private readonly onOpen: (box: AgentBox) => void = () => undefined,
  ) {}

  get size(): number {
    return this.byAgent.size;
  }

  values(): IterableIterator<AgentBox> {
    return this.byAgent.values();
  }

  ofAgent(agentId: string): AgentBox | undefined {
    return this.byAgent.get(agentId);
  }

  inDir(dir: string): AgentBox | undefined {
    return this.byDir.get(dir);
  }

  /** Opens an agent's mailbox (the one open already, unless it is gone) and starts its sender and writer. */
  open(agent: AgentRecord, dir: string): AgentBox {
    const current = this.byAgent.get(agent.id);
    if (current && !current.gone) return current;
    const outboxDir = path.join(dir, OUTBOX);
    const requestsDir = path.join(dir, REQUESTS);
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
      requestsDir,
      workingDir: path.join(requestsDir, WORKING),
      answersDir: path.join(dir, ANSWERS),
      pendingRequests: new Set(),
      scanRequests: true,
      requests: undefined!,
    };
    box.outbox = new SerialWorker(
      () => drainOutbox(this.ctx, box),
      (error) => {
        this.ctx.log(`${label(box)} outbox: ${(error as Error).message}; trying again shortly`);
        box.scanOutbox = true;
        this.ctx.later(AGAIN_SHORTLY_MS, () => box.outbox.kick());
      },
    );
    box.inbox = new SerialWorker(
      () => drainInbox(this.ctx, box),
      (error) => {
        const delay = backoffDelay(RETRY_BACKOFF, box.inboxFailures);
        box.inboxFailures++;
        box.inboxRecovered = false;
        this.ctx.log(`${label(box)} inbox: ${(error as Error).message}; trying again in ${delay} ms`);
        this.ctx.later(delay, () => box.inbox.kick());
      },
    );
    box.requests = new SerialWorker(
      () => drainRequests(this.ctx, box),
      (error) => {
        this.ctx.log(`${label(box)} requests: ${(error as Error).message}; trying again shortly`);
        box.scanRequests = true;
        this.ctx.later(AGAIN_SHORTLY_MS, () => box.requests.kick());
      },
    );
    this.workers.add(box.outbox).add(box.inbox).add(box.requests);
    this.byAgent.set(agent.id, box);
    this.byDir.set(dir, box);
    box.outbox.kick();
    box.inbox.kick();
    box.requests.kick();
    this.onOpen(box);
    return box;
  }

  /** Forgets a mailbox whose folder went away; its work under way finishes, and a new one waits for it. */
  close(box: AgentBox): void {
    box.gone = true;
    if (this.byAgent.get(box.agent.id) === box) this.byAgent.delete(box.agent.id);
    if (this.byDir.get(box.dir) === box) this.byDir.delete(box.dir);
    this.retired.set(box.agent.id, box);
  }
}
