// `npm start`: builds the app, then opens the desktop window where the Electron binary is installed and a display
// is available; otherwise says why in one line and runs the same hub headless, serving the cockpit to a browser.
// Flags after `--` go to the hub (e.g. `npm start -- --port 0 --data-dir /tmp/hub`); `--headless` forces headless.
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findElectronBinary } from './electron-binary.mjs';
import { ELECTRON_JS_FLAGS, HUB_V8_FLAGS } from './hub-v8-flags.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const forceHeadless = args.includes('--headless');
const hubArgs = args.filter((arg) => arg !== '--headless' && arg !== '--no-build');

if (!args.includes('--no-build')) {
  const bin = path.join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'electron-vite.cmd' : 'electron-vite');
  const build = spawnSync(bin, ['build', '--logLevel', 'warn'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (build.status !== 0) {
    console.error('The build failed (see above); nothing was started.');
    process.exit(build.status ?? 1);
  }
}

/** Returns the Electron binary's path, or why the desktop window cannot open here. */
function findElectron() {
  if (forceHeadless) return { reason: '--headless was given' };
  const found = findElectronBinary();
  if ('binary' in found && process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    return { reason: 'Electron is installed but there is no display (DISPLAY and WAYLAND_DISPLAY are unset)' };
  }
  return found;
}

const electron = findElectron();
const child = electron.binary
  ? spawn(electron.binary, [ELECTRON_JS_FLAGS, root, ...hubArgs], { cwd: root, stdio: 'inherit' })
  : (console.log(`Desktop window unavailable: ${electron.reason}; starting the hub headless instead.`),
    spawn(process.execPath, [...HUB_V8_FLAGS, path.join(root, 'out', 'main', 'headless.js'), ...hubArgs], { cwd: root, stdio: 'inherit' }));

for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
