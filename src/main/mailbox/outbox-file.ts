/**
 * Reading an outbox file: a SendRequest as JSON, where `to` may also be a string shorthand. Every problem comes
 * back as a sentence a person can act on, since it ends up in the rejected file's `.error.txt`.
 */
import { createHash } from 'node:crypto';
import { Recipient, SendRequest, TopicName } from '../../shared/agent-protocol';
import type { AgentRecord, AgentRegistry } from '../agents/registry';
import type { ParsedSend } from '../messaging/service';
import { isMessageId } from './layout';

/** A problem with a file that will not go away by trying again: the file is rejected with this explanation. */
export class FileProblem extends Error {
  override name = 'FileProblem';
}

export const TO_FORMS =
  '"to" may be an agent name in your project ("bob"), "project/name", an agent id, "#topic", "*" (everyone), ' +
  'or an object such as {"type": "agent", "id": "…"}';

/**
 * The idempotency key that makes a crash between "sent" and "file deleted" harmless: the same file sent again is
 * stored once. `mailbox:<file name>:<sha256 of the content>`; a very long file name is shortened (with a hash of
 * it) so the key stays within the protocol's 200 characters.
 */
export function mailboxIdempotencyKey(fileName: string, content: Buffer | string): string {
  const digest = createHash('sha256').update(content).digest('hex');
  const name = fileName.length <= 120 ? fileName : `${fileName.slice(0, 100)}~${createHash('sha256').update(fileName).digest('hex').slice(0, 16)}`;
  return `mailbox:${name}:${digest}`;
}

/**
 * Turns the text of an outbox file into a send request, as `sender`; throws FileProblem when it cannot. `envelope`,
 * for a large file, is its text with the body taken out (decoded off the event loop: messaging/decode-send.ts).
 */
export function parseOutboxFile(fileName: string, content: Buffer, sender: AgentRecord, registry: AgentRegistry, envelope?: string): ParsedSend {
  let raw: unknown;
  try {
    raw = JSON.parse(envelope ?? content.toString('utf8'));
  } catch (error) {
    throw new FileProblem(`the file is not valid JSON (${(error as Error).message}).`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new FileProblem('the file must hold one JSON object, such as {"to": "bob", "body": "hello"}.');
  }
  const fields = { ...(raw as Record<string, unknown>) };
  if (fields.to === undefined) throw new FileProblem(`the message has no "to". ${TO_FORMS}.`);
  if (typeof fields.to === 'string') {
    fields.to = resolveRecipient(fields.to, sender, registry);
  } else {
    const recipient = Recipient.safeParse(fields.to);
    if (!recipient.success) throw new FileProblem(`"to" is not a recipient (${issues(recipient.error.issues)}). ${TO_FORMS}.`);
  }
  const parsed = SendRequest.safeParse(fields);
  if (!parsed.success) throw new FileProblem(`the message does not fit the protocol: ${issues(parsed.error.issues)}.`);
  return { ...parsed.data, idempotencyKey: parsed.data.idempotencyKey ?? mailboxIdempotencyKey(fileName, content) };
}

/** `"name"`, `"project/name"`, an agent id, `"#topic"` or `"*"`, as a recipient. */
export function resolveRecipient(to: string, sender: AgentRecord, registry: AgentRegistry): Recipient {
  const value = to.trim();
  if (value === '') throw new FileProblem(`"to" is empty. ${TO_FORMS}.`);
  if (value === '*') return { type: 'broadcast' };
  if (value.startsWith('#')) {
    const topic = TopicName.safeParse(value.slice(1));
    if (!topic.success) throw new FileProblem(`"${value}" is not a topic name: ${topic.error.issues.map((issue) => issue.message).join('; ')}.`);
    return { type: 'topic', name: topic.data };
  }
  if (isMessageId(value) && registry.find(value)) return { type: 'agent', id: value };
  const slash = value.lastIndexOf('/');
  const project = slash === -1 ? sender.project : value.slice(0, slash).trim();
  const name = slash === -1 ? value : value.slice(slash + 1).trim();
  const agent = registry.findByName(project, name);
  if (agent) return { type: 'agent', id: agent.id };
  if (isMessageId(value)) throw new FileProblem(`there is no agent with id ${value}.`);
  const there = registry
    .all()
    .filter((candidate) => candidate.project === project)
    .map((candidate) => candidate.name)
    .sort();
  const known = there.length === 0 ? `there are no agents in project "${project}"` : `agents there: ${listSome(there)}`;
  const hint = slash === -1 ? `; for another project write "project/${name}", for a topic "#${name}"` : '';
  throw new FileProblem(`there is no agent named "${name}" in project "${project}" (${known})${hint}.`);
}

function issues(list: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>): string {
  return list.map((issue) => `${issue.path.map(String).join('.') || 'message'}: ${issue.message}`).join('; ');
}

function listSome(names: string[]): string {
  return names.length <= 20 ? names.join(', ') : `${names.slice(0, 20).join(', ')} and ${names.length - 20} more`;
}
