/**
 * A holder's task reports (progress, complete, fail) over the realtime socket while it is open: each frame carries a
 * ref, and the hub answers `result` (the task) or `error` with that ref once the change is committed, without an
 * HTTP request each. A report whose socket drops before its answer goes again over HTTP (task-calls.ts says how a
 * completion the hub had already committed is then recognised).
 */
import type { Task } from '../shared/task-protocol';
import { HubClientError } from './http';

/** A task report frame, without its ref. */
export type TaskReportFrame = { type: 'task.progress' | 'task.complete' | 'task.fail'; taskId: string } & Record<string, unknown>;

interface Waiting {
  resolve: (task: Task) => void;
  reject: (error: Error) => void;
  /** The same report over HTTP, if the socket drops first. */
  overHttp: () => Promise<Task>;
}

export class SocketReports {
  private readonly waiting = new Map<string, Waiting>();
  private nextRef = 1;

  /** Sends the report as a frame (`write` returns false when no socket is open: then over HTTP at once). */
  send(frame: TaskReportFrame, write: (text: string) => boolean, overHttp: () => Promise<Task>): Promise<Task> {
    const ref = `task-${this.nextRef++}`;
    return new Promise<Task>((resolve, reject) => {
      this.waiting.set(ref, { resolve, reject, overHttp });
      if (!write(JSON.stringify({ ...frame, ref }))) this.retry(ref);
    });
  }

  /** The hub's `result` for a ref; false when it is not one of these reports. */
  answered(ref: string, result: unknown): boolean {
    const waiting = this.waiting.get(ref);
    if (!waiting) return false;
    this.waiting.delete(ref);
    waiting.resolve(result as Task);
    return true;
  }

  /** The hub's `error` for a ref; false when it is not one of these reports. */
  refused(ref: string, error: HubClientError): boolean {
    const waiting = this.waiting.get(ref);
    if (!waiting) return false;
    this.waiting.delete(ref);
    // A hub shutting down did not take it: the same report over HTTP (which waits for the hub to answer).
    if (error.code === 'closing') this.settle(waiting);
    else waiting.reject(error);
    return true;
  }

  /** The socket closed: every report still waiting for its answer goes over HTTP. */
  dropped(): void {
    for (const ref of [...this.waiting.keys()]) this.retry(ref);
  }

  private retry(ref: string): void {
    const waiting = this.waiting.get(ref);
    if (!waiting) return;
    this.waiting.delete(ref);
    this.settle(waiting);
  }

  private settle(waiting: Waiting): void {
    waiting.overHttp().then(waiting.resolve, (error: unknown) => waiting.reject(error instanceof Error ? error : new HubClientError(0, 'failed', String(error))));
  }
}
