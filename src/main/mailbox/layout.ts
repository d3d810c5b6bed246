/**
 * Where things live under `<dataDir>/mailbox/`, and which path is what:
 *
 *     mailbox/_register/<any>.json                  registration drop files
 *     mailbox/_register/rejected/                   registrations that failed, each beside <stem>.error.txt
 *     mailbox/<project>/<name>/agent.json           the agent's id and token (0600), written on file registration
 *     mailbox/<project>/<name>/outbox/<any>.json    messages to send
 *     mailbox/<project>/<name>/outbox/.sending/     files picked up and being sent (internal, survives a crash)
 *     mailbox/<project>/<name>/inbox/<id>.json      delivered messages
 *     mailbox/<project>/<name>/rejected/            outbox files that could not be sent, beside <stem>.error.txt
 *     mailbox/<project>/<name>/requests/<any>.json  requests (file reservations) to answer
 *     mailbox/<project>/<name>/requests/.working/   requests picked up and being answered (internal, survives a crash)
 *     mailbox/<project>/<name>/answers/<any>.json   the answer to each request, under the request's name
 *
 * Agent names are already safe folder names (letters, digits, `.`, `_`, `-`, not starting with `.`). Projects may
 * hold any character, so their folder is the project name with every character other than a letter, digit, `.`,
 * `_` or `-` written as `%XX` (its UTF-8 bytes), and a leading `.` or `_` escaped too (so no project folder is
 * hidden, `..`, or mistaken for `_register`): `acme/web` → `acme%2Fweb`, `my app` → `my%20app`.
 */
import path from 'node:path';
import { ULID_PATTERN, ULID_SOURCE } from '../../shared/agent-protocol';

export const MAILBOX_DIR = 'mailbox';
export const REGISTER_DIR = '_register';
export const OUTBOX = 'outbox';
export const INBOX = 'inbox';
export const REJECTED = 'rejected';
/** Inside outbox/: files claimed for sending. A dot folder, so watchers (ours and the agents') skip it. */
export const SENDING = '.sending';
export const AGENT_FILE = 'agent.json';
export const REQUESTS = 'requests';
export const ANSWERS = 'answers';
/** Inside requests/: requests claimed for answering. A dot folder, so watchers skip it. */
export const WORKING = '.working';
/** The folders an agent's mailbox has; the hub makes them in an agent folder it finds. */
export const AGENT_SUBFOLDERS = [OUTBOX, INBOX, REJECTED, REQUESTS, ANSWERS] as const;

const SAFE_CHAR = /^[A-Za-z0-9._-]$/;
const AGENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function projectFolder(project: string): string {
  let folder = '';
  for (const char of project) {
    folder += SAFE_CHAR.test(char) ? char : percentEncode(char);
  }
  if (folder.startsWith('.') || folder.startsWith('_')) folder = percentEncode(folder[0]!) + folder.slice(1);
  return folder;
}

/** The project a folder stands for, or undefined when the folder is not one (not in the canonical form). */
export function projectOfFolder(folder: string): string | undefined {
  let project: string;
  try {
    project = decodeURIComponent(folder);
  } catch {
    return undefined;
  }
  if (project.length === 0 || project.length > 128 || project.trim() !== project) return undefined;
  return projectFolder(project) === folder ? project : undefined;
}

export function isAgentName(name: string): boolean {
  return name.length <= 64 && AGENT_NAME.test(name);
}

function percentEncode(char: string): string {
  return [...Buffer.from(char, 'utf8')].map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`).join('');
}

/** A file an agent or a person dropped for us: `*.json`, not hidden, not a temporary. */
export function isDropFile(name: string): boolean {
  return name.endsWith('.json') && !name.startsWith('.') && name.length > '.json'.length;
}

/** The temporary name an inbox file is written under before it is acknowledged and renamed into place. */
export function inboxTempName(messageId: string): string {
  return `.${messageId}.json.tmp`;
}

/** The message id of an inbox temporary, or undefined for any other name. */
const INBOX_TEMP = new RegExp(`^\\.(${ULID_SOURCE})\\.json\\.tmp$`);

export function messageIdOfInboxTemp(name: string): string | undefined {
  const match = INBOX_TEMP.exec(name);
  return match?.[1];
}

export function isMessageId(value: string): boolean {
  return ULID_PATTERN.test(value);
}

export class MailboxLayout {
  readonly root: string;
  readonly registerDir: string;
  readonly registerRejectedDir: string;

  constructor(dataDir: string) {
    this.root = path.join(path.resolve(dataDir), MAILBOX_DIR);
    this.registerDir = path.join(this.root, REGISTER_DIR);
    this.registerRejectedDir = path.join(this.registerDir, REJECTED);
  }

  agentDir(project: string, name: string): string {
    return path.join(this.root, projectFolder(project), name);
  }

  /**
   * What a path under the mailbox root is: a registration drop file, an agent's folder, a file in an agent's
   * outbox, or nothing we act on.
   */
  classify(
    file: string,
  ):
    | { kind: 'registration'; name: string }
    | { kind: 'agent-dir'; project: string; name: string; dir: string }
    | { kind: 'outbox'; project: string; name: string; dir: string; file: string }
    | { kind: 'request'; project: string; name: string; dir: string; file: string }
    | { kind: 'other' } {
    const relative = path.relative(this.root, file);
    if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) return { kind: 'other' };
    const parts = relative.split(path.sep);
    if (parts[0] === REGISTER_DIR) {
      return parts.length === 2 && isDropFile(parts[1]!) ? { kind: 'registration', name: parts[1]! } : { kind: 'other' };
    }
    const project = projectOfFolder(parts[0]!);
    const name = parts[1];
    if (project === undefined || name === undefined || !isAgentName(name)) return { kind: 'other' };
    const dir = path.join(this.root, parts[0]!, name);
    if (parts.length === 2) return { kind: 'agent-dir', project, name, dir };
    if (parts.length === 4 && parts[2] === OUTBOX && isDropFile(parts[3]!)) return { kind: 'outbox', project, name, dir, file: parts[3]! };
    if (parts.length === 4 && parts[2] === REQUESTS && isDropFile(parts[3]!)) return { kind: 'request', project, name, dir, file: parts[3]! };
    return { kind: 'other' };
  }

  /**
   * Paths the watcher need not look at: hidden files and folders, temporaries, inboxes, answers and rejected folders
   * (the hub writes there; watching them would only cost), and anything deeper than an outbox or request file.
   */
  ignored(file: string): boolean {
    const relative = path.relative(this.root, file);
    if (relative === '') return false;
    if (relative.startsWith('..') || path.isAbsolute(relative)) return true;
    const parts = relative.split(path.sep);
    if (parts.some((part) => part.startsWith('.')) || parts.at(-1)!.endsWith('.tmp')) return true;
    if (parts[0] === REGISTER_DIR) return parts.length > 2 || (parts.length === 2 && parts[1] === REJECTED);
    if (parts[0]!.startsWith('_')) return true;
    if (parts.length >= 3 && parts[2] !== OUTBOX && parts[2] !== REQUESTS) return true;
    return parts.length > 4;
  }
}
