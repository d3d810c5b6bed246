/**
 * The hub's A2A (Agent2Agent v1.0) door, where it is ours: its paths, the metadata an A2A message carries to name
 * the hub agent it is for, the body a hub agent receives for it, and the metadata the hub adds to A2A tasks.
 * The A2A wire types themselves (AgentCard, Message, Task, the JSON-RPC methods) are the official SDK's.
 */
import { z } from 'zod';
import { IMPORTANCE } from './agent-protocol';

/** The agent card (public, no token): the hub, and one skill per registered agent. */
export const A2A_CARD_PATH = '/.well-known/agent-card.json';
/** The JSON-RPC endpoint (POST), on the same port as the HTTP API; `Authorization: Bearer <agent token>`. */
export const A2A_PATH = '/a2a';

/**
 * What an A2A `SendMessage` carries in `message.metadata` (or the request's `metadata`) for the hub. `to` names the
 * hub agent the message is for: its name (looked up in the caller's project first, then in every project, where it
 * must be unique), `name@project` (as the command line writes it), or its id. A follow-up message of an open task
 * (`taskId` set) needs none: it goes to the task's agent.
 */
export const A2aSendMetadata = z.object({
  to: z.string().trim().min(1).max(200).optional(),
  /** The hub message's subject; by default "A2A task from <caller>". */
  subject: z.string().max(500).optional(),
  importance: z.enum(IMPORTANCE).optional(),
});
export type A2aSendMetadata = z.input<typeof A2aSendMetadata>;

/**
 * The body of the hub message an A2A message becomes, when its parts are not all text (then the body is the text
 * itself, the parts joined with a newline). Data parts keep their JSON value; file parts their bytes (base64) or URL.
 */
export interface A2aMessageBody {
  /** The text parts, joined with a newline; absent when there are none. */
  text?: string;
  /** Each data part's JSON value, in order. */
  data?: unknown[];
  files?: A2aFile[];
}

export interface A2aFile {
  name: string | null;
  mediaType: string | null;
  /** The file's bytes, base64: counted against `messages.maxBytes` like any message. */
  bytes?: string;
  /** A file given by reference: the hub does not fetch it. */
  url?: string;
}

/** Keys the hub adds to an A2A task's `metadata`. */
export const A2A_TASK_METADATA = {
  /** The hub agent the task is addressed to: its id, name and project. */
  agentId: 'devenviro.agentId',
  agentName: 'devenviro.agentName',
  agentProject: 'devenviro.agentProject',
  /** The hub message that carried the latest A2A message to the agent (the thread is the task id). */
  requestMessageId: 'devenviro.requestMessageId',
  /** The agent's hub message that completed the task. */
  replyMessageId: 'devenviro.replyMessageId',
} as const;

/**
 * Keys the hub adds to a part's `metadata`. A file part over 64 KiB in a stored task's history is kept as a `url` part
 * naming the task's hub thread (GET /api/v1/threads/{taskId}, whose message carries the bytes in `body.files`), with
 * its size here: the bytes are stored once, in the hub message.
 */
export const A2A_PART_METADATA = {
  fileBytes: 'devenviro.fileBytes',
} as const;

/** Subject of the hub message that tells an agent an A2A task addressed to it was canceled. */
export const A2A_CANCELED_SUBJECT = 'A2A task canceled';
