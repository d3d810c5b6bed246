/** hub.sqlite's schema as numbered migrations (agents, messages, deliveries, subscriptions, A2A tasks, reservations, tasks, workflow runs). */
import type { Migration } from './database';

/**
 * The hub's schema, one numbered step at a time. Steps are append-only: a released step is never edited, a change
 * is a new step.
 */
export const hubMigrations: Migration[] = [
  {
    version: 1,
    name: 'hub metadata',
    up: `CREATE TABLE hub_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
         INSERT INTO hub_meta (key, value) VALUES ('created_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));`,
  },
  {
    version: 2,
    name: 'agents and messages',
    up: `
      CREATE TABLE agents (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        project TEXT NOT NULL,
        tier TEXT NOT NULL,
        capabilities TEXT NOT NULL,          -- JSON array
        description TEXT,
        token_hash TEXT NOT NULL UNIQUE,     -- sha256 of the agent's token; the token itself is never stored
        status TEXT NOT NULL DEFAULT 'online',
        activity TEXT,
        created_at TEXT NOT NULL,
        last_seen TEXT,
        revoked_at TEXT,
        messages_in INTEGER NOT NULL DEFAULT 0,
        messages_out INTEGER NOT NULL DEFAULT 0,
        inbox_depth INTEGER NOT NULL DEFAULT 0,
        UNIQUE (project, name)
      ) STRICT;

      -- seq orders everything (commit order); id is the public, sortable ULID.
      CREATE TABLE messages (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        sender TEXT NOT NULL REFERENCES agents (id),
        to_type TEXT NOT NULL,               -- agent | topic | broadcast
        to_value TEXT,                       -- agent id or topic name
        thread_id TEXT NOT NULL,
        reply_to TEXT,
        subject TEXT,
        content_type TEXT NOT NULL,          -- text | json
        body TEXT NOT NULL,                  -- the text, or the JSON document
        importance TEXT NOT NULL,
        ack_required INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        idempotency_key TEXT,
        UNIQUE (sender, idempotency_key)
      ) STRICT;
      CREATE INDEX messages_thread ON messages (thread_id, seq);
      CREATE INDEX messages_sender ON messages (sender, seq);

      -- One row per inbox a message landed in; acked_at marks what the agent has handled.
      CREATE TABLE deliveries (
        agent_id TEXT NOT NULL REFERENCES agents (id),
        seq INTEGER NOT NULL REFERENCES messages (seq),
        acked_at TEXT,
        PRIMARY KEY (agent_id, seq)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX deliveries_unacked ON deliveries (agent_id, seq) WHERE acked_at IS NULL;
      CREATE INDEX deliveries_by_message ON deliveries (seq);

      CREATE TABLE subscriptions (
        agent_id TEXT NOT NULL REFERENCES agents (id),
        topic TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (agent_id, topic)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX subscriptions_by_topic ON subscriptions (topic, agent_id);

      -- Keyword search over subject and (the first 64 KiB of) body, rowid = messages.seq. Filled just after the
      -- commit that acknowledges a send, so indexing never delays an acknowledgement; hub_meta.fts_seq records
      -- how far it got, and a restart indexes whatever a crash left behind.
      CREATE VIRTUAL TABLE messages_fts USING fts5 (subject, body, tokenize = 'unicode61 remove_diacritics 2');
      INSERT INTO hub_meta (key, value) VALUES ('fts_seq', '0');
    `,
  },
  {
    version: 3,
    name: 'lighter keyword index over messages',
    // The keyword index no longer stores its own copy of each text (content comes from messages) nor token
    // positions (searches match words, never phrases): indexing cost a fifth of the hub's time per message.
    // It is refilled from scratch after the commits that acknowledge sends, as before.
    up: `
      DROP TABLE messages_fts;
      CREATE VIRTUAL TABLE messages_fts USING fts5 (
        subject, body, content = 'messages', content_rowid = 'seq', detail = column,
        tokenize = 'unicode61 remove_diacritics 2'
      );
      UPDATE hub_meta SET value = '0' WHERE key = 'fts_seq';
    `,
  },
  {
    version: 4,
    name: 'large message bodies in files',
    // A body larger than messages.bodyFileBytes is kept in <dataDir>/message-bodies/<id>.json; its row then holds
    // the body's first characters (for the keyword index and previews), and body_bytes the size of the file.
    up: `ALTER TABLE messages ADD COLUMN body_bytes INTEGER;`,
  },
  {
    version: 5,
    name: 'no index on message senders',
    // Every query that filters by sender also asks "or received it", which the planner answers by scanning or
    // from the keyword index, never from this index; keeping it cost a b-tree insert per message.
    up: `DROP INDEX messages_sender;`,
  },
  {
    version: 6,
    name: 'A2A tasks',
    // Tasks of the A2A door (src/main/a2a/), kept so GetTask answers after a restart. `task` is the SDK's Task as
    // its JSON; owner is the agent whose token created it (only it may read or cancel it); agent_id the hub agent
    // it is addressed to; thread of the hub messages is the task id.
    up: `
      CREATE TABLE a2a_tasks (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        agent_id TEXT,
        context_id TEXT NOT NULL,
        state INTEGER NOT NULL,
        updated_at TEXT NOT NULL,
        task TEXT NOT NULL
      ) STRICT;
      CREATE INDEX a2a_tasks_by_owner ON a2a_tasks (owner, updated_at);
      CREATE INDEX a2a_tasks_open ON a2a_tasks (state) WHERE state IN (1, 2, 6, 8);
    `,
  },
  {
    version: 7,
    name: 'file reservations',
    // Active leases only: a released or expired one is deleted. The hub keeps them all in memory and writes through.
    up: `
      CREATE TABLE reservations (
        id TEXT PRIMARY KEY,
        project TEXT NOT NULL,
        holder_id TEXT NOT NULL REFERENCES agents (id),
        paths TEXT NOT NULL,                 -- JSON array of the patterns as written
        mode TEXT NOT NULL,                  -- exclusive | shared
        reason TEXT NOT NULL,
        ttl_seconds INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        renewed_at TEXT
      ) STRICT;
    `,
  },
  {
    version: 8,
    name: 'tasks',
    // Tasks handed to agents under a lease (src/main/tasks/). Every change of state is one UPDATE made conditional on
    // the state (and holder) it leaves, in the same transaction as its effects. An input or result larger than
    // messages.bodyFileBytes lives in <dataDir>/task-inputs|task-results/<id>.json; its column then holds null and
    // *_bytes the file's size.
    up: `
      CREATE TABLE tasks (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        project TEXT NOT NULL,
        title TEXT NOT NULL,
        instructions TEXT NOT NULL,
        input TEXT,                          -- JSON, when not in a file
        input_bytes INTEGER NOT NULL,
        input_external INTEGER NOT NULL,
        capabilities TEXT NOT NULL,          -- JSON array
        tier TEXT,
        priority INTEGER NOT NULL,
        timeout_seconds INTEGER NOT NULL,
        lease_seconds INTEGER NOT NULL,
        max_attempts INTEGER NOT NULL,
        backoff TEXT NOT NULL,               -- JSON
        depends_on TEXT NOT NULL,            -- JSON array (task_dependencies answers "who waits for me")
        assignee TEXT,
        affinity TEXT,                       -- JSON
        thread_id TEXT,
        parent_task_id TEXT,
        workflow_id TEXT,
        step_id TEXT,
        created_by TEXT NOT NULL,            -- agent id, or 'cockpit'
        state TEXT NOT NULL,
        attempt INTEGER NOT NULL DEFAULT 0,
        holder_id TEXT,
        held_since TEXT,
        lease_expires_at TEXT,
        not_before TEXT,
        ready_since TEXT,
        progress TEXT,                       -- JSON
        result TEXT,                         -- JSON, when not in a file
        result_bytes INTEGER NOT NULL DEFAULT 0,
        result_external INTEGER NOT NULL DEFAULT 0,
        error TEXT,                          -- JSON
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT
      ) STRICT;
      CREATE INDEX tasks_open ON tasks (state) WHERE state IN ('pending', 'ready', 'assigned', 'running');
      CREATE INDEX tasks_by_project ON tasks (project, seq);
      CREATE INDEX tasks_by_holder ON tasks (holder_id, seq);
      CREATE INDEX tasks_by_thread ON tasks (thread_id, seq) WHERE thread_id IS NOT NULL;

      CREATE TABLE task_dependencies (
        task_id TEXT NOT NULL,
        depends_on TEXT NOT NULL,
        PRIMARY KEY (task_id, depends_on)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX task_dependents ON task_dependencies (depends_on, task_id);

      -- One row per assignment: who held which attempt, how it ended; the agents' records come from here.
      CREATE TABLE task_attempts (
        task_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        agent_id TEXT NOT NULL,
        assigned_at TEXT NOT NULL,
        ended_at TEXT,
        outcome TEXT,                        -- succeeded | failed | lease_lost | timed_out | cancelled
        reason TEXT,
        duration_ms INTEGER,
        PRIMARY KEY (task_id, attempt)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX task_attempts_by_agent ON task_attempts (agent_id, task_id);
    `,
  },
  {
    version: 9,
    name: 'finished A2A tasks by age',
    // The retention sweep (a2a/task-store.ts) deletes finished tasks oldest first, a batch at a time.
    up: `CREATE INDEX a2a_tasks_finished ON a2a_tasks (updated_at) WHERE state IN (3, 4, 5, 7);`,
  },
  {
    version: 10,
    name: 'workflow runs',
    // Running workflows (src/main/workflows/engine.ts): a run, its steps, and its task-backed items (a task step or a
    // fan-in task is one item; a fan-out one per item of its list). A step's change of state and the tasks it creates
    // commit in one transaction; an item row names its current task, so a task is never created twice for it.
    up: `
      CREATE TABLE workflow_runs (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        project TEXT NOT NULL,
        state TEXT NOT NULL,                 -- running | succeeded | failed | cancelled
        created_by TEXT NOT NULL,            -- agent id, or 'cockpit'
        definition TEXT NOT NULL,            -- JSON, validated, defaults filled in
        plan TEXT NOT NULL,                  -- JSON
        idempotency_key TEXT,
        error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        finished_at TEXT
      ) STRICT;
      CREATE INDEX workflow_runs_by_project ON workflow_runs (project, seq);
      CREATE INDEX workflow_runs_running ON workflow_runs (state) WHERE state = 'running';
      CREATE UNIQUE INDEX workflow_runs_idempotency ON workflow_runs (created_by, idempotency_key) WHERE idempotency_key IS NOT NULL;

      CREATE TABLE workflow_steps (
        run_id TEXT NOT NULL,
        step_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        state TEXT NOT NULL,                 -- waiting | running | awaiting_approval | succeeded | failed | cancelled | timed_out | skipped
        items_total INTEGER NOT NULL DEFAULT 0,
        items_started INTEGER NOT NULL DEFAULT 0,
        items_succeeded INTEGER NOT NULL DEFAULT 0,
        items_failed INTEGER NOT NULL DEFAULT 0,
        items_cancelled INTEGER NOT NULL DEFAULT 0,
        output TEXT,                         -- JSON StepOutput once succeeded
        outcomes TEXT,                       -- JSON Outcome[] once ended (one per item for a fan-out): what a fan-in reads
        approval TEXT,                       -- JSON: subject, expiresAt, decision
        error TEXT,
        started_at TEXT,
        finished_at TEXT,
        PRIMARY KEY (run_id, step_id)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE workflow_items (
        run_id TEXT NOT NULL,
        step_id TEXT NOT NULL,
        idx INTEGER NOT NULL,
        item TEXT,                           -- JSON: a fan-out's item
        state TEXT NOT NULL,                 -- queued | active | succeeded | failed | cancelled
        task_id TEXT,                        -- the current task (a retried item gets a new one)
        PRIMARY KEY (run_id, step_id, idx)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX workflow_items_queued ON workflow_items (run_id, step_id, state, idx);
      CREATE INDEX workflow_items_active ON workflow_items (state) WHERE state = 'active';

      -- Every task a run created, for the timeline and to find a task's item (item rows name only the current one).
      CREATE TABLE workflow_tasks (
        task_id TEXT PRIMARY KEY,
        run_id TEXT NOT NULL,
        step_id TEXT NOT NULL,
        idx INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX workflow_tasks_by_run ON workflow_tasks (run_id, task_id);
    `,
  },
  {
    version: 11,
    name: 'task splits',
    // A holder's split of its task into subtasks (src/main/tasks/subtasks.ts), committed with the subtasks it creates;
    // its aggregate is stored in the transaction that ends the last subtask.
    up: `
      CREATE TABLE task_splits (
        seq INTEGER PRIMARY KEY,
        parent_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,            -- the parent's attempt that split it
        holder_id TEXT NOT NULL,
        aggregate TEXT NOT NULL,             -- JSON (workflow-protocol Aggregate)
        items TEXT NOT NULL,                 -- JSON [{key, taskId}] in the order given
        state TEXT NOT NULL,                 -- running | succeeded | failed | abandoned
        result TEXT,                         -- JSON, the aggregate
        error TEXT,
        created_at TEXT NOT NULL,
        finished_at TEXT
      ) STRICT;
      CREATE INDEX task_splits_by_parent ON task_splits (parent_id, seq);
      CREATE INDEX task_splits_running ON task_splits (state) WHERE state = 'running';
    `,
  },
  {
    version: 12,
    name: 'cluster message outbox',
    // With cluster.redis set (src/main/cluster/messages.ts): a message for agents of the cluster is committed with
    // an outbox row naming them, and forwarded to their Redis inbox streams after the commit; the row goes once
    // Redis has them, so sends made while Redis is away wait here, in order, across restarts. cluster_inbox
    // remembers which Redis entry holds each delivery, to delete it on acknowledgement and to tell, when the agent
    // comes back, what it acknowledged on another hub meanwhile.
    up: `
      CREATE TABLE cluster_outbox (
        seq INTEGER PRIMARY KEY,             -- messages.seq
        recipients TEXT NOT NULL             -- JSON array of agent ids whose inbox streams get the message
      ) STRICT;
      CREATE TABLE cluster_inbox (
        agent_id TEXT NOT NULL,
        seq INTEGER NOT NULL,                -- messages.seq
        entry_id TEXT NOT NULL,              -- the entry in the agent's Redis inbox stream
        PRIMARY KEY (agent_id, seq)
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    version: 13,
    name: 'deliveries of direct messages found through their recipient',
    // A direct message's one delivery is found by its primary key (the recipient, to_value, and seq), so only the
    // deliveries of topic and broadcast messages (fanout = 1) are indexed by message: one b-tree insert less per
    // direct message. Deliveries made before are marked from their message's kind.
    up: `
      ALTER TABLE deliveries ADD COLUMN fanout INTEGER;
      UPDATE deliveries SET fanout = 1 WHERE seq IN (SELECT seq FROM messages WHERE to_type <> 'agent');
      DROP INDEX deliveries_by_message;
      CREATE INDEX deliveries_fanout ON deliveries (seq) WHERE fanout IS NOT NULL;
    `,
  },
  {
    version: 14,
    name: 'cluster entries kept with their deliveries',
    // In a cluster a delivery names the Redis entry that holds it (entry_id) in its own row instead of a
    // cluster_inbox row beside it: a message from another hub costs one b-tree insert less, and an acknowledgement
    // takes its entries in the same UPDATE. '' marks a delivery this hub forwards (or will) to the agent's stream
    // without learning its entry (src/main/messaging/replication.ts); NULL one that never went through Redis.
    up: `
      ALTER TABLE deliveries ADD COLUMN entry_id TEXT;
      UPDATE deliveries SET entry_id = (SELECT c.entry_id FROM cluster_inbox c WHERE c.agent_id = deliveries.agent_id AND c.seq = deliveries.seq)
        WHERE EXISTS (SELECT 1 FROM cluster_inbox c WHERE c.agent_id = deliveries.agent_id AND c.seq = deliveries.seq);
      UPDATE deliveries SET entry_id = ''
        WHERE entry_id IS NULL
          AND EXISTS (SELECT 1 FROM cluster_outbox o, json_each(o.recipients) r WHERE o.seq = deliveries.seq AND r.value = deliveries.agent_id);
      DROP TABLE cluster_inbox;
    `,
  },
];
