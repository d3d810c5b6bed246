/** Command-line options every hub-driving suite takes, and the number parsing they share. */

export const HUB_SUITE_OPTIONS = {
  quick: { type: 'boolean', default: false },
  profile: { type: 'boolean', default: false },
  'no-build': { type: 'boolean', default: false },
  'keep-data': { type: 'boolean', default: false },
  strict: { type: 'boolean', default: false },
  'quiet-wait': { type: 'string' },
  'data-root': { type: 'string' },
  'hub-entry': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** `--name N`: a number of at least `min` (fractions allowed), or `fallback` when absent; a clear error otherwise. */
export function numberOption(name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number >= ${min}, not ${value}`);
  return n;
}

/** `--name N`: an integer of at least `min`, or `fallback` when absent; a clear error otherwise. */
export function intOption(name: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, not ${value}`);
  return n;
}
