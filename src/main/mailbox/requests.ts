/**
 * The request answerer: a JSON file an agent drops into requests/ (reserve, renew, release or list its file
 * reservations; take, claim, report on, create or cancel tasks: tasks.ts) is answered with a file of the same name in answers/: what the HTTP API answers to the same request,
 * or its error (a conflict names who holds what until when). The request is claimed first (renamed into
 * requests/.working/), carried out, answered durably, then deleted; after a crash a claimed request whose answer is
 * written is only deleted, any other is carried out (again: a reserve of one's own paths renews them).
 */
import { readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { ERROR_CODES, MAX_JSON_DEPTH, type ErrorCode } from '../../shared/agent-protocol';
import { nestsDeeperThan } from '../../shared/json-depth';
import { MAILBOX_REQUEST_OPS, MailboxRequestHead, MAX_MAILBOX_REQUEST_BYTES, type MailboxAnswer, type MailboxRequestOp } from '../../shared/mailbox-protocol';
import { writeFileDurable, syncDir } from '../../shared/node/durable-file';
import { errorCode, isMissing } from '../../shared/node/fs-errors';
import { ReleaseRequest, RenewRequest, ReservationId, ReservationQuery, ReserveRequest } from '../../shared/reservation-protocol';
import { HubError } from '../errors';
import { parseInput } from '../validation';
import { afterPrevious, mkdirOnce, naturalOrder, type AgentBox, type MailboxContext } from './context';
import { exists, listNames } from './files';
import { isDropFile } from './layout';
import { carryOutTaskRequest, isTaskOp } from './tasks';

/** A file that is not yet valid JSON but changed this recently may still be being written: look again later. */
const FRESH_WRITE_MS = 1000;

export async function drainRequests(ctx: MailboxContext, box: AgentBox): Promise<void> {
  await afterPrevious(box);
  if (box.gone || !ctx.running) return;
  if (box.scanRequests) {
    box.scanRequests = false;
    if (!(await ensureFolders(ctx, box))) return;
    // Claimed before a crash (or waiting to be read again), then those dropped since.
    for (const name of await listNames(box.workingDir)) if (isDropFile(name)) box.pendingRequests.add(name);
    for (const name of await listNames(box.requestsDir)) if (isDropFile(name)) box.pendingRequests.add(name);
  }
  while (box.pendingRequests.size > 0 && ctx.running && !box.gone) {
    const name = [...box.pendingRequests].sort(naturalOrder)[0]!;
    box.pendingRequests.delete(name);
    await answerRequest(ctx, box, name);
  }
}

/** requests/, requests/.working/ and answers/; false when the agent's folder is gone. */
async function ensureFolders(ctx: MailboxContext, box: AgentBox): Promise<boolean> {
  try {
    for (const dir of [box.requestsDir, box.workingDir, box.answersDir]) await mkdirOnce(dir);
    return true;
  } catch (error) {
    if (!isMissing(error) && errorCode(error) !== 'ENOTDIR') throw error;
    ctx.closeBox(box);
    return false;
  }
}

async function answerRequest(ctx: MailboxContext, box: AgentBox, name: string): Promise<void> {
  const working = path.join(box.workingDir, name);
  const answer = path.join(box.answersDir, name);
  if (await exists(working)) {
    // Claimed in an earlier run. Its answer, if there, is its own (an older one of that name went at the claim).
    if (await exists(answer)) {
      await rm(working, { force: true });
      return;
    }
  } else {
    try {
      await mkdirOnce(box.workingDir);
      await rename(path.join(box.requestsDir, name), working);
    } catch (error) {
      if (isMissing(error) || errorCode(error) === 'ENOTDIR') return; // handled already, taken back, or the folder is gone
      throw error;
    }
    // The answer to an earlier request of the same name gives way, before anything is done for this one.
    if (await exists(answer)) {
      await rm(answer, { force: true });
      await syncDir(box.answersDir);
    }
  }

  let content: Buffer;
  let modified: number;
  try {
    const info = await stat(working);
    modified = info.mtimeMs;
    if (!info.isFile()) return await writeAnswer(box, name, failure(null, 'invalid_request', 'this is not a file (a folder?); a request is one JSON file.'));
    if (info.size > MAX_MAILBOX_REQUEST_BYTES) {
      return await writeAnswer(box, name, failure(null, 'too_large', `the file is ${info.size} bytes; a request is at most ${MAX_MAILBOX_REQUEST_BYTES} bytes.`));
    }
    content = await readFile(working);
  } catch (error) {
    if (isMissing(error)) return;
    throw error;
  }

  if (nestsDeeperThan(content)) {
    return writeAnswer(box, name, failure(null, 'invalid_request', `the JSON nests deeper than ${MAX_JSON_DEPTH} levels; a request is a flat object.`));
  }
  let raw: unknown;
  try {
    raw = JSON.parse(content.toString('utf8'));
  } catch (error) {
    // Written in place rather than renamed in, a file can be read half-written: give a fresh one a moment.
    if (Date.now() - modified < FRESH_WRITE_MS) {
      ctx.later(FRESH_WRITE_MS, () => {
        box.pendingRequests.add(name);
        box.requests.kick();
      });
      return;
    }
    return writeAnswer(box, name, failure(null, 'invalid_request', `the file is not valid JSON (${(error as Error).message}).`));
  }
  const answered = await carryOut(ctx, box, raw);
  await writeAnswer(box, name, answered);
  if (answered.ok) ctx.registry.touch(box.agent);
}

type Outcome = DistributiveOmit<MailboxAnswer, 'request' | 'answeredAt'>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Does what the request asks, as the agent whose folder it is, through the same service the HTTP API uses. */
async function carryOut(ctx: MailboxContext, box: AgentBox, raw: unknown): Promise<Outcome> {
  const head = MailboxRequestHead.safeParse(raw);
  if (!head.success) {
    return failure(null, 'invalid_request', `the request needs "op": one of ${MAILBOX_REQUEST_OPS.join(', ')} (${issues(head.error.issues)}).`);
  }
  const { op, ...fields } = head.data;
  const agent = box.agent;
  if (agent.revokedAt) {
    return failure(op, 'revoked', `agent ${agent.name} was revoked from the cockpit; restore it there (or register it again with a file in mailbox/_register/).`);
  }
  try {
    if (isTaskOp(op)) return await carryOutTaskRequest(ctx, box, op, fields);
    switch (op) {
      case 'reserve':
        return { op, ok: true, ...(await ctx.reservations.reserve(agent, parseInput(ReserveRequest, fields, 'reservation'))) };
      case 'renew': {
        const { id, ...renewal } = fields;
        const reservationId = parseInput(ReservationId, id, 'id');
        return { op, ok: true, reservation: await ctx.reservations.renew(agent, reservationId, parseInput(RenewRequest, renewal, 'renewal').ttlSeconds) };
      }
      case 'release':
        return { op, ok: true, ...(await ctx.reservations.release({ kind: 'agent', agent }, parseInput(ReleaseRequest, fields, 'release'))) };
      case 'list': {
        const query = parseInput(ReservationQuery, fields, 'query');
        if (query.project !== undefined && query.project !== agent.project) throw new HubError('forbidden', 'an agent sees the reservations of its own project only');
        return { op, ok: true, reservations: ctx.reservations.list({ ...query, project: agent.project }) };
      }
    }
  } catch (error) {
    if (error instanceof HubError && error.status < 500) return { ...failure(op, error.code, error.message, error.status), ...error.details };
    throw error;
  }
}

/** A refusal as the HTTP API words it: the code's status, unless the error gives its own. */
function failure(op: MailboxRequestOp | null, code: string, error: string, status: number = ERROR_CODES[code as ErrorCode]?.status ?? 400): Outcome {
  return { op, ok: false, status, code, error };
}

async function writeAnswer(box: AgentBox, name: string, outcome: Outcome): Promise<void> {
  await mkdirOnce(box.answersDir); // an agent may have removed it; not its parent, which is the mailbox itself
  const answer = { request: name, ...outcome, answeredAt: new Date().toISOString() } as MailboxAnswer;
  await writeFileDurable(path.join(box.answersDir, name), JSON.stringify(answer, null, 2) + '\n');
  await rm(path.join(box.workingDir, name), { force: true });
}

function issues(list: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>): string {
  return list.map((issue) => `${issue.path.map(String).join('.') || 'request'}: ${issue.message}`).join('; ');
}
