/**
 * Topics per project, without an LLM: each topic is a centre in the embedding space (the direction of the sum of its
 * members' unit vectors). A new memory joins the nearest centre of its project when close enough, else starts a
 * topic of its own; re-balancing in small slices (rebalanceSlice) moves memories that fit another topic better,
 * folds topics whose centres meet, and lets singletons join a topic that has grown near them. Labels are the
 * topics' distinctive words (labels.ts). Centres live in memory (a few hundred floats per topic), SQLite keeps them.
 */
import type { MemoryTopic } from '../../../shared/memory-graph-protocol';
import type { SqliteDatabase } from '../../db/database';
import { distinctiveWords } from './labels';
import { TermCounts } from './term-counts';
import { TopicMatrix } from './topic-matrix';

export interface TopicThresholds {
  /** Mean cosine similarity to a topic's members above which a memory joins it. */
  join: number;
  /** Two topics whose members are this similar on average are one topic. */
  merge: number;
  /** A member moves to another topic only when it is closer to that one's centre by this much. */
  move: number;
}

export const DEFAULT_TOPIC_THRESHOLDS: TopicThresholds = { join: 0.5, merge: 0.55, move: 0.03 };

interface Topic {
  id: number;
  uid: string;
  project: string;
  sum: Float32Array;
  centre: Float32Array;
  size: number;
  label: string[];
  labelledSize: number;
  updatedAt: string;
}

/** Members of a topic read when labelling it (the nearest its centre first). */
const LABEL_SAMPLE = 300;
/** Members looked at per re-balancing slice. */
export const REASSIGN_SLICE = 64;
/**
 * Topics compared with their project's others per re-balancing slice: one (a comparison costs as much as placing a
 * memory, times nothing), so every topic is compared again after as many slices as there are topics.
 */
const MERGE_SLICE = 1;
/** A staying member's stored similarity to its topic's centre is rewritten when it moved by this much. */
const SIMILARITY_STEP = 0.005;

export class Topics {
  private readonly byProject = new Map<string, Topic[]>();
  /** Each project's topic sums as int8 rows, for the nearest-topic look-up of every assignment and re-balancing visit. */
  private readonly matrices = new Map<string, TopicMatrix<Topic>>();
  private readonly byId = new Map<number, Topic>();
  private readonly byUid = new Map<string, Topic>();
  /** Topics whose size or centre changed since they were last written. */
  private readonly unsaved = new Set<Topic>();
  private readonly needsLabel = new Set<Topic>();
  private readonly terms: TermCounts;
  private mergeCursor = 0;
  private memberCursor = 0;
  private readonly s;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly newId: () => string,
    private readonly vectorOf: (memoryId: number) => Float32Array | undefined,
    readonly thresholds: TopicThresholds = DEFAULT_TOPIC_THRESHOLDS,
  ) {
    this.terms = new TermCounts(db);
    this.s = {
      insert: db.prepare('INSERT INTO memory_topics (uid, project, size, centroid, created_at, updated_at) VALUES (?, ?, 0, ?, ?, ?)'),
      save: db.prepare('UPDATE memory_topics SET size = ?, centroid = ?, updated_at = ? WHERE id = ?'),
      drop: db.prepare('DELETE FROM memory_topics WHERE id = ?'),
      label: db.prepare('UPDATE memory_topics SET label = ?, labelled_size = ? WHERE id = ?'),
      join: db.prepare('INSERT OR REPLACE INTO topic_members (memory_id, topic_id, similarity) VALUES (?, ?, ?)'),
      leave: db.prepare('DELETE FROM topic_members WHERE memory_id = ?'),
      memberOf: db.prepare('SELECT topic_id FROM topic_members WHERE memory_id = ?').pluck(),
      moveAll: db.prepare('UPDATE topic_members SET topic_id = ? WHERE topic_id = ?'),
      sample: db.prepare(`SELECT memory_id FROM topic_members WHERE topic_id = ? ORDER BY similarity DESC LIMIT ${LABEL_SAMPLE}`).pluck(),
      examples: db.prepare(
        'SELECT m.uid AS id, m.text FROM topic_members t JOIN memories m ON m.id = t.memory_id WHERE t.topic_id = ? ORDER BY t.similarity DESC LIMIT 3',
      ),
      members: db.prepare('SELECT memory_id FROM topic_members WHERE topic_id = ? ORDER BY similarity DESC LIMIT ? OFFSET ?').pluck(),
      nextMembers: db.prepare(
        'SELECT memory_id AS memoryId, topic_id AS topicId, similarity FROM topic_members WHERE memory_id > ? ORDER BY memory_id LIMIT ?',
      ),
      topicOfMany: (count: number) =>
        db.prepare(`SELECT memory_id AS memoryId, topic_id AS topicId FROM topic_members WHERE memory_id IN (${'?,'.repeat(count).slice(0, -1)})`),
    };
    for (const row of db.prepare('SELECT id, uid, project, label, labelled_size, size, centroid, updated_at FROM memory_topics').iterate() as Iterable<{
      id: number;
      uid: string;
      project: string;
      label: string;
      labelled_size: number;
      size: number;
      centroid: Buffer;
      updated_at: string;
    }>) {
      const sum = new Float32Array(row.centroid.byteLength / 4);
      new Uint8Array(sum.buffer).set(row.centroid);
      const topic: Topic = {
        id: row.id,
        uid: row.uid,
        project: row.project,
        sum,
        centre: unit(sum),
        size: row.size,
        label: JSON.parse(row.label) as string[],
        labelledSize: row.labelled_size,
        updatedAt: row.updated_at,
      };
      this.index(topic);
      if (needsRelabel(topic)) this.needsLabel.add(topic);
    }
  }

  /** Places a current memory in its project's nearest topic, or a new one (inside the caller's transaction). */
  assign(memoryId: number, project: string, text: string, vector: Float32Array, now: string): void {
    const nearest = this.nearest(project, vector, undefined, this.thresholds.join);
    const topic = nearest ? nearest.topic : this.create(project, vector, now);
    this.add(topic, memoryId, vector, now);
    this.terms.up(project, this.terms.termsOf(memoryId, text));
  }

  /** Takes a memory out of its topic (superseded or being deleted); a topic left empty goes. */
  leave(memoryId: number, vector = this.vectorOf(memoryId)): void {
    const topicId = this.s.memberOf.get(memoryId) as number | undefined;
    const topic = topicId === undefined ? undefined : this.byId.get(topicId);
    if (!topic) return;
    this.s.leave.run(memoryId);
    this.terms.down(topic.project, this.terms.termsOf(memoryId));
    this.remove(topic, vector);
  }

  /** Forgets what is kept of a deleted memory (its id may be given again). */
  forget(memoryId: number): void {
    this.terms.forget(memoryId);
  }

  /** Writes the centres and sizes changed since the last save (inside the caller's transaction). */
  save(): void {
    this.terms.save();
    for (const topic of this.unsaved) {
      if (this.byId.has(topic.id)) this.s.save.run(topic.size, blob(topic.sum), topic.updatedAt, topic.id);
    }
    this.unsaved.clear();
  }

  /**
   * One small step of re-balancing (a few milliseconds): a few topics are compared with their project's others and
   * folded into one whose centre they meet, then a few members move to a topic that fits them better. Returns whether
   * anything changed. Runs between other work; never needed for correctness, only for tidier topics.
   */
  rebalanceSlice(now: string, visits = REASSIGN_SLICE): boolean {
    let changed = false;
    const all = [...this.byId.values()];
    for (let i = 0; i < Math.min(MERGE_SLICE, all.length); i++) {
      const topic = all[(this.mergeCursor + i) % all.length]!;
      if (!this.byId.has(topic.id)) continue;
      // Mean similarity between the two topics' members: the other's mean similarity to this one's mean vector.
      const best = topic.size > 0 ? this.matrices.get(topic.project)?.nearest(topic.sum.map((x) => x / topic.size), topic, this.thresholds.merge) : undefined;
      if (best) {
        // The larger keeps its id: what people saw stays.
        const [into, from] = best.topic.size >= topic.size ? [best.topic, topic] : [topic, best.topic];
        this.merge(from, into, now);
        changed = true;
      }
    }
    this.mergeCursor = all.length === 0 ? 0 : (this.mergeCursor + MERGE_SLICE) % all.length;

    const members = this.s.nextMembers.all(this.memberCursor, visits) as Array<{ memoryId: number; topicId: number; similarity: number }>;
    this.memberCursor = members.length < visits ? 0 : members.at(-1)!.memoryId;
    for (const { memoryId, topicId, similarity } of members) {
      const current = this.byId.get(topicId);
      const vector = this.vectorOf(memoryId);
      if (!current || !vector) continue;
      // Its own topic's centre without it: a singleton has none, so it joins any topic close enough.
      const own = current.size > 1 ? (dot(vector, current.sum) - dot(vector, vector)) / (current.size - 1) : -1;
      const nearest = this.nearest(current.project, vector, current, Math.max(this.thresholds.join, own + this.thresholds.move));
      if (!nearest) {
        // Its similarity to the centre orders the topic's members (labels, listings): rewritten when it moved.
        const fit = dot(vector, current.centre);
        if (Math.abs(fit - similarity) >= SIMILARITY_STEP) this.s.join.run(memoryId, current.id, fit);
        continue;
      }
      this.remove(current, vector);
      this.add(nearest.topic, memoryId, vector, now);
      changed = true;
    }
    return changed;
  }

  /** Labels up to `count` topics whose members changed enough since their label; returns how many are left. */
  labelSome(count: number): number {
    for (const topic of [...this.needsLabel].slice(0, count)) this.label(topic);
    return this.needsLabel.size;
  }

  /** Labels every topic afresh (after a change of the labelling rules; the benchmark times it); returns how many. */
  labelAll(): number {
    for (const topic of this.byId.values()) this.label(topic);
    return this.byId.size;
  }

  /** A project's topics, largest first, labelled (any whose label is due is labelled now). */
  list(project: string, limit: number): MemoryTopic[] {
    const topics = [...(this.byProject.get(project) ?? [])].sort((a, b) => b.size - a.size || a.uid.localeCompare(b.uid)).slice(0, limit);
    return topics.map((topic) => this.describe(topic));
  }

  describe(topic: Topic): MemoryTopic {
    if (this.needsLabel.has(topic)) this.label(topic);
    return {
      id: topic.uid,
      project: topic.project,
      label: topic.label,
      size: topic.size,
      examples: this.s.examples.all(topic.id) as MemoryTopic['examples'],
      updatedAt: topic.updatedAt,
    };
  }

  byPublicId(uid: string): Topic | undefined {
    return this.byUid.get(uid);
  }

  /** A topic's member ids, nearest its centre first. */
  memberIds(topic: Topic, limit: number, offset: number): number[] {
    return this.s.members.all(topic.id, limit, offset) as number[];
  }

  /** The topic of each memory that has one. */
  topicsOf(memoryIds: number[]): Map<number, Topic> {
    const result = new Map<number, Topic>();
    for (let start = 0; start < memoryIds.length; start += 500) {
      const part = memoryIds.slice(start, start + 500);
      for (const row of this.s.topicOfMany(part.length).all(...part) as Array<{ memoryId: number; topicId: number }>) {
        const topic = this.byId.get(row.topicId);
        if (topic) result.set(row.memoryId, topic);
      }
    }
    return result;
  }

  /** Label of a topic, labelled first if due. */
  labelOf(topic: Topic): string[] {
    if (this.needsLabel.has(topic)) this.label(topic);
    return topic.label;
  }

  /** Forgets every topic (after a model switch the centres mean nothing): the caller re-assigns every memory. */
  clear(): void {
    this.db.exec('DELETE FROM topic_members; DELETE FROM memory_topics; DELETE FROM memory_terms;');
    this.terms.clear();
    this.byProject.clear();
    this.matrices.clear();
    this.byId.clear();
    this.byUid.clear();
    this.unsaved.clear();
    this.needsLabel.clear();
  }

  get count(): number {
    return this.byId.size;
  }

  /** The nearest topic of the project if its similarity is at least `atLeast`. */
  private nearest(project: string, vector: Float32Array, except: Topic | undefined, atLeast: number): { topic: Topic; similarity: number } | undefined {
    // Average linkage: the mean similarity to its members (dot with the sum over the size). A topic that mixes
    // subjects has a short mean vector, so it does not swallow everything near its centre the way the centre's
    // direction alone would.
    return this.matrices.get(project)?.nearest(vector, except, atLeast);
  }

  private create(project: string, vector: Float32Array, now: string): Topic {
    const uid = this.newId();
    const sum = new Float32Array(vector.length);
    const id = Number(this.s.insert.run(uid, project, blob(sum), now, now).lastInsertRowid);
    const topic: Topic = { id, uid, project, sum, centre: sum, size: 0, label: [], labelledSize: 0, updatedAt: now };
    this.index(topic);
    return topic;
  }

  private add(topic: Topic, memoryId: number, vector: Float32Array, now: string): void {
    for (let i = 0; i < vector.length; i++) topic.sum[i]! += vector[i]!;
    topic.centre = unit(topic.sum);
    topic.size++;
    topic.updatedAt = now;
    this.s.join.run(memoryId, topic.id, dot(vector, topic.centre));
    this.changed(topic);
  }

  private remove(topic: Topic, vector: Float32Array | undefined): void {
    topic.size--;
    if (topic.size <= 0) {
      this.drop(topic);
      return;
    }
    if (vector) {
      for (let i = 0; i < vector.length; i++) topic.sum[i]! -= vector[i]!;
      topic.centre = unit(topic.sum);
    }
    this.changed(topic);
  }

  private merge(from: Topic, into: Topic, now: string): void {
    this.s.moveAll.run(into.id, from.id);
    for (let i = 0; i < into.sum.length; i++) into.sum[i]! += from.sum[i]!;
    into.centre = unit(into.sum);
    into.size += from.size;
    into.updatedAt = now;
    this.changed(into);
    this.drop(from);
  }

  private drop(topic: Topic): void {
    this.s.drop.run(topic.id);
    this.byId.delete(topic.id);
    this.byUid.delete(topic.uid);
    const siblings = this.byProject.get(topic.project) ?? [];
    const at = siblings.indexOf(topic);
    if (at >= 0) siblings.splice(at, 1);
    this.matrices.get(topic.project)?.remove(topic);
    this.unsaved.delete(topic);
    this.needsLabel.delete(topic);
  }

  private changed(topic: Topic): void {
    this.matrices.get(topic.project)?.changed(topic);
    this.unsaved.add(topic);
    if (needsRelabel(topic)) this.needsLabel.add(topic);
  }

  private index(topic: Topic): void {
    this.byId.set(topic.id, topic);
    this.byUid.set(topic.uid, topic);
    let siblings = this.byProject.get(topic.project);
    if (!siblings) this.byProject.set(topic.project, (siblings = []));
    siblings.push(topic);
    let matrix = this.matrices.get(topic.project);
    if (!matrix) this.matrices.set(topic.project, (matrix = TopicMatrix.create<Topic>(topic.sum.length)));
    matrix.add(topic);
  }

  private label(topic: Topic): void {
    this.needsLabel.delete(topic);
    if (!this.byId.has(topic.id)) return;
    const members = (this.s.sample.all(topic.id) as number[]).map((id) => new Set(this.terms.termsOf(id)));
    const projectSize = (this.byProject.get(topic.project) ?? []).reduce((total, sibling) => total + sibling.size, 0);
    topic.label = distinctiveWords(members, (term) => this.terms.df(topic.project, term), projectSize);
    topic.labelledSize = topic.size;
    this.s.label.run(JSON.stringify(topic.label), topic.size, topic.id);
  }
}

/** Due for a new label: never labelled, or its size moved by a quarter (every change while it is small). */
function needsRelabel(topic: Topic): boolean {
  if (topic.labelledSize === 0) return topic.size > 0;
  return Math.abs(topic.size - topic.labelledSize) >= Math.max(1, topic.labelledSize / 4);
}

/** Four running sums: about twice as fast as one in V8 (the loop is most of an assignment's cost). */
function dot(a: Float32Array, b: Float32Array): number {
  let t0 = 0;
  let t1 = 0;
  let t2 = 0;
  let t3 = 0;
  const n = a.length;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    t0 += a[i]! * b[i]!;
    t1 += a[i + 1]! * b[i + 1]!;
    t2 += a[i + 2]! * b[i + 2]!;
    t3 += a[i + 3]! * b[i + 3]!;
  }
  for (; i < n; i++) t0 += a[i]! * b[i]!;
  return t0 + t1 + t2 + t3;
}

function unit(vector: Float32Array): Float32Array {
  const norm = Math.sqrt(dot(vector, vector));
  const result = new Float32Array(vector.length);
  if (norm > 0) for (let i = 0; i < vector.length; i++) result[i] = vector[i]! / norm;
  return result;
}

function blob(vector: Float32Array): Buffer {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
}
