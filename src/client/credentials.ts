/**
 * Saved agent identities: `<dataDir>/credentials/<project>/<name>.json`, readable by the owner only. The CLI and
 * the TypeScript client share the format, so an agent registered with `devenviro register` can be used from Node
 * (and the other way round).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { CREDENTIALS_DIR, credentialsPathParts } from '../shared/credentials-path';
import { writeFileDurableSync } from '../shared/node/durable-file';

export interface SavedCredentials {
  id: string;
  name: string;
  project: string;
  token: string;
  /** The hub the agent registered with (informational: a hub may move to another port). */
  url?: string;
  savedAt: string;
}

export function credentialsFile(dataDir: string, project: string, name: string): string {
  return path.join(dataDir, ...credentialsPathParts(project, name));
}

/** The saved identity of one agent, or undefined when there is none. A damaged file is an error, not "none". */
export function loadCredentials(dataDir: string, project: string, name: string): SavedCredentials | undefined {
  const file = credentialsFile(dataDir, project, name);
  if (!existsSync(file)) return undefined;
  return readCredentialsFile(file);
}

export function saveCredentials(dataDir: string, credentials: Omit<SavedCredentials, 'savedAt'>): string {
  const file = credentialsFile(dataDir, credentials.project, credentials.name);
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const saved: SavedCredentials = { ...credentials, savedAt: new Date().toISOString() };
  writeFileDurableSync(file, JSON.stringify(saved, null, 2) + '\n', 0o600);
  return file;
}

/** Every saved identity under a data directory, in project then name order. */
export function listCredentials(dataDir: string): Array<SavedCredentials & { file: string }> {
  const root = path.join(dataDir, CREDENTIALS_DIR);
  if (!existsSync(root)) return [];
  const found: Array<SavedCredentials & { file: string }> = [];
  for (const project of readdirSync(root, { withFileTypes: true }).filter((entry) => entry.isDirectory())) {
    const dir = path.join(root, project.name);
    for (const entry of readdirSync(dir).filter((file) => file.endsWith('.json')).sort()) {
      const file = path.join(dir, entry);
      found.push({ ...readCredentialsFile(file), file });
    }
  }
  return found.sort((a, b) => a.project.localeCompare(b.project) || a.name.localeCompare(b.name));
}

function readCredentialsFile(file: string): SavedCredentials {
  let parsed: Partial<SavedCredentials>;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<SavedCredentials>;
  } catch (error) {
    throw new Error(`${file} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  for (const field of ['id', 'name', 'project', 'token'] as const) {
    if (typeof parsed[field] !== 'string' || parsed[field] === '') throw new Error(`${file} has no "${field}"; register the agent again`);
  }
  return parsed as SavedCredentials;
}
