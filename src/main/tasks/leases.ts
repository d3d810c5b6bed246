/**
 * The lease sweep, every SWEEP_MS: ends attempts whose holder went silent past the lease or ran past the timeout (the
 * holder is told if it can hear), and readies tasks whose retry backoff has passed.
 */
import type { TaskCore } from './core';
import type { TaskLifecycle } from './lifecycle';
import { isHeldState, type OpenTask } from './open-tasks';
import { iso } from './store';

export const SWEEP_MS = 250;

const CLAIM_LOST = 'this hub could not renew its claim on the task in the cluster (Redis out of reach), so another hub may give it out';

export class LeaseSweep {
  private readonly timer: NodeJS.Timeout;

  /** `lookAgain` asks for a dispatch pass when pushed or pulled work may be waiting for an agent that freed up. */
  constructor(
    private readonly core: TaskCore,
    private readonly lifecycle: TaskLifecycle,
    private readonly lookAgain: () => void,
    sweepMs = SWEEP_MS,
  ) {
    this.timer = setInterval(() => this.sweep(), sweepMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sweep(): void {
    const { core } = this;
    if (core.closed || !core.db.open) return;
    const now = Date.now();
    const lapsed: Array<[OpenTask, 'lease_lost' | 'timed_out', string, boolean]> = [];
    const due: OpenTask[] = [];
    for (const task of core.open.values()) {
      if (task.state === 'pending' && task.notBefore !== null && task.notBefore <= now) due.push(task);
      if (task.holderId === null || !isHeldState(task.state)) continue;
      // First: a hub without the claim decides nothing about the task's end, the claim's holder does.
      if (core.claimLost(task.id, now)) {
        lapsed.push([task, 'lease_lost', CLAIM_LOST, true]);
        continue;
      }
      if (task.heldSince !== null && now - task.heldSince >= task.timeoutSeconds * 1000) {
        lapsed.push([task, 'timed_out', `attempt ${task.attempt} ran past the task's timeout of ${task.timeoutSeconds} s`, false]);
        continue;
      }
      if (core.leaseKept(task.id, now)) continue; // its holder waits for its subtasks
      const silence = core.silenceOf(task.holderId, now);
      if (silence > task.leaseSeconds * 1000) {
        const holder = core.registry.find(task.holderId);
        const why = holder?.revokedAt ? 'its holder was revoked' : `its holder ${holder?.name ?? task.holderId} was not heard from for ${Math.round(silence / 1000)} s (lease ${task.leaseSeconds} s)`;
        lapsed.push([task, 'lease_lost', why, false]);
      }
    }
    for (const [task, code, message, claimLost] of lapsed) {
      const holder = task.holderId!;
      try {
        core.now(() => {
          // A lost claim puts the copy back to ready whatever its attempts: another hub may be giving the task out.
          const row = this.lifecycle.endHeld(task, code, { code, message }, true, now, claimLost);
          core.afterCommit(() => core.send(holder, { type: 'task.cancelled', taskId: task.id, state: row.state, reason: `${code}: ${message}; your result will not be taken` }));
        });
      } catch {
        // Its holder reported meanwhile: the lease was not lapsed after all.
      }
    }
    if (due.length > 0) {
      core.now(() => {
        for (const task of due) if (core.store.unmetDependencies(task.id) === 0) core.change(task, 'pending', 'ready', { ready_since: iso(now), not_before: null }, now, false);
      });
    }
    this.lookAgain();
  }
}
