/**
 * The file mailbox's files, as agents read and write them (docs/file-mailbox.md): outbox files are SendRequests
 * (agent-protocol.ts), inbox files are Messages, a registration drop file is a RegisterRequest, and the hub answers a
 * registration with the agent's `agent.json`, declared here.
 */

/** What `agent.json` holds for an agent registered through the mailbox. */
export interface AgentFile {
  id: string;
  name: string;
  project: string;
  /** The agent's secret for the HTTP API (`Authorization: Bearer <token>`), should it ever be able to use it. */
  token: string;
  /** Where the running hub writes its URL. */
  hubFile: string;
  registeredAt: string;
}
