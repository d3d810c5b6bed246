// Which compiled better-sqlite3 addon to load. better-sqlite3 is not a Node-API addon, so a build only loads in the
// runtime (ABI) it was compiled for:
// - plain Node (tests, the headless hub): the package's own build in node_modules/better-sqlite3 (default binding);
// - Electron's main process: native/electron/better_sqlite3-<electron version>.node, obtained at install time by
//   scripts/install/sqlite-electron.mjs (prebuilt download) or scripts/install/rebuild-electron.mjs (source build).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'devenviro-cockpit';
export const REBUILD_ELECTRON_COMMAND = 'npm run rebuild:electron';

/** File name of the Electron build of better-sqlite3 for one Electron version. */
export function electronBindingFileName(electronVersion: string): string {
  return `better_sqlite3-${electronVersion}.node`;
}

function isAppRoot(dir: string): boolean {
  try {
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown };
    return pkg.name === PACKAGE_NAME;
  } catch {
    return false;
  }
}

function findUp(start: string): string | undefined {
  let dir = path.resolve(start);
  for (;;) {
    if (isAppRoot(dir)) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function moduleDir(): string | undefined {
  try {
    return path.dirname(fileURLToPath(import.meta.url));
  } catch {
    return undefined; // e.g. bundled to a format without import.meta.url
  }
}

/**
 * The directory that holds `native/`: the repository root in development (found by walking up from this module,
 * then from the working directory, to the package.json named devenviro-cockpit), or Electron's resources
 * directory in a packaged app (native/ is shipped there as an extra resource, outside app.asar).
 * `DEVENVIRO_APP_ROOT` overrides both.
 */
export function defaultAppRoot(): string {
  const override = process.env.DEVENVIRO_APP_ROOT;
  if (override) return path.resolve(override);
  const { resourcesPath, defaultApp } = process as NodeJS.Process & { resourcesPath?: string; defaultApp?: boolean };
  // `process.defaultApp` is true when run as `electron <dir>` (development), undefined in a packaged app.
  if (process.versions.electron && resourcesPath && !defaultApp) return resourcesPath;
  const here = moduleDir();
  return (here && findUp(here)) ?? findUp(process.cwd()) ?? process.cwd();
}

/**
 * The `nativeBinding` to pass to better-sqlite3: under Electron the path of the Electron build (throws, naming the
 * command to run, if it is missing); under plain Node `undefined` (better-sqlite3's default build).
 * `electronVersion` defaults to the running Electron's (undefined under plain Node).
 */
export function sqliteNativeBinding(
  root: string = defaultAppRoot(),
  electronVersion: string | undefined = process.versions.electron,
): string | undefined {
  if (!electronVersion) return undefined;
  const file = path.join(root, 'native', 'electron', electronBindingFileName(electronVersion));
  if (existsSync(file)) return file;
  // Packaged apps may keep unpacked files next to app.asar instead.
  const unpacked = path.join(root, 'app.asar.unpacked', 'native', 'electron', electronBindingFileName(electronVersion));
  if (existsSync(unpacked)) return unpacked;
  throw new Error(
    `better-sqlite3 has no build for Electron ${electronVersion}: ${file} is missing. ` +
      `Run \`${REBUILD_ELECTRON_COMMAND}\` (node scripts/install/rebuild-electron.mjs) in the project directory, ` +
      'or reinstall with internet access (`npm install` downloads a prebuilt one).',
  );
}
