/** Plain JSON values as workflows handle them: objects, following a path into a value, a canonical JSON form. */

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Follows path segments into a value: the value found, or why the path leads nowhere. */
export function follow(
  value: unknown,
  segments: readonly (string | number)[],
  root: string,
): { ok: true; value: unknown } | { ok: false; error: string } {
  let current = value;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const where = `\`${[root, ...segments.slice(0, i)].join('.')}\``;
    if (Array.isArray(current)) {
      const index = typeof segment === 'number' ? segment : /^(0|[1-9][0-9]*)$/.test(segment) ? Number(segment) : -1;
      if (index < 0) return { ok: false, error: `${where} is a list, so \`${segment}\` (not an index) leads nowhere` };
      if (index >= current.length) return { ok: false, error: `${where} has ${current.length} items, no index ${index}` };
      current = current[index];
    } else if (isPlainObject(current)) {
      const key = String(segment);
      if (!Object.hasOwn(current, key)) return { ok: false, error: `${where} has no key \`${key}\`` };
      current = current[key];
    } else {
      return { ok: false, error: `${where} is ${describe(current)}, so \`${segment}\` leads nowhere` };
    }
  }
  return { ok: true, value: current };
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return 'a text';
  if (value === undefined) return 'nothing';
  return `a ${typeof value}`;
}

/** JSON with object keys sorted at every level: two values are equal as JSON exactly when these are equal. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  if (isPlainObject(value)) {
    const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
