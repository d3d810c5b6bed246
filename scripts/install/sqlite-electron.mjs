// Install step: better-sqlite3 is not a Node-API addon, so one build cannot serve both runtimes. The Node build
// (node_modules/better-sqlite3/build/Release/better_sqlite3.node, made by better-sqlite3's own install script) is
// used by tests and the headless hub; the desktop window (Electron's main process) loads
//   native/electron/better_sqlite3-<electron version>.node
// (see src/main/db/native-binding.ts). This step tries to download that Electron build with better-sqlite3's own
// `prebuild-install`. Without it only the desktop window is affected, so failure is reported, never fatal.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeFailure, packageBin, packageDir, readPackageJson, run, seconds, tail } from './lib.mjs';

const PREBUILD_TIMEOUT_MS = Number(process.env.DEVENVIRO_PREBUILD_TIMEOUT_MS) || 120_000;

/** The installed electron package, or undefined when it is not installed (e.g. `npm install --omit=dev`). */
export function electronInfo(root) {
  const dir = packageDir('electron', root);
  if (!dir) return undefined;
  return { dir, version: readPackageJson(dir).version };
}

/** Where the Electron build of better-sqlite3 lives; src/main/db/native-binding.ts uses the same layout. */
export function electronBindingPath(root, electronVersion) {
  return path.join(root, 'native', 'electron', `better_sqlite3-${electronVersion}.node`);
}

/** Sidecar describing which better-sqlite3 / arch a binding was made for, so an upgrade invalidates it. */
function sidecarPath(bindingPath) {
  return bindingPath.replace(/\.node$/, '.json');
}

export function writeBindingSidecar(bindingPath, info) {
  writeFileSync(sidecarPath(bindingPath), `${JSON.stringify(info, null, 2)}\n`);
}

function readBindingSidecar(bindingPath) {
  try {
    return JSON.parse(readFileSync(sidecarPath(bindingPath), 'utf8'));
  } catch {
    return undefined;
  }
}

/** Installs `file` as the Electron binding atomically (copy to a temp name, then rename). */
export function installBinding(file, bindingPath, info) {
  mkdirSync(path.dirname(bindingPath), { recursive: true });
  const partial = `${bindingPath}.partial-${process.pid}`;
  copyFileSync(file, partial);
  renameSync(partial, bindingPath); // atomic on one filesystem: a reader never sees half a file
  writeBindingSidecar(bindingPath, info);
}

/** The Electron executable if it is already downloaded (never triggers the download), else undefined. */
export function electronExecutable(electronDir) {
  try {
    const rel = readFileSync(path.join(electronDir, 'path.txt'), 'utf8').trim();
    const exe = path.join(electronDir, 'dist', rel);
    return existsSync(exe) ? exe : undefined;
  } catch {
    return undefined;
  }
}

/**
 * If the Electron binary is present, loads the binding inside it (as Node, ELECTRON_RUN_AS_NODE) and runs a query.
 * Returns { checked: false } when Electron's binary is not downloaded.
 */
export async function verifyInElectron(root, electronDir, bindingPath) {
  const exe = electronExecutable(electronDir);
  if (!exe) return { checked: false, ok: false, detail: 'Electron binary not downloaded' };
  const sqliteDir = packageDir('better-sqlite3', root);
  const code = `
    const Database = require(process.argv[1]);
    const db = new Database(':memory:', { nativeBinding: process.argv[2] });
    const row = db.prepare('select sqlite_version() as v').get();
    console.log('sqlite ' + row.v + ' in electron ' + process.versions.electron);
  `;
  const result = await run(exe, ['-e', code, sqliteDir, bindingPath], {
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
    timeoutMs: 60_000,
  });
  const last = tail(result.output, 2).join(' | ');
  return { checked: true, ok: result.ok, detail: result.ok ? last : `${describeFailure(result, 60_000)}: ${last}` };
}

export default async function sqliteElectronStep({ root, log }) {
  const electron = electronInfo(root);
  if (!electron) {
    log('electron is not installed (headless-only install); no Electron build of better-sqlite3 needed');
    return;
  }
  const sqliteDir = packageDir('better-sqlite3', root);
  if (!sqliteDir) {
    log('better-sqlite3 is not installed; nothing to do');
    return;
  }
  const sqliteVersion = readPackageJson(sqliteDir).version;
  const arch = process.arch;
  const target = electronBindingPath(root, electron.version);
  const wanted = { betterSqlite3: sqliteVersion, electron: electron.version, platform: process.platform, arch };
  const relTarget = path.relative(root, target);

  const existing = readBindingSidecar(target);
  if (
    existsSync(target) &&
    existing?.betterSqlite3 === sqliteVersion &&
    existing?.platform === process.platform &&
    existing?.arch === arch
  ) {
    log(`${relTarget} present (better-sqlite3 ${sqliteVersion}, Electron ${electron.version}); nothing to do`);
    return;
  }
  if (existsSync(target)) log(`${relTarget} was made for another better-sqlite3/arch (${JSON.stringify(existing)}); replacing it`);

  const prebuildInstall = packageBin('prebuild-install', 'prebuild-install', sqliteDir) ?? packageBin('prebuild-install', 'prebuild-install', root);
  if (prebuildInstall) {
    // prebuild-install extracts into <cwd>/build/Release: use a scratch copy of the package manifest so the Node
    // build in node_modules/better-sqlite3 is never overwritten.
    const scratch = mkdtempSync(path.join(os.tmpdir(), 'devenviro-sqlite-electron-'));
    try {
      copyFileSync(path.join(sqliteDir, 'package.json'), path.join(scratch, 'package.json'));
      log(`downloading better-sqlite3 ${sqliteVersion} prebuilt for Electron ${electron.version} ${arch} (timeout ${seconds(PREBUILD_TIMEOUT_MS)})`);
      const env = { ...process.env };
      for (const key of Object.keys(env)) {
        if (/^npm_config_(target|runtime|arch|disturl|dist_url|build_from_source)$/i.test(key)) delete env[key];
      }
      const result = await run(
        process.execPath,
        [prebuildInstall, '--runtime', 'electron', '--target', electron.version, '--arch', arch],
        { cwd: scratch, env, timeoutMs: PREBUILD_TIMEOUT_MS },
      );
      const built = path.join(scratch, 'build', 'Release', 'better_sqlite3.node');
      if (result.ok && existsSync(built)) {
        installBinding(built, target, { ...wanted, source: 'prebuild-install' });
        log(`installed ${relTarget} in ${seconds(result.ms)}`);
        const check = await verifyInElectron(root, electron.dir, target);
        if (check.checked) log(check.ok ? `verified in Electron: ${check.detail}` : `WARNING: it does not load in Electron: ${check.detail}`);
        return;
      }
      const last = tail(result.output, 1)[0];
      log(`no prebuilt Electron build (${describeFailure(result, PREBUILD_TIMEOUT_MS)}${last ? `: ${last.trim()}` : ''})`);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }

  // Not fatal: tests and the headless hub use the Node build.
  log(
    `WARNING: no Electron ${electron.version} build of better-sqlite3: the desktop window needs ${relTarget}; ` +
      'get it with `npm run rebuild:electron` (builds from source, needs electronjs.org for headers); ' +
      'the headless hub and tests are unaffected',
  );
}
