/**
 * The `devenviro` command line, run as a child process from its source (node --import tsx src/client/cli/main.ts), so
 * the test needs no build; bin/devenviro.mjs runs the same module built into out/main/cli.js.
 */
import { statSync } from 'node:fs';
import { describe, expect, it, onTestFinished } from 'vitest';
import { HubClient, type Message } from '../../src/client';
import { credentialsFile, loadCredentials } from '../../src/client/credentials';
import { tempDir } from '../helpers';
import { cleanEnv, runCli, startCli } from './cli-run';
import { startHub, waitFor } from './hub';

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

const start = (args: string[], env: NodeJS.ProcessEnv = cleanEnv()) => startCli(args, { env });
const devenviro = (args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}) => runCli(args, options);

// Each command is a fresh Node process compiling TypeScript: allow for a busy machine.
describe('devenviro', { timeout: 120_000 }, () => {
  it('registers agents, sends, lists the inbox and the agents', async () => {
    const dataDir = tempDir();
    await startHub(dataDir);
    // No --url: the CLI finds the hub through <data-dir>/hub.json.
    const dd = ['--data-dir', dataDir];

    const alice = await devenviro(['register', '--name', 'alice', '--capability', 'review', '--capability', 'tests', ...dd]);
    expect(alice.stderr).toContain('Registered alice');
    expect(alice.code).toBe(0);
    const aliceId = alice.stdout.trim();
    expect(aliceId).toMatch(ULID);
    const file = credentialsFile(dataDir, 'default', 'alice');
    expect(statSync(file).mode & 0o777).toBe(0o600);

    // Registering again with the saved credentials keeps the identity.
    const again = await devenviro(['register', '--name', 'alice', ...dd]);
    expect(again).toMatchObject({ code: 0, stdout: `${aliceId}\n` });
    const bob = await devenviro(['register', '--name', 'bob', '--tier', 'memory', ...dd, '--json']);
    expect(bob.code).toBe(0);
    const bobId = (JSON.parse(bob.stdout) as { agent: { id: string; tier: string } }).agent.id;

    // Two saved agents: a command must say which.
    const ambiguous = await devenviro(['inbox', ...dd]);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toContain('choose one with --as NAME');

    const sent = await devenviro(['send', 'bob', 'hello bob', '--subject', 'greeting', '--as', 'alice', ...dd]);
    expect(sent.code).toBe(0);
    const messageId = sent.stdout.trim();
    expect(messageId).toMatch(ULID);
    const fromStdin = await devenviro(['send', bobId, '-', '--json-body', '--importance', 'high', '--as', 'alice', ...dd, '--json'], {
      input: '{"build": 42, "green": true}',
    });
    expect(fromStdin.code).toBe(0);
    expect(JSON.parse(fromStdin.stdout)).toMatchObject({ recipients: 1, duplicate: false });

    const inbox = await devenviro(['inbox', '--as', 'bob', ...dd, '--json']);
    expect(inbox.code).toBe(0);
    const messages = JSON.parse(inbox.stdout) as Message[];
    expect(messages.map((m) => [m.from, m.body])).toEqual([
      [aliceId, 'hello bob'],
      [aliceId, { build: 42, green: true }],
    ]);
    expect(messages[0]).toMatchObject({ id: messageId, subject: 'greeting' });

    const readable = await devenviro(['inbox', '--as', 'bob', '--ack', ...dd]);
    expect(readable.code).toBe(0);
    expect(readable.stdout).toContain('alice → bob');
    expect(readable.stdout).toContain('hello bob');
    expect(readable.stderr).toContain('Acknowledged 2 messages');
    const empty = await devenviro(['inbox', '--as', 'bob', ...dd, '--json']);
    expect(JSON.parse(empty.stdout)).toEqual([]);

    const agents = await devenviro(['agents', '--as', 'bob', ...dd]);
    expect(agents.code).toBe(0);
    const lines = agents.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+PROJECT\s+TIER\s+STATUS/);
    expect(lines.find((line) => line.startsWith('alice'))).toContain(aliceId);
    expect(lines.find((line) => line.startsWith('bob'))).toMatch(/memory/);
    const agentsJson = await devenviro(['agents', '--json', ...dd, '--as', 'alice']);
    expect((JSON.parse(agentsJson.stdout) as Array<{ name: string }>).map((a) => a.name)).toEqual(expect.arrayContaining(['alice', 'bob']));

    // The environment names the agent too.
    const viaEnv = await devenviro(['status', 'busy', '--activity', 'reviewing', ...dd, '--json'], {
      env: cleanEnv({ DEVENVIRO_AGENT: 'alice', DEVENVIRO_TOKEN: loadCredentials(dataDir, 'default', 'alice')!.token }),
    });
    expect(viaEnv.code).toBe(0);
    expect(JSON.parse(viaEnv.stdout)).toMatchObject({ name: 'alice', status: 'busy', activity: 'reviewing' });
  });

  it('watch prints each message as one JSON line, acknowledges it, and stops on SIGINT', async () => {
    const dataDir = tempDir();
    const hub = await startHub(dataDir);
    const dd = ['--data-dir', dataDir];
    expect((await devenviro(['register', '--name', 'watcher', ...dd])).code).toBe(0);
    const sender = await HubClient.register({ url: hub.url, name: 'sender' });
    const watcherId = (await sender.agents()).find((a) => a.name === 'watcher')!.id;
    const early = await sender.send(watcherId, 'sent before watching');

    const watch = start(['watch', ...dd]);
    onTestFinished(() => void watch.kill('SIGKILL'));
    let stdout = '';
    let stderr = '';
    watch.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    watch.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => watch.on('close', resolve));

    await waitFor(() => stderr.includes('Watching as watcher'), 'watch to connect', 20_000);
    const live = await sender.send(watcherId, { kind: 'live', n: 1 }, { subject: 'pushed' });
    await waitFor(() => stdout.split('\n').filter(Boolean).length === 2, 'two lines of output');
    const lines = stdout.trim().split('\n').map((line) => JSON.parse(line) as Message);
    expect(lines.map((m) => m.id)).toEqual([early.id, live.id]);
    expect(lines[1]).toMatchObject({ from: sender.id, subject: 'pushed', body: { kind: 'live', n: 1 } });

    // Printed, then acknowledged.
    const watcher = await HubClient.attach({ url: hub.url, id: watcherId, token: loadCredentials(dataDir, 'default', 'watcher')!.token });
    await waitFor(async () => (await watcher.inbox()).messages.length === 0, 'the acknowledgements');

    watch.kill('SIGINT');
    expect(await exited).toBe(0);
    await sender.close();
  });

  it('says what is wrong, on stderr, with a non-zero exit code', async () => {
    const dataDir = tempDir();
    const dd = ['--data-dir', dataDir];

    const help = await devenviro(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: devenviro <command>');
    const sendHelp = await devenviro(['send', '--help']);
    expect(sendHelp.stdout).toContain('Usage: devenviro send <to> <text|->');

    const unknown = await devenviro(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');

    const badOption = await devenviro(['inbox', '--bogus', ...dd]);
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toContain("Unknown option '--bogus'");

    const noIdentity = await devenviro(['inbox', ...dd]);
    expect(noIdentity.code).toBe(2);
    expect(noIdentity.stderr).toContain('no agent identity');

    const nobodyHome = await devenviro(['register', '--name', 'x', '--url', 'http://127.0.0.1:9', ...dd]);
    expect(nobodyHome.code).toBe(1);
    expect(nobodyHome.stderr).toContain('cannot reach the hub at http://127.0.0.1:9');

    await startHub(dataDir);
    expect((await devenviro(['register', '--name', 'solo', ...dd])).code).toBe(0);
    const noSuchAgent = await devenviro(['send', 'nobody', 'hi', ...dd]);
    expect(noSuchAgent.code).toBe(2);
    expect(noSuchAgent.stderr).toContain('no agent named nobody in project default');
    const badStatus = await devenviro(['status', 'sleeping', ...dd]);
    expect(badStatus.code).toBe(2);
    const unknownId = await devenviro(['send', '01ARZ3NDEKTSV4RRFFQ69G5FAV', 'hi', ...dd]);
    expect(unknownId.code).toBe(1);
    expect(unknownId.stderr).toContain('404 not_found');
  });

  it('stores, extracts and searches memories', async () => {
    const dataDir = tempDir();
    await startHub(dataDir);
    const dd = ['--data-dir', dataDir];
    expect((await devenviro(['register', '--name', 'scribe', '--project', 'demo', ...dd])).code).toBe(0);
    const as = ['--as', 'scribe', '--project', 'demo', ...dd];

    const stored = await devenviro(['memory', 'store', 'The staging database runs on port 5433', '--kind', 'fact', '--tag', 'db', ...as]);
    expect(stored.code).toBe(0);
    expect(stored.stdout.trim()).toMatch(ULID);
    const again = await devenviro(['memory', 'store', 'the staging database runs on port 5433!', '--kind', 'fact', ...as]);
    expect(again.stderr).toContain('reinforced');

    const transcript = 'User: the build fails\nAssistant: Error: Cannot find module x\nWe decided to use pnpm.\nTODO: add a lockfile check\n';
    const extracted = await devenviro(['memory', 'extract', '-', '--json', ...as], { input: transcript });
    expect(extracted.code).toBe(0);
    const kinds = (JSON.parse(extracted.stdout) as { stored: Array<{ memory: { kind: string } }> }).stored.map((s) => s.memory.kind);
    expect(kinds).toEqual(expect.arrayContaining(['document', 'error', 'decision', 'task']));

    const search = await devenviro(['memory', 'search', 'which port does the staging db use', '--json', ...as]);
    const result = JSON.parse(search.stdout) as { hits: Array<{ memory: { text: string; project: string } }> };
    expect(result.hits[0]!.memory).toMatchObject({ text: 'The staging database runs on port 5433', project: 'demo' });

    const wrong = await devenviro(['memory', 'forget', ...as]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('store, extract or search');
    const badKind = await devenviro(['memory', 'store', 'x', '--kind', 'gossip', ...as]);
    expect(badKind.code).toBe(2);
  });
});
