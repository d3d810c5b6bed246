/**
 * `devenviro guard`: the pre-commit hook in a real temporary git repository, committing as one agent while another
 * holds files, against a real hub (and with it stopped).
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HubClient } from '../../src/client';
import { tempDir } from '../helpers';
import { cleanEnv, runCli } from './cli-run';
import { startHub } from './hub';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function git(repo: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile('git', args, { cwd: repo, env: cleanEnv(env) }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function newRepo(): Promise<string> {
  const repo = tempDir('devenviro-guard-');
  await git(repo, ['init', '-q']);
  await git(repo, ['config', 'user.name', 'Test']);
  await git(repo, ['config', 'user.email', 'test@example.com']);
  mkdirSync(path.join(repo, 'src', 'auth'), { recursive: true });
  return repo;
}

async function commits(repo: string): Promise<number> {
  const log = await git(repo, ['rev-list', '--count', 'HEAD']);
  return log.code === 0 ? Number(log.stdout.trim()) : 0;
}

// Every commit runs the hook, a fresh Node process compiling TypeScript: allow for a busy machine.
describe('devenviro guard', { timeout: 180_000 }, () => {
  it("refuses a commit touching another agent's exclusive files, naming holder, files and expiry; allows it after release", async () => {
    const dataDir = tempDir();
    const hub = await startHub(dataDir);
    const alice = await HubClient.register({ name: 'alice', project: 'shop', url: hub.url, dataDir, persist: true });
    await HubClient.register({ name: 'bob', project: 'shop', url: hub.url, dataDir, persist: true });
    const repo = await newRepo();

    // An existing pre-commit hook is kept: it runs first, and can still stop the commit itself.
    const hooks = path.join(repo, '.git', 'hooks');
    const marker = path.join(tempDir(), 'earlier-hook-ran');
    const earlier = `#!/bin/sh\necho ran >> '${marker}'\n[ -e "$(git rev-parse --show-toplevel)/STOP" ] && exit 7\nexit 0\n`;
    writeFileSync(path.join(hooks, 'pre-commit'), earlier);
    chmodSync(path.join(hooks, 'pre-commit'), 0o755);

    // The hub is named by --url so that, once stopped, nothing else answers in its place.
    const installed = await runCli(['guard', 'install', '--as', 'bob', '--project', 'shop', '--data-dir', dataDir, '--url', hub.url], { cwd: path.join(repo, 'src') });
    expect(installed.stderr).toContain(`Installed the devenviro guard: ${path.join(hooks, 'pre-commit')}`);
    expect(installed.stderr).toContain('pre-commit.devenviro-chained');
    expect(installed.code).toBe(0);
    expect(readFileSync(path.join(hooks, 'pre-commit.devenviro-chained'), 'utf8')).toBe(earlier);
    expect(readFileSync(path.join(hooks, 'pre-commit'), 'utf8')).toContain('devenviro guard');

    const [lease] = (await alice.reserve(['src/auth/**'], { reason: 'auth refactor', ttlSeconds: 1800 })).reservations;
    writeFileSync(path.join(repo, 'src', 'auth', 'login.ts'), 'export const login = 1;\n');
    writeFileSync(path.join(repo, 'README.md'), '# shop\n');
    await git(repo, ['add', 'src/auth/login.ts', 'README.md']);

    const refused = await git(repo, ['commit', '-q', '-m', 'login']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('commit refused');
    expect(refused.stderr).toMatch(/src\/auth\/login\.ts: held exclusively by alice \(src\/auth\/\*\*\) until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(in 30m\)/);
    expect(refused.stderr).toContain(`lease ${lease!.id}: "auth refactor"`);
    expect(refused.stderr).not.toContain('README.md');
    expect(await commits(repo)).toBe(0);
    expect(readFileSync(marker, 'utf8')).toBe('ran\n');

    // The holder itself commits its own files: $DEVENVIRO_AGENT names the committer over the hook's --as.
    const own = await git(repo, ['commit', '-q', '-m', 'login by alice'], { DEVENVIRO_AGENT: 'alice' });
    expect(own.stderr).toBe('');
    expect(own.code).toBe(0);
    expect(await commits(repo)).toBe(1);

    // A rename out of the held folder touches the held file too.
    await git(repo, ['mv', 'src/auth/login.ts', 'src/login.ts']);
    const renamed = await git(repo, ['commit', '-q', '-m', 'move']);
    expect(renamed.code).not.toBe(0);
    expect(renamed.stderr).toContain('src/auth/login.ts: held exclusively by alice');

    await alice.release({ ids: [lease!.id] });
    const allowed = await git(repo, ['commit', '-q', '-m', 'move']);
    expect(allowed.stderr).toBe('');
    expect(allowed.code).toBe(0);
    expect(await commits(repo)).toBe(2);

    // The earlier hook still decides for itself.
    writeFileSync(path.join(repo, 'STOP'), '');
    writeFileSync(path.join(repo, 'src', 'login.ts'), 'export const login = 2;\n');
    await git(repo, ['add', 'src/login.ts']);
    expect((await git(repo, ['commit', '-q', '-m', 'stopped'])).code).not.toBe(0);
    expect(await commits(repo)).toBe(2);
  });

  it('checks staged files literally: app/[id]/page.tsx and notes/*draft*.md are files, not globs; a file named !todo.md is checked too', async () => {
    const dataDir = tempDir();
    const hub = await startHub(dataDir);
    const alice = await HubClient.register({ name: 'alice', url: hub.url, dataDir, persist: true });
    await HubClient.register({ name: 'bob', url: hub.url, dataDir, persist: true });
    const repo = await newRepo();
    expect((await runCli(['guard', 'install', '--as', 'bob', '--data-dir', dataDir, '--url', hub.url], { cwd: repo })).code).toBe(0);

    // alice holds two ordinary files that those names, read as globs, would match.
    await alice.reserve(['app/i/page.tsx', 'notes/final-draft.md'], { reason: 'i page' });
    mkdirSync(path.join(repo, 'app', '[id]'), { recursive: true });
    mkdirSync(path.join(repo, 'notes'));
    writeFileSync(path.join(repo, 'app', '[id]', 'page.tsx'), 'export default 1;\n');
    writeFileSync(path.join(repo, 'notes', '*draft*.md'), '# drafts\n');
    await git(repo, ['add', '--', 'app/[[]id]/page.tsx', 'notes/[*]draft[*].md']);
    expect((await git(repo, ['diff', '--cached', '--name-only'])).stdout.split('\n').filter(Boolean).sort()).toEqual(['app/[id]/page.tsx', 'notes/*draft*.md']);
    const allowed = await git(repo, ['commit', '-q', '-m', 'dynamic route']);
    expect(allowed.stderr).toBe('');
    expect(allowed.code).toBe(0);
    expect(await commits(repo)).toBe(1);

    // A lease on the bracket name itself, and a glob over the notes, do hold those files (and one named !todo.md).
    await alice.reserve(['app/[id]/page.tsx', 'notes/*.md'], { reason: 'routes' });
    writeFileSync(path.join(repo, 'app', '[id]', 'page.tsx'), 'export default 2;\n');
    writeFileSync(path.join(repo, 'notes', '!todo.md'), '- x\n');
    await git(repo, ['add', '--', 'app/[[]id]/page.tsx', 'notes/!todo.md']);
    const refused = await git(repo, ['commit', '-q', '-m', 'held']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('commit refused');
    expect(refused.stderr).toContain('app/[id]/page.tsx, notes/!todo.md: held exclusively by alice (app/[id]/page.tsx, notes/*.md) until');
    expect(refused.stderr).toContain('"routes"');
    expect(await commits(repo)).toBe(1);
  });

  it('lets the commit through with a warning when the hub is stopped; checks a person (no agent saved) with the cockpit token; uninstall puts the earlier hook back', async () => {
    const dataDir = tempDir();
    const hub = await startHub(dataDir);
    const alice = await HubClient.register({ name: 'alice', url: hub.url, dataDir, persist: true });
    await HubClient.register({ name: 'bob', url: hub.url, dataDir, persist: true });
    const repo = await newRepo();
    const hooks = path.join(repo, '.git', 'hooks');

    const installed = await runCli(['guard', 'install', '--as', 'bob', '--data-dir', dataDir, '--url', hub.url], { cwd: repo });
    expect(installed.code).toBe(0);
    expect(existsSync(path.join(hooks, 'pre-commit.devenviro-chained'))).toBe(false);
    // Installing again updates the hook; there is still nothing to chain to.
    const again = await runCli(['guard', 'install', '--as', 'bob', '--data-dir', dataDir, '--url', hub.url], { cwd: repo });
    expect(again.stderr).toContain('Updated the devenviro guard');
    expect(existsSync(path.join(hooks, 'pre-commit.devenviro-chained'))).toBe(false);

    await alice.reserve(['src/auth/login.ts']);
    writeFileSync(path.join(repo, 'src', 'auth', 'login.ts'), 'x\n');
    await git(repo, ['add', '.']);
    expect((await git(repo, ['commit', '-q', '-m', 'held'])).code).not.toBe(0);

    await hub.stop();
    const unchecked = await git(repo, ['commit', '-q', '-m', 'hub down']);
    expect(unchecked.code).toBe(0);
    expect(unchecked.stderr).toContain('devenviro guard: warning: cannot reach the hub');
    expect(unchecked.stderr).toContain('The commit was not checked against file reservations');
    expect(await commits(repo)).toBe(1);

    const removed = await runCli(['guard', 'uninstall'], { cwd: repo });
    expect(removed.code).toBe(0);
    expect(removed.stderr).toContain('Removed the devenviro guard');
    expect(existsSync(path.join(hooks, 'pre-commit'))).toBe(false);

    // A hook that is not ours is never removed; with ours over it, uninstall puts it back.
    writeFileSync(path.join(hooks, 'pre-commit'), '#!/bin/sh\nexit 0\n');
    chmodSync(path.join(hooks, 'pre-commit'), 0o755);
    const notOurs = await runCli(['guard', 'uninstall'], { cwd: repo });
    expect(notOurs.code).toBe(1);
    expect(notOurs.stderr).toContain('is not the devenviro guard; left as it is');
    expect(readFileSync(path.join(hooks, 'pre-commit'), 'utf8')).toBe('#!/bin/sh\nexit 0\n');
    expect((await runCli(['guard', 'install', '--data-dir', dataDir], { cwd: repo })).code).toBe(0);
    expect((await runCli(['guard', 'uninstall'], { cwd: repo })).stderr).toContain('Put back the pre-commit hook');
    expect(readFileSync(path.join(hooks, 'pre-commit'), 'utf8')).toBe('#!/bin/sh\nexit 0\n');
    expect(existsSync(path.join(hooks, 'pre-commit.devenviro-chained'))).toBe(false);

    // With no agent saved, the person committing meets every agent's exclusive leases in --project (the cockpit's
    // token asks); the agents here registered without saving credentials.
    const people = tempDir();
    const hub2 = await startHub(people);
    const dana = await HubClient.register({ name: 'dana', project: 'web', url: hub2.url, dataDir: people });
    await dana.reserve(['src/auth/login.ts'], { reason: 'session fix' });
    expect((await runCli(['guard', 'install', '--project', 'web', '--data-dir', people, '--url', hub2.url], { cwd: repo })).code).toBe(0);
    writeFileSync(path.join(repo, 'src', 'auth', 'login.ts'), 'y\n');
    await git(repo, ['add', '.']);
    const byPerson = await git(repo, ['commit', '-q', '-m', 'by a person']);
    expect(byPerson.code).not.toBe(0);
    expect(byPerson.stderr).toContain('src/auth/login.ts: held exclusively by dana');
    expect(byPerson.stderr).toContain('"session fix"');
    // devenviro reservations lists them the same way, with the cockpit's token.
    const listed = await runCli(['reservations', '--project', 'web', '--data-dir', people, '--url', hub2.url], { cwd: repo });
    expect(listed.stdout).toMatch(/dana\s+exclusive\s+in 30m\s+src\/auth\/login\.ts\s+session fix/);
    expect((await runCli(['guard', 'uninstall'], { cwd: repo })).code).toBe(0);

    const outside = await runCli(['guard', 'install'], { cwd: tempDir() });
    expect(outside.code).toBe(2);
    expect(outside.stderr).toContain('is not inside a git work tree');
  });
});
