/**
 * `devenviro backup`: run as a child process from its source (like cli.test.ts) against a real hub in this process,
 * with a temporary backup folder and a temporary project (with a node_modules/ and a .gitignore).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers';
import { ROOT, runCli } from './cli-run';
import { startHub } from './hub';

const SNAPSHOT = /^\d{8}T\d{9}Z-[0-9a-f]{8}$/;

const devenviro = (args: string[], cwd = ROOT) => runCli(args, { cwd });

function write(file: string, content: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content);
}

/** A project folder: four files to back up, one left out by its .gitignore, and a node_modules/ left out by default. */
function makeProject(): string {
  const project = tempDir('devenviro-project-');
  write(path.join(project, 'README.md'), '# Shop\n\nThe web shop.\n');
  write(path.join(project, 'src/index.ts'), 'export const answer = 42;\n');
  write(path.join(project, 'notes/plan.txt'), 'ship it\n');
  write(path.join(project, '.gitignore'), 'secret.env\n');
  write(path.join(project, 'secret.env'), 'TOKEN=hunter2\n');
  write(path.join(project, 'node_modules/left-pad/index.js'), 'module.exports = () => {};\n');
  return project;
}

// Each command is a fresh Node process compiling TypeScript: allow for a busy machine.
describe('devenviro backup', { timeout: 300_000 }, () => {
  it('sets a target and a project, previews, runs, lists, verifies and restores', async () => {
    const dataDir = tempDir();
    const target = tempDir('devenviro-target-');
    const project = makeProject();
    const hub = await startHub(dataDir);
    const dd = ['--data-dir', dataDir];

    // Nothing can run before a backup folder is chosen.
    const early = await devenviro(['backup', 'run', ...dd]);
    expect(early.code).toBe(1);
    expect(early.stderr).toContain('no backup folder is set yet: choose one with `devenviro backup set --target DIR`');
    const earlyList = await devenviro(['backup', 'list', ...dd]);
    expect(earlyList.code).toBe(1);
    expect(earlyList.stderr).toContain('devenviro backup set --target DIR');

    // A relative --add-project path is made absolute (from the CLI's working directory).
    const set = await devenviro(['backup', 'set', '--target', target, '--add-project', `shop=${path.basename(project)}`, '--interval', 'off', ...dd], path.dirname(project));
    expect(set.stderr).toContain('Backup settings saved.');
    expect(set.code).toBe(0);
    expect(set.stdout).toContain(`${target}  (snapshots in ${path.join(target, 'DevEnviro Backup')})`);
    expect(set.stdout).toMatch(new RegExp(`shop\\s+${project.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    expect(set.stdout).toContain('only when asked');

    const statusJson = await devenviro(['backup', 'status', '--json', ...dd]);
    expect(statusJson.code).toBe(0);
    const overview = JSON.parse(statusJson.stdout) as { settings: { target: string; sources: unknown[]; intervalMinutes: number | null; useGitignore: boolean } };
    expect(overview.settings).toMatchObject({ target, sources: [{ name: 'shop', path: project }], intervalMinutes: null, useGitignore: true });

    // The preview counts what is taken and names what is left out, with the rule.
    const previewJson = await devenviro(['backup', 'preview', '--source', 'shop', '--json', ...dd]);
    expect(previewJson.code).toBe(0);
    const previews = JSON.parse(previewJson.stdout) as Array<{ source: string; included: { files: number }; skippedPaths: Array<{ path: string; rule: string }> }>;
    expect(previews).toHaveLength(1);
    expect(previews[0]).toMatchObject({ source: 'shop', included: { files: 4 } });
    const rules = Object.fromEntries(previews[0]!.skippedPaths.map((s) => [s.path, s.rule]));
    expect(rules['node_modules/']).toContain('node_modules/');
    expect(rules['secret.env']).toContain('.gitignore');
    const preview = await devenviro(['backup', 'preview', ...dd]);
    expect(preview.code).toBe(0);
    expect(preview.stdout).toMatch(/^SOURCE\s+INCLUDED\s+LEFT OUT\s+FOLDER/);
    expect(preview.stdout).toMatch(/shop\s+4 files, \d+ B\s+1 file \(\d+ B\), 1 folder/);
    expect(preview.stdout).toContain('Left out of shop:');
    expect(preview.stdout).toMatch(/node_modules\/\s+"node_modules\/"/);

    // A run, waited for: the snapshot id on standard output.
    const run = await devenviro(['backup', 'run', '--wait', ...dd]);
    expect(run.stderr).toContain('Backup done');
    expect(run.code).toBe(0);
    const snapshotId = run.stdout.trim();
    expect(snapshotId).toMatch(SNAPSHOT);
    expect(run.stderr).toMatch(/^Backup \S+ started into /);

    const list = await devenviro(['backup', 'list', ...dd]);
    expect(list.code).toBe(0);
    const lines = list.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+CREATED\s+FILES\s+SIZE\s+ADDED\s+SOURCES$/);
    expect(lines[1]).toMatch(new RegExp(`^${snapshotId}\\s.*hub, shop$`));
    const listJson = await devenviro(['backup', 'list', '--json', ...dd]);
    expect((JSON.parse(listJson.stdout) as { snapshots: Array<{ id: string }> }).snapshots.map((s) => s.id)).toEqual([snapshotId]);

    const status = await devenviro(['backup', 'status', ...dd]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('Last runs:');
    expect(status.stdout).toMatch(new RegExp(`manual\\s+ok\\s+\\d+.*${snapshotId}`));
    expect(status.stdout).toMatch(/Next run\s+when asked/);

    const verified = await devenviro(['backup', 'verify', snapshotId, ...dd]);
    expect(verified.code).toBe(0);
    expect(verified.stdout).toContain(`Snapshot ${snapshotId} is intact`);

    // Restore the project into a new folder: its files come back, the left-out ones do not.
    const restoreTo = path.join(tempDir('devenviro-restore-'), 'shop');
    const restored = await devenviro(['backup', 'restore', snapshotId, '--source', 'shop', '--to', restoreTo, ...dd]);
    expect(restored.code).toBe(0);
    expect(restored.stdout).toContain(`Restored 4 files`);
    expect(restored.stdout).toContain(`into ${restoreTo}`);
    for (const file of ['README.md', 'src/index.ts', 'notes/plan.txt', '.gitignore']) {
      expect(readFileSync(path.join(restoreTo, file), 'utf8')).toBe(readFileSync(path.join(project, file), 'utf8'));
    }
    expect(existsSync(path.join(restoreTo, 'secret.env'))).toBe(false);
    expect(existsSync(path.join(restoreTo, 'node_modules'))).toBe(false);

    // Not over files already there, unless asked.
    const again = await devenviro(['backup', 'restore', snapshotId, '--source', 'shop', '--to', restoreTo, ...dd]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('is not empty');
    expect(again.stderr).toContain('Add --overwrite');
    writeFileSync(path.join(restoreTo, 'README.md'), 'edited since');
    const overwritten = await devenviro(['backup', 'restore', snapshotId, '--source', 'shop', '--to', restoreTo, '--overwrite', '--json', ...dd]);
    expect(overwritten.code).toBe(0);
    expect(JSON.parse(overwritten.stdout)).toMatchObject({ ok: true, files: 4, source: 'shop', destination: restoreTo });
    expect(readFileSync(path.join(restoreTo, 'README.md'), 'utf8')).toBe('# Shop\n\nThe web shop.\n');

    // A copy of the hub's own data restores into a folder too.
    const hubCopy = path.join(tempDir('devenviro-hubcopy-'), 'data');
    const hubRestored = await devenviro(['backup', 'restore', snapshotId, '--source', 'hub', '--to', hubCopy, ...dd]);
    expect(hubRestored.code).toBe(0);
    expect(existsSync(path.join(hubCopy, 'cockpit-token'))).toBe(true);

    // Damage one stored file: verify says which, and exits 1.
    const sha = createHash('sha256').update(readFileSync(path.join(project, 'README.md'))).digest('hex');
    const object = path.join(target, 'DevEnviro Backup', 'objects', sha.slice(0, 2), sha);
    expect(existsSync(object)).toBe(true);
    writeFileSync(object, 'bit rot');
    const damaged = await devenviro(['backup', 'verify', snapshotId, ...dd]);
    expect(damaged.code).toBe(1);
    expect(damaged.stdout).toContain(`Snapshot ${snapshotId} is damaged`);
    expect(damaged.stdout).toMatch(new RegExp(`corrupt\\s+${sha}\\s+shop/README.md`));
    // Verify only reads: the damaged copy is still there and a second verify reports the same.
    const damagedJson = await devenviro(['backup', 'verify', snapshotId, '--json', ...dd]);
    expect(damagedJson.code).toBe(1);
    expect(JSON.parse(damagedJson.stdout)).toMatchObject({ ok: false, missing: [], corrupt: [{ sha256: sha, paths: ['shop/README.md'] }] });
    expect(readFileSync(object, 'utf8')).toBe('bit rot');
    // Repair moves it aside into the quarantine folder and says what the next run does.
    const repaired = await devenviro(['backup', 'repair', snapshotId, ...dd]);
    expect(repaired.code).toBe(1);
    expect(repaired.stdout).toMatch(new RegExp(`moved aside\\s+${sha}\\s+shop/README.md`));
    expect(repaired.stdout).toContain('The next backup run stores 1 object again');
    expect(existsSync(object)).toBe(false);

    // Settings change one at a time, keeping the rest.
    const changed = await devenviro(['backup', 'set', '--remove-project', 'SHOP', '--exclude', '*.bak', '--remove-exclude', 'build/', '--no-gitignore', '--interval', '90', '--json', ...dd]);
    expect(changed.code).toBe(0);
    const { settings } = JSON.parse(changed.stdout) as { settings: { target: string; sources: unknown[]; exclude: string[]; useGitignore: boolean; intervalMinutes: number } };
    expect(settings).toMatchObject({ target, sources: [], useGitignore: false, intervalMinutes: 90 });
    expect(settings.exclude).toContain('*.bak');
    expect(settings.exclude).not.toContain('build/');
    expect(settings.exclude).toContain('node_modules/');
    const missingFolder = await devenviro(['backup', 'set', '--add-project', `gone=${path.join(project, 'nope')}`, '--interval', 'off', ...dd]);
    expect(missingFolder.code).toBe(0);
    expect(missingFolder.stderr).toContain('warning: The project folder "gone"');

    await hub.app.stop({ quitBackup: false });
  });

  it('says what is wrong: exit 2 for the command line, 1 for the hub', async () => {
    const dataDir = tempDir();
    const dd = ['--data-dir', dataDir];
    const id = '20250101T120000000Z-1a2b3c4d';

    const help = await devenviro(['backup', '--help']);
    expect(help.code).toBe(0);
    for (const action of ['status', 'set', 'preview', 'run', 'list', 'verify', 'repair', 'restore']) expect(help.stdout).toContain(`devenviro backup ${action}`);
    const runHelp = await devenviro(['backup', 'run', '--help']);
    expect(runHelp.code).toBe(0);
    expect(runHelp.stdout).toContain('Usage: devenviro backup run [--wait] [--json]');
    expect(runHelp.stdout).not.toContain('devenviro backup restore');
    const restoreHelp = await devenviro(['help', 'backup', 'restore']);
    expect(restoreHelp.stdout).toContain('Usage: devenviro backup restore <snapshot-id> --source NAME --to DIR [--overwrite]');
    expect(restoreHelp.stdout).toContain('is done from the cockpit');

    const usageErrors: Array<[string[], string]> = [
      [['backup'], 'backup needs an action: status, set, preview, run, list, verify, repair, restore'],
      [['backup', 'frobnicate'], '(not frobnicate)'],
      [['backup', 'verify'], 'needs one snapshot id'],
      [['backup', 'verify', 'latest'], 'not a snapshot id: latest'],
      [['backup', 'restore', id, '--to', '/tmp/x'], 'needs --source NAME'],
      [['backup', 'restore', id, '--source', 'shop'], 'needs --to DIR'],
      [['backup', 'list', '--to', '/tmp/x'], '--to is not an option of backup list'],
      [['backup', 'set'], 'backup set needs a change'],
      [['backup', 'set', '--add-project', 'shop'], '--add-project needs NAME=PATH, not shop'],
      [['backup', 'set', '--add-project', 'hub=/tmp/x'], "the hub's own data"],
      [['backup', 'set', '--interval', '0'], '--interval needs whole minutes'],
      [['backup', 'preview', '--limit', 'lots'], '--limit needs a whole number'],
      [['backup', 'status', '--as', 'alice'], '--as and --project do not apply'],
    ];
    for (const [args, message] of usageErrors) {
      const result = await devenviro([...args, ...dd]);
      expect({ args, code: result.code }).toEqual({ args, code: 2 });
      expect(result.stderr).toContain(message);
      expect(result.stderr).toMatch(/Run `devenviro backup( \w+)? --help` for usage/);
    }

    // No hub has run here: no cockpit token.
    const noToken = await devenviro(['backup', 'status', ...dd]);
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toContain('cannot read the cockpit token');

    const hub = await startHub(dataDir);
    const unreachable = await devenviro(['backup', 'status', '--url', 'http://127.0.0.1:9', ...dd]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain('cannot reach the hub at http://127.0.0.1:9');

    const target = tempDir('devenviro-target-');
    expect((await devenviro(['backup', 'set', '--target', target, '--interval', 'off', ...dd])).code).toBe(0);
    const unknown = await devenviro(['backup', 'verify', id, ...dd]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain(`There is no snapshot ${id}`);
    expect(unknown.stderr).toContain('404 snapshot_not_found');
    const noSuchProject = await devenviro(['backup', 'set', '--remove-project', 'shop', ...dd]);
    expect(noSuchProject.code).toBe(2);
    expect(noSuchProject.stderr).toContain('no project named "shop" is backed up');
    const noSuchSource = await devenviro(['backup', 'preview', '--source', 'shop', ...dd]);
    expect(noSuchSource.code).toBe(1);
    expect(noSuchSource.stderr).toContain('There is no source named "shop"');

    await hub.app.stop({ quitBackup: false });
  });
});
