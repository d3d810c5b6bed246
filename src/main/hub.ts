/** The running hub's services, as one value: what the cockpit handlers, the live feed and tests need to reach. */
import type { A2aGateway } from './a2a/gateway';
import type { AttentionService } from './attention/service';
import type { Advisor } from './advisor/advisor';
import type { Profiler } from './advisor/profiler';
import type { BackupService } from './backup';
import type { Checkpointer } from './db/checkpointer';
import type { Cluster } from './cluster';
import type { SqliteDatabase } from './db/database';
import type { AgentRegistry } from './agents/registry';
import type { FileMailbox } from './mailbox';
import type { McpGateway } from './mcp/gateway';
import type { MemoryEngine } from './memory/engine';
import type { MessagingService } from './messaging/service';
import type { RealtimeGateway } from './messaging/realtime';
import type { ReservationService } from './reservations/service';
import type { TaskService } from './tasks/service';
import type { WorkflowEngine } from './workflows/engine';

export interface Hub {
  db: SqliteDatabase;
  registry: AgentRegistry;
  messaging: MessagingService;
  realtime: RealtimeGateway;
  memory: MemoryEngine;
  mailbox: FileMailbox;
  backup: BackupService;
  checkpointer: Checkpointer;
  /** The MCP server's sessions (Streamable HTTP at /mcp). */
  mcp: McpGateway;
  /** The A2A door: the agent card, JSON-RPC at /a2a, and its tasks. */
  a2a: A2aGateway;
  /** File reservations (leases) of every project. */
  reservations: ReservationService;
  /** Tasks handed to agents under a lease, and their dispatcher. */
  tasks: TaskService;
  /** Workflow runs on those tasks. */
  workflows: WorkflowEngine;
  /** The cluster this hub joined through Redis, or null when `cluster.redis` is not set. */
  cluster: Cluster | null;
  /** What needs a person's attention, from all of the above. */
  attention: AttentionService;
  /** Bottlenecks found from the hub's own measurements, and their fixes. */
  advisor: Advisor;
  /** CPU profiles and heap snapshots of the hub process, taken on request. */
  profiler: Profiler;
}
