/**
 * Agents for the tasks benchmark, in a process of their own (as real agents are): each holds a realtime socket,
 * takes `slots` pushed tasks at once and completes every offer, over the socket (a `task.complete` frame, answered
 * once committed) or over HTTP (`via`), at once or after `workMs` of "work". Driven over IPC by TaskAgents
 * (below, the parent's side); with `report`, it tells the parent when each offer was read, on the monotonic clock
 * both processes share.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import type { ServerFrame } from '../../src/shared/agent-protocol';
import { stopChild, track } from './children';
import { repoRoot } from './paths';

export interface TaskAgentCredentials {
  id: string;
  token: string;
}

/** How agents complete their tasks: a `task.complete` frame on their socket, or POST /tasks/{id}/complete. */
export type CompleteVia = 'socket' | 'http';

type Command = { cmd: 'connect'; url: string; agents: TaskAgentCredentials[]; slots: number; report: boolean; workMs: number; via: CompleteVia } | { cmd: 'close' };
type Reply = { ev: 'ready' } | { ev: 'connected' } | { ev: 'offered'; taskId: string; atNs: string } | { ev: 'closed' } | { ev: 'failed'; error: string };

/** The parent's side: start the process, connect the agents, hear of offers, close. */
export class TaskAgents {
  private readonly child: ChildProcess;
  private readonly waiting = new Map<string, { resolve: () => void; reject: (error: Error) => void }>();

  private constructor(private readonly onOffered: (taskId: string, atNs: bigint) => void) {
    this.child = track(fork(fileURLToPath(import.meta.url), ['--child'], { cwd: repoRoot, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    this.child.on('message', (reply: Reply) => {
      if (reply.ev === 'offered') return this.onOffered(reply.taskId, BigInt(reply.atNs));
      if (reply.ev === 'failed') {
        for (const waiter of this.waiting.values()) waiter.reject(new Error(`task agents failed: ${reply.error}`));
        this.waiting.clear();
        return;
      }
      const waiter = this.waiting.get(reply.ev);
      this.waiting.delete(reply.ev);
      waiter?.resolve();
    });
    this.child.once('exit', (code) => {
      for (const waiter of this.waiting.values()) waiter.reject(new Error(`task agents exited (${code})`));
      this.waiting.clear();
    });
  }

  /**
   * Starts the process and connects the agents; each works `workMs` on a task before completing it; `onOffered`
   * hears of each offer read when `report` is set.
   */
  static async start(
    url: string,
    agents: TaskAgentCredentials[],
    options: { slots: number; workMs?: number; report?: boolean; via?: CompleteVia },
    onOffered: (taskId: string, atNs: bigint) => void = () => undefined,
  ): Promise<TaskAgents> {
    const pool = new TaskAgents(onOffered);
    await pool.expect('ready');
    const connected = pool.expect('connected');
    pool.child.send({ cmd: 'connect', url, agents, slots: options.slots, report: options.report ?? false, workMs: options.workMs ?? 0, via: options.via ?? 'socket' } satisfies Command);
    await connected;
    return pool;
  }

  async close(): Promise<void> {
    const closed = this.expect('closed').catch(() => undefined);
    this.child.send({ cmd: 'close' } satisfies Command);
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 5000))]);
    await stopChild(this.child, 2000);
  }

  private expect(ev: string): Promise<void> {
    return new Promise((resolve, reject) => this.waiting.set(ev, { resolve, reject }));
  }
}

// --- The child ------------------------------------------------------------------------------------------------------

async function child(): Promise<void> {
  const sockets: WebSocket[] = [];
  const send = (reply: Reply) => process.send!(reply);
  process.on('disconnect', () => process.exit(0));
  process.on('message', (command: Command) => {
    void (async () => {
      if (command.cmd === 'close') {
        for (const ws of sockets) ws.close();
        send({ ev: 'closed' });
        return;
      }
      const { url, agents, slots, report, workMs, via } = command;
      const complete = async (agent: TaskAgentCredentials, ws: WebSocket, taskId: string) => {
        if (workMs > 0) await new Promise((resolve) => setTimeout(resolve, workMs));
        if (via === 'socket') {
          // The answer (`result`, or `error` with this ref) is read in the socket's message handler.
          ws.send(JSON.stringify({ type: 'task.complete', ref: taskId, taskId, result: { text: 'ok' } }));
          return;
        }
        const response = await fetch(`${url}/api/v1/tasks/${taskId}/complete`, {
          method: 'POST',
          headers: { authorization: `Bearer ${agent.token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ text: 'ok' }),
        });
        await response.arrayBuffer();
        if (response.status !== 200) console.error(`complete ${taskId}: ${response.status}`);
      };
      for (const agent of agents) {
        const ws = new WebSocket(`${url.replace('http', 'ws')}/api/v1/agents/${agent.id}/realtime`, { headers: { authorization: `Bearer ${agent.token}` } });
        await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
        ws.on('message', (data) => {
          const at = process.hrtime.bigint();
          const frame = JSON.parse(data.toString()) as ServerFrame;
          if (frame.type === 'error') console.error(`agent ${agent.id}: ${frame.code}: ${frame.message}`);
          if (frame.type !== 'task.offered') return;
          if (report) send({ ev: 'offered', taskId: frame.task.id, atNs: at.toString() });
          void complete(agent, ws, frame.task.id).catch((error: unknown) => console.error(`complete ${frame.task.id}:`, error));
        });
        ws.send(JSON.stringify({ type: 'tasks.ready', slots }));
        sockets.push(ws);
      }
      send({ ev: 'connected' });
    })().catch((error: unknown) => send({ ev: 'failed', error: (error as Error).stack ?? String(error) }));
  });
  send({ ev: 'ready' });
}

if (process.argv.includes('--child') && path.resolve(process.argv[1] ?? '') === fileURLToPath(import.meta.url)) void child();
