/** A real hub in-process with a FileMailbox on its data directory, plus helpers for dropping and reading files. */
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { onTestFinished } from 'vitest';
import type { Message, RegisterResponse } from '../../src/shared/agent-protocol';
import type { TaskServerFrame } from '../../src/shared/task-protocol';
import { createApp, type App } from '../../src/main/app';
import type { Hub } from '../../src/main/hub';
import { defaultConfig } from '../../src/main/config/config';
import { FileMailbox, projectFolder, type AgentFile, type FileMailboxOptions } from '../../src/main/mailbox';
import { tempDir } from '../helpers';

export interface MailboxHub {
  app: App;
  hub: Hub;
  dataDir: string;
  url: string;
  root: string;
  mailbox: FileMailbox;
  logs: string[];
  /** Closes the mailbox (cleanly) and starts a new one on the same hub. */
  restartMailbox(): Promise<void>;
  api(route: string, init?: { method?: string; token?: string; body?: unknown }): Promise<{ status: number; body: any }>;
  register(name: string, project?: string): Promise<RegisterResponse>;
}

export async function startMailboxHub(
  options: { dataDir?: string; maxBytes?: number; bodyFileBytes?: number; mailbox?: Partial<FileMailboxOptions>; startMailbox?: boolean } = {},
): Promise<MailboxHub> {
  const dataDir = options.dataDir ?? tempDir();
  const config = { ...defaultConfig(), api: { host: '127.0.0.1', port: 0 } };
  if (options.maxBytes) config.messages = { ...config.messages, maxBytes: options.maxBytes };
  if (options.bodyFileBytes) config.messages = { ...config.messages, bodyFileBytes: options.bodyFileBytes };
  const app = createApp({ dataDir, runtime: 'headless', config, rendererDir: null });
  const { apiUrl } = await app.start();
  // Once app.ts starts a mailbox of its own, it is closed here: these tests drive one they can restart and watch.
  await (app.hub() as Partial<{ mailbox: FileMailbox }>).mailbox?.close();
  const logs: string[] = [];
  const make = () =>
    new FileMailbox({
      dataDir,
      registry: app.hub().registry,
      messaging: app.hub().messaging,
      reservations: app.hub().reservations,
      tasks: app.hub().tasks,
      maxFileBytes: config.messages.maxBytes + 64 * 1024,
      log: (line) => logs.push(line),
      ...options.mailbox,
    });
  let mailbox = make();
  // Task frames for agents without a socket go to this mailbox, as app.ts sends them to its own.
  app.hub().tasks.connectSockets((agentId, frame) => app.hub().realtime.sendTo(agentId, frame) || (frame.type.startsWith('task.') && mailbox.taskFrame(agentId, frame as TaskServerFrame)));
  // Registered after tempDir's cleanup, so it runs first: close the mailbox, stop the hub, then delete the folder.
  onTestFinished(async () => {
    await mailbox.close();
    await app.stop();
  });
  if (options.startMailbox !== false) await mailbox.start();

  const handle: MailboxHub = {
    app,
    hub: app.hub(),
    dataDir,
    url: apiUrl,
    root: path.join(dataDir, 'mailbox'),
    get mailbox() {
      return mailbox;
    },
    logs,
    async restartMailbox() {
      await mailbox.close();
      mailbox = make();
      await mailbox.start();
    },
    async api(route, init = {}) {
      const response = await fetch(`${apiUrl}/api/v1${route}`, {
        method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
        headers: {
          ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
        },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : null };
    },
    async register(name, project = 'test') {
      const { status, body } = await handle.api('/agents/register', { body: { name, project } });
      if (status !== 201 && status !== 200) throw new Error(`register ${name}: ${status} ${JSON.stringify(body)}`);
      return body as RegisterResponse;
    },
  };
  return handle;
}

export function agentDir(root: string, project: string, name: string): string {
  return path.join(root, projectFolder(project), name);
}

/** Writes a file the way agents are told to: under a .tmp name, then renamed into place. */
export function drop(dir: string, name: string, content: unknown): string {
  const file = path.join(dir, name);
  writeFileSync(`${file}.tmp`, typeof content === 'string' ? content : JSON.stringify(content));
  renameSync(`${file}.tmp`, file);
  return file;
}

/** Registers an agent through `_register/` and waits for its agent.json. */
export async function registerByFile(root: string, name: string, project = 'test', extra: Record<string, unknown> = {}): Promise<AgentFile> {
  const agentFile = path.join(agentDir(root, project, name), 'agent.json');
  const before = existsSync(agentFile) ? readFileSync(agentFile, 'utf8') : undefined;
  drop(path.join(root, '_register'), `${project}-${name}-${Date.now()}.json`.replace(/[^A-Za-z0-9._-]/g, '_'), { name, project, ...extra });
  await until(() => existsSync(agentFile) && readFileSync(agentFile, 'utf8') !== before, 10_000, `${name}'s agent.json`);
  return JSON.parse(readFileSync(agentFile, 'utf8')) as AgentFile;
}

/** The delivered message files of an inbox folder (not temporaries). */
export function inboxFiles(dir: string): string[] {
  if (!existsSync(path.join(dir, 'inbox'))) return [];
  return readdirSync(path.join(dir, 'inbox'))
    .filter((name) => name.endsWith('.json') && !name.startsWith('.'))
    .sort();
}

export function readInbox(dir: string): Message[] {
  return inboxFiles(dir).map((name) => JSON.parse(readFileSync(path.join(dir, 'inbox', name), 'utf8')) as Message);
}

export function listing(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

export async function until(condition: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
