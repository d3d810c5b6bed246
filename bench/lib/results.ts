/** Where benchmark results go: bench/results/<name>-<timestamp>.json (gitignored). */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { benchDir } from './paths';

export const resultsDir = path.join(benchDir, 'results');

export function timestampForFile(date = new Date()): string {
  return date.toISOString().replace(/[:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/** Writes pretty JSON; Infinity and NaN (not JSON) become null. Returns the file written. */
export function writeResults(name: string, data: unknown, date = new Date()): string {
  mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `${name}-${timestampForFile(date)}.json`);
  writeFileSync(file, JSON.stringify(data, (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? null : value), 2) + '\n');
  return file;
}
