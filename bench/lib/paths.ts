/** Where the benchmarks live and the repository root, for the suites to find their files. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** bench/ itself, and the repository root above it. */
export const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const repoRoot = path.resolve(benchDir, '..');
