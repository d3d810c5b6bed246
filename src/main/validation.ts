/** Parsing untrusted input with a protocol's zod schema, or a 400 that names each field at fault. */
import type { z } from 'zod';
import { badRequest } from './errors';

/** Parses untrusted input with a protocol schema, or throws a 400 that names every field at fault. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.join('.') || what}: ${issue.message}`);
  throw badRequest(`invalid ${what}: ${problems.join('; ')}`);
}
