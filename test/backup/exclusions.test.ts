/** What goes into a backup: default and custom patterns, nested .gitignore files, the size limit; preview = run. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BackupSettingsSchema, DEFAULT_EXCLUDES, DEFAULT_MAX_FILE_BYTES } from '../../src/main/backup/config';
import { scanTree, toPreview, type PreviewSource } from '../../src/main/backup/exclusions';
import { detectCloudFolders } from '../../src/main/backup/targets';
import { tempDir } from '../helpers';
import { makeFixture, writeTree } from './harness';

function project(root: string): void {
  writeTree(root, {
    'README.md': '# app\n',
    'src/index.ts': 'export {};\n',
    'src/util/deep.ts': 'export const x = 1;\n',
    'node_modules/left-pad/index.js': 'module.exports = 1;\n',
    'packages/a/node_modules/x/index.js': 'nested node_modules\n',
    '.git/HEAD': 'ref: refs/heads/main\n',
    'dist/bundle.js': 'bundled\n',
    'build/out.o': 'object\n',
    '__pycache__/m.pyc': 'pyc\n',
    '.venv/bin/python': 'py\n',
    'target/debug/app': 'bin\n',
    'debug.log': 'log\n',
    'logs/important.log': 'kept by a negation\n',
    '.DS_Store': 'finder\n',
    'img/Thumbs.db': 'thumbs\n',
    'secrets/key.pem': 'custom pattern\n',
    'notes.secret': 'custom pattern\n',
    // gitignore: root ignores generated/ and *.cache; web/.gitignore ignores *.tmp but keeps keep.tmp
    '.gitignore': 'generated/\n*.cache\n# a comment\n',
    'generated/api.ts': 'generated\n',
    'a.cache': 'cache\n',
    'web/.gitignore': '*.tmp\n!keep.tmp\n',
    'web/x.tmp': 'ignored in web\n',
    'web/keep.tmp': 'kept: negated in web/.gitignore\n',
    'web/sub/y.tmp': 'ignored: nested .gitignore applies to its subtree\n',
    'other/z.tmp': 'kept: web/.gitignore does not apply here\n',
    'big/large.bin': Buffer.alloc(3000, 1),
    'big/small.bin': Buffer.alloc(1000, 2),
  });
}

/** What a run would take from a folder and leave out: the engine's own walk, with the settings' defaults. */
async function previewExclusions(
  source: PreviewSource,
  patterns: readonly string[],
  options: { useGitignore?: boolean; maxFileBytes?: number | null; limit?: number } = {},
) {
  const rules = {
    patterns,
    useGitignore: options.useGitignore ?? true,
    maxFileBytes: options.maxFileBytes === undefined ? DEFAULT_MAX_FILE_BYTES : options.maxFileBytes,
  };
  return toPreview(source, await scanTree(source.path, rules, { limit: options.limit }));
}

const patterns = [...DEFAULT_EXCLUDES, 'secrets/', '*.secret', '!logs/important.log'];

describe('exclusions', () => {
  it('honours the defaults, custom patterns, nested .gitignore files and the size limit, saying which rule skipped what', async () => {
    const root = tempDir();
    project(root);
    const preview = await previewExclusions({ name: 'app', path: root }, patterns, { maxFileBytes: 2000 });

    const included = [
      '.gitignore',
      'README.md',
      'big/small.bin',
      'logs/important.log',
      'other/z.tmp',
      'src/index.ts',
      'src/util/deep.ts',
      'web/.gitignore',
      'web/keep.tmp',
    ];
    const rule = (p: string) => preview.skippedPaths.find((s) => s.path === p)?.rule;
    expect(preview.included.files).toBe(included.length);
    expect(rule('node_modules/')).toBe('"node_modules/" (default exclusion)');
    expect(rule('packages/a/node_modules/')).toBe('"node_modules/" (default exclusion)');
    expect(rule('.git/')).toBe('".git/" (default exclusion)');
    expect(rule('dist/')).toBe('"dist/" (default exclusion)');
    expect(rule('build/')).toBe('"build/" (default exclusion)');
    expect(rule('__pycache__/')).toBe('"__pycache__/" (default exclusion)');
    expect(rule('.venv/')).toBe('".venv/" (default exclusion)');
    expect(rule('target/')).toBe('"target/" (default exclusion)');
    expect(rule('debug.log')).toBe('"*.log" (default exclusion)');
    expect(rule('.DS_Store')).toBe('".DS_Store" (default exclusion)');
    expect(rule('img/Thumbs.db')).toBe('"Thumbs.db" (default exclusion)');
    expect(rule('secrets/')).toBe('"secrets/" (your exclusions)');
    expect(rule('notes.secret')).toBe('"*.secret" (your exclusions)');
    expect(rule('generated/')).toBe('"generated/" in .gitignore');
    expect(rule('a.cache')).toBe('"*.cache" in .gitignore');
    expect(rule('web/x.tmp')).toBe('"*.tmp" in web/.gitignore');
    expect(rule('web/sub/y.tmp')).toBe('"*.tmp" in web/.gitignore');
    expect(rule('big/large.bin')).toMatch(/^larger than the size limit \(2\.9 KiB > 2\.0 KiB\)$/);
    expect(rule('other/z.tmp')).toBeUndefined();
    expect(preview.skipped.bytes).toBeGreaterThanOrEqual(3000);

    // The run takes exactly what the preview said.
    const fx = makeFixture({ settings: { sources: [{ name: 'app', path: root }], exclude: patterns, maxFileBytes: 2000 } });
    const run = await fx.engine.run();
    const manifest = await fx.engine.manifest(run.snapshotId!);
    const app = manifest.files.filter((f) => f.source === 'app');
    expect(app.map((f) => f.path).sort()).toEqual(included);
    expect(app.reduce((sum, f) => sum + f.size, 0)).toBe(preview.included.bytes);
    expect(manifest.sources.find((s) => s.name === 'app')).toMatchObject({ files: preview.included.files, bytes: preview.included.bytes });
    // The engine's preview (what the HTTP API answers) agrees too.
    const [enginePreview] = await fx.engine.preview(fx.settings, { only: 'app' });
    expect(enginePreview!.included).toEqual(preview.included);
  });

  it('ignores .gitignore files when asked, and a person may drop a default', async () => {
    const root = tempDir();
    project(root);
    const withoutGit = await previewExclusions({ name: 'app', path: root }, DEFAULT_EXCLUDES, { useGitignore: false, maxFileBytes: null });
    const paths = new Set(withoutGit.skippedPaths.map((s) => s.path));
    expect(paths.has('generated/')).toBe(false);
    expect(paths.has('web/x.tmp')).toBe(false);
    expect(paths.has('big/large.bin')).toBe(false);
    const keepDist = await previewExclusions({ name: 'app', path: root }, DEFAULT_EXCLUDES.filter((p) => p !== 'dist/'));
    expect(keepDist.skippedPaths.some((s) => s.path === 'dist/')).toBe(false);
    const withDefaults = await previewExclusions({ name: 'app', path: root }, DEFAULT_EXCLUDES);
    expect(keepDist.included.files).toBe(withDefaults.included.files + 1); // dist/bundle.js
  });

  it('lists at most N skipped paths but counts them all', async () => {
    const root = tempDir();
    const files: Record<string, string> = {};
    for (let i = 0; i < 30; i++) files[`l${i}.log`] = 'x';
    writeTree(root, files);
    const preview = await previewExclusions({ name: 'p', path: root }, DEFAULT_EXCLUDES, { limit: 5 });
    expect(preview.skipped.files).toBe(30);
    expect(preview.skippedPaths).toHaveLength(5);
  });

  it('leaves the backup folder out when it lies inside a project', async () => {
    const root = tempDir();
    writeTree(root, { 'a.txt': 'a', 'drive/other.txt': 'b' });
    const fx = makeFixture({ settings: { sources: [{ name: 'p', path: root }] } });
    fx.settings = BackupSettingsSchema.parse({ ...fx.settings, target: path.join(root, 'drive') });
    const first = await fx.engine.run();
    const second = await fx.engine.run();
    const manifest = await fx.engine.manifest(second.snapshotId!);
    expect(manifest.files.filter((f) => f.source === 'p').map((f) => f.path).sort()).toEqual(['a.txt', 'drive/other.txt']);
    expect(first.files).toBe(second.files);
  });
});

describe('detectCloudFolders', () => {
  const existing = (dirs: string[]) => (dir: string) => dirs.includes(dir);

  it('finds Google Drive, OneDrive and Dropbox on Windows', () => {
    const found = detectCloudFolders({
      platform: 'win32',
      env: { USERPROFILE: 'C:\\Users\\ann', OneDrive: 'C:\\Users\\ann\\OneDrive - Contoso' },
      homedir: 'C:\\Users\\ann',
      exists: existing(['G:\\My Drive', 'C:\\Users\\ann\\OneDrive - Contoso', 'C:\\Users\\ann\\Dropbox']),
      list: () => [],
    });
    expect(found).toEqual([
      { provider: 'google-drive', label: 'Google Drive (G:)', path: 'G:\\My Drive' },
      { provider: 'onedrive', label: 'OneDrive', path: 'C:\\Users\\ann\\OneDrive - Contoso' },
      { provider: 'dropbox', label: 'Dropbox', path: 'C:\\Users\\ann\\Dropbox' },
    ]);
  });

  it('finds Google Drive on another drive letter', () => {
    const found = detectCloudFolders({ platform: 'win32', env: {}, homedir: 'C:\\Users\\ann', exists: existing(['H:\\My Drive']), list: () => [] });
    expect(found.map((f) => f.path)).toEqual(['H:\\My Drive']);
  });

  it('finds Google Drive accounts (and a localised "My Drive") and iCloud on macOS', () => {
    const home = '/Users/ann';
    const cloud = `${home}/Library/CloudStorage`;
    const found = detectCloudFolders({
      platform: 'darwin',
      env: {},
      homedir: home,
      exists: existing([
        `${cloud}/GoogleDrive-ann@example.com/My Drive`,
        `${cloud}/GoogleDrive-ann@work.example/Meine Ablage`,
        `${cloud}/OneDrive-Personal`,
        `${home}/Library/Mobile Documents/com~apple~CloudDocs`,
      ]),
      list: (dir) =>
        dir === cloud
          ? ['GoogleDrive-ann@example.com', 'GoogleDrive-ann@work.example', 'OneDrive-Personal']
          : dir === `${cloud}/GoogleDrive-ann@work.example`
            ? ['Meine Ablage', 'Shared drives', '.shortcut-targets-by-id']
            : [],
    });
    expect(found).toEqual([
      { provider: 'google-drive', label: 'Google Drive (ann@example.com)', path: `${cloud}/GoogleDrive-ann@example.com/My Drive` },
      { provider: 'google-drive', label: 'Google Drive (ann@work.example)', path: `${cloud}/GoogleDrive-ann@work.example/Meine Ablage` },
      { provider: 'onedrive', label: 'OneDrive Personal', path: `${cloud}/OneDrive-Personal` },
      { provider: 'icloud', label: 'iCloud Drive', path: `${home}/Library/Mobile Documents/com~apple~CloudDocs` },
    ]);
  });

  it('finds insync and rclone folders on Linux, and nothing that is not there', () => {
    const found = detectCloudFolders({
      platform: 'linux',
      env: {},
      homedir: '/home/ann',
      exists: existing(['/home/ann/Insync/ann@example.com/Google Drive', '/home/ann/gdrive']),
      list: (dir) => (dir === '/home/ann/Insync' ? ['ann@example.com'] : []),
    });
    expect(found.map((f) => f.path)).toEqual(['/home/ann/gdrive', '/home/ann/Insync/ann@example.com/Google Drive']);
    expect(detectCloudFolders({ platform: 'linux', env: {}, homedir: '/nowhere', exists: () => false, list: () => [] })).toEqual([]);
  });
});
