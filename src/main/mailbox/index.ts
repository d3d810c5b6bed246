export { FileMailbox, type FileMailboxOptions } from './mailbox';
export type { AgentFile } from '../../shared/mailbox-protocol';
export { MailboxLayout, projectFolder, projectOfFolder } from './layout';
export { mailboxIdempotencyKey, resolveRecipient } from './outbox-file';
