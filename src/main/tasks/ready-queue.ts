/**
 * The ready tasks of one set of needs (project, tier, capabilities, assignee) in order of urgency without sorting:
 * a first-in-first-out bucket per priority. Within a bucket the oldest task has waited longest, so it also has the
 * highest effective priority (priority plus ageing); the most urgent task overall is the best of the bucket heads.
 * Taking the next one costs O(number of priorities in use), not O(ready tasks).
 */
import { byUrgency, type ReadyTask } from './dispatcher';

class Bucket<T extends ReadyTask> {
  readonly tasks = new Map<string, T>();
  private newest = Number.NEGATIVE_INFINITY;

  add(task: T): void {
    if (task.readySince >= this.newest) {
      this.tasks.set(task.id, task);
      this.newest = task.readySince;
      return;
    }
    // Older than the newest (read back at start, or a clock step back): the bucket is put in order again.
    const all = [...this.tasks.values(), task].sort((a, b) => a.readySince - b.readySince || (a.id < b.id ? -1 : 1));
    this.tasks.clear();
    for (const each of all) this.tasks.set(each.id, each);
  }
}

export class ReadyGroup<T extends ReadyTask> {
  private readonly buckets = new Map<number, Bucket<T>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Any one of its tasks: they all have the same needs. */
  sample(): T | undefined {
    for (const bucket of this.buckets.values()) for (const task of bucket.tasks.values()) return task;
    return undefined;
  }

  add(task: T): void {
    let bucket = this.buckets.get(task.priority);
    if (!bucket) this.buckets.set(task.priority, (bucket = new Bucket<T>()));
    if (!bucket.tasks.has(task.id)) this.count++;
    bucket.add(task);
  }

  delete(task: T): void {
    const bucket = this.buckets.get(task.priority);
    if (!bucket?.tasks.delete(task.id)) return;
    this.count--;
    if (bucket.tasks.size === 0) this.buckets.delete(task.priority);
  }

  /** The tasks, most urgent first, computed as they are taken (a merge of the bucket heads). */
  *inOrder(now: number): Generator<T> {
    const urgency = byUrgency(now);
    const heads: Array<{ head: T; rest: Iterator<T> }> = [];
    for (const bucket of this.buckets.values()) {
      const rest = bucket.tasks.values();
      const first = rest.next();
      if (!first.done) heads.push({ head: first.value, rest });
    }
    while (heads.length > 0) {
      let best = 0;
      for (let i = 1; i < heads.length; i++) if (urgency(heads[i]!.head, heads[best]!.head) < 0) best = i;
      const chosen = heads[best]!;
      yield chosen.head;
      const next = chosen.rest.next();
      if (next.done) heads.splice(best, 1);
      else chosen.head = next.value;
    }
  }
}
