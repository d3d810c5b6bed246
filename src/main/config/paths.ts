/** Where the app's own folders are: the package root, resources/ and the built cockpit. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'devenviro-cockpit';

/**
 * The folder that holds package.json, resources/ and out/: found by walking up from this module, so it is right
 * whether the code runs from src/ (tests), from out/main/ (a build) or from any chunk folder a bundler picks.
 */
export function findAppRoot(from: string = path.dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === PACKAGE_NAME) return dir;
      } catch {
        // A malformed package.json on the way up is not ours; keep walking.
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the ${PACKAGE_NAME} folder above ${from}`);
    dir = parent;
  }
}

/** Built resources (the sentence encoder) live here; a packaged app may point elsewhere with DEVENVIRO_RESOURCES. */
export function resourcesDir(): string {
  return process.env.DEVENVIRO_RESOURCES ?? path.join(findAppRoot(), 'resources');
}

/** The built React cockpit, served to browsers by the headless hub and loaded from disk by the Electron window. */
export function rendererDir(): string {
  return path.join(findAppRoot(), 'out', 'renderer');
}
