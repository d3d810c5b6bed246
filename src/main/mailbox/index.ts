/** The file mailbox's public face: the mailbox itself, its layout helpers and the outbox file rules. */
export { FileMailbox, type FileMailboxOptions } from './mailbox';
export type { AgentFile } from '../../shared/mailbox-protocol';
export { MailboxLayout, projectFolder, projectOfFolder } from './layout';
export { mailboxIdempotencyKey, resolveRecipient } from './outbox-file';
