/**
 * Tasks shared by the hubs of a cluster, given out by one hub at a time. A task is shared when it becomes ready on the
 * hub where it was made (its origin): at once when made without unmet dependencies, otherwise once they are met; the
 * tasks of a workflow's steps and of a split likewise. It is written to Redis and copied by every hub into its own
 * task store as ready. The origin alone keeps the bookkeeping: the dependencies, the split that waits for its
 * subtasks, the workflow run; it applies a task's end told by another hub as a local end, so what waits on it moves
 * on there. A task with an affinity carries the agent it prefers, as its origin resolved it: while that agent is
 * present, only its hub asks for the claim. A hub gives a shared task to one of its agents only while it holds the task's
 * claim: a Redis key set with NX and a time to live, renewed (compare-and-set in Lua) while the task is held or
 * waits here, released when no agent of this hub took it. A hub tries for a claim only when one of its own agents
 * fits the task and has room, so work goes to the hubs whose agents can take it.
 *
 * Never two holders: a hub that cannot renew a claim (dead, or cut off from Redis) stops giving the task out, and
 * ends its holder's lease, before the claim expires in Redis (at 70% of its time to live, by this hub's clock); only
 * then can another hub win the claim and give the task to its agent. The end of a task (succeeded, failed, timed
 * out) is published only by the hub holding the claim, in the same script that checks it; a cancellation by anyone.
 * Every hub then ends its copy the same way.
 */
import type { TaskError, TaskState } from '../../shared/task-protocol';
import { isFinalTaskState } from '../../shared/task-protocol';
import type { SharedTaskForm, TaskService } from '../tasks/service';
import type { TaskTransition } from '../tasks/transitions';
import type { ClusterKeys } from './keys';
import type { RedisLink } from './redis-link';

/** How often claims are sought, renewed and released. */
const TICK_MS = 100;
/** A claim won but not used (no agent here took the task) is let go after this long, for another hub to try. */
const UNUSED_CLAIM_MS = 2_000;
/** The share of a claim's time to live after which this hub no longer counts on it without a renewal. */
const SAFE_SHARE = 0.7;
/** A hub whose fitting agent already holds n tasks tries for a claim n times this long after the task is ready. */
const LOAD_STEP_MS = 250;
const LOAD_WAIT_MAX_MS = 1_000;
/** Claims asked for at once, at most. */
const MAX_TRYING = 32;
const CHANGES_KEPT = 100_000;
/** How long a shared task's end stays in Redis, for hubs that were away when it ended (and against a claim). */
const END_KEPT_MS = 7 * 24 * 3_600_000;
const FOLLOW_COUNT = 500;

/**
 * KEYS: claim, end, attempts. ARGV: token, ttl ms, task id. 'OK:<the last attempt given out on any hub>' when won;
 * how it ended (JSON) when it did, for an ended task is never claimed again; otherwise the ms the other hub's claim
 * still lives.
 */
const CLAIM_SCRIPT = `
local ended = redis.call('GET', KEYS[2])
if ended then return ended end
local won = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
if won then return 'OK:' .. (redis.call('HGET', KEYS[3], ARGV[3]) or '0') end
return redis.call('PTTL', KEYS[1])
`;
/** KEYS: claim. ARGV: token, ttl ms. 1 when still ours and renewed. */
const RENEW_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;
/** KEYS: claim. ARGV: token. */
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;
/**
 * KEYS: claim, tasks, end, changes, attempts. ARGV: token ("" for a cancellation, which needs no claim), task id, end JSON,
 * event JSON, changes kept, ms the end is kept. 1 when published; 0 when the claim is another hub's (or gone), or the
 * task already ended.
 */
const END_SCRIPT = `
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[6])
redis.call('HDEL', KEYS[2], ARGV[2])
redis.call('HDEL', KEYS[5], ARGV[2])
redis.call('DEL', KEYS[1])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[5], '*', 'event', ARGV[4])
return 1
`;

type SharedTask = SharedTaskForm;

interface TaskEnd {
  state: TaskState;
  result: string | null;
  error: TaskError | null;
  /** The agent that held its last attempt (absent from older hubs). */
  holder?: string | null;
}

type TaskEvent =
  | { kind: 'created'; hub: string; task: SharedTask }
  | { kind: 'ended'; hub: string; id: string; end: TaskEnd }
  /** Given to an agent of `hub` (holder null: ready there again), for the other hubs' copies to say where it is. */
  | { kind: 'held'; hub: string; id: string; holder: { id: string; name: string; attempt: number } | null };

interface Claim {
  token: string;
  /** Until when this hub counts on it (its clock): the last renewal plus SAFE_SHARE of the time to live. */
  safeUntil: number;
  wonAt: number;
  renewing: boolean;
}

export class ClusterTasks {
  /** Ids of the open tasks this hub knows to be shared. */
  private readonly shared = new Set<string>();
  private readonly claims = new Map<string, Claim>();
  /** Tasks this hub is ending because another hub said so: their end is not published again. */
  private readonly endedElsewhere = new Set<string>();
  private readonly trying = new Set<string>();
  /** Shared tasks whose writing to Redis failed (Redis went away meanwhile): written again when it is back. */
  private readonly unsent = new Map<string, SharedTask>();
  /** Where the other hubs gave out shared tasks, as they told it (a copy here stays ready meanwhile). */
  private readonly heldThere = new Map<string, { hub: string; holderId: string; holder: string; attempt: number }>();
  /** Tasks another hub holds the claim of, and until when (this hub's clock): not asked for again before. */
  private readonly claimedElsewhere = new Map<string, number>();
  /** Tasks that stay this hub's own: ready while Redis was away (until it is back), or given out then (until they end). */
  private readonly ownOnly = new Set<string>();
  /** This hub's tasks being written to Redis: their creator is answered once it is done. */
  private readonly sending = new Map<string, Promise<void>>();
  /** Tasks ready and never given out, to share once this hub has loaded the shared tasks. */
  private readonly deferred = new Set<string>();
  /** The agent each copy of another hub's task prefers, as that hub resolved its affinity. */
  private readonly preferred = new Map<string, string | null>();
  private lastId = '0-0';
  private loaded = false;
  private stopped = false;
  private ticking: NodeJS.Timeout | null = null;
  private following: Promise<void> | null = null;
  private readonly offTransitions: () => void;
  private readonly offLink: () => void;
  private tokenSeq = 0;
  private tickSoon: NodeJS.Timeout | null = null;

  constructor(
    private readonly link: RedisLink,
    private readonly keys: ClusterKeys,
    private readonly tasks: TaskService,
    private readonly hubId: string,
    private readonly claimTtlMs: number,
    /** A hub's name, for the words saying where a task is. */
    private readonly hubName: (hubId: string) => string = (hubId) => hubId,
  ) {
    tasks.shareWith({
      mayAssign: (task) => {
        if (this.shared.has(task.id)) return (this.claims.get(task.id)?.safeUntil ?? 0) > Date.now();
        // A ready task waits until it is shared (a moment after it became ready), or is known this hub's own.
        return this.ownOnly.has(task.id);
      },
      claimLost: (id, now) => this.shared.has(id) && !((this.claims.get(id)?.safeUntil ?? 0) > now),
      heldElsewhere: (id) => {
        const there = this.heldThere.get(id);
        if (!there) return null;
        return `given out by hub ${this.hubName(there.hub)} of the cluster, to ${there.holder} (attempt ${there.attempt}); this hub's copy stays ready until it ends`;
      },
      // A task made here is answered once Redis has it (when it was ready to share).
      created: (task) => this.sending.get(task.id) ?? Promise.resolve(),
      sharedPreference: (id) => (this.preferred.has(id) ? this.preferred.get(id)! : undefined),
      holderElsewhere: (id) => this.heldThere.get(id)?.holderId ?? null,
    });
    this.offTransitions = tasks.onTransition((transition) => {
      const id = transition.taskId;
      if (transition.to === 'ready' && transition.kind !== 'progress' && !this.shared.has(id) && !this.ownOnly.has(id)) return this.becameReady(id);
      if (isFinalTaskState(transition.to)) this.ownOnly.delete(id);
      if (transition.kind !== 'state' || !this.shared.has(transition.taskId)) return;
      if (isFinalTaskState(transition.to)) void this.ended(transition.taskId, transition.to);
      else if (this.claims.has(transition.taskId) && (transition.from === 'ready' || transition.to === 'ready')) this.tellHeld(transition);
    });
    this.offLink = link.onChange((state) => {
      if (state.connected && this.following) void this.sync().catch(() => undefined);
      if (!state.connected) for (const id of this.deferred) this.keepOwn(id);
      if (!state.connected) this.deferred.clear();
    });
  }

  /** Loads the shared tasks, then follows the others' changes and keeps the claims. */
  async start(): Promise<void> {
    this.following ??= this.follow();
    await this.sync();
    this.ticking ??= setInterval(() => this.tick(), TICK_MS);
    this.ticking.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.ticking) clearInterval(this.ticking);
    if (this.tickSoon) clearTimeout(this.tickSoon);
    this.offTransitions();
    this.offLink();
    // Claims are let go, so another hub gives those tasks out at once rather than after their time to live. The hooks
    // stay: without its claims this hub gives no shared task out and takes no report on one while it shuts down.
    const claims = [...this.claims.entries()];
    this.claims.clear();
    await Promise.allSettled(claims.map(([id, claim]) => this.eval(RELEASE_SCRIPT, [this.keys.taskClaim(id)], [claim.token])));
    await this.following;
  }

  // -- sharing this hub's tasks ---------------------------------------------------------------------------------------

  /**
   * A task of this hub became ready, never given out (made ready, its dependencies met, a step or subtask started):
   * shared, unless Redis is away (then it stays this hub's own). Told inside the commit's listeners: the task waits
   * (mayAssign) until it is one or the other.
   */
  private becameReady(id: string): void {
    if (!this.link.current.connected || this.stopped) return this.keepOwn(id);
    if (!this.loaded) {
      this.deferred.add(id);
      return;
    }
    const shared = this.tasks.sharedForm(id);
    if (!shared) return;
    this.shared.add(id);
    const sending = this.send(shared)
      .catch(() => {
        // Perhaps written, perhaps not: the task stays shared (given out only under a claim, so never by two hubs), and
        // is written again once Redis is back.
        this.unsent.set(id, shared);
      })
      .finally(() => this.sending.delete(id));
    this.sending.set(id, sending);
  }

  /** The task and its announcement, in one round trip (never the task without it). */
  private async send(shared: SharedTask): Promise<void> {
    const event: TaskEvent = { kind: 'created', hub: this.hubId, task: shared };
    await this.link.commands
      .multi()
      .hSet(this.keys.tasks, shared.id, JSON.stringify(shared))
      .xAdd(this.keys.taskChanges, '*', { event: JSON.stringify(event) }, { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: CHANGES_KEPT } })
      .exec();
  }

  /**
   * Where a task this hub gives out now is, for the others' copies, and its attempt, for the next hub to give it out
   * (best effort: a hub cut off from Redis meanwhile loses its claim anyway).
   */
  private tellHeld(transition: TaskTransition): void {
    const holder = transition.to === 'ready' || transition.holderId === null ? null : transition.holderId;
    const name = holder === null ? '' : (this.tasks.agentName(holder) ?? holder);
    const event: TaskEvent = { kind: 'held', hub: this.hubId, id: transition.taskId, holder: holder === null ? null : { id: holder, name, attempt: transition.attempt } };
    const multi = this.link.commands.multi();
    // The attempt given out, for a hub that gives the task out next to go on from.
    if (holder !== null) multi.hSet(this.keys.taskAttempts, transition.taskId, String(transition.attempt));
    multi
      .xAdd(this.keys.taskChanges, '*', { event: JSON.stringify(event) }, { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: CHANGES_KEPT } })
      .exec()
      .catch(() => undefined);
  }

  private keepOwn(id: string): void {
    this.ownOnly.add(id);
    this.deferred.delete(id);
    this.tasks.lookAgain();
  }

  /** A shared task ended here: told to the others (its result too) by the claim's holder, or by whoever cancelled it. */
  private async ended(id: string, state: TaskState): Promise<void> {
    this.shared.delete(id);
    this.heldThere.delete(id);
    this.claimedElsewhere.delete(id);
    this.preferred.delete(id);
    const claim = this.claims.get(id);
    this.claims.delete(id);
    if (this.endedElsewhere.delete(id)) return;
    if (state !== 'cancelled' && !claim) return; // not given out here: nothing of ours to tell
    const view = this.tasks.get({ kind: 'cockpit' }, id);
    // Cancelled while being written: the end goes after the task, or Redis would list an ended task again.
    await this.sending.get(id);
    const end: TaskEnd = { state, result: view.result === undefined || view.result === null ? null : JSON.stringify(view.result), error: view.error, holder: view.holderId };
    const event: TaskEvent = { kind: 'ended', hub: this.hubId, id, end };
    const published = await this.eval(
      END_SCRIPT,
      [this.keys.taskClaim(id), this.keys.tasks, this.keys.taskEnd(id), this.keys.taskChanges, this.keys.taskAttempts],
      [state === 'cancelled' ? '' : claim!.token, id, JSON.stringify(end), JSON.stringify(event), String(CHANGES_KEPT), String(END_KEPT_MS)],
    ).catch(() => 0);
    if (published !== 1) console.error(`[cluster] task ${id} ended ${state} here, but its end could not be shared (Redis away, or another hub gives it out)`);
  }

  // -- claims ---------------------------------------------------------------------------------------------------------

  private tick(): void {
    if (this.stopped || !this.loaded || !this.link.current.connected) return;
    const now = Date.now();
    const left = this.roomLeft(now);
    const candidates: Array<{ id: string; priority: number; readySince: number }> = [];
    const room = new Map<string, number | null>();
    for (const id of this.shared) {
      const task = this.tasks.peek(id);
      if (!task) continue;
      const claim = this.claims.get(id);
      if (claim) {
        const unused = task.state === 'ready' && now - claim.wonAt > UNUSED_CLAIM_MS;
        if (unused || claim.safeUntil <= now) void this.release(id, claim);
        else if (!claim.renewing && claim.safeUntil - now < this.claimTtlMs * SAFE_SHARE * 0.6) void this.renew(id, claim);
      } else if (left > 0 && task.state === 'ready' && !this.trying.has(id) && (this.claimedElsewhere.get(id) ?? 0) <= now) {
        // Tasks with the same needs have the same room (looked up once a tick), unless an affinity narrows it.
        const needs = task.preferredAgent !== null ? id : `${task.project}\u0000${task.tier}\u0000${task.assignee}\u0000${task.capabilities.join(',')}`;
        if (!room.has(needs)) room.set(needs, this.tasks.roomFor(id));
        const held = room.get(needs);
        // A hub whose fitting agent already holds work lets a hub with a less loaded agent claim first.
        if (held === null || held === undefined || now - task.readySince < Math.min(held * LOAD_STEP_MS, LOAD_WAIT_MAX_MS)) continue;
        candidates.push({ id, priority: task.priority, readySince: task.readySince });
      }
    }
    // More claims are asked for than there is room, as some turn out to be another hub's; a claim won beyond the room
    // is let go at once (claim), so the rest stay free for the other hubs. The most urgent first.
    const tries = Math.min(MAX_TRYING - this.trying.size, left * 4);
    if (tries <= 0 || candidates.length === 0) return;
    candidates.sort((a, b) => b.priority - a.priority || a.readySince - b.readySince);
    for (const candidate of candidates.slice(0, tries)) void this.claim(candidate.id);
  }

  /** How many more tasks this hub's agents can take than it holds unused claims for. */
  private roomLeft(now: number): number {
    let left = this.tasks.freeRoom();
    for (const [id, claim] of this.claims) if (this.tasks.peek(id)?.state === 'ready' && claim.safeUntil > now) left--;
    return left;
  }

  private async claim(id: string): Promise<void> {
    this.trying.add(id);
    const token = `${this.hubId}:${++this.tokenSeq}`;
    const sent = Date.now();
    try {
      const won = await this.eval(CLAIM_SCRIPT, [this.keys.taskClaim(id), this.keys.taskEnd(id), this.keys.taskAttempts], [token, String(this.claimTtlMs), id]);
      const wonIt = typeof won === 'string' && won.startsWith('OK:');
      if (typeof won === 'string' && !wonIt) {
        // It ended on another hub, and this hub missed it (it was away, or held the task then): it ends here too.
        this.endHere(id, JSON.parse(won) as TaskEnd);
      } else if (wonIt && this.shared.has(id) && this.roomLeft(Date.now()) > 0) {
        // Its attempts go on from those given out on other hubs.
        this.tasks.raiseAttempt(id, Number((won as string).slice(3)));
        // Counted from when it was asked for: the key's time to live started at or after that moment.
        this.claims.set(id, { token, safeUntil: sent + this.claimTtlMs * SAFE_SHARE, wonAt: Date.now(), renewing: false });
        this.heldThere.delete(id);
        this.tasks.lookAgain();
      } else if (wonIt) {
        // Ended here meanwhile, or won beyond this hub's room.
        await this.eval(RELEASE_SCRIPT, [this.keys.taskClaim(id)], [token]);
      } else if (typeof won === 'number') {
        // Another hub's: not asked for again before that claim would run out (released sooner, it waits until then).
        this.claimedElsewhere.set(id, sent + Math.max(won, TICK_MS));
      }
    } catch {
      // Redis away: tried again on a later tick.
    } finally {
      this.trying.delete(id);
    }
  }

  private async renew(id: string, claim: Claim): Promise<void> {
    claim.renewing = true;
    const sent = Date.now();
    try {
      const renewed = await this.eval(RENEW_SCRIPT, [this.keys.taskClaim(id)], [claim.token, String(this.claimTtlMs)]);
      if (renewed === 1) claim.safeUntil = sent + this.claimTtlMs * SAFE_SHARE;
      else this.claims.delete(id); // expired, and perhaps another hub's now: the sweep ends a holder's lease here
    } catch {
      // Redis away: the claim runs out at safeUntil, and the holder's lease with it.
    } finally {
      claim.renewing = false;
    }
  }

  private async release(id: string, claim: Claim): Promise<void> {
    const task = this.tasks.peek(id);
    // A holder here keeps it: only an unused claim is let go (a lapsed one is ended by the sweep).
    if (task && task.state !== 'ready' && claim.safeUntil > Date.now()) return;
    this.claims.delete(id);
    await this.eval(RELEASE_SCRIPT, [this.keys.taskClaim(id)], [claim.token]).catch(() => undefined);
  }

  // -- the others' tasks ---------------------------------------------------------------------------------------------

  /** Every shared task not ended; and the ends of those this hub has open (it may have missed them). */
  private async sync(): Promise<void> {
    const redis = this.link.commands;
    const last = await redis.xRevRange(this.keys.taskChanges, '+', '-', { COUNT: 1 });
    const from = last?.[0]?.id ?? '0-0';
    const all = await redis.hGetAll(this.keys.tasks);
    for (const text of Object.values(all)) await this.take(JSON.parse(text) as SharedTask);
    // Open tasks Redis does not list: shared ones that ended meanwhile (this hub was away: they end here too, or, held
    // here, once the sweep has put them back); ones never given out (made before this hub joined, or ready while Redis
    // was away, or cut off by a crash before they were written), shared now or once ready; and ones given out while
    // not shared, which stay this hub's own (giving them out elsewhere could make two holders).
    const open = [...this.tasks.openTasks()].filter((task) => all[task.id] === undefined && !this.deferred.has(task.id)).map((task) => task.id);
    for (let at = 0; at < open.length; at += 1_000) {
      const ids = open.slice(at, at + 1_000);
      const ends = await redis.mGet(ids.map((id) => this.keys.taskEnd(id)));
      ends.forEach((text, i) => {
        const id = ids[i]!;
        const task = this.tasks.peek(id);
        if (text) {
          this.shared.add(id);
          this.endHere(id, JSON.parse(text) as TaskEnd);
        } else if (this.shared.has(id) || !task) {
          // Shared (written again below if its writing failed), or ended meanwhile.
        } else if (task.attempt === 0 && (task.state === 'ready' || task.state === 'pending')) {
          // Never given out: it waits (mayAssign) until it is shared, below; a pending one is shared once ready.
          this.ownOnly.delete(id);
          if (task.state === 'ready') this.deferred.add(id);
        } else {
          this.ownOnly.add(id);
        }
      });
    }
    for (const [id, shared] of this.unsent) {
      if (this.tasks.peek(id) && all[id] === undefined && this.shared.has(id)) await this.send(shared);
      this.unsent.delete(id);
    }
    this.lastId = from;
    this.loaded = true;
    // Ready and never given out, or made ready while loading (a dependency's end read just now, say): shared now.
    const deferred = [...this.deferred];
    this.deferred.clear();
    for (const id of deferred) if (this.tasks.peek(id)?.state === 'ready') this.becameReady(id);
    this.tasks.lookAgain();
  }

  private async take(task: SharedTask): Promise<void> {
    if (this.shared.has(task.id)) return;
    // Counted as shared before it is taken in: its copy is not this hub's to share.
    this.shared.add(task.id);
    if (task.preferredAgent !== undefined) this.preferred.set(task.id, task.preferredAgent);
    const fresh = await this.tasks.importShared(task);
    // A copy that already ended here (before a restart, say) is not shared again.
    if (!fresh && !this.tasks.peek(task.id)) {
      this.shared.delete(task.id);
      this.preferred.delete(task.id);
    }
    // A new task is tried for at once, not at the next tick (one look for every copy read in one go).
    if (fresh && !this.tickSoon) {
      this.tickSoon = setTimeout(() => {
        this.tickSoon = null;
        this.tick();
      }, 0);
    }
  }

  private heard(id: string, hub: string, holder: { id: string; name: string; attempt: number } | null): void {
    if (holder === null || !this.tasks.peek(id)) this.heldThere.delete(id);
    else this.heldThere.set(id, { hub, holderId: holder.id, holder: holder.name, attempt: holder.attempt });
  }

  private endHere(id: string, end: TaskEnd): void {
    if (!this.tasks.peek(id)) return;
    this.endedElsewhere.add(id);
    this.tasks.endShared(id, end);
    // Not ended after all (it is held here, and the sweep ends it): the flag goes.
    if (this.tasks.peek(id)) this.endedElsewhere.delete(id);
  }

  private async follow(): Promise<void> {
    while (!this.stopped) {
      await new Promise((resolve) => setTimeout(resolve, TICK_MS / 2));
      if (!this.link.current.connected || !this.loaded) continue;
      try {
        const reply = await this.link.commands.xRead({ key: this.keys.taskChanges, id: this.lastId }, { COUNT: FOLLOW_COUNT });
        const streams = (reply ?? []) as Array<{ messages: Array<{ id: string; message: Record<string, string> }> }>;
        for (const stream of streams) {
          for (const entry of stream.messages) {
            this.lastId = entry.id;
            const event = JSON.parse(entry.message.event!) as TaskEvent;
            if (event.hub === this.hubId) continue;
            if (event.kind === 'created') await this.take(event.task);
            else if (event.kind === 'held') this.heard(event.id, event.hub, event.holder);
            else this.endHere(event.id, event.end);
          }
        }
      } catch {
        // Redis went away: reloaded when it is back.
      }
    }
  }

  private eval(script: string, keys: string[], args: string[]): Promise<unknown> {
    return this.link.commands.eval(script, { keys, arguments: args });
  }
}
