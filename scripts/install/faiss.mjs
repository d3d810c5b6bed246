// Install step: makes faiss-node's native addon exist (package.json `allowScripts` skips faiss-node's own install
// script, which downloads from GitHub and then `git clone`s faiss). Order:
//   1. node_modules/faiss-node/build/Release/faiss-node.node already there and working -> nothing to do;
//   2. `prebuild-install --runtime napi` inside faiss-node (works wherever GitHub is reachable);
//   3. `cmake-js compile` against an installed faiss (Debian/Ubuntu: libfaiss-dev), using our stand-in for
//      faiss-node's deps/faiss from native/faiss/.
// The app cannot run without it, so if all fail this step throws (the install exits non-zero) after saying
// what to install.
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { checkInChild, describeFailure, packageBin, packageDir, run, seconds, tail, which } from './lib.mjs';

const PREBUILD_TIMEOUT_MS = Number(process.env.DEVENVIRO_PREBUILD_TIMEOUT_MS) || 120_000;
const BUILD_TIMEOUT_MS = Number(process.env.DEVENVIRO_FAISS_BUILD_TIMEOUT_MS) || 20 * 60_000;
const VERBOSE = process.env.DEVENVIRO_INSTALL_VERBOSE === '1';

const ADDON = path.join('build', 'Release', 'faiss-node.node');

// Loads faiss-node the way the app does (package main -> `bindings`) and runs a tiny exact search.
const SMOKE_TEST = `
const faiss = require(process.argv[1]);
const index = new faiss.IndexFlatIP(2);
index.add([1, 0, 0, 1]);
const { labels } = index.search([0.1, 0.9], 1);
if (labels[0] !== 1) throw new Error('unexpected search result ' + JSON.stringify(labels));
console.log('ok');
`;

export function faissAddonWorks(pkgDir) {
  if (!existsSync(path.join(pkgDir, ADDON))) return { ok: false, detail: `${ADDON} does not exist` };
  return checkInChild(SMOKE_TEST, [pkgDir], { cwd: pkgDir });
}

class InstallError extends Error {
  constructor(message) {
    super(message);
    this.name = 'InstallError';
    this.stack = `${this.name}: ${message}`; // the lines logged before it already explain; no stack trace noise
  }
}

function isDebian() {
  try {
    return /Debian/.test(readFileSync('/etc/issue', 'utf8'));
  } catch {
    return false;
  }
}

function installHint() {
  if (process.platform === 'linux') {
    return 'on Debian/Ubuntu: `sudo apt-get install libfaiss-dev libopenblas-dev patchelf cmake g++`';
  }
  if (process.platform === 'darwin') return 'on macOS: `brew install faiss libomp cmake` (and the Xcode command line tools)';
  return 'a C++ toolchain, CMake and a faiss installation with its CMake config (faiss-config.cmake)';
}

async function tryPrebuild({ root, pkgDir, log }) {
  const bin = packageBin('prebuild-install', 'prebuild-install', pkgDir) ?? packageBin('prebuild-install', 'prebuild-install', root);
  if (!bin) {
    log('prebuild-install is not installed; skipping the prebuilt download');
    return false;
  }
  log(`downloading a prebuilt faiss-node addon (prebuild-install --runtime napi, timeout ${seconds(PREBUILD_TIMEOUT_MS)})`);
  const result = await run(process.execPath, [bin, '--runtime', 'napi'], { cwd: pkgDir, timeoutMs: PREBUILD_TIMEOUT_MS });
  if (!result.ok) {
    const last = tail(result.output, 1)[0];
    log(`no prebuilt addon (${describeFailure(result, PREBUILD_TIMEOUT_MS)}${last ? `: ${last.trim()}` : ''}) after ${seconds(result.ms)}`);
    return false;
  }
  const check = faissAddonWorks(pkgDir);
  if (!check.ok) {
    log(`the prebuilt addon was downloaded but does not load (${check.detail})`);
    return false;
  }
  log(`prebuilt addon installed in ${seconds(result.ms)}`);
  return true;
}

/** Tools the source build needs that are missing from PATH (compiler found by CMake, so only a guess). */
function missingBuildTools() {
  const missing = [];
  if (!which('cmake')) missing.push('cmake');
  if (process.platform !== 'win32' && !['c++', 'g++', 'clang++'].some((c) => which(c))) missing.push('a C++ compiler (g++)');
  // faiss-node's CMakeLists runs patchelf after the build on Debian.
  if (process.platform === 'linux' && isDebian() && !which('patchelf')) missing.push('patchelf');
  return missing;
}

async function tryBuild({ root, pkgDir, log }) {
  const missing = missingBuildTools();
  if (missing.length) {
    log(`cannot build faiss-node from source: missing ${missing.join(', ')}`);
    return false;
  }
  const cmakeJs = packageBin('cmake-js', 'cmake-js', root);
  if (!cmakeJs) {
    log('cannot build faiss-node from source: cmake-js is not installed (it is a devDependency; was `npm install` run with --omit=dev?)');
    return false;
  }
  const ours = path.join(root, 'native', 'faiss');
  const deps = path.join(pkgDir, 'deps', 'faiss');
  rmSync(deps, { recursive: true, force: true });
  mkdirSync(deps, { recursive: true });
  for (const file of ['CMakeLists.txt', 'faiss_idx_t.h']) copyFileSync(path.join(ours, file), path.join(deps, file));

  log(`building faiss-node from source against the installed faiss (cmake-js compile; a few seconds here, timeout ${seconds(BUILD_TIMEOUT_MS)})`);
  const result = await run(process.execPath, [cmakeJs, 'compile', '--directory', pkgDir], {
    cwd: pkgDir,
    timeoutMs: BUILD_TIMEOUT_MS,
    onLine: VERBOSE ? (line) => log(`  ${line}`) : undefined,
  });
  if (!result.ok) {
    log(`source build failed (${describeFailure(result, BUILD_TIMEOUT_MS)}) after ${seconds(result.ms)}; last lines:`);
    for (const line of tail(result.output, 25)) log(`  ${line}`);
    return false;
  }
  const check = faissAddonWorks(pkgDir);
  if (!check.ok) {
    log(`source build finished in ${seconds(result.ms)} but the addon does not load: ${check.detail}`);
    return false;
  }
  log(`built faiss-node from source in ${seconds(result.ms)}; the addon loads and searches`);
  return true;
}

export default async function faissStep({ root, log }) {
  const pkgDir = packageDir('faiss-node', root);
  if (!pkgDir) {
    throw new InstallError('faiss-node is not installed in node_modules; run `npm install` first');
  }
  const existing = faissAddonWorks(pkgDir);
  if (existing.ok) {
    log('faiss-node addon present and working; nothing to do');
    return;
  }
  log(`faiss-node addon not usable yet (${existing.detail})`);

  if (await tryPrebuild({ root, pkgDir, log })) return;
  if (await tryBuild({ root, pkgDir, log })) return;

  const lines = [
    'ERROR: could not install the faiss-node native addon, and DevEnviro Cockpit cannot run without it.',
    `Install the faiss library and build tools — ${installHint()} — then run \`npm install\` again (or \`node scripts/postinstall.mjs\`).`,
    'Set DEVENVIRO_INSTALL_VERBOSE=1 to see the full build output.',
  ];
  for (const line of lines) log(line);
  throw new InstallError('faiss-node native addon missing (see the lines above)');
}
