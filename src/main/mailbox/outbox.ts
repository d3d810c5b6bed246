/**
 * The outbox sender: files agents write into outbox/ become messages to the hub. A file is first claimed (renamed
 * into outbox/.sending/), then sent with an idempotency key made from its name and content, then deleted once the
 * send is committed; a file the hub refuses goes to rejected/ with an explanation beside it.
 */
import { readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { errorCode, isMissing } from '../../shared/node/fs-errors';
import { backoffDelay } from '../../shared/retry';
import { HubError } from '../errors';
import { rawBodyFrom } from '../messaging/decode-send';
import type { RawBody } from '../messaging/json-body';
import type { ParsedSend } from '../messaging/service';
import { afterPrevious, label, mkdirOnce, naturalOrder, RETRY_BACKOFF, type AgentBox, type MailboxContext } from './context';
import { exists, listNames, reject } from './files';
import { AGENT_SUBFOLDERS, isDropFile } from './layout';
import { FileProblem, parseOutboxFile } from './outbox-file';

/** Outbox files read and sent together (one group commit, usually). */
const OUTBOX_BATCH = 128;
/** A file that is not yet valid JSON but changed this recently may still be being written: look again later. */
const FRESH_WRITE_MS = 1000;
/** Failures other than "the hub is busy or closing" are tried this many times before the file is rejected. */
const MAX_SEND_ATTEMPTS = 3;

/** An outbox file taken into .sending/: `fresh` when taken now, not left there by an earlier run. */
interface Claimed {
  name: string;
  file: string;
  fresh: boolean;
}

type Prepared =
  /** `raw`: the body of a large file, as JSON bytes (request.body is then a placeholder). */
  | { name: string; file: string; fresh: boolean; request: ParsedSend; raw?: RawBody }
  | { name: string; file: string; problem: string }
  | { name: string; file: string; laterMs: number };

export async function drainOutbox(ctx: MailboxContext, box: AgentBox): Promise<void> {
  await afterPrevious(box);
  if (box.gone || !ctx.running) return;
  if (box.scanOutbox) {
    box.scanOutbox = false;
    // An agent that opted in by making its folder gets the rest made for it.
    if (!(await ensureSubfolders(ctx, box))) return;
    // Files left in .sending/ (by a crash, or waiting for a retry) are sent again; see claim() for namesakes.
    for (const name of await listNames(box.sendingDir)) if (isDropFile(name)) box.pending.add(name);
    for (const name of await listNames(box.outboxDir)) if (isDropFile(name)) box.pending.add(name);
  }
  while (box.pending.size > 0 && ctx.running && !box.gone) {
    const names = [...box.pending].filter((name) => !box.waiting.has(name)).sort(naturalOrder).slice(0, OUTBOX_BATCH);
    for (const name of box.pending) if (box.waiting.has(name)) box.pending.delete(name);
    names.forEach((name) => box.pending.delete(name));
    if (names.length === 0) return;
    await sendBatch(ctx, box, names);
  }
}

/** Makes outbox/, inbox/, rejected/, requests/ and answers/ in an agent's folder; false when the folder itself is gone. */
async function ensureSubfolders(ctx: MailboxContext, box: AgentBox): Promise<boolean> {
  try {
    for (const sub of AGENT_SUBFOLDERS) await mkdirOnce(path.join(box.dir, sub));
    return true;
  } catch (error) {
    if (!isMissing(error) && errorCode(error) !== 'ENOTDIR') throw error;
    ctx.closeBox(box);
    return false;
  }
}

async function sendBatch(ctx: MailboxContext, box: AgentBox, names: string[]): Promise<void> {
  try {
    await mkdirOnce(box.sendingDir);
  } catch (error) {
    if (isMissing(error) || errorCode(error) === 'ENOTDIR') return; // the outbox (or the whole folder) is gone
    throw error;
  }
  const claimed = (await Promise.all(names.map((name) => claim(box, name)))).filter((file) => file !== undefined);
  const prepared = (await Promise.all(claimed.map((file) => prepare(ctx, box, file)))).filter((item) => item !== undefined);

  // Handed over in name order and in one go, so they share a commit and are stored in that order.
  const outcomes = prepared.map((item) => ({
    item,
    sent: 'request' in item ? ctx.messaging.send(box.agent, item.request, item.raw).then(
      (result) => ({ ok: true as const, result }),
      (error: unknown) => ({ ok: false as const, error }),
    ) : undefined,
  }));
  let sentAny = false;
  await Promise.all(
    outcomes.map(async ({ item, sent }) => {
      if ('problem' in item) return rejectOutboxFile(ctx, box, item.file, item.name, item.problem);
      if ('laterMs' in item) return retryLater(ctx, box, item.name, item.laterMs);
      const outcome = await sent!;
      if (outcome.ok) {
        sentAny = true;
        box.attempts.delete(item.name);
        await rm(item.file, { force: true });
        // Left over from a crash, a duplicate is the point of the key. A new file taken for a duplicate is more
        // likely an agent reusing a file name for the same content: say so, since nothing new was sent.
        if (outcome.result.duplicate && item.fresh) {
          ctx.log(
            `${label(box)} outbox/${item.name}: not sent again, it repeats message ${outcome.result.id} (the same file ` +
              'name and content, or the same idempotencyKey); give each message a new file name',
          );
        }
        return;
      }
      const error = outcome.error instanceof HubError ? outcome.error : new HubError('failed', (outcome.error as Error).message);
      const attempts = (box.attempts.get(item.name) ?? 0) + 1;
      box.attempts.set(item.name, attempts);
      if (error.status < 500 || (error.status !== 503 && attempts >= MAX_SEND_ATTEMPTS)) {
        box.attempts.delete(item.name);
        return rejectOutboxFile(ctx, box, item.file, item.name, `the hub refused the message: ${error.message}.`);
      }
      if (!ctx.running) return; // closing: the file stays in .sending/ and is sent at the next start
      const delay = backoffDelay(RETRY_BACKOFF, attempts - 1);
      ctx.log(`${label(box)} outbox/${item.name}: ${error.message}; trying again in ${delay} ms`);
      retryLater(ctx, box, item.name, delay);
    }),
  );
  if (sentAny) ctx.registry.touch(box.agent);
}

/**
 * Takes a file out of the agent's reach before reading it (an agent writing the same name again makes a new
 * file, never changes the one being sent). A file already in .sending/ is sent as it is; its namesake in outbox/
 * waits for the next round.
 */
async function claim(box: AgentBox, name: string): Promise<Claimed | undefined> {
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

async function prepare(ctx: MailboxContext, box: AgentBox, { name, file, fresh }: Claimed): Promise<Prepared | undefined> {
  let size: number;
  let modified: number;
  let content: Buffer;
  try {
    const info = await stat(file);
    size = info.size;
    modified = info.mtimeMs;
    if (!info.isFile()) return { name, file, problem: 'this is not a file (a folder?); only files ending in .json are sent.' };
    if (size > ctx.maxFileBytes) {
      return {
        name,
        file,
        problem:
          `the file is ${size} bytes; the hub reads outbox files of up to ${ctx.maxFileBytes} bytes ` +
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
  // A large file is decoded off the event loop, as a large send over HTTP is; anything the decoder refuses but for
  // its depth is read the ordinary way below, for the explanations this module gives.
  const decoded = await ctx.messaging.decoder.decode(content, false);
  if (decoded.kind === 'invalid' && decoded.tooDeep) return { name, file, problem: `${decoded.message}.` };
  try {
    if (decoded.kind === 'split') {
      return { name, file, fresh, request: parseOutboxFile(name, content, box.agent, ctx.registry, decoded.envelope), raw: rawBodyFrom(decoded.body) };
    }
    return { name, file, fresh, request: parseOutboxFile(name, content, box.agent, ctx.registry) };
  } catch (error) {
    if (!(error instanceof FileProblem)) throw error;
    // Written in place rather than renamed in, a file can be read half-written: give a fresh one a moment.
    const halfWritten = size === 0 || error.message.startsWith('the file is not valid JSON');
    if (halfWritten && Date.now() - modified < FRESH_WRITE_MS) return { name, file, laterMs: FRESH_WRITE_MS };
    return { name, file, problem: error.message };
  }
}

async function rejectOutboxFile(ctx: MailboxContext, box: AgentBox, file: string, name: string, reason: string): Promise<void> {
  const explanation =
    `Could not send outbox/${name} as agent ${box.agent.name} (project ${box.agent.project}) at ${new Date().toISOString()}:\n` +
    `${reason}\n\nNothing was sent. Fix the file and move it back into outbox/ to send it (write it under a name ending ` +
    'in .tmp, then rename it to .json, so it is never read half-written).\n';
  try {
    await reject(file, box.rejectedDir, name, explanation);
    ctx.log(`${label(box)} rejected outbox/${name}: ${reason}`);
  } catch (error) {
    if (!isMissing(error)) throw error;
  }
}

function retryLater(ctx: MailboxContext, box: AgentBox, name: string, delayMs: number): void {
  if (!ctx.running) return;
  box.waiting.add(name);
  ctx.later(delayMs, () => {
    box.waiting.delete(name);
    box.pending.add(name);
    box.outbox.kick();
  });
}
