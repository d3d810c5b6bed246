/**
 * Where an agent's saved credentials live under a data directory (`credentials/<project>/<name>.json`), as path
 * parts: the CLI joins them with Node's path, the cockpit shows them in the commands it prints.
 */
export const CREDENTIALS_DIR = 'credentials';

/** The parts of the credentials file's path below the data directory. */
export function credentialsPathParts(project: string, name: string): [string, string, string] {
  return [CREDENTIALS_DIR, safeSegment(project), `${safeSegment(name)}.json`];
}

/**
 * Agent names are already safe file names (letters, digits, `.`, `_`, `-`); projects are free text, so anything
 * that could leave the folder or upset a file system is escaped.
 */
function safeSegment(value: string): string {
  const escaped = value.replace(/[^A-Za-z0-9._-]/g, (ch) => `%${ch.codePointAt(0)!.toString(16).padStart(2, '0')}`);
  return escaped === '.' || escaped === '..' ? escaped.replace(/\./g, '%2e') : escaped;
}
