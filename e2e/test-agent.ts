/**
 * A real agent for end-to-end tests: registers over HTTP and holds the realtime WebSocket, exactly as an agent
 * process would, so the cockpit is tested against genuine traffic.
 */
import type { Page } from '@playwright/test';
import WebSocket from 'ws';
import type { RunningHub } from './hub';

export interface ReceivedMessage {
  id: string;
  from: string;
  to: { type: string; id?: string; name?: string };
  threadId: string;
  subject: string | null;
  body: unknown;
  importance: string;
}

/** A task as an offer carries it (the fields the tests read). */
export interface OfferedTask {
  id: string;
  title: string;
  stepId: string | null;
  workflowId: string | null;
  input?: unknown;
}

export class TestAgent {
  readonly received: ReceivedMessage[] = [];
  /** Tasks the hub offered this agent (after `takeTasks`), in order. */
  readonly offered: OfferedTask[] = [];
  /** Resolves with the close code once the hub (or the test) closes the socket. */
  readonly closed: Promise<{ code: number; reason: string }>;
  private nextRef = 1;
  private readonly waiting = new Map<string, { resolve(result: any): void; reject(error: Error): void }>();
  private readonly messageWaiters = new Set<() => void>();

  private constructor(
    readonly hub: RunningHub,
    readonly id: string,
    readonly name: string,
    readonly project: string,
    readonly token: string,
    private readonly socket: WebSocket,
  ) {
    this.closed = new Promise((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.type === 'message') {
        this.received.push(frame.message);
        this.messageWaiters.forEach((wake) => wake());
      } else if (frame.type === 'task.offered') {
        this.offered.push(frame.task);
        this.messageWaiters.forEach((wake) => wake());
      } else if (frame.type === 'sent' || (frame.type === 'error' && frame.ref)) {
        const waiter = this.waiting.get(frame.ref);
        this.waiting.delete(frame.ref);
        if (frame.type === 'sent') waiter?.resolve(frame.result);
        else waiter?.reject(new Error(`${frame.code}: ${frame.message}`));
      }
    });
  }

  static async connect(
    hub: RunningHub,
    { name, project = 'e2e', tier = 'development', capabilities }: { name: string; project?: string; tier?: string; capabilities?: string[] },
  ): Promise<TestAgent> {
    const response = await fetch(`${hub.baseUrl}/api/v1/agents/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, project, tier, ...(capabilities && { capabilities }) }),
    });
    if (!response.ok) throw new Error(`register ${name}: ${response.status} ${await response.text()}`);
    const { agent, token } = (await response.json()) as { agent: { id: string }; token: string };
    const url = `${hub.baseUrl.replace(/^http/, 'ws')}/api/v1/agents/${agent.id}/realtime`;
    const socket = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.on('message', function onWelcome(data) {
        if (JSON.parse(data.toString()).type === 'welcome') {
          socket.off('message', onWelcome);
          resolve();
        }
      });
    });
    return new TestAgent(hub, agent.id, name, project, token, socket);
  }

  /** Sends a message and resolves once the hub says it is durable. */
  send(to: TestAgent | { type: 'topic'; name: string } | { type: 'broadcast' }, body: unknown, extra: Record<string, unknown> = {}): Promise<{ id: string; threadId: string; recipients: number }> {
    const ref = String(this.nextRef++);
    const recipient = to instanceof TestAgent ? { type: 'agent', id: to.id } : to;
    return new Promise((resolve, reject) => {
      this.waiting.set(ref, { resolve, reject });
      this.socket.send(JSON.stringify({ type: 'send', ref, message: { to: recipient, body, ...extra } }));
    });
  }

  /** Fires `count` sends without waiting between them; resolves when all are durable. */
  async burst(to: TestAgent, count: number, body: (i: number) => string = (i) => `burst message ${i}`): Promise<void> {
    await Promise.all(Array.from({ length: count }, (_, i) => this.send(to, body(i))));
  }

  setStatus(status: 'online' | 'idle' | 'busy' | 'waiting', activity?: string): void {
    this.socket.send(JSON.stringify({ type: 'status', status, activity }));
  }

  async waitForMessage(predicate: (message: ReceivedMessage) => boolean, timeoutMs = 10_000): Promise<ReceivedMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received.find(predicate);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name} did not receive the expected message within ${timeoutMs} ms (got ${this.received.length})`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.messageWaiters.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.messageWaiters.add(wake);
      });
    }
  }

  /** Takes up to `slots` pushed tasks at once from now on (`task.offered` frames land in `offered`). */
  takeTasks(slots: number): void {
    this.socket.send(JSON.stringify({ type: 'tasks.ready', slots }));
  }

  /** Waits for an offered task that matches (one already offered counts). */
  async waitForTask(predicate: (task: OfferedTask) => boolean, timeoutMs = 15_000): Promise<OfferedTask> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.offered.find(predicate);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name} was not offered the expected task within ${timeoutMs} ms (offered: ${this.offered.map((t) => t.stepId ?? t.title).join(', ')})`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.messageWaiters.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.messageWaiters.add(wake);
      });
    }
  }

  /** Completes a task it holds (POST /api/v1/tasks/{id}/complete) with a JSON result. */
  async completeTask(id: string, json: unknown): Promise<void> {
    const response = await fetch(`${this.hub.baseUrl}/api/v1/tasks/${id}/complete`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` },
      body: JSON.stringify({ json }),
    });
    if (!response.ok) throw new Error(`complete ${id}: ${response.status} ${await response.text()}`);
  }

  /** Fails a task it holds (POST /api/v1/tasks/{id}/fail); `retry: false` ends it failed at once. */
  async failTask(id: string, message: string, retry = false): Promise<void> {
    const response = await fetch(`${this.hub.baseUrl}/api/v1/tasks/${id}/fail`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` },
      body: JSON.stringify({ message, retry }),
    });
    if (!response.ok) throw new Error(`fail ${id}: ${response.status} ${await response.text()}`);
  }

  /** POST /api/v1/memory/store with this agent's token. */
  async storeMemory(text: string, kind = 'note', extra: Record<string, unknown> = {}): Promise<any> {
    const response = await fetch(`${this.hub.baseUrl}/api/v1/memory/store`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` },
      body: JSON.stringify({ text, kind, ...extra }),
    });
    if (!response.ok) throw new Error(`memory store: ${response.status} ${await response.text()}`);
    return response.json();
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  close(): void {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) this.socket.close();
  }
}

/** Collects console errors and uncaught page errors (a CSP violation shows up as a console error). */
export function watchConsole(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  return problems;
}

/** Opens the cockpit on a view and waits until it is connected. */
export async function openCockpit(page: Page, hub: RunningHub, view: string): Promise<void> {
  await page.goto(`${hub.cockpitUrl}#/${view}`);
  await page.getByTestId('connection').filter({ hasText: /^connected$/ }).waitFor();
}
