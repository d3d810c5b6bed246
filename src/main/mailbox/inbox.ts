/**
 * The inbox writer: each delivery to an agent becomes a file in its inbox/. It is written under a temporary name and
 * flushed, then acknowledged in SQLite, then renamed into place; after a crash, temporaries whose delivery is
 * acknowledged are renamed into place and the others deleted, and every delivery still unacknowledged is written.
 */
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { prettyMessageJson } from '../messaging/frames';
import type { StoredMessage } from '../messaging/store';
import { syncDir, writeFileSynced } from '../../shared/node/durable-file';
import { errorCode, isMissing } from '../../shared/node/fs-errors';
import { afterPrevious, mkdirOnce, type AgentBox, type MailboxContext } from './context';
import { exists, listNames } from './files';
import { inboxTempName, messageIdOfInboxTemp } from './layout';

/** Inbox files written and acknowledged together. */
const INBOX_BATCH = 64;

export async function drainInbox(ctx: MailboxContext, box: AgentBox): Promise<void> {
  await afterPrevious(box);
  if (box.gone || !ctx.running) return;
  if (!box.inboxRecovered) {
    await recoverInbox(ctx, box);
    box.inboxRecovered = true;
  }
  for (;;) {
    if (box.gone || !ctx.running) return;
    const page = ctx.messaging.store.inbox(box.agent.id, box.inboxCursor, INBOX_BATCH, 'unacked');
    if (page.length === 0) break;
    await writeInboxFiles(ctx, box, page);
    box.inboxCursor = page.at(-1)!.seq;
    if (page.length < INBOX_BATCH) break;
  }
  box.inboxFailures = 0;
}

/**
 * After a crash: a temporary whose delivery was acknowledged was about to be renamed into place, so it is; any
 * other was never acknowledged, so it goes (the delivery is written again).
 */
async function recoverInbox(ctx: MailboxContext, box: AgentBox): Promise<void> {
  let changed = false;
  for (const name of await listNames(box.inboxDir)) {
    const id = messageIdOfInboxTemp(name);
    if (id === undefined) continue;
    const temp = path.join(box.inboxDir, name);
    const final = path.join(box.inboxDir, `${id}.json`);
    if (deliveryState(ctx, box.agent.id, id) === 'acked' && !(await exists(final))) await rename(temp, final);
    else await rm(temp, { force: true });
    changed = true;
  }
  if (changed) await syncDir(box.inboxDir);
}

function deliveryState(ctx: MailboxContext, agentId: string, messageId: string): 'acked' | 'unacked' | 'none' {
  const { store } = ctx.messaging;
  const seq = store.seqOf(messageId);
  if (seq === undefined) return 'none';
  if (store.inbox(agentId, seq - 1, 1, 'unacked')[0]?.seq === seq) return 'unacked';
  return store.inbox(agentId, seq - 1, 1, 'all')[0]?.seq === seq ? 'acked' : 'none';
}

/** Temporaries written and flushed, then one acknowledgement for all, then each renamed into place. */
async function writeInboxFiles(ctx: MailboxContext, box: AgentBox, messages: StoredMessage[]): Promise<void> {
  try {
    // Not recursive: if the agent's folder is gone, so is its mailbox; it is not made again behind its back.
    await mkdirOnce(box.inboxDir);
  } catch (error) {
    if (isMissing(error) || errorCode(error) === 'ENOTDIR') {
      ctx.closeBox(box);
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
    await ctx.messaging.ack(box.agent, messages.map((message) => message.id));
  } catch (error) {
    // Not acknowledged: the temporaries go, and the messages are written again on the next attempt.
    await Promise.all(temps.map((temp) => rm(temp, { force: true })));
    throw error;
  }
  // A plain rename, not durable-file's renameIntoPlace: once acknowledged, a temporary is the only copy, so a failed
  // rename must keep it (recoverInbox renames it at the next start). One folder flush for the whole batch.
  await Promise.all(messages.map((message, i) => rename(temps[i]!, path.join(box.inboxDir, `${message.id}.json`))));
  await syncDir(box.inboxDir);
}
