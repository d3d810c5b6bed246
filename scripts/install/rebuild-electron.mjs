#!/usr/bin/env node
// Builds better-sqlite3 from source for the installed Electron's ABI and stores it as
// native/electron/better_sqlite3-<electron version>.node (what src/main/db/native-binding.ts loads under Electron).
// Use it when `npm install` could not download a prebuilt Electron build (see scripts/install/sqlite-electron.mjs).
//
//   node scripts/install/rebuild-electron.mjs [extra node-gyp arguments]
//
// Needs a C++20 compiler, Python 3 and make (what node-gyp needs), and Electron's headers: by default node-gyp
// downloads them from https://electronjs.org/headers (override with DEVENVIRO_ELECTRON_HEADERS_URL, or pass
// `--nodedir=<extracted electron headers>` to build fully offline). The Node build in node_modules is untouched.
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeFailure, packageBin, packageDir, readPackageJson, run, seconds, tail } from './lib.mjs';
import { electronBindingPath, electronInfo, installBinding, verifyInElectron } from './sqlite-electron.mjs';

const BUILD_TIMEOUT_MS = Number(process.env.DEVENVIRO_ELECTRON_BUILD_TIMEOUT_MS) || 30 * 60_000;
const HEADERS_URL = process.env.DEVENVIRO_ELECTRON_HEADERS_URL || 'https://electronjs.org/headers';

/** node-gyp: a local install, the one npm itself runs install scripts with, or npm's bundled copy. */
function findNodeGyp(root) {
  const candidates = [
    packageBin('node-gyp', 'node-gyp', root),
    process.env.npm_config_node_gyp,
    // npm's bundled node-gyp, next to the running node (POSIX prefix/lib/node_modules, Windows prefix/node_modules)
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    path.join(path.dirname(process.execPath), 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return candidates.find((file) => file && existsSync(file));
}

export async function rebuildElectron({ root, log, extraArgs = [] }) {
  const electron = electronInfo(root);
  if (!electron) throw new Error('the electron package is not installed (it is a devDependency); run `npm install`');
  const sqliteDir = packageDir('better-sqlite3', root);
  if (!sqliteDir) throw new Error('better-sqlite3 is not installed; run `npm install`');
  const sqliteVersion = readPackageJson(sqliteDir).version;
  const nodeGyp = findNodeGyp(root);
  if (!nodeGyp) throw new Error('node-gyp not found (it ships with npm); install it with `npm install -g node-gyp`');

  const arch = process.arch;
  const target = electronBindingPath(root, electron.version);
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'devenviro-sqlite-electron-build-'));
  try {
    // Build in a copy so node_modules/better-sqlite3/build (the Node build) is never replaced.
    cpSync(sqliteDir, scratch, {
      recursive: true,
      filter: (src) => !path.relative(sqliteDir, src).split(path.sep).includes('build'),
    });
    const env = { ...process.env };
    // ~/.npmrc may set nodedir (Node's own headers) and npm exports it as npm_config_nodedir: that would silently
    // build for Node's ABI instead of Electron's.
    for (const key of Object.keys(env)) {
      if (/^npm_config_(nodedir|target|runtime|arch|disturl|dist_url)$/i.test(key)) delete env[key];
    }
    const args = [
      nodeGyp,
      'rebuild',
      '--release',
      '--runtime=electron',
      `--target=${electron.version}`,
      `--arch=${arch}`,
      `--dist-url=${HEADERS_URL}`,
      `--jobs=${Math.max(1, os.availableParallelism?.() ?? os.cpus().length)}`,
      ...extraArgs,
    ];
    log(`building better-sqlite3 ${sqliteVersion} for Electron ${electron.version} ${arch} with node-gyp (a few minutes)`);
    const result = await run(process.execPath, args, {
      cwd: scratch,
      env,
      timeoutMs: BUILD_TIMEOUT_MS,
      onLine: (line) => log(`  ${line}`),
    });
    const built = path.join(scratch, 'build', 'Release', 'better_sqlite3.node');
    if (!result.ok || !existsSync(built)) {
      throw new Error(
        `node-gyp failed (${describeFailure(result, BUILD_TIMEOUT_MS)}) after ${seconds(result.ms)}: ${tail(result.output, 1).join('')}`,
      );
    }
    installBinding(built, target, {
      betterSqlite3: sqliteVersion,
      electron: electron.version,
      platform: process.platform,
      arch,
      source: 'node-gyp',
    });
    log(`built ${path.relative(root, target)} in ${seconds(result.ms)}`);
    const check = await verifyInElectron(root, electron.dir, target);
    if (check.checked && !check.ok) throw new Error(`the build does not load in Electron: ${check.detail}`);
    log(check.checked ? `verified in Electron: ${check.detail}` : 'not verified in Electron (its binary is not downloaded yet)');
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  const log = (line) => console.log(`[rebuild:electron] ${line}`);
  try {
    await rebuildElectron({ root, log, extraArgs: process.argv.slice(2) });
  } catch (error) {
    log(`ERROR: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
