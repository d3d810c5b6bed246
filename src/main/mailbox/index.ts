export { FileMailbox, type AgentFile, type FileMailboxOptions } from './mailbox';
export { MailboxLayout, projectFolder, projectOfFolder } from './layout';
export { mailboxIdempotencyKey, resolveRecipient } from './outbox-file';
