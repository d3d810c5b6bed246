/** The parent's side of client-worker.ts: start it, and ask it to connect, send, count and report. */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { AgentCredentials } from './agents';
import { stopChild, track } from './children';
import { benchDir, repoRoot } from './paths';
import type { OpenLoopResult } from './traffic';

export type WorkerCommand =
  | { cmd: 'connect'; wsBase: string; agents: AgentCredentials[]; concurrency: number }
  | { cmd: 'load'; recipients: string[]; ratePerSec: number; durationMs: number; bodyBytes: number; seed: number }
  | { cmd: 'counts' }
  | { cmd: 'collect' }
  | { cmd: 'close' };

export type WorkerReply =
  | { ev: 'ready' }
  | { ev: 'connected'; ms: number; count: number }
  | { ev: 'loaded'; result: OpenLoopResult }
  | { ev: 'counts'; delivered: number; errors: number }
  | { ev: 'collected'; delivery: number[]; durable: number[]; eldP99Ms: number | null; eldMaxMs: number | null }
  | { ev: 'closed' }
  | { ev: 'failed'; error: string };

type ReplyOf<E extends WorkerReply['ev']> = Extract<WorkerReply, { ev: E }>;

export class ClientWorker {
  private readonly child: ChildProcess;
  private waiting: Array<{ ev: string; resolve(reply: WorkerReply): void; reject(error: Error): void }> = [];

  private constructor() {
    this.child = track(
      fork(path.join(benchDir, 'lib/client-worker.ts'), [], { cwd: repoRoot, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
    );
    this.child.on('message', (reply: WorkerReply) => {
      if (reply.ev === 'failed') {
        const error = new Error(`client worker failed: ${reply.error}`);
        this.waiting.splice(0).forEach((w) => w.reject(error));
        return;
      }
      const index = this.waiting.findIndex((w) => w.ev === reply.ev);
      if (index >= 0) this.waiting.splice(index, 1)[0]!.resolve(reply);
    });
    this.child.once('exit', (code) => {
      const error = new Error(`client worker exited (${code})`);
      this.waiting.splice(0).forEach((w) => w.reject(error));
    });
  }

  /** Resolves once the worker listens for commands (commands sent earlier would be lost). */
  static async start(): Promise<ClientWorker> {
    const worker = new ClientWorker();
    await worker.expect('ready');
    return worker;
  }

  get pid(): number {
    return this.child.pid!;
  }

  request<E extends WorkerReply['ev']>(command: WorkerCommand, ev: E): Promise<ReplyOf<E>> {
    const reply = this.expect(ev);
    this.child.send(command);
    return reply;
  }

  private expect<E extends WorkerReply['ev']>(ev: E): Promise<ReplyOf<E>> {
    return new Promise((resolve, reject) => this.waiting.push({ ev, resolve: resolve as (reply: WorkerReply) => void, reject }));
  }

  async close(): Promise<void> {
    try {
      await Promise.race([this.request({ cmd: 'close' }, 'closed'), new Promise((resolve) => setTimeout(resolve, 2000))]);
    } catch {
      // already gone
    }
    await stopChild(this.child, 2000);
  }
}
