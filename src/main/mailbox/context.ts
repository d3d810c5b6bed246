/**
 * An agent's mailbox (its folder's outbox, inbox, rejected/, requests and answers) as the outbox sender, the inbox
 * writer, the request answerer and the registration of drop files see it, and what they need from the FileMailbox
 * they work for.
 */
import { mkdir } from 'node:fs/promises';
import { errorCode } from '../../shared/node/fs-errors';
import { backoffDelay, type Backoff } from '../../shared/retry';
import type { AgentRecord, AgentRegistry } from '../agents/registry';
import type { MessagingService } from '../messaging/service';
import type { ReservationService } from '../reservations/service';
import type { TaskService } from '../tasks/service';
import type { MailboxLayout } from './layout';
import type { SerialWorker } from './worker';

/** Waits before trying again after a failure that may pass (storage trouble), growing with each failure. */
export const RETRY_BACKOFF: Backoff = { steps: [200, 1000, 5000, 30_000] };
/** The wait after a worker's job failed as a whole ("trying again shortly"): the schedule's third step. */
export const AGAIN_SHORTLY_MS = backoffDelay(RETRY_BACKOFF, 2);

export const naturalOrder = new Intl.Collator('en', { numeric: true }).compare;

/** One agent's mailbox. */
export interface AgentBox {
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
  requestsDir: string;
  /** Inside requests/: requests claimed and being answered. */
  workingDir: string;
  answersDir: string;
  /** Request file names waiting to be answered. */
  pendingRequests: Set<string>;
  scanRequests: boolean;
  requests: SerialWorker;
  /** The highest delivery sequence written into the inbox folder in this run. */
  inboxCursor: number;
  inboxRecovered: boolean;
  inboxFailures: number;
  gone: boolean;
  /** The mailbox this one replaces, while its work may still be finishing. */
  previous: AgentBox | undefined;
}

/** What the outbox sender, the inbox writer and registration need from the mailbox they work for. */
export interface MailboxContext {
  readonly layout: MailboxLayout;
  readonly registry: AgentRegistry;
  readonly messaging: MessagingService;
  /** Answers reservation requests (requests/ → answers/). */
  readonly reservations: ReservationService;
  /** Carries out task requests (requests/ → answers/). */
  readonly tasks: TaskService;
  /** Pushed tasks as inbox files, for agents that asked (`task.take`). */
  readonly taskPush: { take(box: AgentBox, slots: number): Promise<void> };
  /** The largest outbox file read (larger ones are rejected unread). */
  readonly maxFileBytes: number;
  /** False once the mailbox is closing: work stops where the next start picks it up. */
  readonly running: boolean;
  log(line: string): void;
  /** Runs `action` after `delayMs`, unless the mailbox has closed by then. */
  later(delayMs: number, action: () => void): void;
  /** Forgets a mailbox whose folder went away (it is opened again if the folder comes back). */
  closeBox(box: AgentBox): void;
}

/** A mailbox opened again (its folder removed and made again) waits until the old one has stopped. */
export async function afterPrevious(box: AgentBox): Promise<void> {
  const previous = box.previous;
  if (!previous) return;
  await previous.outbox.idle();
  await previous.inbox.idle();
  await previous.requests.idle();
  box.previous = undefined;
}

/** How logs name an agent's mailbox. */
export function label(box: AgentBox): string {
  return `${box.agent.project}/${box.agent.name}`;
}

/** mkdir, not recursive (a missing parent is an error), and fine if it exists. */
export async function mkdirOnce(dir: string): Promise<void> {
  try {
    await mkdir(dir, { mode: 0o700 });
  } catch (error) {
    if (errorCode(error) !== 'EEXIST') throw error;
  }
}
