/** memory.sqlite's schema as numbered migrations. */
import type { Migration } from '../db/database';

/**
 * memory.sqlite's schema. The memory engine keeps its own database file, apart from the hub's messages: its writes
 * (large batches, re-embedding) never contend with message commits, and its numbered steps evolve on their own.
 */
export const memoryMigrations: Migration[] = [
  {
    version: 1,
    name: 'memories, embeddings and keyword index',
    up: `
      CREATE TABLE memory_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;

      -- id is the FAISS label; uid is the public, sortable id.
      CREATE TABLE memories (
        id INTEGER PRIMARY KEY,
        uid TEXT NOT NULL UNIQUE,
        project TEXT NOT NULL,
        agent TEXT,
        kind TEXT NOT NULL,
        text TEXT NOT NULL,
        text_hash TEXT NOT NULL,                 -- of the normalised text: exact duplicates are found by index
        tags TEXT NOT NULL DEFAULT '[]',
        metadata TEXT NOT NULL DEFAULT '{}',
        importance REAL NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        last_accessed_at TEXT,
        access_count INTEGER NOT NULL DEFAULT 0,
        reinforcements INTEGER NOT NULL DEFAULT 0,
        source_type TEXT,
        source_ref TEXT,
        parent_id INTEGER REFERENCES memories (id) ON DELETE SET NULL,
        shared INTEGER NOT NULL DEFAULT 0
      ) STRICT;
      CREATE INDEX memories_by_project ON memories (project, kind);
      CREATE INDEX memories_by_hash ON memories (project, text_hash);
      CREATE INDEX memories_by_parent ON memories (parent_id);
      CREATE INDEX memories_shared ON memories (shared) WHERE shared = 1;

      -- One vector per memory per model, so the FAISS index of any model can be rebuilt from here.
      CREATE TABLE embeddings (
        memory_id INTEGER NOT NULL REFERENCES memories (id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (model, memory_id)
      ) STRICT, WITHOUT ROWID;

      CREATE VIRTUAL TABLE memories_fts USING fts5 (
        text, tags, content = 'memories', content_rowid = 'id', tokenize = 'porter unicode61 remove_diacritics 2'
      );
      CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN
        INSERT INTO memories_fts (rowid, text, tags) VALUES (new.id, new.text, new.tags);
      END;
      CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN
        INSERT INTO memories_fts (memories_fts, rowid, text, tags) VALUES ('delete', old.id, old.text, old.tags);
      END;
      CREATE TRIGGER memories_fts_update AFTER UPDATE OF text, tags ON memories BEGIN
        INSERT INTO memories_fts (memories_fts, rowid, text, tags) VALUES ('delete', old.id, old.text, old.tags);
        INSERT INTO memories_fts (rowid, text, tags) VALUES (new.id, new.text, new.tags);
      END;
    `,
  },
  {
    version: 2,
    name: 'supersession: a memory replaced by a newer one stays as history',
    up: `
      -- A memory superseded by a newer one (same subject, another value) is history: searches skip it unless asked.
      -- Deleting the newer memory makes the older one current again.
      ALTER TABLE memories ADD COLUMN supersedes INTEGER REFERENCES memories (id) ON DELETE SET NULL;
      ALTER TABLE memories ADD COLUMN superseded_by INTEGER REFERENCES memories (id) ON DELETE SET NULL;
      CREATE INDEX memories_by_superseded_by ON memories (superseded_by) WHERE superseded_by IS NOT NULL;
      CREATE INDEX memories_by_supersedes ON memories (supersedes) WHERE supersedes IS NOT NULL;
    `,
  },
  {
    version: 3,
    name: 'topics and the memory graph: topics per project, their members, entities, term counts',
    up: `
      -- A topic: a project's memories about one subject. centroid is the sum of its members' unit vectors (its
      -- direction is the centre); uid is public and stable while the topic lives.
      CREATE TABLE memory_topics (
        id INTEGER PRIMARY KEY,
        uid TEXT NOT NULL UNIQUE,
        project TEXT NOT NULL,
        label TEXT NOT NULL DEFAULT '[]',
        labelled_size INTEGER NOT NULL DEFAULT 0,  -- its size when last labelled: relabelled once it changed enough
        size INTEGER NOT NULL DEFAULT 0,
        centroid BLOB NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      ) STRICT;
      CREATE INDEX memory_topics_by_project ON memory_topics (project, size);

      -- Current memories only: a superseded memory leaves its topic.
      CREATE TABLE topic_members (
        memory_id INTEGER PRIMARY KEY REFERENCES memories (id) ON DELETE CASCADE,
        topic_id INTEGER NOT NULL REFERENCES memory_topics (id) ON DELETE CASCADE,
        similarity REAL NOT NULL                   -- to the topic's centre when last placed
      ) STRICT;
      CREATE INDEX topic_members_by_topic ON topic_members (topic_id, similarity);

      -- What a memory names (a path, a symbol, an error code, a URL, a person, a ticket, a commit): memories naming the
      -- same one are linked.
      CREATE TABLE memory_entities (
        memory_id INTEGER NOT NULL REFERENCES memories (id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (kind, value, memory_id)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX memory_entities_by_memory ON memory_entities (memory_id);

      -- In how many of a project's topic members each word occurs: what makes a topic's words distinctive.
      CREATE TABLE memory_terms (
        project TEXT NOT NULL,
        term TEXT NOT NULL,
        df INTEGER NOT NULL,
        PRIMARY KEY (project, term)
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    version: 4,
    name: 'keyword index filled after the commit, in bulk',
    up: `
      -- New memories enter the keyword index after their commit, many at a time (keyword-backlog.ts): an FTS5 insert
      -- per row inside the store's transaction was a fifth of a store's main-thread time. Rows with an id above
      -- fts_indexed are not in the index yet; the triggers below touch the index only for rows already in it (an
      -- FTS5 'delete' of a row it does not hold would corrupt it). A new row whose id is at or below the mark (an id
      -- reused after the newest memory was deleted) is indexed at once, as before.
      DROP TRIGGER memories_fts_insert;
      DROP TRIGGER memories_fts_delete;
      DROP TRIGGER memories_fts_update;
      INSERT INTO memory_meta (key, value) SELECT 'fts_indexed', CAST(COALESCE(MAX(id), 0) AS TEXT) FROM memories;
      CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories
        WHEN new.id <= (SELECT CAST(value AS INTEGER) FROM memory_meta WHERE key = 'fts_indexed') BEGIN
        INSERT INTO memories_fts (rowid, text, tags) VALUES (new.id, new.text, new.tags);
      END;
      CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories
        WHEN old.id <= (SELECT CAST(value AS INTEGER) FROM memory_meta WHERE key = 'fts_indexed') BEGIN
        INSERT INTO memories_fts (memories_fts, rowid, text, tags) VALUES ('delete', old.id, old.text, old.tags);
      END;
      -- Only a real change: a reinforcement sets tags to what they were most of the time.
      CREATE TRIGGER memories_fts_update AFTER UPDATE OF text, tags ON memories
        WHEN (old.text IS NOT new.text OR old.tags IS NOT new.tags)
          AND old.id <= (SELECT CAST(value AS INTEGER) FROM memory_meta WHERE key = 'fts_indexed') BEGIN
        INSERT INTO memories_fts (memories_fts, rowid, text, tags) VALUES ('delete', old.id, old.text, old.tags);
        INSERT INTO memories_fts (rowid, text, tags) VALUES (new.id, new.text, new.tags);
      END;
    `,
  },
  {
    version: 5,
    name: 'cluster replication: changes waiting for Redis, the newest change applied per memory',
    up: `
      -- This hub's memory changes not yet sent to the cluster, in order (store-replica.ts). Rows are written only while
      -- the hub is in a cluster, by triggers on its own connection, in the same transaction as the change; they stay
      -- here while Redis is away and leave once Redis has them.
      CREATE TABLE memory_outbox (
        seq INTEGER PRIMARY KEY,
        op TEXT NOT NULL,                        -- stored | updated | deleted
        uid TEXT NOT NULL,
        at TEXT NOT NULL                         -- when, to the millisecond: orders a memory's changes across hubs
      ) STRICT;
      CREATE INDEX memory_outbox_by_uid ON memory_outbox (uid);

      -- The newest change of each memory this hub sent or applied; an older or repeated change is ignored. A deleted
      -- memory keeps its row, so a late copy of its store does not bring it back.
      CREATE TABLE memory_versions (
        uid TEXT PRIMARY KEY,
        version TEXT NOT NULL,                   -- <time>|<hub id>|<sequence>
        deleted INTEGER NOT NULL DEFAULT 0
      ) STRICT, WITHOUT ROWID;
    `,
  },
];
