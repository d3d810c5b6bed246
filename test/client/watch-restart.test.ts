/**
 * `devenviro watch` across a hub restart: three real watcher processes (the CLI from source) stay up while the hub
 * process is stopped (SIGTERM) or killed (SIGKILL) and started again on the same port and data directory, and print
 * what is sent after the restart. Meanwhile another hub answers at the default address, as a user's everyday hub
 * would: a watcher that wandered there was refused its token and exited.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { DEFAULT_HUB_URL, HubClient, HubHttp, type AgentClient, type Message } from '../../src/client';
import { tempDir } from '../helpers';
import { freePort, sleep, startHub, startHubProcess, waitFor } from './hub';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CLI = path.join(ROOT, 'src/client/cli/main.ts');
/** How long the hub stays down: long enough for several reconnect attempts. */
const OUTAGE_MS = 1_500;

interface Watcher {
  name: string;
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** The bodies of the messages printed so far. */
  bodies(): unknown[];
  exited: Promise<number | null>;
}

/** `devenviro watch` as a user runs it: no --url and nothing in the environment, so it finds the hub by hub.json. */
function watch(name: string, project: string, dataDir: string): Watcher {
  const env = { ...process.env };
  for (const variable of ['DEVENVIRO_URL', 'DEVENVIRO_HOME', 'DEVENVIRO_AGENT', 'DEVENVIRO_TOKEN']) delete env[variable];
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'watch', '--as', name, '--project', project, '--data-dir', dataDir], { cwd: ROOT, env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  onTestFinished(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
  });
  return {
    name,
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    bodies: () =>
      stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => (JSON.parse(line) as Message).body),
    exited,
  };
}

/**
 * Makes sure something that is not the hub under test answers at the default address: a hub of its own, unless
 * one (say, the developer's) listens there already, which serves as well.
 */
async function strangerAtDefaultAddress(): Promise<void> {
  try {
    await startHub(tempDir(), { port: Number(new URL(DEFAULT_HUB_URL).port) });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
  }
}

async function registerAgents(url: string, dataDir: string, names: string[], project: string): Promise<AgentClient[]> {
  // persist: the credentials land where `devenviro watch --as NAME` looks for them.
  return Promise.all(names.map((name) => HubClient.register({ url, dataDir, name, project, persist: true })));
}

// Each watcher is a Node process compiling TypeScript, and the hub starts twice: allow for a busy machine.
describe('devenviro watch across a hub restart', { timeout: 180_000 }, () => {
  it.each(['SIGTERM', 'SIGKILL'] as const)('keeps three watchers running through a %s of the hub', async (signal) => {
    await strangerAtDefaultAddress();
    const dataDir = tempDir();
    const port = await freePort();
    let hub = await startHubProcess(dataDir, port);
    const names = ['alpha', 'beta', 'gamma'];
    const agents = await registerAgents(hub.url, dataDir, names, 'p');
    const sender = await HubClient.register({ url: hub.url, name: 'sender', project: 'p' });

    const watchers = names.map((name) => watch(name, 'p', dataDir));
    for (const watcher of watchers) await waitFor(() => watcher.stderr().includes(`Watching as ${watcher.name}`), `${watcher.name} to connect`, 60_000);
    for (const [i, agent] of agents.entries()) await sender.send(agent.id, `before the restart, ${names[i]}`);
    for (const [i, watcher] of watchers.entries()) await waitFor(() => watcher.bodies().includes(`before the restart, ${names[i]}`), `${watcher.name}'s first message`);

    await hub.kill(signal);
    for (const watcher of watchers) await waitFor(() => watcher.stderr().includes('reconnecting…'), `${watcher.name} to notice the hub is gone`);
    await sleep(OUTAGE_MS);
    hub = await startHubProcess(dataDir, port);

    for (const [i, agent] of agents.entries()) await sender.send(agent.id, `after the restart, ${names[i]}`);
    for (const [i, watcher] of watchers.entries()) {
      await waitFor(() => watcher.bodies().includes(`after the restart, ${names[i]}`) || watcher.child.exitCode !== null, `${watcher.name}'s message after the restart`, 30_000);
      expect(watcher.child.exitCode, `${watcher.name} exited:\n${watcher.stderr()}`).toBeNull();
      expect(watcher.bodies()).toEqual([`before the restart, ${names[i]}`, `after the restart, ${names[i]}`]);
      expect(watcher.stderr()).toContain(`Reconnected as ${watcher.name}`);
    }
    // Printed means acknowledged: nothing is left for the next watcher.
    for (const agent of agents) await waitFor(async () => (await agent.inbox()).messages.length === 0, `${agent.agent.name}'s acknowledgements`);

    for (const watcher of watchers) watcher.child.kill('SIGINT');
    expect(await Promise.all(watchers.map((watcher) => watcher.exited))).toEqual([0, 0, 0]);
    await hub.kill('SIGTERM');
  });

  it('still exits, saying so, when the agent is revoked after the restart', async () => {
    const dataDir = tempDir();
    const port = await freePort();
    let hub = await startHubProcess(dataDir, port);
    const [agent] = await registerAgents(hub.url, dataDir, ['delta'], 'p');
    const watcher = watch('delta', 'p', dataDir);
    await waitFor(() => watcher.stderr().includes('Watching as delta'), 'the watcher to connect', 60_000);

    await hub.kill('SIGTERM');
    await waitFor(() => watcher.stderr().includes('reconnecting…'), 'the watcher to notice the hub is gone');
    hub = await startHubProcess(dataDir, port);
    // Revoked as soon as the hub is back: refused on its reconnect, or closed with 4403 if it made it first.
    await new HubHttp(() => hub.url, hub.cockpitToken()).request('POST', `/agents/${agent!.id}/revoke`);

    expect(await watcher.exited).toBe(1);
    expect(watcher.stderr()).toMatch(/devenviro watch: .*revoked from the cockpit/);
    await hub.kill('SIGTERM');
  });
});
